// exec and attach end to end inside the process: a client (WebSocket v5 as kubectl 1.32, or
// SPDY) → the kubelet's /exec handler → a fake containerd CRI streaming server over TCP.
// clang-format off: the test util must precede system headers (see there)
#include "kubelet/streaming/remote_command.h"

#include "streaming_test_util.h"
// clang-format on

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/api_error.h"
#include "kubelet/streaming/spdy.h"
#include "kubelet/streaming/streaming_routes.h"
#include "kubelet/streaming/websocket.h"

namespace skiff::kubelet::streaming {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::FakeStreamingServer;
using testing::socketPair;
using testing::StreamingOnlyRuntime;
using Streams = std::map<std::string, spdy::StreamPtr>;

const std::string kExit3Status =
    R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: )"
    R"(error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode",)"
    R"("details":{"causes":[{"reason":"ExitCode","message":"3"}]}})";
const std::string kSuccessStatus = R"({"metadata":{},"status":"Success"})";

// containerd's side of one exec: accept the client's streams (answering each), run `body` once
// all of `want` are there, then end as containerd does: reset every stream, GOAWAY, close.
FakeStreamingServer::Serve containerd(std::set<std::string> want,
                                      std::function<void(Streams&)> body) {
  return [want, body](const FakeStreamingServer::Request&, std::unique_ptr<spdy::Session> s) {
    std::mutex mu;
    std::condition_variable cv;
    Streams got;
    s->start([&](spdy::StreamPtr st) {
      st->sendReply();
      std::lock_guard lock(mu);
      got[st->header("streamtype")] = st;
      cv.notify_all();
    });
    bool complete;
    {
      std::unique_lock lock(mu);
      complete = cv.wait_for(lock, 5s, [&] { return got.size() >= want.size(); });
    }
    std::set<std::string> types;
    for (auto& [t, st] : got) types.insert(t);
    EXPECT_EQ(types, want);
    if (complete && types == want) body(got);
    for (auto& [t, st] : got) st->reset();
    s->goAway();
    s->join();
  };
}

class RemoteCommandTest : public ::testing::Test {
 protected:
  StreamingBackend backend() {
    StreamingBackend b;
    b.runtime = &runtime_;
    b.containerId = [](const std::string& ns, const std::string& pod, const std::string& c) {
      if (pod == "missing") throw notFound("pods", pod);
      return "cid-" + ns + "-" + pod + "-" + c;
    };
    b.sandboxId = [](const std::string&, const std::string& pod) { return "sandbox-" + pod; };
    return b;
  }

  static net::HttpRequest request(const std::string& path,
                                  std::multimap<std::string, std::string> query) {
    net::HttpRequest req;
    req.method = "GET";
    req.path = path;
    req.query = std::move(query);
    return req;
  }
  static net::HttpRequest webSocket(net::HttpRequest req,
                                    const std::string& protocol = kStreamProtocolV5) {
    req.headers = {{"connection", "Upgrade"},
                   {"upgrade", "websocket"},
                   {"sec-websocket-key", "B0eLegyF9iNp1SaQU2p4EQ=="},
                   {"sec-websocket-version", "13"},
                   {"sec-websocket-protocol", protocol}};
    return req;
  }
  static net::HttpRequest spdyUpgrade(net::HttpRequest req, const std::string& versions) {
    req.method = "POST";
    req.headers = {{"connection", "Upgrade"},
                   {"upgrade", "SPDY/3.1"},
                   {"x-stream-protocol-version", versions}};
    return req;
  }

  struct WsResult {
    std::map<int, std::string> channels;
    std::vector<WsMessage> messages;  // as they came, undecoded
    std::optional<uint16_t> closeCode;
  };
  // Runs the 101's handler on one end of a socket pair and a WebSocket client on the other.
  static WsResult runWebSocket(net::HttpResponse& res,
                               const std::function<void(WebSocketConnection&)>& afterOpen = {},
                               ChannelEncoding encoding = ChannelEncoding::Binary) {
    auto [server, client] = socketPair();
    std::thread handler(
        [&res, conn = std::move(server)]() mutable { res.upgrade(std::move(conn)); });
    WebSocketConnection ws(*client, WebSocketConnection::Role::Client);
    if (afterOpen) afterOpen(ws);
    WsResult r;
    WsMessage m;
    while (ws.readMessage(m)) {
      r.messages.push_back(m);
      if (auto c = decodeChannelMessage(encoding, m)) r.channels[c->channel] += c->data;
    }
    r.closeCode = ws.peerCloseCode();
    handler.join();
    return r;
  }

