// HttpServer's event loops: requests HttpServerOptions::mayBlock picks run on the blocking
// pool, so one waiting handler does not stall the other connections of its loop, and what
// such a handler throws still becomes the answer; requests waitsForCommit picks wait together
// on the write pool.
#include "net/http_server.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/api_error.h"

namespace skiff::apiserver {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

// GET `path` on a fresh connection (Connection: close); returns the status line.
std::string get(unsigned short port, const std::string& path) {
  net::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  net::write(s, net::buffer(req));
  std::string out;
  boost::system::error_code ec;
  net::read(s, net::dynamic_buffer(out), ec);  // until the server closes
  return out.substr(0, out.find("\r\n"));
}

TEST(HttpServer, BlockingHandlersDoNotStallTheirLoop) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  HttpServerOptions o;
  o.listen = "127.0.0.1:0";
  o.threads = 1;  // every connection on one loop
  o.mayBlock = [](const HttpRequest& r) { return r.path.starts_with("/slow"); };
  HttpServer server(o, [released](HttpRequest& r) {
    HttpResponse res;
    if (r.path == "/slow") released.wait_for(10s);
    if (r.path == "/slow-missing") throw notFound("widgets", "w");
    res.body = "{}";
    return res;
  });
  server.start();
  auto slow = std::async(std::launch::async, [&] { return get(server.port(), "/slow"); });
  std::this_thread::sleep_for(100ms);  // /slow is now waiting in its handler
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(get(server.port(), "/fast"), "HTTP/1.1 200 OK");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(slow.wait_for(0s), std::future_status::timeout);  // still waiting
  release.set_value();
  EXPECT_EQ(slow.get(), "HTTP/1.1 200 OK");
  EXPECT_EQ(get(server.port(), "/slow-missing"), "HTTP/1.1 404 Not Found");
  server.stop();
}

