#include "kubelet/streaming/remote_command.h"

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "common/api_error.h"
#include "common/log.h"
#include "kubelet/streaming/spdy.h"
#include "kubelet/streaming/websocket.h"

namespace skiff::kubelet::streaming {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// "" is a client that names no subprotocol: upstream serves it channel.k8s.io.
const std::vector<std::string> kWebSocketProtocols = {
    kStreamProtocolV5,       kStreamProtocolV4, kStreamProtocolV4Base64,
    kStreamProtocolV1Base64, kStreamProtocolV1, ""};
const std::vector<std::string> kSpdyProtocols = {
    kStreamProtocolV5, kStreamProtocolV4, kStreamProtocolV3, kStreamProtocolV2, kStreamProtocolV1};

constexpr auto kDialTimeout = 10s;
// Upstream's DefaultStreamCreationTimeout: how long the client has to open its streams.
constexpr auto kStreamCreationTimeout = 30s;
// After the command ended: how long output may still drain, and the client may take to
// acknowledge the end, before the connections are cut.
constexpr auto kDrainTimeout = 5s;
constexpr size_t kMaxStatus = 64 * 1024;
// How long a terminal session waits for the client's first size before starting without one.
constexpr auto kFirstResizeWait = 1s;

constexpr uint8_t kChannelStdin = 0, kChannelStdout = 1, kChannelStderr = 2, kChannelError = 3,
                  kChannelResize = 4, kChannelClose = 255;

int protocolVersion(const std::string& p) {
  if (p == kStreamProtocolV5) return 5;
  if (p == kStreamProtocolV4 || p == kStreamProtocolV4Base64) return 4;
  if (p == kStreamProtocolV3) return 3;
  if (p == kStreamProtocolV2) return 2;
  return 1;
}

std::string joinList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + v[i];
  return out + "]";
}

// Counts down finished workers.
class Latch {
 public:
  explicit Latch(int n) : n_(n) {}
  void done() {
    std::lock_guard lock(mu_);
    if (--n_ <= 0) cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return n_ <= 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_;
};

// Copies `from` into `sink` until `from` ends. False when the sink failed first.
template <typename Sink>
bool pump(spdy::Stream& from, Sink&& sink) {
  char buf[32 * 1024];
  for (;;) {
    size_t n = from.read(buf, sizeof(buf));
    if (n == 0) return true;
    try {
      sink(std::string_view(buf, n));
    } catch (const std::exception& e) {
      SKIFF_LOG_DEBUG("kubelet streaming: relay write failed stream={} error=\"{}\"", from.id(),
                      e.what());
      return false;
    }
  }
}

// The runtime's end of one exec/attach: a SPDY client session (v4) with its streams open.
//
// For a terminal the resize stream is opened last, when the client's first size arrives:
// containerd starts the command once all its streams exist and applies sizes only after the
// start, so the first size has to follow right behind that stream (as when kubectl talks to
// containerd itself) or `stty size` in the command may still see 0x0.
struct RuntimeSide {
  std::unique_ptr<spdy::Session> session;
  spdy::StreamPtr error, in, out, err;
  bool tty = false;

  // Sends a terminal size (JSON); the first call opens the resize stream.
  void resize(std::string_view size) {
    std::lock_guard lock(resizeMu_);
    if (!tty) return;
    try {
      if (!resize_) {
        resize_ = session->open({{"streamtype", "resize"}});
        resizeCv_.notify_all();
      }
      if (!size.empty()) resize_->write(size);
    } catch (const std::exception& e) {
      SKIFF_LOG_DEBUG("kubelet streaming: resize not delivered error=\"{}\"", e.what());
    }
  }
  // Opens the resize stream if the client sent no size within `wait`.
  void startWithin(std::chrono::milliseconds wait) {
    if (!tty) return;
    {
      std::unique_lock lock(resizeMu_);
      resizeCv_.wait_for(lock, wait, [&] { return resize_ != nullptr; });
    }
    resize({});
  }
  ~RuntimeSide() {
    if (session) session->join();
  }