  static std::string header(const net::HttpResponse& res, const std::string& name) {
    for (const auto& [k, v] : res.headers)
      if (k == name) return v;
    return "<none>";
  }

  StreamingOnlyRuntime runtime_;
};

TEST_F(RemoteCommandTest, WebSocketV5ExecRelaysOutputAndExitCode3) {
  FakeStreamingServer cri(kStreamProtocolV4,
                          containerd({"error", "stdout", "stderr"}, [](Streams& s) {
                            s["stdout"]->write("hello\n");
                            s["stderr"]->write("oops\n");
                            s["error"]->write(kExit3Status);
                          }));
  runtime_.url = cri.url("/exec/tok3n");
  auto req = webSocket(request("/exec/default/web/app", {{"command", "sh"},
                                                         {"command", "-c"},
                                                         {"command", "exit 3"},
                                                         {"container", "app"},
                                                         {"stdout", "true"},
                                                         {"stderr", "true"}}));
  auto res = execHandler(backend())(req);
  ASSERT_EQ(res.status, 101);
  EXPECT_EQ(header(res, "Sec-WebSocket-Protocol"), kStreamProtocolV5);
  EXPECT_EQ(header(res, "Sec-WebSocket-Accept"), webSocketAccept("B0eLegyF9iNp1SaQU2p4EQ=="));

  ASSERT_EQ(runtime_.execs.size(), 1u);
  const auto& exec = runtime_.execs[0];
  EXPECT_EQ(exec.container_id(), "cid-default-web-app");
  ASSERT_EQ(exec.cmd_size(), 3);
  EXPECT_EQ(exec.cmd(2), "exit 3");
  EXPECT_TRUE(exec.stdout());
  EXPECT_TRUE(exec.stderr());
  EXPECT_FALSE(exec.stdin());
  EXPECT_FALSE(exec.tty());

  auto r = runWebSocket(res);
  EXPECT_EQ(r.channels[1], "hello\n");
  EXPECT_EQ(r.channels[2], "oops\n");
  auto status = json::parse(r.channels[3]).as_object();
  EXPECT_EQ(status["status"], "Failure");
  EXPECT_EQ(status["reason"], "NonZeroExitCode");
  EXPECT_EQ(status.at("details").at("causes").at(0).at("reason"), "ExitCode");
  EXPECT_EQ(status.at("details").at("causes").at(0).at("message"), "3");
  EXPECT_EQ(r.closeCode, kWsCloseNormal);

  // The kubelet dialled containerd's URL as upstream does.
  auto seen = cri.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/exec/tok3n");
  EXPECT_NE(seen[0].head.find("Upgrade: SPDY/3.1"), std::string::npos);
  EXPECT_NE(seen[0].head.find("X-Stream-Protocol-Version: v4.channel.k8s.io"), std::string::npos);
}

TEST_F(RemoteCommandTest, WebSocketV5StdinAndItsCloseReachTheRuntime) {
  FakeStreamingServer cri(kStreamProtocolV4,
                          containerd({"error", "stdin", "stdout"}, [](Streams& s) {
                            // cat: echo stdin until its end, then succeed.
                            std::string in = s["stdin"]->readAll();
                            s["stdout"]->write("got:" + in);
                            s["error"]->write(kSuccessStatus);
                          }));
  runtime_.url = cri.url("/exec/t");
  auto req = webSocket(request("/exec/default/web/app",
                               {{"command", "cat"}, {"stdin", "true"}, {"stdout", "true"}}));
  auto res = execHandler(backend())(req);
  auto r = runWebSocket(res, [](WebSocketConnection& ws) {
    ws.writeChannel(0, "abc");
    ws.writeChannel(0, "def");
    ws.writeMessage(WsOpcode::Binary, std::string("\xff\x00", 2));  // kubectl at stdin EOF
  });
  EXPECT_EQ(r.channels[1], "got:abcdef");
  EXPECT_EQ(json::parse(r.channels[3]).at("status"), "Success");
}

