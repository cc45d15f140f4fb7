// port-forward through the kubelet: kubectl's SPDY (plain, or tunnelled in WebSocket messages
// split anywhere) → /portForward → a fake containerd that "dials the pod" by echoing.
// clang-format off: the test util must precede system headers (see there)
#include "kubelet/streaming/port_forward.h"

#include "streaming_test_util.h"
// clang-format on

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "common/api_error.h"
#include "kubelet/streaming/spdy.h"
#include "kubelet/streaming/streaming_routes.h"
#include "kubelet/streaming/websocket.h"

namespace skiff::kubelet::streaming {
namespace {

using namespace std::chrono_literals;
using testing::FakeStreamingServer;
using testing::socketPair;
using testing::StreamingOnlyRuntime;

// containerd's port-forward: per request id a pair of streams; the data stream is answered
// with "echo:<what came in>" (the pod), then both streams are closed as containerd does.
class FakePortForwarder {
 public:
  FakeStreamingServer::Serve serve() {
    return [this](const FakeStreamingServer::Request&, std::unique_ptr<spdy::Session> s) {
      std::vector<std::thread> workers;
      std::mutex mu;
      std::map<std::string, spdy::StreamPtr> errors;
      s->start([&](spdy::StreamPtr st) {
        st->sendReply();
        std::lock_guard lock(mu);
        {
          std::lock_guard hl(headersMu_);
          seen_.push_back(st->headers());
        }
        if (st->header("streamtype") == "error") {
          errors[st->header("requestid")] = st;
          return;
        }
        auto err = errors[st->header("requestid")];
        workers.emplace_back([st, err] {
          std::string in = st->readAll();
          st->write("echo:" + in);
          st->closeWrite();
          if (err) err->closeWrite();
        });
      });
      s->waitClosed(30s);  // until the kubelet hangs up
      s->join();
      for (auto& w : workers) w.join();
    };
  }
  std::vector<spdy::Headers> seen() {
    std::lock_guard lock(headersMu_);
    return seen_;
  }

 private:
  std::mutex headersMu_;
  std::vector<spdy::Headers> seen_;
};

// Client writes cut into 3-byte pieces: over the WebSocket tunnel each becomes one message,
// so frames arrive split across messages as kubectl's do.
class ChoppedWrites : public UpgradedConnection {
 public:
  explicit ChoppedWrites(UpgradedConnectionPtr inner) : inner_(std::move(inner)) {}
  size_t read(char* buf, size_t max) override { return inner_->read(buf, max); }
  void write(const char* data, size_t n) override {
    for (size_t off = 0; off < n; off += 3) inner_->write(data + off, std::min<size_t>(3, n - off));
  }
  void shutdownWrite() override { inner_->shutdownWrite(); }
  void close() override { inner_->close(); }

 private:
  UpgradedConnectionPtr inner_;
};

class PortForwardTest : public ::testing::Test {
 protected:
  PortForwardTest() : cri_(kPortForwardProtocolV1, pods_.serve()) {
    runtime_.url = cri_.url("/portforward/tok");
    backend_.runtime = &runtime_;
    backend_.containerId = [](const std::string&, const std::string&, const std::string&) {
      return std::string("unused");
    };
    backend_.sandboxId = [](const std::string&, const std::string& pod) {
      if (pod == "missing") throw notFound("pods", pod);
      return "sandbox-" + pod;
    };
  }

  // One forwarded connection as kubectl makes it: error stream (its write side closed at once),
  // wait for the reply, then the data stream.
  static void forwardOnce(spdy::Session& kubectl, int requestId, const std::string& payload) {
    spdy::Headers h = {
        {"streamtype", "error"}, {"port", "8080"}, {"requestid", std::to_string(requestId)}};
    auto error = kubectl.open(h);
    error->closeWrite();
    ASSERT_TRUE(error->waitReply(5s));
    h[0].second = "data";
    auto data = kubectl.open(h);
    ASSERT_TRUE(data->waitReply(5s));
    data->write(payload);
    data->closeWrite();
    EXPECT_EQ(data->readAll(), "echo:" + payload);
    EXPECT_EQ(error->readAll(), "");  // no forwarding error
  }