 private:
  std::mutex resizeMu_;
  std::condition_variable resizeCv_;
  spdy::StreamPtr resize_;
};

std::shared_ptr<RuntimeSide> connectRuntime(const std::string& url, const RemoteCommandOptions& o) {
  auto dialed = spdy::dial(url, {kStreamProtocolV4}, kDialTimeout);
  if (dialed.protocol != kStreamProtocolV4)
    throw std::runtime_error("the runtime's streaming server chose protocol \"" + dialed.protocol +
                             "\", not " + kStreamProtocolV4);
  auto rt = std::make_shared<RuntimeSide>();
  rt->session = std::move(dialed.session);
  rt->session->start();  // the runtime opens no streams of its own
  auto open = [&](const char* type) {
    auto s = rt->session->open({{"streamtype", type}});
    return s;
  };
  // Upstream's client order: error first, then the data streams (resize comes later).
  rt->error = open("error");
  if (o.in) rt->in = open("stdin");
  if (o.out) rt->out = open("stdout");
  if (o.err) rt->err = open("stderr");
  rt->tty = o.tty;
  for (auto* s : {&rt->error, &rt->in, &rt->out, &rt->err})
    if (*s && !(*s)->waitReply(kDialTimeout))
      throw std::runtime_error("the runtime did not accept stream " + (*s)->header("streamtype"));
  return rt;
}

void serveWebSocketSession(UpgradedConnectionPtr conn, const std::shared_ptr<RuntimeSide>& rt,
                           const std::string& protocol) {
  WebSocketConnection ws(*conn, WebSocketConnection::Role::Server);
  const bool v5 = protocol == kStreamProtocolV5;
  const ChannelEncoding encoding = channelEncoding(protocol);
  std::atomic<bool> finished{false};
  Latch readerDone(1);
  // Upstream's "the connection is established" signal, before any output.
  try {
    ws.writeChannel(encoding,
                    rt->out   ? kChannelStdout
                    : rt->err ? kChannelStderr
                              : kChannelError,
                    {});
  } catch (const std::exception&) {
    // the client is gone already; the reader below finds that out
  }

  std::thread reader([&] {
    bool stdinOpen = rt->in != nullptr;
    WsMessage m;
    while (ws.readMessage(m)) {
      auto msg = decodeChannelMessage(encoding, m);
      if (!msg) continue;
      const uint8_t channel = msg->channel;
      std::string_view payload = msg->data;
      try {
        if (channel == kChannelStdin && stdinOpen) {
          if (!payload.empty()) rt->in->write(payload);
        } else if (channel == kChannelResize) {
          rt->resize(payload);
        } else if (channel == kChannelClose && v5 && !payload.empty() &&
                   static_cast<uint8_t>(payload[0]) == kChannelStdin && stdinOpen) {
          rt->in->closeWrite();
          stdinOpen = false;
        }
      } catch (const std::exception&) {
        if (channel == kChannelStdin) stdinOpen = false;  // the runtime closed it
      }
    }
    if (stdinOpen) rt->in->closeWrite();
    // The client left while the command runs: end the runtime's session too.
    if (!finished) {
      SKIFF_LOG_DEBUG("kubelet streaming: client left during the command error=\"{}\"",
                      ws.closeReceived() ? "close frame" : ws.error());
      rt->session->close();
    }
    readerDone.done();
  });

  std::vector<std::thread> pumps;
  Latch pumpsDone((rt->out ? 1 : 0) + (rt->err ? 1 : 0));
  auto relay = [&](spdy::Stream& from, uint8_t channel) {
    pump(from, [&](std::string_view d) { ws.writeChannel(encoding, channel, d); });
    pumpsDone.done();
  };
  if (rt->out) pumps.emplace_back(relay, std::ref(*rt->out), kChannelStdout);
  if (rt->err) pumps.emplace_back(relay, std::ref(*rt->err), kChannelStderr);
  rt->startWithin(kFirstResizeWait);

  // The runtime writes the status when the command ended, then closes its streams.
  std::string status = rt->error->readAll(kMaxStatus);
  if (!pumpsDone.wait(kDrainTimeout)) rt->session->close();
  for (auto& t : pumps) t.join();
  finished = true;
  std::string message = statusForClient(status, protocol);
  try {
    if (!message.empty()) ws.writeChannel(encoding, kChannelError, message);
  } catch (const std::exception&) {
  }
  ws.sendClose(kWsCloseNormal);
  if (!readerDone.wait(kDrainTimeout)) conn->close();
  reader.join();
  rt->session->close();
}

void serveSpdySession(UpgradedConnectionPtr conn, const std::shared_ptr<RuntimeSide>& rt,
                      const RemoteCommandOptions& o, const std::string& protocol) {
  const int version = protocolVersion(protocol);
  struct Accepted {
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, spdy::StreamPtr> byType;
    int count = 0;
  } acc;
  spdy::Session client(std::move(conn), spdy::Session::Role::Server);
  client.start([&acc](spdy::StreamPtr s) {
    std::string type = s->header("streamtype");
    s->sendReply();
    if (type != "error" && type != "stdin" && type != "stdout" && type != "stderr" &&
        type != "resize") {
      SKIFF_LOG_WARN("kubelet streaming: unexpected stream type \"{}\"", type);
      return;
    }
    std::lock_guard lock(acc.mu);
    acc.byType[type] = std::move(s);
    ++acc.count;
    acc.cv.notify_all();
  });
  const int expected = 1 + o.in + o.out + o.err + ((o.tty && version >= 3) ? 1 : 0);
  {
    std::unique_lock lock(acc.mu);
    auto deadline = std::chrono::steady_clock::now() + kStreamCreationTimeout;
    while (acc.count < expected && std::chrono::steady_clock::now() < deadline) {
      acc.cv.wait_for(lock, 100ms);
      if (acc.count < expected && client.closed()) break;
    }
    if (acc.count < expected) {
      SKIFF_LOG_WARN(
          "kubelet streaming: timed out waiting for client to create streams got={} "
          "want={}",
          acc.count, expected);
      lock.unlock();
      client.join();
      rt->session->close();
      return;
    }
  }
  auto stream = [&](const char* type) {
    std::lock_guard lock(acc.mu);
    auto it = acc.byType.find(type);
    return it == acc.byType.end() ? nullptr : it->second;
  };
  spdy::StreamPtr cError = stream("error"), cIn = stream("stdin"), cOut = stream("stdout"),
                  cErr = stream("stderr"), cResize = stream("resize");

  std::atomic<bool> finished{false};
  std::vector<std::thread> inbound, outbound;
  if (cIn && rt->in)
    inbound.emplace_back([&] {
      pump(*cIn, [&](std::string_view d) { rt->in->write(d); });
      if (cIn->wasReset())
        rt->in->reset();
      else
        rt->in->closeWrite();
    });
  if (cResize)
    inbound.emplace_back([&] { pump(*cResize, [&](std::string_view d) { rt->resize(d); }); });
  // The client gone while the command runs: end the runtime's session too.
  inbound.emplace_back([&] {
    while (!finished)
      if (client.waitClosed(200ms)) {
        if (!finished) rt->session->close();
        break;
      }
  });

  Latch pumpsDone((rt->out && cOut ? 1 : 0) + (rt->err && cErr ? 1 : 0));
  auto relay = [&](spdy::Stream& from, spdy::StreamPtr to) {
    pump(from, [&](std::string_view d) { to->write(d); });
    to->closeWrite();
    pumpsDone.done();
  };
  if (rt->out && cOut) outbound.emplace_back(relay, std::ref(*rt->out), cOut);
  if (rt->err && cErr) outbound.emplace_back(relay, std::ref(*rt->err), cErr);
  rt->startWithin(cResize ? kFirstResizeWait : 0ms);

  std::string status = rt->error->readAll(kMaxStatus);
  if (!pumpsDone.wait(kDrainTimeout)) rt->session->close();
  for (auto& t : outbound) t.join();
  finished = true;
  std::string message = statusForClient(status, protocol);
  try {
    if (!message.empty()) cError->write(message);
  } catch (const std::exception&) {
  }
  cError->closeWrite();
  // kubectl closes the connection once it has read the status.
  client.waitClosed(kDrainTimeout);
  client.join();
  rt->session->close();
  for (auto& t : inbound) t.join();
}

}  // namespace