// containerd's side of `read line; echo got:$line`: one read of stdin, echoed, success.
FakeStreamingServer::Serve echoOneRead() {
  return containerd({"error", "stdin", "stdout"}, [](Streams& s) {
    char buf[256];
    size_t n = s["stdin"]->read(buf, sizeof(buf));
    s["stdout"]->write("got:" + std::string(buf, n));
    s["error"]->write(kSuccessStatus);
  });
}

TEST_F(RemoteCommandTest, WebSocketV4AcceptsStdinInTextMessages) {
  // The Python client sends a str written to stdin as a text message: chr(0) + the text.
  FakeStreamingServer cri(kStreamProtocolV4, echoOneRead());
  runtime_.url = cri.url("/exec/t");
  auto req = webSocket(
      request("/exec/default/web/app", {{"command", "sh"}, {"stdin", "True"}, {"stdout", "True"}}),
      kStreamProtocolV4);
  auto res = execHandler(backend())(req);
  EXPECT_EQ(header(res, "Sec-WebSocket-Protocol"), kStreamProtocolV4);
  auto r = runWebSocket(res, [](WebSocketConnection& ws) {
    ws.writeMessage(WsOpcode::Text, std::string("\0hello\n", 7));
  });
  EXPECT_EQ(r.channels[1], "got:hello\n");
  EXPECT_EQ(json::parse(r.channels[3]).at("status"), "Success");
  // Upstream's first message: an empty one on the lowest channel the server writes.
  ASSERT_FALSE(r.messages.empty());
  EXPECT_EQ(r.messages[0].data, std::string("\x01", 1));
  EXPECT_EQ(r.messages[0].opcode, WsOpcode::Binary);
}

TEST_F(RemoteCommandTest, WebSocketV4Base64SpeaksBase64TextMessages) {
  FakeStreamingServer cri(kStreamProtocolV4, echoOneRead());
  runtime_.url = cri.url("/exec/t");
  auto req = webSocket(
      request("/exec/default/web/app", {{"command", "sh"}, {"stdin", "1"}, {"stdout", "1"}}),
      "v4.base64.channel.k8s.io");
  auto res = execHandler(backend())(req);
  EXPECT_EQ(header(res, "Sec-WebSocket-Protocol"), "v4.base64.channel.k8s.io");
  auto r = runWebSocket(
      res,
      [](WebSocketConnection& ws) {
        ws.writeMessage(WsOpcode::Text, "0aGk=");  // stdin "hi"
      },
      ChannelEncoding::Base64);
  EXPECT_EQ(r.channels[1], "got:hi");
  EXPECT_EQ(json::parse(r.channels[3]).at("status"), "Success");
  ASSERT_GE(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[0].data, "1");  // the empty first message: digit, no data
  for (const auto& m : r.messages) EXPECT_EQ(m.opcode, WsOpcode::Text);
  EXPECT_EQ(r.messages[1].data, "1Z290Omhp");  // stdout "got:hi"
}

TEST_F(RemoteCommandTest, WebSocketWithoutSubprotocolIsTheV1ChannelProtocol) {
  FakeStreamingServer cri(kStreamProtocolV4, containerd({"error", "stdout"}, [](Streams& s) {
                            s["stdout"]->write("out");
                            s["error"]->write(kExit3Status);
                          }));
  runtime_.url = cri.url("/exec/t");
  auto req = webSocket(request("/exec/default/web/app", {{"command", "x"}, {"stdout", "1"}}));
  req.headers.erase("sec-websocket-protocol");
  auto res = execHandler(backend())(req);
  ASSERT_EQ(res.status, 101);
  EXPECT_EQ(header(res, "Sec-WebSocket-Protocol"), "<none>");
  auto r = runWebSocket(res);
  EXPECT_EQ(r.channels[1], "out");
  // Before v4 the error channel carries the message text, not a Status.
  EXPECT_EQ(r.channels[3],
            "command terminated with non-zero exit code: error executing command [sh -c exit 3], "
            "exit code 3");
}