// Seconds until the server closes a connection that sent `prefix` and then nothing.
double secondsUntilClosed(unsigned short port, const std::string& prefix) {
  net::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  if (!prefix.empty()) net::write(s, net::buffer(prefix));
  auto start = std::chrono::steady_clock::now();
  std::string out;
  boost::system::error_code ec;
  net::read(s, net::dynamic_buffer(out), ec);  // until the server closes
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

HttpServerOptions limitedOptions() {
  HttpServerOptions o;
  o.listen = "127.0.0.1:0";
  o.threads = 1;
  o.idleTimeout = 1500ms;
  o.headerTimeout = 300ms;
  return o;
}

HttpResponse okHandler(HttpRequest&) {
  HttpResponse res;
  res.body = "{}";
  return res;
}

TEST(HttpServer, SlowHeaderClientsAreDroppedAfterTheHeaderTimeout) {
  HttpServer server(limitedOptions(), okHandler);
  server.start();
  // Started a request, never finished its headers: dropped after headerTimeout...
  auto slow = std::async(std::launch::async, [&] {
    return secondsUntilClosed(server.port(), "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  });
  // ...while other clients are served meanwhile (the slow one holds no thread).
  EXPECT_EQ(get(server.port(), "/fast"), "HTTP/1.1 200 OK");
  double slowSecs = slow.get();
  EXPECT_GE(slowSecs, 0.25);
  EXPECT_LT(slowSecs, 1.2);
  // A silent connection waits for the idle timeout instead.
  double idleSecs = secondsUntilClosed(server.port(), "");
  EXPECT_GE(idleSecs, 1.3);
  EXPECT_LT(idleSecs, 3.0);
  server.stop();
}

TEST(HttpServer, UpgradesBeyondTheCapGet429) {
  HttpServerOptions o = limitedOptions();
  o.headerTimeout = 5s;
  o.maxUpgradedConnections = 1;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  HttpServer server(o, [released](HttpRequest&) {
    HttpResponse res;
    res.status = 101;
    res.headers = {{"Connection", "Upgrade"}, {"Upgrade", "test"}};
    res.upgrade = [released](UpgradedConnectionPtr) { released.wait_for(10s); };
    return res;
  });
  server.start();
  net::io_context io;
  auto upgrade = [&] {
    auto s = std::make_unique<tcp::socket>(io);
    s->connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server.port()));
    std::string req = "GET /x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n";
    net::write(*s, net::buffer(req));
    std::string out(12, '\0');
    net::read(*s, net::buffer(out));
    return std::make_pair(std::move(s), out.substr(9, 3));
  };
  auto first = upgrade();
  EXPECT_EQ(first.second, "101");
  std::this_thread::sleep_for(100ms);  // the handler thread is running
  auto second = upgrade();
  EXPECT_EQ(second.second, "429");
  release.set_value();
  server.stop();
}

// Sends `raw` (one or more pipelined requests) on one connection and reads until the server
// closes it; returns the status lines in the order they arrived.
std::vector<std::string> exchange(unsigned short port, const std::string& raw) {
  net::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  net::write(s, net::buffer(raw));
  std::string out;
  boost::system::error_code ec;
  net::read(s, net::dynamic_buffer(out), ec);
  std::vector<std::string> lines;
  for (size_t at = out.find("HTTP/1.1 "); at != std::string::npos;
       at = out.find("HTTP/1.1 ", at + 1))
    lines.push_back(out.substr(at, out.find("\r\n", at) - at));
  return lines;
}

std::string post(const std::string& path, bool close) {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n" +
         (close ? "Connection: close\r\n" : "") + "\r\n";
}

// Opens `n` connections and has the server read one request on each in the same turn of
// its (single) event loop: a GET /hold, which the handler must answer on the loop after
// sleeping 300 ms, keeps the loop busy while the requests are sent, so its next poll finds
// them all. Returns the status lines each connection got, in connection order.
std::vector<std::vector<std::string>> arriveTogether(unsigned short port,
                                                     const std::vector<std::string>& raws) {
  net::io_context io;
  std::vector<std::unique_ptr<tcp::socket>> socks;
  for (size_t i = 0; i < raws.size(); ++i) {
    socks.push_back(std::make_unique<tcp::socket>(io));
    socks.back()->connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }
  std::this_thread::sleep_for(100ms);  // accepted, each waiting for its first byte
  auto hold = std::async(std::launch::async, [port] { return get(port, "/hold"); });
  std::this_thread::sleep_for(100ms);  // the loop is in the /hold handler
  for (size_t i = 0; i < raws.size(); ++i) net::write(*socks[i], net::buffer(raws[i]));
  EXPECT_EQ(hold.get(), "HTTP/1.1 200 OK");
  std::vector<std::vector<std::string>> answers;
  for (auto& sock : socks) {
    std::string out;
    boost::system::error_code ec;
    net::read(*sock, net::dynamic_buffer(out), ec);
    std::vector<std::string> lines;
    for (size_t at = out.find("HTTP/1.1 "); at != std::string::npos;
         at = out.find("HTTP/1.1 ", at + 1))
      lines.push_back(out.substr(at, out.find("\r\n", at) - at));
    answers.push_back(std::move(lines));
  }
  return answers;
}

// Writes (waitsForCommit) wait together on the write pool: with one event loop, 6 writes on
// 6 connections are all in their handler at once (as they must be to share a group commit),
// while a get on the same loop and a request of the blocking pool are still answered. The
// first 5 arrive together (a write that arrives alone runs on its loop: next test).
TEST(HttpServer, WritesWaitTogetherOnTheirPool) {
  constexpr int kWrites = 6;
  std::mutex mu;
  std::condition_variable cv;
  int waiting = 0, most = 0;
  HttpServerOptions o;
  o.listen = "127.0.0.1:0";
  o.threads = 1;
  o.writeThreads = kWrites;
  o.blockingThreads = 1;
  o.mayBlock = [](const HttpRequest& r) { return r.path == "/list"; };
  o.waitsForCommit = [](const HttpRequest& r) { return r.method == "POST"; };
  HttpServer server(o, [&](HttpRequest& r) {
    if (r.path == "/hold") std::this_thread::sleep_for(300ms);
    if (r.method == "POST") {  // a "commit" that completes once every write is waiting
      std::unique_lock lock(mu);
      most = std::max(most, ++waiting);
      cv.notify_all();
      cv.wait_for(lock, 10s, [&] { return waiting == kWrites; });
    }
    HttpResponse res;
    res.status = r.method == "POST" ? 201 : 200;
    res.body = "{}";
    return res;
  });
  server.start();
  auto writes = std::async(std::launch::async, [&] {
    return arriveTogether(server.port(),
                          std::vector<std::string>(kWrites - 1, post("/pods", true)));
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return waiting == kWrites - 1; }));
  }
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(get(server.port(), "/pods/a"), "HTTP/1.1 200 OK");  // on the loop
  EXPECT_EQ(get(server.port(), "/list"), "HTTP/1.1 200 OK");    // the blocking pool
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  // The last write, pipelined with a get on one connection: it goes to the pool (others are
  // in flight), and the answers keep request order although the get alone would have been
  // answered first.
  auto last = exchange(server.port(), post("/pods", false) +
                                          "GET /pods/b HTTP/1.1\r\nHost: x\r\nConnection: "
                                          "close\r\n\r\n");
  EXPECT_EQ(last, (std::vector<std::string>{"HTTP/1.1 201 Created", "HTTP/1.1 200 OK"}));
  for (auto& w : writes.get()) EXPECT_EQ(w, std::vector<std::string>{"HTTP/1.1 201 Created"});
  EXPECT_EQ(most, kWrites);
  server.stop();
}