RemoteCommandOptions remoteCommandOptions(const net::HttpRequest& req) {
  RemoteCommandOptions o;
  // kubectl's names, and the ones upstream's API server rewrites them to for kubelets.
  o.in = req.flag("stdin") || req.flag("input");
  o.out = req.flag("stdout") || req.flag("output");
  o.err = req.flag("stderr") || req.flag("error");
  o.tty = req.flag("tty");
  if (o.tty) o.err = false;  // a terminal has one output stream
  if (!o.in && !o.out && !o.err)
    throw badRequest("you must specify at least 1 of stdin, stdout, stderr");
  return o;
}

std::string statusForClient(const std::string& runtimeStatus, const std::string& clientProtocol) {
  json::object status;
  bool parsed = false;
  if (!runtimeStatus.empty()) {
    boost::system::error_code ec;
    json::value v = json::parse(runtimeStatus, ec);
    if (!ec && v.is_object()) {
      status = v.as_object();
      parsed = true;
    }
  }
  if (!parsed) {
    std::string why = runtimeStatus.empty()
                          ? "error executing command in container: the runtime ended the session "
                            "without an exit status"
                          : "error executing command in container: " + runtimeStatus;
    status = {{"metadata", json::object()},
              {"status", "Failure"},
              {"message", why},
              {"reason", "InternalError"},
              {"details", {{"causes", json::array{json::object{{"message", why}}}}}},
              {"code", 500}};
  }
  if (protocolVersion(clientProtocol) >= 4) return parsed ? runtimeStatus : json::serialize(status);
  auto* st = status.if_contains("status");
  if (st && st->is_string() && st->as_string() == "Success") return {};
  auto* msg = status.if_contains("message");
  return msg && msg->is_string() ? std::string(msg->as_string()) : std::string("unknown error");
}

