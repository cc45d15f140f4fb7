// pods/exec, pods/attach, pods/portforward and nodes/proxy on an in-process API server, against
// fake kubelets on 127.0.0.1: an HttpServer with TLS whose routes answer 101 with echo
// handlers (or errors, or plain answers), and for the exact header lines a hand-written TLS
// peer. Clients reach the API server with openUpgrade() and the admin certificate; answers
// known before any upgrade are checked through ApiServer::handle().
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "apiserver/admission.h"
#include "apiserver/api_server.h"
#include "apiserver/kubelet_proxy.h"
#include "apiserver/request_info.h"
#include "apiserver/resource_store.h"
#include "common/api_error.h"
#include "common/log.h"
#include "common/pki.h"
#include "net/http_server.h"
#include "net/http_upgrade_client.h"
#include "storage/store.h"
#include "unit/apiserver/net_test_util.h"

namespace skiff::apiserver {
namespace {
using test::closedPort;
using test::readAll;
using test::readExactly;
using test::writeString;

namespace fs = std::filesystem;
namespace json = boost::json;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kWait = 10s;  // bound for anything that should happen at once

using Headers = std::vector<std::pair<std::string, std::string>>;

std::string headerOf(const Headers& headers, const std::string& name) {
  for (const auto& [k, v] : headers)
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  return "";
}

void echo(UpgradedConnectionPtr c) {
  char buf[16384];
  while (size_t n = c->read(buf, sizeof buf)) c->write(buf, n);
}

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + seed) % 251);
  return s;
}

// What the fake kubelet was asked.
struct Seen {
  std::string method, target, body, user;
  std::map<std::string, std::string> headers;
};

struct Answer {
  int code = 0;
  std::string body;  // response body, or the error Status message
  std::string reason, contentType;
  Headers headers;
};

std::string encodeQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const auto& [k, v] : query) {
    out += out.empty() ? "" : "&";
    out += k + "=";
    for (unsigned char c : v) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
  }
  return out;
}

json::object podObject(const std::string& name, const std::string& node,
                       std::vector<std::string> containers) {
  json::array cs;
  for (const auto& c : containers) cs.push_back(json::object{{"name", c}, {"image", "busybox"}});
  json::object spec{{"containers", cs}};
  if (!node.empty()) spec["nodeName"] = node;
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}}}, {"spec", spec}};
}