  FakePortForwarder pods_;
  FakeStreamingServer cri_;
  StreamingOnlyRuntime runtime_;
  StreamingBackend backend_;
};

TEST_F(PortForwardTest, SpdyTunnelledInWebSocketForwardsData) {
  apiserver::HttpRequest req;
  req.method = "GET";
  req.path = "/portForward/default/web";
  req.headers = {{"connection", "Upgrade"},
                 {"upgrade", "websocket"},
                 {"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="},
                 {"sec-websocket-version", "13"},
                 {"sec-websocket-protocol", kPortForwardTunnelProtocol}};
  auto res = portForwardHandler(backend_)(req);
  ASSERT_EQ(res.status, 101);
  bool echoed = false;
  for (const auto& [k, v] : res.headers)
    if (k == "Sec-WebSocket-Protocol") echoed = v == kPortForwardTunnelProtocol;
  EXPECT_TRUE(echoed);
  ASSERT_EQ(runtime_.portForwards.size(), 1u);
  EXPECT_EQ(runtime_.portForwards[0].pod_sandbox_id(), "sandbox-web");

  auto [server, client] = socketPair();
  std::thread handler([&res, conn = std::move(server)]() mutable { res.upgrade(std::move(conn)); });
  {
    auto tunnel = std::make_unique<ChoppedWrites>(std::make_unique<WebSocketByteStream>(
        std::move(client), WebSocketConnection::Role::Client));
    spdy::Session kubectl(std::move(tunnel), spdy::Session::Role::Client);
    kubectl.start();
    forwardOnce(kubectl, 0, "GET / HTTP/1.0\r\n\r\n");
    forwardOnce(kubectl, 1, std::string(100000, 'b'));
  }
  handler.join();

  auto seen = pods_.seen();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(spdy::headerValue(seen[0], "streamtype"), "error");
  EXPECT_EQ(spdy::headerValue(seen[0], "port"), "8080");
  EXPECT_EQ(spdy::headerValue(seen[1], "streamtype"), "data");
  EXPECT_EQ(spdy::headerValue(seen[3], "requestid"), "1");
  EXPECT_EQ(cri_.requests().at(0).target, "/portforward/tok");
  EXPECT_NE(cri_.requests().at(0).head.find("X-Stream-Protocol-Version: portforward.k8s.io"),
            std::string::npos);
}

TEST_F(PortForwardTest, PlainSpdyForwardsData) {
  apiserver::HttpRequest req;
  req.method = "POST";
  req.path = "/portForward/default/web";
  req.headers = {{"connection", "Upgrade"},
                 {"upgrade", "SPDY/3.1"},
                 {"x-stream-protocol-version", kPortForwardProtocolV1}};
  auto res = portForwardHandler(backend_)(req);
  ASSERT_EQ(res.status, 101);
  auto [server, client] = socketPair();
  std::thread handler([&res, conn = std::move(server)]() mutable { res.upgrade(std::move(conn)); });
  {
    spdy::Session kubectl(std::move(client), spdy::Session::Role::Client);
    kubectl.start();
    forwardOnce(kubectl, 0, "ping");
  }
  handler.join();
}

TEST_F(PortForwardTest, RejectsStreamsWithoutAPort) {
  apiserver::HttpRequest req;
  req.method = "POST";
  req.path = "/portForward/default/web";
  req.headers = {{"connection", "Upgrade"},
                 {"upgrade", "SPDY/3.1"},
                 {"x-stream-protocol-version", kPortForwardProtocolV1}};
  auto res = portForwardHandler(backend_)(req);
  auto [server, client] = socketPair();
  std::thread handler([&res, conn = std::move(server)]() mutable { res.upgrade(std::move(conn)); });
  {
    spdy::Session kubectl(std::move(client), spdy::Session::Role::Client);
    kubectl.start();
    auto s = kubectl.open({{"streamtype", "data"}});
    EXPECT_FALSE(s->waitReply(5s));
    EXPECT_TRUE(s->wasReset());
  }
  handler.join();
}

TEST_F(PortForwardTest, UnknownPodAndWrongProtocolFailBeforeUpgrading) {
  apiserver::HttpRequest req;
  req.method = "POST";
  req.path = "/portForward/default/missing";
  req.headers = {{"connection", "Upgrade"},
                 {"upgrade", "SPDY/3.1"},
                 {"x-stream-protocol-version", kPortForwardProtocolV1}};
  auto handler = portForwardHandler(backend_);
  try {
    handler(req);
    ADD_FAILURE() << "expected 404";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 404);
  }
  req.path = "/portForward/default/web";
  req.headers["x-stream-protocol-version"] = "portforward.k8s.io.v2";
  try {
    handler(req);
    ADD_FAILURE() << "expected 403";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 403);
  }
  EXPECT_TRUE(runtime_.portForwards.empty());
}

}  // namespace
}  // namespace skiff::kubelet::streaming