net::HttpResponse serveRemoteCommand(const net::HttpRequest& req,
                                     const RemoteCommandOptions& options,
                                     const RuntimeUrlProvider& runtimeUrl) {
  const bool ws = isWebSocketRequest(req);
  std::string protocol;
  net::HttpResponse res;
  if (ws) {
    auto p = negotiateWebSocketProtocol(req, kWebSocketProtocols);
    if (!p)
      throw badRequest("websocket: requested protocol(s) " +
                       joinList(headerTokens(req.header("sec-websocket-protocol"))) +
                       " are not supported; supported: " + joinList(kWebSocketProtocols));
    protocol = *p;
    res = webSocketUpgradeResponse(req, protocol, {});
  } else if (spdy::isUpgradeRequest(req)) {
    auto p = spdy::negotiateProtocol(req, kSpdyProtocols);
    if (!p)
      throw ApiError(403, "Forbidden",
                     "unable to upgrade: unable to negotiate protocol: client supports " +
                         joinList(headerTokens(req.header("x-stream-protocol-version"))) +
                         ", server accepts " + joinList(kSpdyProtocols));
    protocol = *p;
    res = spdy::upgradeResponse(protocol, {});
    if (protocol.empty()) protocol = kStreamProtocolV1;
  } else {
    throw badRequest("Upgrade request required");
  }

  std::string url = runtimeUrl();
  std::shared_ptr<RuntimeSide> rt;
  try {
    rt = connectRuntime(url, options);
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("kubelet streaming: runtime connection failed url={} error=\"{}\"", url,
                   e.what());
    throw ApiError(500, "InternalError",
                   std::string("error connecting to the container runtime: ") + e.what());
  }
  res.upgrade = [rt, options, protocol, ws](UpgradedConnectionPtr conn) {
    try {
      if (ws)
        serveWebSocketSession(std::move(conn), rt, protocol);
      else
        serveSpdySession(std::move(conn), rt, options, protocol);
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("kubelet streaming: session failed protocol={} error=\"{}\"", protocol,
                     e.what());
    }
  };
  return res;
}

}  // namespace skiff::kubelet::streaming