json::object nodeObject(const std::string& name, int port) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", {{"name", name}}},
      {"status",
       {{"addresses", json::array{json::object{{"type", "InternalIP"}, {"address", "127.0.0.1"}}}},
        {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", port}}}}}}}};
}

// One API server and one fake kubelet ("kn", its Node) for the whole suite.
class PodExecProxyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    spdlog::set_level(spdlog::level::warn);
    dir_ = new fs::path(fs::temp_directory_path() /
                        ("skiff-pod-exec-test-" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    server_ = startApiServer(*dir_);
    kubelet_ = startFakeKubelet(*dir_);
    create("/api/v1/nodes", nodeObject("kn", kubelet_->port()));
    create("/api/v1/namespaces/default/pods", podObject("web", "kn", {"app"}));
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    kubelet_->stop();
    delete kubelet_;
    kubelet_ = nullptr;
    fs::remove_all(*dir_);
    delete dir_;
  }
  void SetUp() override {
    std::lock_guard lock(mu_);
    routes_.clear();
    seen_.clear();
  }

  static ApiServer* startApiServer(const fs::path& dir) {
    ApiServerOptions o;
    // No controller manager creates ServiceAccounts here: pods are admitted without one.
    o.disableAdmissionPlugins = {"ServiceAccount"};
    o.dataDir = dir.string();
    o.listen = "127.0.0.1:0";
    o.storage = "memory";
    o.threads = 2;
    auto* s = new ApiServer(o);
    s->start();
    return s;
  }

  // Serves with the API server's serving certificate and accepts client certificates of its
  // CA, so requests show who the API server presented itself as.
  static HttpServer* startFakeKubelet(const fs::path& apiDir) {
    HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    o.threads = 2;
    o.tlsCertFile = (apiDir / "tls" / "server.crt").string();
    o.tlsKeyFile = (apiDir / "tls" / "server.key").string();
    o.clientCaFile = (apiDir / "tls" / "ca.crt").string();
    o.upgradeStopGrace = 2s;
    auto* k = new HttpServer(o, [](HttpRequest& req) {
      HttpHandler route;
      {
        std::lock_guard lock(mu_);
        seen_.push_back({req.method, req.target, req.body, req.identity().user, req.headers});
        auto it = routes_.find(req.path);
        if (it != routes_.end()) route = it->second;
      }
      if (!route) {
        HttpResponse res;
        res.status = 404;
        res.contentType = "text/plain; charset=utf-8";
        res.body = "404 page not found";
        return res;
      }
      return route(req);
    });
    k->start();
    return k;
  }

  static void route(const std::string& path, HttpHandler h) {
    std::lock_guard lock(mu_);
    routes_[path] = std::move(h);
  }
  // A route answering 101 with WebSocket-looking headers and then running `h`.
  static void upgradeRoute(const std::string& path, UpgradeHandler h) {
    route(path, [h](HttpRequest& req) {
      HttpResponse res;
      res.status = 101;
      res.headers = {{"Connection", "Upgrade"},
                     {"Upgrade", "websocket"},
                     {"Sec-WebSocket-Accept", "accept-for-" + req.header("sec-websocket-key")},
                     {"Sec-WebSocket-Protocol", "v5.channel.k8s.io"}};
      res.upgrade = h;
      return res;
    });
  }
  static std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

  static Answer call(const std::string& method, const std::string& path,
                     const std::vector<std::pair<std::string, std::string>>& query = {},
                     const std::map<std::string, std::string>& headers = {},
                     const std::string& body = "", ApiServer* server = nullptr) {
    HttpRequest req;
    req.client = std::make_shared<const skiff::net::ClientIdentity>(skiff::net::ClientIdentity{
        "admin", {"system:masters"}, {}, {}});  // as the admin certificate
    req.method = method;
    req.path = path;
    req.target = path + (query.empty() ? "" : "?" + encodeQuery(query));
    for (const auto& [k, v] : query) req.query.emplace(k, v);
    req.headers = headers;
    req.body = body;
    req.remoteAddress = "127.0.0.1:40000";
    if (!body.empty() && !req.headers.count("content-type"))
      req.headers["content-type"] = "application/json";
    try {
      HttpResponse res = (server ? server : server_)->handle(req);
      return {res.status, res.body, "", res.contentType, res.headers};
    } catch (const ApiError& e) {
      return {e.code(), e.what(), e.reason(), "", {}};
    }
  }
  static void create(const std::string& path, const json::object& obj,
                     ApiServer* server = nullptr) {
    Answer a = call("POST", path, {}, {}, json::serialize(obj), server);
    ASSERT_EQ(a.code, 201) << a.body;
  }
  static void setPhase(const std::string& pod, const std::string& phase) {
    const std::string path = "/api/v1/namespaces/default/pods/" + pod;
    Answer a = call("GET", path);
    ASSERT_EQ(a.code, 200) << a.body;
    json::object obj = json::parse(a.body).as_object();
    obj["status"].as_object()["phase"] = phase;
    a = call("PUT", path + "/status", {}, {}, json::serialize(obj));
    ASSERT_EQ(a.code, 200) << a.body;
  }

  // The upgrade headers kubectl 1.32 sends for exec over WebSocket.
  static Headers webSocketHeaders() {
    return {{"Connection", "Upgrade"},
            {"Upgrade", "websocket"},
            {"Sec-WebSocket-Key", "B0eLegyF9iNp1SaQU2p4EQ=="},
            {"Sec-WebSocket-Protocol", "v5.channel.k8s.io"},
            {"Sec-WebSocket-Version", "13"}};
  }
  static std::map<std::string, std::string> webSocketHeaderMap() {
    std::map<std::string, std::string> m;
    for (auto& [k, v] : webSocketHeaders()) {
      std::string l = k;
      for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      m[l] = v;
    }
    return m;
  }
  // A request to the API server over the network, as the admin.
  static UpgradeRequest apiRequest(const std::string& target, ApiServer* server = nullptr) {
    UpgradeRequest r;
    r.host = "127.0.0.1";
    r.port = (server ? server : server_)->port();
    r.tls = true;
    r.clientCertPem = readFile((*dir_ / "tls" / "admin.crt").string());
    r.clientKeyPem = readFile((*dir_ / "tls" / "admin.key").string());
    r.target = target;
    r.headers = webSocketHeaders();
    return r;
  }

  static fs::path* dir_;
  static ApiServer* server_;
  static HttpServer* kubelet_;
  static std::mutex mu_;
  static std::map<std::string, HttpHandler> routes_;
  static std::vector<Seen> seen_;
};

fs::path* PodExecProxyTest::dir_ = nullptr;
ApiServer* PodExecProxyTest::server_ = nullptr;
HttpServer* PodExecProxyTest::kubelet_ = nullptr;
std::mutex PodExecProxyTest::mu_;
std::map<std::string, HttpHandler> PodExecProxyTest::routes_;
std::vector<Seen> PodExecProxyTest::seen_;

const std::string kExecPath = "/api/v1/namespaces/default/pods/web/exec";
const std::string kExecQuery = "command=ls&command=%2F&container=app&stderr=true&stdout=true";

TEST_F(PodExecProxyTest, DiscoveryListsTheStreamingSubresources) {
  Answer a = call("GET", "/api/v1");
  ASSERT_EQ(a.code, 200);
  std::map<std::string, json::object> rows;
  json::value list = json::parse(a.body);
  for (const auto& r : list.at("resources").as_array())
    rows[std::string(r.at("name").as_string())] = r.as_object();
  const std::string getCreate = R"(["create","get"])";
  const std::string proxyVerbs = R"(["create","delete","get","patch","update"])";
  for (auto [name, kind, verbs, namespaced] :
       {std::tuple{"pods/exec", "PodExecOptions", getCreate, true},
        std::tuple{"pods/attach", "PodAttachOptions", getCreate, true},
        std::tuple{"pods/portforward", "PodPortForwardOptions", getCreate, true},
        std::tuple{"nodes/proxy", "NodeProxyOptions", proxyVerbs, false}}) {
    ASSERT_TRUE(rows.count(name)) << name;
    EXPECT_EQ(rows[name].at("kind"), kind) << name;
    EXPECT_EQ(json::serialize(rows[name].at("verbs")), verbs) << name;
    EXPECT_EQ(rows[name].at("namespaced"), namespaced) << name;
    EXPECT_FALSE(rows[name].contains("group")) << name;
  }
  EXPECT_FALSE(rows.count("pods/proxy"));  // not served
}

TEST_F(PodExecProxyTest, ValidatesLikeUpstreamBeforeCallingTheKubelet) {
  auto ws = webSocketHeaderMap();
  auto exec = [&](const std::string& pod, std::vector<std::pair<std::string, std::string>> q) {
    return call("GET", "/api/v1/namespaces/default/pods/" + pod + "/exec", q, ws);
  };
  Answer a = exec("ghost", {{"command", "ls"}});
  EXPECT_EQ(a.code, 404);
  EXPECT_EQ(a.body, "pods \"ghost\" not found");

  a = exec("web", {{"container", "app"}, {"stdout", "true"}});
  EXPECT_EQ(a.code, 400);
  EXPECT_EQ(a.reason, "BadRequest");
  EXPECT_EQ(a.body, "you must specify at least 1 command");

  create("/api/v1/namespaces/default/pods", podObject("pair", "kn", {"a", "b"}));
  a = exec("pair", {{"command", "ls"}});
  EXPECT_EQ(a.code, 400);
  EXPECT_EQ(a.body, "a container name must be specified for pod pair, choose one of: [a b]");
  a = exec("pair", {{"command", "ls"}, {"container", "c"}});
  EXPECT_EQ(a.code, 400);
  EXPECT_EQ(a.body, "container c is not valid for pod pair");
  a = call("POST", "/api/v1/namespaces/default/pods/pair/attach", {{"container", "z"}}, ws);
  EXPECT_EQ(a.code, 400);
  EXPECT_EQ(a.body, "container z is not valid for pod pair");

  create("/api/v1/namespaces/default/pods", podObject("unbound", "", {"app"}));
  for (const char* sub : {"exec", "attach", "portforward"}) {
    a = call("GET", std::string("/api/v1/namespaces/default/pods/unbound/") + sub,
             {{"command", "ls"}}, ws);
    EXPECT_EQ(a.code, 400) << sub;
    EXPECT_EQ(a.body, "pod unbound does not have a host assigned") << sub;
  }

  create("/api/v1/namespaces/default/pods", podObject("done", "kn", {"app"}));
  setPhase("done", "Succeeded");
  a = exec("done", {{"command", "ls"}});
  EXPECT_EQ(a.code, 400);
  EXPECT_EQ(a.body, "cannot exec into a container in a completed pod; current phase is Succeeded");
  setPhase("done", "Failed");
  a = call("GET", "/api/v1/namespaces/default/pods/done/attach", {{"stdout", "true"}}, ws);
  EXPECT_EQ(a.code, 400);
  EXPECT_EQ(a.body, "cannot attach to a container in a completed pod; current phase is Failed");

  create("/api/v1/namespaces/default/pods", podObject("lost", "no-such-node", {"app"}));
  a = exec("lost", {{"command", "ls"}});
  EXPECT_EQ(a.code, 404);
  EXPECT_EQ(a.body, "nodes \"no-such-node\" not found");

  // Checked last, as upstream's proxy handler does it.
  a = call("GET", kExecPath, {{"command", "ls"}});
  EXPECT_EQ(a.code, 400);
  EXPECT_EQ(a.body, "Upgrade request required");

  EXPECT_EQ(call("PUT", kExecPath, {{"command", "ls"}}, ws).code, 405);
  EXPECT_EQ(call("DELETE", "/api/v1/namespaces/default/pods/web/portforward", {}, ws).code, 405);
  EXPECT_TRUE(seen().empty());  // none of these reached the kubelet
}

TEST_F(PodExecProxyTest, TunnelCarriesBytesBothWaysWithTheHeadersOfBothSides) {
  upgradeRoute("/exec/default/web/app", echo);
  UpgradeRequest r = apiRequest(kExecPath + "?" + kExecQuery);
  r.headers.emplace_back("Authorization", "Bearer secret-token");
  r.headers.emplace_back("Impersonate-User", "someone");
  // (In a group that may exec: the admin impersonates, the API server authorizes "someone".)
  r.headers.emplace_back("Impersonate-Group", "system:masters");
  UpgradeResult res = openUpgrade(r);
  ASSERT_EQ(res.status, 101) << res.body;
  ASSERT_TRUE(res.connection);
  EXPECT_EQ(headerOf(res.headers, "Sec-WebSocket-Protocol"), "v5.channel.k8s.io");
  EXPECT_EQ(headerOf(res.headers, "Sec-WebSocket-Accept"), "accept-for-B0eLegyF9iNp1SaQU2p4EQ==");
  EXPECT_EQ(headerOf(res.headers, "Upgrade"), "websocket");

  auto& conn = *res.connection;
  writeString(conn, "hello kubelet");
  EXPECT_EQ(readExactly(conn, 13), "hello kubelet");
  // Much more than any buffer, both directions at once.
  const std::string big = pattern(3 << 20, 5);
  std::thread writer([&] { writeString(conn, big); });
  std::string back = readExactly(conn, big.size());
  writer.join();
  EXPECT_TRUE(back == big) << "got " << back.size() << " bytes";

  // The client's half-close reaches the kubelet (its echo loop ends), and the kubelet's end
  // of the session comes back as end of stream.
  conn.shutdownWrite();
  EXPECT_EQ(readAll(conn), "");

  auto all = seen();
  ASSERT_EQ(all.size(), 1u);
  const Seen& k = all[0];
  EXPECT_EQ(k.method, "GET");
  EXPECT_EQ(k.target, "/exec/default/web/app?" + kExecQuery);
  EXPECT_EQ(k.user, "kube-apiserver-kubelet-client");  // the API server's own, not the admin's
  EXPECT_EQ(k.headers.at("connection"), "Upgrade");
  EXPECT_EQ(k.headers.at("upgrade"), "websocket");
  EXPECT_EQ(k.headers.at("sec-websocket-key"), "B0eLegyF9iNp1SaQU2p4EQ==");
  EXPECT_EQ(k.headers.at("sec-websocket-protocol"), "v5.channel.k8s.io");
  EXPECT_EQ(k.headers.at("sec-websocket-version"), "13");
  EXPECT_EQ(k.headers.at("x-forwarded-for"), "127.0.0.1");
  EXPECT_EQ(k.headers.at("host"), "127.0.0.1:" + std::to_string(kubelet_->port()));
  EXPECT_FALSE(k.headers.count("authorization"));
  EXPECT_FALSE(k.headers.count("impersonate-user"));
  EXPECT_FALSE(k.headers.count("impersonate-group"));
}

TEST_F(PodExecProxyTest, KubeletHalfCloseReachesTheClientWhoMayStillSend) {
  std::promise<std::string> afterShutdown;
  upgradeRoute("/attach/default/web/app", [&](UpgradedConnectionPtr c) {
    writeString(*c, "bye");
    c->shutdownWrite();
    afterShutdown.set_value(readAll(*c));  // what the client sends after our half-close
  });
  UpgradeResult res =
      openUpgrade(apiRequest("/api/v1/namespaces/default/pods/web/attach?stdin=true&stdout=true"));
  ASSERT_EQ(res.status, 101) << res.body;
  auto& conn = *res.connection;
  EXPECT_EQ(readAll(conn), "bye");  // then end of stream
  writeString(conn, "late words");
  conn.shutdownWrite();
  auto got = afterShutdown.get_future();
  ASSERT_EQ(got.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(got.get(), "late words");
  ASSERT_EQ(seen().size(), 1u);
  EXPECT_EQ(seen()[0].target, "/attach/default/web/app?stdin=true&stdout=true");
}

TEST_F(PodExecProxyTest, ClientGoingAwayEndsTheKubeletSide) {
  std::promise<void> kubeletSawEnd;
  upgradeRoute("/portForward/default/web", [&](UpgradedConnectionPtr c) {
    readAll(*c);
    kubeletSawEnd.set_value();
  });
  UpgradeRequest r = apiRequest("/api/v1/namespaces/default/pods/web/portforward");
  r.headers = {{"Connection", "Upgrade"},
               {"Upgrade", "websocket"},
               {"Sec-WebSocket-Key", "a2V5"},
               {"Sec-WebSocket-Version", "13"},
               {"Sec-WebSocket-Protocol", "SPDY/3.1+portforward.k8s.io"}};
  UpgradeResult res = openUpgrade(r);
  ASSERT_EQ(res.status, 101) << res.body;
  writeString(*res.connection, "frames");
  res.connection->close();
  EXPECT_EQ(kubeletSawEnd.get_future().wait_for(kWait), std::future_status::ready);
  ASSERT_EQ(seen().size(), 1u);
  EXPECT_EQ(seen()[0].target, "/portForward/default/web");
  EXPECT_EQ(seen()[0].headers.at("sec-websocket-protocol"), "SPDY/3.1+portforward.k8s.io");
}

// A hand-written kubelet (sync Asio, TLS) to see the request's header lines as sent.
TEST_F(PodExecProxyTest, SpdyProtocolVersionsGoAsSeparateHeaderLines) {
  net::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  ssl::context tls(ssl::context::tls_server);
  tls.use_certificate_chain_file((*dir_ / "tls" / "server.crt").string());
  tls.use_private_key_file((*dir_ / "tls" / "server.key").string(), ssl::context::pem);
  create("/api/v1/nodes", nodeObject("raw", acceptor.local_endpoint().port()));
  create("/api/v1/namespaces/default/pods", podObject("on-raw", "raw", {"app"}));

  std::promise<std::string> head;
  std::thread kubelet([&] {
    try {
      tcp::socket socket(io);
      acceptor.accept(socket);
      ssl::stream<tcp::socket&> stream(socket, tls);
      stream.handshake(ssl::stream_base::server);
      std::string buf;
      char chunk[4096];
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos)
        buf.append(chunk, stream.read_some(net::buffer(chunk)));
      head.set_value(buf.substr(0, end + 4));
      std::string rest = buf.substr(end + 4);
      // The 101 and the first frames in one write.
      net::write(
          stream,
          net::buffer(
              std::string("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                          "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                          "\r\nEARLY") +
              rest));
      for (;;) {
        size_t n = stream.read_some(net::buffer(chunk));
        net::write(stream, net::buffer(chunk, n));
      }
    } catch (const std::exception&) {
      // end of stream
    }
  });

  UpgradeRequest r =
      apiRequest("/api/v1/namespaces/default/pods/on-raw/exec?command=sh&stdin=true");
  r.method = "POST";
  r.headers = {{"Connection", "Upgrade"}, {"Upgrade", "SPDY/3.1"}};
  for (const char* v : {"v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io",
                        "v2.channel.k8s.io", "channel.k8s.io"})
    r.headers.emplace_back("X-Stream-Protocol-Version", v);
  UpgradeResult res = openUpgrade(r);
  ASSERT_EQ(res.status, 101) << res.body;
  EXPECT_EQ(headerOf(res.headers, "X-Stream-Protocol-Version"), "v4.channel.k8s.io");
  EXPECT_EQ(headerOf(res.headers, "Upgrade"), "SPDY/3.1");
  EXPECT_EQ(readExactly(*res.connection, 5), "EARLY");
  writeString(*res.connection, "ping");
  EXPECT_EQ(readExactly(*res.connection, 4), "ping");
  res.connection->shutdownWrite();
  EXPECT_EQ(readAll(*res.connection), "");
  kubelet.join();

  auto got = head.get_future();
  ASSERT_EQ(got.wait_for(0s), std::future_status::ready);
  std::string h = got.get();
  EXPECT_EQ(h.rfind("POST /exec/default/on-raw/app?command=sh&stdin=true HTTP/1.1\r\n", 0), 0u)
      << h;
  EXPECT_NE(h.find("X-Stream-Protocol-Version: v5.channel.k8s.io\r\n"
                   "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                   "X-Stream-Protocol-Version: v3.channel.k8s.io\r\n"
                   "X-Stream-Protocol-Version: v2.channel.k8s.io\r\n"
                   "X-Stream-Protocol-Version: channel.k8s.io\r\n"),
            std::string::npos)
      << h;
  EXPECT_NE(h.find("\r\nUpgrade: SPDY/3.1\r\n"), std::string::npos) << h;
  EXPECT_EQ(h.find("Sec-Websocket"), std::string::npos) << h;
}

TEST_F(PodExecProxyTest, KubeletErrorsPassThroughForTheSpdyFallback) {
  const std::string status =
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"websocket not supported","reason":"BadRequest","code":400})";
  route("/exec/default/web/app", [&](HttpRequest&) {
    HttpResponse res;
    res.status = 400;
    res.body = status;
    res.headers.emplace_back("X-Kubelet", "yes");
    return res;
  });
  route("/attach/default/web/app", [](HttpRequest&) {
    HttpResponse res;
    res.status = 403;
    res.contentType = "text/plain; charset=utf-8";
    res.body = "Forbidden (user=x, verb=create, resource=nodes, subresource=proxy)";
    return res;
  });
  route("/portForward/default/web", [](HttpRequest&) {
    HttpResponse res;
    res.body = "{}";
    return res;
  });
  auto ws = webSocketHeaderMap();
  Answer a = call("GET", kExecPath, {{"command", "ls"}, {"stdout", "true"}}, ws);
  EXPECT_EQ(a.code, 400);
  EXPECT_EQ(a.body, status);
  EXPECT_EQ(a.contentType, "application/json");
  EXPECT_EQ(headerOf(a.headers, "X-Kubelet"), "yes");

  a = call("POST", "/api/v1/namespaces/default/pods/web/attach", {{"stdout", "1"}}, ws);
  EXPECT_EQ(a.code, 403);
  EXPECT_EQ(a.body, "Forbidden (user=x, verb=create, resource=nodes, subresource=proxy)");
  EXPECT_EQ(a.contentType, "text/plain; charset=utf-8");

  a = call("GET", "/api/v1/namespaces/default/pods/web/portforward", {}, ws);
  EXPECT_EQ(a.code, 500);
  EXPECT_EQ(a.body, "invalid upgrade response: status code 200");

  auto all = seen();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].target, "/exec/default/web/app?command=ls&stdout=true");
  EXPECT_EQ(all[1].method, "POST");
  EXPECT_EQ(all[1].target, "/attach/default/web/app?stdout=1");
  EXPECT_EQ(all[2].target, "/portForward/default/web");
}