TEST_F(RemoteCommandTest, TtySessionRelaysResizeAndHasNoStderr) {
  FakeStreamingServer cri(kStreamProtocolV4,
                          containerd({"error", "stdin", "stdout", "resize"}, [](Streams& s) {
                            char buf[256];
                            size_t n = s["resize"]->read(buf, sizeof(buf));
                            s["stdout"]->write("size " + std::string(buf, n));
                            s["error"]->write(kSuccessStatus);
                          }));
  runtime_.url = cri.url("/exec/t");
  auto req = webSocket(request("/exec/default/web/app", {{"command", "sh"},
                                                         {"stdin", "true"},
                                                         {"stdout", "true"},
                                                         {"stderr", "true"},
                                                         {"tty", "true"}}));
  auto res = execHandler(backend())(req);
  EXPECT_FALSE(runtime_.execs.at(0).stderr());  // a terminal has one output
  EXPECT_TRUE(runtime_.execs.at(0).tty());
  auto r = runWebSocket(
      res, [](WebSocketConnection& ws) { ws.writeChannel(4, R"({"Width":120,"Height":40})"); });
  EXPECT_EQ(r.channels[1], R"(size {"Width":120,"Height":40})");
}

TEST_F(RemoteCommandTest, TtySessionStartsWithoutASizeAfterAWhile) {
  FakeStreamingServer cri(kStreamProtocolV4,
                          containerd({"error", "stdout", "resize"}, [](Streams& s) {
                            s["stdout"]->write("started");
                            s["error"]->write(kSuccessStatus);
                          }));
  runtime_.url = cri.url("/exec/t");
  auto req = webSocket(
      request("/exec/default/web/app", {{"command", "sh"}, {"stdout", "true"}, {"tty", "true"}}));
  auto res = execHandler(backend())(req);
  auto start = std::chrono::steady_clock::now();
  auto r = runWebSocket(res);
  EXPECT_EQ(r.channels[1], "started");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
}

TEST_F(RemoteCommandTest, SpdyClientGetsOutputAndStatusOnItsStreams) {
  FakeStreamingServer cri(kStreamProtocolV4,
                          containerd({"error", "stdout", "stderr"}, [](Streams& s) {
                            s["stdout"]->write(std::string(300000, 'o'));  // several windows
                            s["error"]->write(kExit3Status);
                          }));
  runtime_.url = cri.url("/exec/t");
  auto req = spdyUpgrade(
      request("/exec/default/web/app", {{"command", "x"}, {"stdout", "true"}, {"stderr", "true"}}),
      "v5.channel.k8s.io, v4.channel.k8s.io, v3.channel.k8s.io, "
      "v2.channel.k8s.io, channel.k8s.io");
  auto res = execHandler(backend())(req);
  ASSERT_EQ(res.status, 101);
  EXPECT_EQ(header(res, "X-Stream-Protocol-Version"), kStreamProtocolV5);
  EXPECT_EQ(header(res, "Upgrade"), "SPDY/3.1");

  auto [server, client] = socketPair();
  std::thread handler([&res, conn = std::move(server)]() mutable { res.upgrade(std::move(conn)); });
  {
    spdy::Session kubectl(std::move(client), spdy::Session::Role::Client);
    kubectl.start();
    auto error = kubectl.open({{"streamtype", "error"}});
    ASSERT_TRUE(error->waitReply(5s));
    auto out = kubectl.open({{"streamtype", "stdout"}});
    auto err = kubectl.open({{"streamtype", "stderr"}});
    ASSERT_TRUE(out->waitReply(5s));
    ASSERT_TRUE(err->waitReply(5s));
    EXPECT_EQ(out->readAll(1 << 20).size(), 300000u);
    EXPECT_EQ(err->readAll(), "");
    auto status = json::parse(error->readAll()).as_object();
    EXPECT_EQ(status.at("details").at("causes").at(0).at("message"), "3");
  }  // kubectl closes the connection once it has the status
  handler.join();
}

