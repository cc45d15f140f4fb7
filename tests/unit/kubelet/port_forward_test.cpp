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
#include <optional>
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
  net::HttpRequest req;
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
  net::HttpRequest req;
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
  net::HttpRequest req;
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

// ---------------------------------------------------------------- WebSocket channel protocols

// containerd with a pod that serves port 8080 (each read answered with "echo:<data>"; reading
// "close" makes the pod close the connection) and nothing on other ports (the error stream
// gets containerd's message, then both streams end).
FakeStreamingServer::Serve channelPod(std::vector<spdy::Headers>& seen, std::mutex& seenMu) {
  return [&seen, &seenMu](const FakeStreamingServer::Request&, std::unique_ptr<spdy::Session> s) {
    std::vector<std::thread> workers;
    std::mutex mu;
    std::map<std::string, spdy::StreamPtr> errors;
    s->start([&](spdy::StreamPtr st) {
      st->sendReply();
      {
        std::lock_guard lock(seenMu);
        seen.push_back(st->headers());
      }
      std::lock_guard lock(mu);
      if (st->header("streamtype") == "error") {
        errors[st->header("requestid")] = st;
        return;
      }
      auto err = errors[st->header("requestid")];
      workers.emplace_back([st, err] {
        if (st->header("port") != "8080") {
          err->write("dial tcp 127.0.0.1:" + st->header("port") + ": connect: connection refused");
        } else {
          char buf[1024];
          for (size_t n; (n = st->read(buf, sizeof(buf))) > 0;) {
            std::string in(buf, n);
            if (in == "close") break;
            st->write("echo:" + in);
          }
        }
        err->closeWrite();
        st->closeWrite();
      });
    });
    s->waitClosed(30s);
    s->join();
    for (auto& w : workers) w.join();
  };
}

class ChannelPortForwardTest : public ::testing::Test {
 protected:
  ChannelPortForwardTest() : cri_(kPortForwardProtocolV1, channelPod(seen_, seenMu_)) {
    runtime_.url = cri_.url("/portforward/tok");
    backend_.runtime = &runtime_;
    backend_.containerId = [](const std::string&, const std::string&, const std::string&) {
      return std::string("unused");
    };
    backend_.sandboxId = [](const std::string&, const std::string& pod) {
      return "sandbox-" + pod;
    };
  }
  static net::HttpRequest request(std::multimap<std::string, std::string> query,
                                  const std::string& protocol) {
    net::HttpRequest req;
    req.method = "GET";
    req.path = "/portForward/default/web";
    req.query = std::move(query);
    req.headers = {{"connection", "Upgrade"},
                   {"upgrade", "websocket"},
                   {"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="},
                   {"sec-websocket-version", "13"}};
    if (!protocol.empty()) req.headers.emplace("sec-websocket-protocol", protocol);
    return req;
  }
  static std::string protocolHeader(const net::HttpResponse& res) {
    for (const auto& [k, v] : res.headers)
      if (k == "Sec-WebSocket-Protocol") return v;
    return "<none>";
  }
  // Reads messages until one arrives on `channel` (decoded); "" when the session ended.
  static std::optional<std::string> nextOn(WebSocketConnection& ws, ChannelEncoding enc,
                                           uint8_t channel) {
    WsMessage m;
    while (ws.readMessage(m)) {
      auto c = decodeChannelMessage(enc, m);
      if (c && c->channel == channel) return c->data;
    }
    return std::nullopt;
  }

  std::vector<spdy::Headers> seen_;
  std::mutex seenMu_;
  FakeStreamingServer cri_;
  StreamingOnlyRuntime runtime_;
  StreamingBackend backend_;
};