TEST_F(PodExecProxyTest, DeadKubeletFailsQuicklyWithGoWording) {
  const int port = closedPort();
  create("/api/v1/nodes", nodeObject("dead", port));
  create("/api/v1/namespaces/default/pods", podObject("on-dead", "dead", {"app"}));
  auto start = std::chrono::steady_clock::now();
  Answer a = call("GET", "/api/v1/namespaces/default/pods/on-dead/exec", {{"command", "ls"}},
                  webSocketHeaderMap());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(a.code, 500);
  EXPECT_EQ(a.reason, "");
  EXPECT_EQ(a.body, "error dialing backend: dial tcp 127.0.0.1:" + std::to_string(port) +
                        ": connect: connection refused");
}

// The server's stop() ends open tunnels itself, so a kubelet that says nothing after the
// client's half-close does not keep stop() waiting for its upgrade handlers.
TEST_F(PodExecProxyTest, StopEndsOpenTunnels) {
  const fs::path dir = *dir_ / "second";
  fs::create_directories(dir);
  fs::copy(*dir_ / "tls", dir / "tls", fs::copy_options::recursive);  // the same CA and admin
  ApiServer* second = startApiServer(dir);
  create("/api/v1/nodes", nodeObject("kn", kubelet_->port()), second);
  create("/api/v1/namespaces/default/pods", podObject("web", "kn", {"app"}), second);
  std::promise<void> inSession;
  auto release = std::make_shared<std::promise<void>>();
  upgradeRoute("/exec/default/web/app",
               [&inSession, done = release->get_future().share()](UpgradedConnectionPtr c) {
                 inSession.set_value();
                 readAll(*c);
                 done.wait_for(4s);  // silent after the half-close
               });
  UpgradeResult res = openUpgrade(apiRequest(kExecPath + "?" + kExecQuery, second));
  ASSERT_EQ(res.status, 101) << res.body;
  ASSERT_EQ(inSession.get_future().wait_for(kWait), std::future_status::ready);
  auto start = std::chrono::steady_clock::now();
  second->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  release->set_value();
  EXPECT_EQ(readAll(*res.connection), "");
  delete second;
}

