// "101 Switching Protocols" end to end, over plain TCP and TLS: HttpServer hands connections
// to UpgradeHandlers, openUpgrade() is the client. A few tests use a hand-written peer (sync
// Asio) for what neither side does on its own: bytes in the same write as the headers.
#include <gtest/gtest.h>
#include <strings.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/pki.h"
#include "net/http_server.h"
#include "net/http_upgrade_client.h"
#include "unit/apiserver/net_test_util.h"

namespace skiff::apiserver {
namespace {
using test::readAll;
using test::readExactly;
using test::writeString;

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kWait = 10s;  // generous bound for anything that should happen at once

std::string header(const std::vector<std::pair<std::string, std::string>>& headers,
                   const std::string& name) {
  for (const auto& [k, v] : headers)
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  return "";
}

bool hasHeader(const std::vector<std::pair<std::string, std::string>>& headers,
               const std::string& name) {
  for (const auto& [k, v] : headers)
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return true;
  return false;
}

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + seed) % 251);
  return s;
}

HttpResponse switchTo(UpgradeHandler handler) {
  HttpResponse res;
  res.status = 101;
  res.headers = {{"Connection", "Upgrade"}, {"Upgrade", "test-proto"}, {"X-Custom", "yes"}};
  res.upgrade = std::move(handler);
  return res;
}

// Echoes until the client half-closes, then ends the session.
void echo(UpgradedConnectionPtr c) {
  char buf[16384];
  while (size_t n = c->read(buf, sizeof buf)) c->write(buf, n);
}

// A hand-written client or server end (sync Asio), plain or TLS.
class RawPeer {
 public:
  RawPeer(net::io_context& io, ssl::context* tls) : socket_(io) {
    if (tls) tls_.emplace(socket_, *tls);
  }
  tcp::socket& socket() { return socket_; }
  void handshake(ssl::stream_base::handshake_type type) {
    if (tls_) tls_->handshake(type);
  }
  void write(const std::string& s) {
    if (tls_)
      net::write(*tls_, net::buffer(s));
    else
      net::write(socket_, net::buffer(s));
  }
  std::string readUntil(const std::string& delim) {
    size_t at;
    while ((at = buffer_.find(delim)) == std::string::npos) readMore();
    std::string out = buffer_.substr(0, at + delim.size());
    buffer_.erase(0, at + delim.size());
    return out;
  }
  std::string readExactly(size_t n) {
    while (buffer_.size() < n) readMore();
    std::string out = buffer_.substr(0, n);
    buffer_.erase(0, n);
    return out;
  }

 private:
  void readMore() {
    char buf[4096];
    size_t n = tls_ ? tls_->read_some(net::buffer(buf)) : socket_.read_some(net::buffer(buf));
    buffer_.append(buf, n);
  }
  tcp::socket socket_;
  std::optional<ssl::stream<tcp::socket&>> tls_;
  std::string buffer_;
};

class HttpUpgradeTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::critical);  // the 500 test logs an error on purpose
    static std::atomic<int> n{0};
    dir_ = fs::temp_directory_path() /
           ("skiff-http-upgrade-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    o.threads = 2;
    o.upgradeStopGrace = 2s;
    if (tls()) {
      ca_ = createCa("upgrade-test-ca");
      serving_ = issueCertificate(ca_, "127.0.0.1", {}, {"localhost"}, {"127.0.0.1"}, true, false);
      writeFileAtomic((dir_ / "ca.crt").string(), ca_.certPem, 0600);
      writeFileAtomic((dir_ / "server.crt").string(), serving_.certPem, 0600);
      writeFileAtomic((dir_ / "server.key").string(), serving_.keyPem, 0600);
      o.tlsCertFile = (dir_ / "server.crt").string();
      o.tlsKeyFile = (dir_ / "server.key").string();
      o.clientCaFile = (dir_ / "ca.crt").string();
    }
    options_ = o;
    startServer();
  }

  void TearDown() override {
    if (server_) server_->stop();
    server_.reset();
    fs::remove_all(dir_);
  }

  void startServer(std::optional<std::chrono::milliseconds> grace = std::nullopt) {
    auto o = options_;
    if (grace) o.upgradeStopGrace = *grace;
    server_ = std::make_unique<HttpServer>(o, [this](HttpRequest& req) {
      HttpHandler route;
      {
        std::lock_guard lock(mu_);
        auto it = routes_.find(req.path);
        if (it != routes_.end()) route = it->second;
      }
      if (!route) {
        HttpResponse res;
        res.status = 404;
        res.body = "no route " + req.path;
        return res;
      }
      return route(req);
    });
    server_->start();
  }

  void route(const std::string& path, HttpHandler h) {
    std::lock_guard lock(mu_);
    routes_[path] = std::move(h);
  }
  void upgradeRoute(const std::string& path, UpgradeHandler h) {
    route(path, [h](HttpRequest&) { return switchTo(h); });
  }

  bool tls() const { return GetParam(); }

  UpgradeRequest request(const std::string& target) const {
    UpgradeRequest r;
    r.host = "127.0.0.1";
    r.port = server_->port();
    r.tls = tls();
    r.target = target;
    r.headers = {{"Connection", "Upgrade"}, {"Upgrade", "test-proto"}};
    return r;
  }

  // Opens an upgraded connection on `target`, failing the test if it does not switch.
  UpgradedConnectionPtr open(const std::string& target) {
    auto res = openUpgrade(request(target));
    EXPECT_EQ(res.status, 101) << res.body;
    EXPECT_TRUE(res.connection);
    return std::move(res.connection);
  }

  std::unique_ptr<ssl::context> rawClientTls() {
    if (!tls()) return nullptr;
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    ctx->set_verify_mode(ssl::verify_none);
    return ctx;
  }

  fs::path dir_;
  CertKeyPair ca_, serving_;
  HttpServerOptions options_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::map<std::string, HttpHandler> routes_;
};

TEST_P(HttpUpgradeTest, EchoHandlerGetsTheConnection) {
  upgradeRoute("/echo", echo);
  auto conn = open("/echo");
  ASSERT_TRUE(conn);
  writeString(*conn, "hello, upgraded world");
  EXPECT_EQ(readExactly(*conn, 21), "hello, upgraded world");
  writeString(*conn, "again");
  EXPECT_EQ(readExactly(*conn, 5), "again");
  conn->shutdownWrite();
  EXPECT_EQ(readAll(*conn), "");  // the echo handler returned: end of stream
}

TEST_P(HttpUpgradeTest, ClientSeesSwitchingProtocolsWithTheHandlersHeaders) {
  upgradeRoute("/echo", echo);
  auto res = openUpgrade(request("/echo"));
  EXPECT_EQ(res.status, 101);
  EXPECT_TRUE(res.connection);
  EXPECT_EQ(header(res.headers, "Upgrade"), "test-proto");
  EXPECT_EQ(header(res.headers, "Connection"), "Upgrade");
  EXPECT_EQ(header(res.headers, "X-Custom"), "yes");
  EXPECT_FALSE(hasHeader(res.headers, "Content-Length"));
  EXPECT_FALSE(hasHeader(res.headers, "Transfer-Encoding"));
  EXPECT_FALSE(hasHeader(res.headers, "Content-Type"));
  EXPECT_TRUE(res.body.empty());
}

