// HttpServer's event loops: requests HttpServerOptions::mayBlock picks run on the blocking
// pool, so one waiting handler does not stall the other connections of its loop, and what
// such a handler throws still becomes the answer.
#include "net/http_server.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>

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

}  // namespace
}  // namespace skiff::apiserver