// KubeletProxy on its own HTTP server, with a short drain: once the kubelet has ended the
// session, a client that keeps its side open is cut off after the drain timeout.
TEST_F(PodExecProxyTest, LingeringClientIsClosedAfterTheDrainTimeout) {
  const auto& registry = api::ResourceRegistry::builtin();
  storage::StorePtr store = storage::openMemoryStore();
  CacheHub caches{*store};
  for (const auto& r : registry.all()) caches.cacheFor(r.storagePrefix());
  caches.start();
  Admission admission{caches};
  ResourceStore resources{*store, caches, admission};
  RequestContext ctx;
  resources.create(*registry.find("", "v1", "namespaces"), "",
                   json::parse(R"({"metadata":{"name":"default"}})"), ctx);
  resources.create(*registry.find("", "v1", "nodes"), "", nodeObject("kn", kubelet_->port()), ctx);
  resources.create(*registry.find("", "v1", "pods"), "default", podObject("web", "kn", {"app"}),
                   ctx);

  KubeletClientOptions options;
  options.clientCertFile = (*dir_ / "tls" / "admin.crt").string();
  options.clientKeyFile = (*dir_ / "tls" / "admin.key").string();
  options.tunnelDrainTimeout = 500ms;
  options.allowLoopback = true;  // the fake kubelet is on 127.0.0.1
  KubeletProxy proxy(options);
  HttpServerOptions ho;
  ho.listen = "127.0.0.1:0";
  ho.threads = 2;
  HttpServer front(ho, [&](HttpRequest& req) {
    auto ri = parseResourcePath(req.path, registry);
    if (!ri) throw badRequest("not a resource path");
    return proxy.podStream(resources, *ri, req);
  });
  front.start();

  upgradeRoute("/exec/default/web/app", [](UpgradedConnectionPtr c) { writeString(*c, "done"); });
  UpgradeRequest r;
  r.host = "127.0.0.1";
  r.port = front.port();
  r.target = kExecPath + "?" + kExecQuery;
  r.headers = webSocketHeaders();
  UpgradeResult res = openUpgrade(r);
  ASSERT_EQ(res.status, 101) << res.body;
  EXPECT_EQ(readAll(*res.connection), "done");
  auto ended = std::chrono::steady_clock::now();
  EXPECT_EQ(proxy.openTunnels(), 1u);  // still waiting for the client
  while (proxy.openTunnels() != 0 && std::chrono::steady_clock::now() - ended < kWait)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(proxy.openTunnels(), 0u);
  EXPECT_GE(std::chrono::steady_clock::now() - ended, 400ms);
  EXPECT_THROW(
      {
        for (int i = 0; i < 100; ++i) {  // the peer's close shows on a later write
          writeString(*res.connection, "anyone there?");
          std::this_thread::sleep_for(10ms);
        }
      },
      std::runtime_error);
  front.stop();
}