TEST_F(RemoteCommandTest, SpdyV2ClientGetsTheErrorMessageText) {
  FakeStreamingServer cri(kStreamProtocolV4, containerd({"error", "stdout"}, [](Streams& s) {
                            s["error"]->write(kExit3Status);
                          }));
  runtime_.url = cri.url("/exec/t");
  auto req = spdyUpgrade(request("/exec/default/web/app", {{"command", "x"}, {"stdout", "1"}}),
                         "v2.channel.k8s.io, channel.k8s.io");
  auto res = execHandler(backend())(req);
  EXPECT_EQ(header(res, "X-Stream-Protocol-Version"), kStreamProtocolV2);
  auto [server, client] = socketPair();
  std::thread handler([&res, conn = std::move(server)]() mutable { res.upgrade(std::move(conn)); });
  {
    spdy::Session kubectl(std::move(client), spdy::Session::Role::Client);
    kubectl.start();
    auto error = kubectl.open({{"streamtype", "error"}});
    auto out = kubectl.open({{"streamtype", "stdout"}});
    ASSERT_TRUE(out->waitReply(5s));
    EXPECT_EQ(out->readAll(), "");
    EXPECT_EQ(error->readAll(),
              "command terminated with non-zero exit code: error executing command [sh -c exit 3], "
              "exit code 3");
  }
  handler.join();
}

TEST_F(RemoteCommandTest, AttachAsksTheRuntimeToAttach) {
  FakeStreamingServer cri(kStreamProtocolV4, containerd({"error", "stdout"}, [](Streams& s) {
                            s["stdout"]->write("log line\n");
                            s["error"]->write(kSuccessStatus);
                          }));
  runtime_.url = cri.url("/attach/t");
  auto req = webSocket(request("/attach/default/web/app", {{"stdout", "true"}}));
  auto res = attachHandler(backend())(req);
  ASSERT_EQ(runtime_.attaches.size(), 1u);
  EXPECT_EQ(runtime_.attaches[0].container_id(), "cid-default-web-app");
  auto r = runWebSocket(res);
  EXPECT_EQ(r.channels[1], "log line\n");
  EXPECT_EQ(cri.requests().at(0).target, "/attach/t");
}

TEST_F(RemoteCommandTest, RequestsThatCannotStartAreAnsweredBeforeTheRuntimeIsAsked) {
  auto exec = execHandler(backend());
  auto expectCode = [&](net::HttpRequest req, int code) {
    try {
      exec(req);
      ADD_FAILURE() << "expected " << code << " for " << req.path;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.code(), code) << e.what();
    }
  };
  // Only protocols nobody speaks: kubectl falls back from WebSocket to SPDY on this.
  expectCode(webSocket(request("/exec/default/web/app", {{"command", "x"}, {"stdout", "true"}}),
                       "v9.channel.k8s.io"),
             400);
  expectCode(spdyUpgrade(request("/exec/default/web/app", {{"command", "x"}, {"stdout", "true"}}),
                         "v9.channel.k8s.io"),
             403);
  expectCode(request("/exec/default/web/app", {{"command", "x"}, {"stdout", "true"}}), 400);
  expectCode(webSocket(request("/exec/default/web/app", {{"command", "x"}})), 400);    // no stream
  expectCode(webSocket(request("/exec/default/web/app", {{"stdout", "true"}})), 400);  // no command
  expectCode(webSocket(request("/exec/default", {{"command", "x"}, {"stdout", "true"}})), 404);
  expectCode(
      webSocket(request("/exec/default/missing/app", {{"command", "x"}, {"stdout", "true"}})), 404);
  EXPECT_TRUE(runtime_.execs.empty());
}

TEST(RemoteCommandStatus, TranslatesPerClientProtocol) {
  EXPECT_EQ(statusForClient(kExit3Status, kStreamProtocolV5), kExit3Status);
  EXPECT_EQ(statusForClient(kSuccessStatus, kStreamProtocolV4), kSuccessStatus);
  EXPECT_EQ(statusForClient(kSuccessStatus, kStreamProtocolV3), "");
  EXPECT_EQ(statusForClient(kExit3Status, kStreamProtocolV1).rfind("command terminated", 0), 0u);
  auto none = json::parse(statusForClient("", kStreamProtocolV5)).as_object();
  EXPECT_EQ(none["status"], "Failure");
  EXPECT_EQ(none["reason"], "InternalError");
}

}  // namespace
}  // namespace skiff::kubelet::streaming