// A write that arrives while no other is in flight runs on its loop (no hand-off to the pool
// and back); one that arrives while another is in flight (here: on the other loop) goes to
// the pool and does not wait for it.
TEST(HttpServer, ALoneWriteRunsOnItsLoop) {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::thread::id> ranOn;  // by path
  bool release = false;
  HttpServerOptions o;
  o.listen = "127.0.0.1:0";
  o.threads = 2;  // connections alternate between the two loops
  o.writeThreads = 2;
  o.waitsForCommit = [](const HttpRequest& r) { return r.method == "POST"; };
  HttpServer server(o, [&](HttpRequest& r) {
    std::unique_lock lock(mu);
    ranOn[r.path] = std::this_thread::get_id();
    cv.notify_all();
    if (r.path == "/held") cv.wait_for(lock, 10s, [&] { return release; });
    HttpResponse res;
    res.status = r.method == "POST" ? 201 : 200;
    res.body = "{}";
    return res;
  });
  server.start();
  // Connection 1 (loop 0): writes one after another, then a get; each write is alone.
  EXPECT_EQ(exchange(server.port(), post("/w1", false) + post("/w2", false) +
                                        "GET /g HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            (std::vector<std::string>{"HTTP/1.1 201 Created", "HTTP/1.1 201 Created",
                                      "HTTP/1.1 200 OK"}));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(ranOn["/w1"], ranOn["/g"]);  // the loop's thread
    EXPECT_EQ(ranOn["/w2"], ranOn["/g"]);
  }
  // Connection 2 (loop 1): a write held in its handler, alone, so on loop 1.
  auto held =
      std::async(std::launch::async, [&] { return exchange(server.port(), post("/held", true)); });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return ranOn.contains("/held"); }));
  }
  // Connection 3 (loop 0): a write while /held is in flight goes to the pool and is answered
  // while /held still waits.
  EXPECT_EQ(exchange(server.port(), post("/w3", true)),
            std::vector<std::string>{"HTTP/1.1 201 Created"});
  EXPECT_EQ(held.wait_for(0s), std::future_status::timeout);
  {
    std::lock_guard lock(mu);
    EXPECT_NE(ranOn["/w3"], ranOn["/g"]);     // not loop 0
    EXPECT_NE(ranOn["/w3"], ranOn["/held"]);  // not loop 1
    release = true;
  }
  cv.notify_all();
  EXPECT_EQ(held.get(), std::vector<std::string>{"HTTP/1.1 201 Created"});
  server.stop();
}

// HttpServerOptions::admit runs when a request arrives, before it waits for a pool thread:
// with a limit of 2 and one write thread, of 3 writes arriving together two are admitted
// (one in its handler, one queued for the thread) and the third is refused at once, while
// the first is still in its handler; the refused one never reaches the handler.
TEST(HttpServer, AdmissionCountsAWriteFromItsArrival) {
  std::mutex mu;
  std::condition_variable cv;
  int inHandler = 0, handled = 0;
  bool release = false;
  std::atomic<int> admitted{0};
  HttpServerOptions o;
  o.listen = "127.0.0.1:0";
  o.threads = 1;
  o.writeThreads = 1;
  o.waitsForCommit = [](const HttpRequest& r) { return r.method == "POST"; };
  o.admit = [&](HttpRequest&, std::shared_ptr<void>& hold) -> std::optional<HttpResponse> {
    if (admitted.fetch_add(1) >= 2) {
      admitted.fetch_sub(1);
      HttpResponse res;
      res.status = 429;
      return res;
    }
    hold = std::shared_ptr<void>(nullptr, [&](void*) { admitted.fetch_sub(1); });
    return std::nullopt;
  };
  HttpServer server(o, [&](HttpRequest& r) {
    if (r.path == "/hold") std::this_thread::sleep_for(300ms);
    HttpResponse res;
    if (r.method == "POST") {
      EXPECT_TRUE(takeAdmittedOnArrival());
      EXPECT_FALSE(takeAdmittedOnArrival());  // reading clears it
      std::unique_lock lock(mu);
      ++inHandler;
      ++handled;
      cv.notify_all();
      cv.wait_for(lock, 10s, [&] { return release; });
      --inHandler;
      res.status = 201;
    } else {
      EXPECT_FALSE(takeAdmittedOnArrival());  // on the loop: the handler admits it
    }
    res.body = "{}";
    return res;
  });
  server.start();
  auto answers = std::async(std::launch::async, [&] {
    return arriveTogether(server.port(), std::vector<std::string>(3, post("/pods", true)));
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return inHandler == 1; }));
  }
  std::this_thread::sleep_for(200ms);  // time for a wrongly queued third write to show
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(inHandler, 1);        // the only write thread
    EXPECT_EQ(admitted.load(), 2);  // and one write queued for it
    release = true;
  }
  cv.notify_all();
  auto got = answers.get();
  std::multiset<std::string> statuses;
  for (auto& a : got) {
    ASSERT_EQ(a.size(), 1u);
    statuses.insert(a[0]);
  }
  EXPECT_EQ(statuses, (std::multiset<std::string>{"HTTP/1.1 201 Created", "HTTP/1.1 201 Created",
                                                  "HTTP/1.1 429 Too Many Requests"}));
  EXPECT_EQ(handled, 2);
  EXPECT_EQ(admitted.load(), 0);  // every hold released
  server.stop();
}

}  // namespace
}  // namespace skiff::apiserver