class NodeProxyTest : public PodExecProxyTest {};

TEST_F(NodeProxyTest, RelaysMethodPathQueryBodyAndAnswer) {
  route("/stats/summary", [](HttpRequest& req) {
    HttpResponse res;
    res.body =
        R"({"node":{"nodeName":"kn"},"query":")" + req.paramOr("only_cpu_and_memory", "") + "\"}";
    res.headers = {{"X-Kubelet", "summary"}, {"Access-Control-Allow-Origin", "*"}};
    return res;
  });
  route("/healthz", [](HttpRequest&) {
    HttpResponse res;
    res.contentType = "text/plain; charset=utf-8";
    res.body = "ok";
    return res;
  });
  route("/configz/", [](HttpRequest& req) {
    HttpResponse res;
    res.status = 201;
    res.contentType = "text/plain";
    res.body = req.method + " " + req.body;
    return res;
  });

  Answer a = call("GET", "/api/v1/nodes/kn/proxy/stats/summary", {{"only_cpu_and_memory", "true"}},
                  {{"accept", "application/json"}, {"authorization", "Bearer t"}});
  EXPECT_EQ(a.code, 200);
  EXPECT_EQ(a.body, R"({"node":{"nodeName":"kn"},"query":"true"})");
  EXPECT_EQ(a.contentType, "application/json");
  EXPECT_EQ(headerOf(a.headers, "X-Kubelet"), "summary");
  EXPECT_EQ(headerOf(a.headers, "Access-Control-Allow-Origin"), "");  // upstream drops CORS
  EXPECT_EQ(headerOf(a.headers, "Content-Length"), "");

  a = call("GET", "/api/v1/nodes/kn/proxy/healthz");
  EXPECT_EQ(a.code, 200);
  EXPECT_EQ(a.body, "ok");
  EXPECT_EQ(a.contentType, "text/plain; charset=utf-8");

  a = call("POST", "/api/v1/nodes/kn/proxy/configz/", {}, {{"content-type", "text/plain"}},
           "the body");
  EXPECT_EQ(a.code, 201);
  EXPECT_EQ(a.body, "POST the body");

  a = call("GET", "/api/v1/nodes/kn/proxy/missing");
  EXPECT_EQ(a.code, 404);
  EXPECT_EQ(a.body, "404 page not found");

  // The root page: redirected to the slash form first, as upstream does.
  a = call("GET", "/api/v1/nodes/kn/proxy", {{"a", "b"}});
  EXPECT_EQ(a.code, 301);
  EXPECT_EQ(headerOf(a.headers, "Location"), "/api/v1/nodes/kn/proxy/?a=b");
  a = call("GET", "/api/v1/nodes/kn/proxy/");
  EXPECT_EQ(a.code, 404);  // the fake kubelet has no "/"

  // The kubelet port named explicitly is the kubelet too.
  a = call("GET", "/api/v1/nodes/kn:" + std::to_string(kubelet_->port()) + "/proxy/healthz");
  EXPECT_EQ(a.code, 200);
  EXPECT_EQ(a.body, "ok");

  auto all = seen();
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0].method, "GET");
  EXPECT_EQ(all[0].target, "/stats/summary?only_cpu_and_memory=true");
  EXPECT_EQ(all[0].user, "kube-apiserver-kubelet-client");
  EXPECT_EQ(all[0].headers.at("accept"), "application/json");
  EXPECT_EQ(all[0].headers.at("x-forwarded-uri"), "/api/v1/nodes/kn/proxy/stats/summary");
  EXPECT_EQ(all[0].headers.at("x-forwarded-for"), "127.0.0.1");
  EXPECT_FALSE(all[0].headers.count("authorization"));
  EXPECT_EQ(all[2].method, "POST");
  EXPECT_EQ(all[2].target, "/configz/");
  EXPECT_EQ(all[2].body, "the body");
  EXPECT_EQ(all[2].headers.at("content-type"), "text/plain");
  EXPECT_EQ(all[4].target, "/");
}