TEST_F(ChannelPortForwardTest, V4ChannelForwardsEachPortOnItsChannels) {
  // The Python client: subprotocol v4.channel.k8s.io, ports=, writes as binary messages.
  auto req = request({{"ports", "8080,9999"}}, "v4.channel.k8s.io");
  auto res = portForwardHandler(backend_)(req);
  ASSERT_EQ(res.status, 101);
  EXPECT_EQ(protocolHeader(res), "v4.channel.k8s.io");
  auto [server, client] = socketPair();
  std::thread handler([&res, conn = std::move(server)]() mutable { res.upgrade(std::move(conn)); });
  WebSocketConnection ws(*client, WebSocketConnection::Role::Client);
  // First: every channel's port number, 2 bytes little-endian, in channel order.
  const std::string p8080("\x90\x1f", 2), p9999("\x0f\x27", 2);
  std::vector<std::string> first;
  for (int i = 0; i < 4; ++i) {
    WsMessage m;
    ASSERT_TRUE(ws.readMessage(m));
    EXPECT_EQ(m.opcode, WsOpcode::Binary);
    first.push_back(m.data);
  }
  EXPECT_EQ(first, (std::vector<std::string>{std::string(1, '\0') + p8080, "\x01" + p8080,
                                             "\x02" + p9999, "\x03" + p9999}));
  ws.writeMessage(WsOpcode::Binary, std::string("\0ping", 5));
  // Port 9999 has no listener: its error channel says so; port 8080 goes on.
  std::string echoed, error;
  WsMessage m;
  while ((echoed.empty() || error.empty()) && ws.readMessage(m)) {
    auto c = decodeChannelMessage(ChannelEncoding::Binary, m);
    ASSERT_TRUE(c);
    if (c->channel == 0) echoed += c->data;
    if (c->channel == 3) error += c->data;
    EXPECT_NE(c->channel, 2);  // nothing came from the pod on 9999
  }
  EXPECT_EQ(echoed, "echo:ping");
  EXPECT_NE(error.find("connection refused"), std::string::npos) << error;
  // A text message reads the same; data on an error channel is dropped.
  ws.writeMessage(WsOpcode::Binary, std::string("\x01ignored", 8));
  ws.writeMessage(WsOpcode::Text, std::string("\0pong", 5));
  EXPECT_EQ(nextOn(ws, ChannelEncoding::Binary, 0), "echo:pong");
  // The pod closes the last open connection: the kubelet ends the session.
  ws.writeMessage(WsOpcode::Binary, std::string("\0close", 6));
  EXPECT_EQ(nextOn(ws, ChannelEncoding::Binary, 0), std::nullopt);
  EXPECT_EQ(ws.peerCloseCode(), kWsCloseNormal);
  handler.join();

  std::lock_guard lock(seenMu_);
  ASSERT_EQ(seen_.size(), 4u);
  EXPECT_EQ(spdy::headerValue(seen_[0], "streamtype"), "error");
  EXPECT_EQ(spdy::headerValue(seen_[1], "streamtype"), "data");
  EXPECT_EQ(spdy::headerValue(seen_[1], "port"), "8080");
  EXPECT_EQ(spdy::headerValue(seen_[1], "requestid"), "0");
  EXPECT_EQ(spdy::headerValue(seen_[3], "port"), "9999");
  EXPECT_EQ(spdy::headerValue(seen_[3], "requestid"), "1");
}

TEST_F(ChannelPortForwardTest, Base64ProtocolAndClientLeaving) {
  auto req = request({{"port", "8080"}}, "v4.base64.channel.k8s.io");
  auto res = portForwardHandler(backend_)(req);
  EXPECT_EQ(protocolHeader(res), "v4.base64.channel.k8s.io");
  auto [server, client] = socketPair();
  std::thread handler([&res, conn = std::move(server)]() mutable { res.upgrade(std::move(conn)); });
  {
    WebSocketConnection ws(*client, WebSocketConnection::Role::Client);
    WsMessage m;
    ASSERT_TRUE(ws.readMessage(m));
    EXPECT_EQ(m.opcode, WsOpcode::Text);
    EXPECT_EQ(m.data, "0kB8=");  // channel '0', base64 of 0x90 0x1f
    ASSERT_TRUE(ws.readMessage(m));
    EXPECT_EQ(m.data, "1kB8=");
    ws.writeMessage(WsOpcode::Text, "0aGk=");  // "hi"
    EXPECT_EQ(nextOn(ws, ChannelEncoding::Base64, 0), "echo:hi");
    // The client hangs up while the connection is open: the session ends all the same.
    ws.sendClose();
    EXPECT_EQ(nextOn(ws, ChannelEncoding::Base64, 0), std::nullopt);
  }
  handler.join();
}

TEST_F(ChannelPortForwardTest, NoSubprotocolIsBinaryAndPortsAreRequired) {
  auto req = request({{"port", "8080"}}, "");
  auto res = portForwardHandler(backend_)(req);
  ASSERT_EQ(res.status, 101);
  EXPECT_EQ(protocolHeader(res), "<none>");
  auto [server, client] = socketPair();
  std::thread handler([&res, conn = std::move(server)]() mutable { res.upgrade(std::move(conn)); });
  {
    WebSocketConnection ws(*client, WebSocketConnection::Role::Client);
    WsMessage m;
    ASSERT_TRUE(ws.readMessage(m));
    EXPECT_EQ(m.data, std::string("\0\x90\x1f", 3));
    ws.writeMessage(WsOpcode::Binary, std::string("\0close", 6));
    EXPECT_EQ(nextOn(ws, ChannelEncoding::Binary, 0), std::nullopt);
  }
  handler.join();

  auto handlerFn = portForwardHandler(backend_);
  for (auto [query, message] :
       std::vector<std::pair<std::multimap<std::string, std::string>, std::string>>{
           {{}, "query parameter \"port\" is required"},
           {{{"ports", ""}}, "query parameter \"ports\" cannot be empty"},
           {{{"ports", "80,http"}}, "unable to parse \"80,http\" as a port"},
           {{{"port", "70000"}}, "unable to parse \"70000\" as a port"},
           {{{"port", "0"}}, "port \"0\" must be > 0"}}) {
    auto bad = request(query, "v4.channel.k8s.io");
    try {
      handlerFn(bad);
      ADD_FAILURE() << "expected 400 for " << message;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.code(), 400);
      EXPECT_EQ(std::string(e.what()), message);
    }
  }
  EXPECT_EQ(runtime_.portForwards.size(), 1u);  // only the good request reached the runtime
}

TEST_F(PortForwardTest, UnknownPodAndWrongProtocolFailBeforeUpgrading) {
  net::HttpRequest req;
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