TEST_P(HttpUpgradeTest, BytesSentWithTheRequestReachTheHandlerFirst) {
  std::promise<std::string> firstRead;
  upgradeRoute("/first", [&](UpgradedConnectionPtr c) {
    firstRead.set_value(readExactly(*c, 12));
    writeString(*c, "got it");
    readAll(*c);
  });
  net::io_context io;
  auto ctx = rawClientTls();
  RawPeer peer(io, ctx.get());
  peer.socket().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
  peer.handshake(ssl::stream_base::client);
  // One write: the first frames ride in the same segment (TLS record) as the headers.
  peer.write(
      "GET /first HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: test-proto\r\n"
      "\r\nFIRST-FRAMES");
  std::string head = peer.readUntil("\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << head;
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
  EXPECT_EQ(head.find("Transfer-Encoding"), std::string::npos) << head;
  auto got = firstRead.get_future();
  ASSERT_EQ(got.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(got.get(), "FIRST-FRAMES");
  EXPECT_EQ(peer.readExactly(6), "got it");
}

TEST_P(HttpUpgradeTest, RequestBodyIsReadBeforeTheSwitch) {
  std::promise<std::string> seenBody;
  route("/with-body", [&](HttpRequest& req) {
    seenBody.set_value(req.body);
    return switchTo(echo);
  });
  auto r = request("/with-body");
  r.method = "POST";
  r.body = "request body";
  auto res = openUpgrade(r);
  ASSERT_EQ(res.status, 101);
  EXPECT_EQ(seenBody.get_future().get(), "request body");
  writeString(*res.connection, "after");
  EXPECT_EQ(readExactly(*res.connection, 5), "after");
}

TEST_P(HttpUpgradeTest, ClientDeliversBytesThatFollowedTheResponseHeaders) {
  // A hand-written server that sends its first frames in the same write as the 101.
  net::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  std::unique_ptr<ssl::context> serverTls;
  if (tls()) {
    serverTls = std::make_unique<ssl::context>(ssl::context::tls_server);
    serverTls->use_certificate_chain(net::buffer(serving_.certPem));
    serverTls->use_private_key(net::buffer(serving_.keyPem), ssl::context::pem);
  }
  std::promise<std::string> clientSent;
  std::thread serverThread([&] {
    try {
      RawPeer peer(io, serverTls.get());
      acceptor.accept(peer.socket());
      peer.handshake(ssl::stream_base::server);
      peer.readUntil("\r\n\r\n");
      peer.write(
          "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n"
          "SERVER-FIRST");
      clientSent.set_value(peer.readExactly(4));
    } catch (const std::exception& e) {
      clientSent.set_value(std::string("server failed: ") + e.what());
    }
  });
  auto r = request("/raw");
  r.port = acceptor.local_endpoint().port();
  auto res = openUpgrade(r);
  ASSERT_EQ(res.status, 101);
  ASSERT_TRUE(res.connection);
  EXPECT_EQ(readExactly(*res.connection, 12), "SERVER-FIRST");
  writeString(*res.connection, "pong");
  EXPECT_EQ(clientSent.get_future().get(), "pong");
  serverThread.join();
}

TEST_P(HttpUpgradeTest, FullDuplexMegabytesBothWaysAtOnce) {
  constexpr size_t kSize = 1 << 20;
  const std::string fromServer = pattern(kSize, 1), fromClient = pattern(kSize, 2);
  std::promise<std::string> serverGot;
  upgradeRoute("/duplex", [&](UpgradedConnectionPtr c) {
    // Writes its megabyte while the client is still sending its own.
    std::thread writer([&] {
      for (size_t off = 0; off < kSize; off += 65536) c->write(fromServer.data() + off, 65536);
      c->shutdownWrite();
    });
    serverGot.set_value(readAll(*c));
    writer.join();
  });
  auto conn = open("/duplex");
  ASSERT_TRUE(conn);
  std::thread writer([&] {
    for (size_t off = 0; off < kSize; off += 4096) conn->write(fromClient.data() + off, 4096);
    conn->shutdownWrite();
  });
  std::string clientGot = readAll(*conn);
  writer.join();
  auto got = serverGot.get_future();
  ASSERT_EQ(got.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(got.get() == fromClient);
  EXPECT_EQ(clientGot.size(), kSize);
  EXPECT_TRUE(clientGot == fromServer);
}

TEST_P(HttpUpgradeTest, ServerHalfCloseEndsClientReadsButClientCanStillWrite) {
  std::promise<std::string> afterHalfClose;
  upgradeRoute("/server-half-close", [&](UpgradedConnectionPtr c) {
    writeString(*c, "last words");
    c->shutdownWrite();
    afterHalfClose.set_value(readAll(*c));
  });
  auto conn = open("/server-half-close");
  ASSERT_TRUE(conn);
  EXPECT_EQ(readAll(*conn), "last words");  // returned 0: end of stream
  writeString(*conn, "still talking");
  conn->shutdownWrite();
  auto got = afterHalfClose.get_future();
  ASSERT_EQ(got.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(got.get(), "still talking");
}

TEST_P(HttpUpgradeTest, ClientHalfCloseEndsServerReadsButServerCanStillWrite) {
  upgradeRoute("/client-half-close", [](UpgradedConnectionPtr c) {
    std::string got = readAll(*c);
    writeString(*c, "you said: " + got);
  });
  auto conn = open("/client-half-close");
  ASSERT_TRUE(conn);
  writeString(*conn, "goodbye");
  conn->shutdownWrite();
  EXPECT_EQ(readAll(*conn), "you said: goodbye");
}

TEST_P(HttpUpgradeTest, NonSwitchingAnswerComesBackAsStatusAndBody) {
  auto res = openUpgrade(request("/nowhere"));
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.body, "no route /nowhere");
  EXPECT_FALSE(res.connection);
}

TEST_P(HttpUpgradeTest, SwitchingWithoutUpgradeHandlerIsInternalError) {
  route("/broken", [](HttpRequest&) {
    HttpResponse res;
    res.status = 101;
    res.headers = {{"Connection", "Upgrade"}, {"Upgrade", "test-proto"}};
    return res;
  });
  auto res = openUpgrade(request("/broken"));
  EXPECT_EQ(res.status, 500);
  EXPECT_NE(res.body.find("InternalError"), std::string::npos) << res.body;
  EXPECT_FALSE(res.connection);
}

TEST_P(HttpUpgradeTest, StopEndsSessionBlockedInRead) {
  std::promise<void> reading;
  std::promise<std::pair<size_t, bool>> outcome;  // read's result, whether a write threw
  upgradeRoute("/block", [&](UpgradedConnectionPtr c) {
    reading.set_value();
    char buf[64];
    size_t n = c->read(buf, sizeof buf);
    bool writeThrew = false;
    try {
      writeString(*c, "too late");
    } catch (const std::runtime_error&) {
      writeThrew = true;
    }
    outcome.set_value({n, writeThrew});
  });
  auto conn = open("/block");
  ASSERT_TRUE(conn);
  ASSERT_EQ(reading.get_future().wait_for(kWait), std::future_status::ready);
  auto started = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);  // did not need the grace period
  auto got = outcome.get_future();
  ASSERT_EQ(got.wait_for(0s), std::future_status::ready);  // the handler ended before stop()
  auto [n, writeThrew] = got.get();
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(writeThrew);
  EXPECT_EQ(readAll(*conn), "");  // the client sees the connection end
}

TEST_P(HttpUpgradeTest, HandlerOutlivingTheServerGetsClosedConnection) {
  server_->stop();
  startServer(50ms);
  std::promise<void> reading;
  std::promise<void> serverGone;
  std::promise<std::pair<size_t, bool>> outcome;
  upgradeRoute("/linger", [&](UpgradedConnectionPtr c) {
    reading.set_value();
    char buf[64];
    c->read(buf, sizeof buf);             // ended by stop()
    serverGone.get_future().wait();       // beyond the grace period, and the server
    size_t n = c->read(buf, sizeof buf);  // ... is destroyed by now
    bool writeThrew = false;
    try {
      writeString(*c, "anyone?");
    } catch (const std::runtime_error&) {
      writeThrew = true;
    }
    outcome.set_value({n, writeThrew});
  });
  auto conn = open("/linger");
  ASSERT_TRUE(conn);
  ASSERT_EQ(reading.get_future().wait_for(kWait), std::future_status::ready);
  server_->stop();
  server_.reset();
  serverGone.set_value();
  auto got = outcome.get_future();
  ASSERT_EQ(got.wait_for(kWait), std::future_status::ready);
  auto [n, writeThrew] = got.get();
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(writeThrew);
}

TEST_P(HttpUpgradeTest, ClientDestroyingTheConnectionEndsTheSession) {
  std::promise<std::string> sessionEnd;
  upgradeRoute("/until-gone", [&](UpgradedConnectionPtr c) {
    try {
      sessionEnd.set_value(readAll(*c));
    } catch (const std::exception& e) {
      sessionEnd.set_value(std::string("error: ") + e.what());
    }
  });
  auto conn = open("/until-gone");
  ASSERT_TRUE(conn);
  writeString(*conn, "bye");
  conn.reset();
  auto got = sessionEnd.get_future();
  ASSERT_EQ(got.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(got.get(), "bye");
}

TEST_P(HttpUpgradeTest, CloseUnblocksAReadOnAnotherThread) {
  upgradeRoute("/silent", [](UpgradedConnectionPtr c) {
    readAll(*c);  // never writes
  });
  auto conn = open("/silent");
  ASSERT_TRUE(conn);
  auto result = std::async(std::launch::async, [&] {
    char buf[16];
    return conn->read(buf, sizeof buf);
  });
  EXPECT_EQ(result.wait_for(100ms), std::future_status::timeout);  // really blocked
  conn->close();
  ASSERT_EQ(result.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(result.get(), 0u);
  EXPECT_THROW(writeString(*conn, "x"), std::runtime_error);
}

TEST_P(HttpUpgradeTest, OtherConnectionsKeepWorkingDuringSessions) {
  upgradeRoute("/echo", echo);
  route("/plain", [](HttpRequest&) {
    HttpResponse res;
    res.contentType = "text/plain";
    res.body = "ordinary";
    return res;
  });
  // More sessions than the server has I/O threads, each blocked in a handler's read().
  std::vector<UpgradedConnectionPtr> sessions;
  for (int i = 0; i < 4; ++i) sessions.push_back(open("/echo"));
  for (int i = 0; i < 3; ++i) {
    auto r = request("/plain");
    r.headers.clear();
    auto res = openUpgrade(r);
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.body, "ordinary");
    EXPECT_FALSE(res.connection);
  }
  for (auto& s : sessions) {
    ASSERT_TRUE(s);
    writeString(*s, "still echoing");
    EXPECT_EQ(readExactly(*s, 13), "still echoing");
  }
}

TEST_P(HttpUpgradeTest, ConnectFailureThrows) {
  auto r = request("/echo");
  server_->stop();
  server_.reset();
  EXPECT_THROW(openUpgrade(r), std::runtime_error);
}

TEST_P(HttpUpgradeTest, PresentsClientCertificate) {
  if (!tls()) GTEST_SKIP() << "TLS only";
  std::promise<std::string> user;
  route("/whoami", [&](HttpRequest& req) {
    user.set_value(req.identity().user);
    return switchTo(echo);
  });
  auto client =
      issueCertificate(ca_, "system:kube-apiserver", {"system:masters"}, {}, {}, false, true);
  auto r = request("/whoami");
  r.clientCertPem = client.certPem;
  r.clientKeyPem = client.keyPem;
  auto res = openUpgrade(r);
  EXPECT_EQ(res.status, 101);
  EXPECT_EQ(user.get_future().get(), "system:kube-apiserver");
}

TEST_P(HttpUpgradeTest, VerifiesServerCertificateWhenAsked) {
  if (!tls()) GTEST_SKIP() << "TLS only";
  upgradeRoute("/echo", echo);
  auto r = request("/echo");
  r.verifyServer = true;
  r.caPem = ca_.certPem;
  EXPECT_EQ(openUpgrade(r).status, 101);
  r.caPem = createCa("some-other-ca").certPem;
  EXPECT_THROW(openUpgrade(r), std::runtime_error);
}

INSTANTIATE_TEST_SUITE_P(HttpUpgrade, HttpUpgradeTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Tls" : "Plain"; });

}  // namespace
}  // namespace skiff::apiserver