TEST_F(NodeProxyTest, ErrorsBeforeAndAtTheKubelet) {
  Answer a = call("GET", "/api/v1/nodes/nowhere/proxy/healthz");
  EXPECT_EQ(a.code, 404);
  EXPECT_EQ(a.body, "nodes \"nowhere\" not found");
  a = call("GET", "/api/v1/nodes/a:b:c:d/proxy/healthz");
  EXPECT_EQ(a.code, 400);
  EXPECT_EQ(a.body, "invalid node request \"a:b:c:d\"");
  a = call("GET", "/api/v1/nodes/ftp:kn:21/proxy/");
  EXPECT_EQ(a.code, 400);
  EXPECT_EQ(call("CONNECT", "/api/v1/nodes/kn/proxy/healthz").code, 405);

  const int port = closedPort();
  create("/api/v1/nodes", nodeObject("down", port));
  auto start = std::chrono::steady_clock::now();
  a = call("GET", "/api/v1/nodes/down/proxy/healthz");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(a.code, 503);
  EXPECT_EQ(a.reason, "ServiceUnavailable");
  EXPECT_EQ(a.body, "error trying to reach service: dial tcp 127.0.0.1:" + std::to_string(port) +
                        ": connect: connection refused");
  // Another port of a live node is refused: only the kubelet is proxied.
  a = call("GET", "/api/v1/nodes/kn:" + std::to_string(port) + "/proxy/");
  EXPECT_EQ(a.code, 400);
  EXPECT_EQ(a.body, "invalid node request \"kn:" + std::to_string(port) +
                        "\": only the kubelet port " + std::to_string(kubelet_->port()) +
                        " of node kn is proxied");
  EXPECT_TRUE(seen().empty());
}

TEST_F(NodeProxyTest, UpgradeRequestsAreTunnelled) {
  upgradeRoute("/exec/default/web/app", echo);
  UpgradeResult res = openUpgrade(apiRequest("/api/v1/nodes/kn/proxy/exec/default/web/app?x=1"));
  ASSERT_EQ(res.status, 101) << res.body;
  writeString(*res.connection, "through nodes/proxy");
  EXPECT_EQ(readExactly(*res.connection, 19), "through nodes/proxy");
  res.connection->shutdownWrite();
  EXPECT_EQ(readAll(*res.connection), "");
  ASSERT_EQ(seen().size(), 1u);
  EXPECT_EQ(seen()[0].target, "/exec/default/web/app?x=1");
}

}  // namespace
}  // namespace skiff::apiserver
