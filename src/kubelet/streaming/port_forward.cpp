#include "kubelet/streaming/port_forward.h"

#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "common/api_error.h"
#include "common/log.h"
#include "kubelet/streaming/spdy.h"
#include "kubelet/streaming/websocket.h"

namespace skiff::kubelet::streaming {

using namespace std::chrono_literals;

namespace {

constexpr auto kDialTimeout = 10s;
constexpr auto kStreamReplyTimeout = 30s;

bool validPort(const std::string& s) {
  unsigned port = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  return ec == std::errc() && end == s.data() + s.size() && port >= 1 && port <= 65535;
}

struct RuntimeConnection {
  std::unique_ptr<spdy::Session> session;
  ~RuntimeConnection() {
    if (session) session->join();
  }
};

// Copies one direction; then passes the end on as it came (FIN, or reset).
void copyDirection(spdy::Stream& from, spdy::Stream& to) {
  char buf[32 * 1024];
  bool sinkFailed = false;
  for (;;) {
    size_t n = from.read(buf, sizeof(buf));
    if (n == 0) break;
    try {
      to.write(std::string_view(buf, n));
    } catch (const std::exception&) {
      sinkFailed = true;
      break;
    }
  }
  if (sinkFailed)
    from.reset();
  else if (from.wasReset())
    to.reset();
  else
    to.closeWrite();
}

// One client stream and its mirror at the runtime: answered once the runtime answered, then
// relayed both ways.
void relayStream(const spdy::StreamPtr& client, const spdy::StreamPtr& runtime) {
  if (!runtime->waitReply(kStreamReplyTimeout)) {
    SKIFF_LOG_WARN("kubelet port-forward: runtime refused stream port={} requestid={}",
                   client->header("port"), client->header("requestid"));
    client->reset(spdy::kRefusedStream);
    runtime->reset();
    return;
  }
  client->sendReply();
  std::thread up([&] { copyDirection(*client, *runtime); });
  copyDirection(*runtime, *client);
  up.join();
}

void serveSession(std::unique_ptr<spdy::Session> client,
                  const std::shared_ptr<RuntimeConnection>& rt) {
  struct Relay {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex mu;
  std::list<Relay> relays;
  bool stopping = false;

  client->start([&](spdy::StreamPtr s) {
    const std::string type = s->header("streamtype");
    const std::string port = s->header("port");
    if (!validPort(port) || (type != "error" && type != "data")) {
      SKIFF_LOG_WARN("kubelet port-forward: rejected stream type=\"{}\" port=\"{}\"", type, port);
      s->reset(spdy::kProtocolError);
      return;
    }
    spdy::StreamPtr r;
    try {
      r = rt->session->open(s->headers());  // streamtype, port, requestid as the client sent
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("kubelet port-forward: runtime stream failed error=\"{}\"", e.what());
      s->reset(spdy::kInternalError);
      return;
    }
    std::lock_guard lock(mu);
    if (stopping) {
      s->reset();
      r->reset();
      return;
    }
    for (auto it = relays.begin(); it != relays.end();) {
      if (*it->done) {
        it->thread.join();
        it = relays.erase(it);
      } else {
        ++it;
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    relays.push_back({std::thread([s, r, done] {
                        relayStream(s, r);
                        *done = true;
                      }),
                      done});
  });

  // Until the client leaves (or the runtime's side ends, which ends forwarding too).
  while (!client->waitClosed(500ms))
    if (rt->session->closed()) client->close();
  {
    std::lock_guard lock(mu);
    stopping = true;
  }
  client->join();
  rt->session->close();
  for (auto& r : relays) r.thread.join();
}

// ---------------------------------------------------------------- WebSocket channel protocols

constexpr auto kDrainTimeout = 5s;
constexpr size_t kMaxErrorText = 64 * 1024;

// One forwarded port of a channel session and its two streams to the runtime.
struct ChannelPort {
  uint16_t port = 0;
  spdy::StreamPtr data, error;
  std::string setupError;  // why the runtime streams could not be opened
};

// Opens the port's streams as kubectl would: error first (our side closed at once), then data
// once the error stream was answered.
void openRuntimeStreams(spdy::Session& rt, ChannelPort& p, size_t requestId) {
  spdy::Headers h = {{"streamtype", "error"},
                     {"port", std::to_string(p.port)},
                     {"requestid", std::to_string(requestId)}};
  try {
    p.error = rt.open(h);
    p.error->closeWrite();
    if (!p.error->waitReply(kStreamReplyTimeout))
      throw std::runtime_error("the container runtime refused the error stream");
    h[0].second = "data";
    p.data = rt.open(h);
    if (!p.data->waitReply(kStreamReplyTimeout))
      throw std::runtime_error("the container runtime refused the data stream");
  } catch (const std::exception& e) {
    p.setupError = e.what();
    for (spdy::StreamPtr* stream : {&p.data, &p.error}) {
      if (*stream) (*stream)->reset();  // RST_STREAM to the runtime
      *stream = nullptr;
    }
  }
}

void serveChannelSession(UpgradedConnectionPtr conn, const std::shared_ptr<RuntimeConnection>& rt,
                         const std::vector<uint16_t>& ports, ChannelEncoding encoding) {
  WebSocketConnection ws(*conn, WebSocketConnection::Role::Server);
  auto write = [&](size_t channel, std::string_view d) {
    ws.writeChannel(encoding, static_cast<uint8_t>(channel), d);
  };
  std::vector<ChannelPort> fw(ports.size());
  try {
    for (size_t i = 0; i < ports.size(); ++i) {
      fw[i].port = ports[i];
      const char bytes[2] = {static_cast<char>(ports[i] & 0xFF), static_cast<char>(ports[i] >> 8)};
      write(2 * i, std::string_view(bytes, 2));
      write(2 * i + 1, std::string_view(bytes, 2));
    }
  } catch (const std::exception& e) {
    SKIFF_LOG_DEBUG("kubelet port-forward: client gone before forwarding error=\"{}\"", e.what());
    rt->session->close();
    return;
  }
  for (size_t i = 0; i < fw.size(); ++i) openRuntimeStreams(*rt->session, fw[i], i);

  std::atomic<bool> finished{false};
  std::mutex readerMu;
  std::condition_variable readerCv;
  bool readerDone = false;
  // Client -> pod: data channels only; upstream discards what a client writes to an error
  // channel or to a channel no port has.
  std::thread reader([&] {
    WsMessage m;
    while (ws.readMessage(m)) {
      auto msg = decodeChannelMessage(encoding, m);
      if (!msg || msg->channel % 2 != 0 || msg->channel / 2u >= fw.size()) continue;
      auto& data = fw[msg->channel / 2].data;
      if (!data || msg->data.empty()) continue;
      try {
        data->write(msg->data);
      } catch (const std::exception&) {
        // the pod's side of this connection ended; its end reaches the client from there
      }
    }
    for (auto& p : fw)
      if (p.data) p.data->closeWrite();
    if (!finished) rt->session->close();  // the client left: end every connection
    std::lock_guard lock(readerMu);
    readerDone = true;
    readerCv.notify_all();
  });

  // Pod -> client, per port; then the runtime's error text, if any.
  std::vector<std::thread> pumps;
  for (size_t i = 0; i < fw.size(); ++i)
    pumps.emplace_back([&, i] {
      ChannelPort& p = fw[i];
      std::string error = p.setupError;
      if (p.data) {
        char buf[32 * 1024];
        for (;;) {
          size_t n = p.data->read(buf, sizeof(buf));
          if (n == 0) break;
          try {
            write(2 * i, std::string_view(buf, n));
          } catch (const std::exception&) {
            p.data->reset();
            break;
          }
        }
      }
      if (p.error) error += p.error->readAll(kMaxErrorText);
      if (!error.empty()) {
        if (!p.setupError.empty())
          error = "error forwarding port " + std::to_string(p.port) + ": " + error;
        try {
          write(2 * i + 1, error);
        } catch (const std::exception&) {
        }
      }
    });
  for (auto& t : pumps) t.join();
  finished = true;
  ws.sendClose(kWsCloseNormal);
  {
    std::unique_lock lock(readerMu);
    if (!readerCv.wait_for(lock, kDrainTimeout, [&] { return readerDone; })) conn->close();
  }
  reader.join();
  rt->session->close();
}

}  // namespace

std::vector<uint16_t> portForwardPorts(const net::HttpRequest& req) {
  std::vector<uint16_t> ports;
  bool any = false;
  for (const char* name : {"port", "ports"})
    for (auto [it, end] = req.query.equal_range(name); it != end; ++it) {
      any = true;
      const std::string& value = it->second;
      if (value.empty())
        throw badRequest(std::string("query parameter \"") + name + "\" cannot be empty");
      for (size_t pos = 0; pos <= value.size();) {
        size_t comma = value.find(',', pos);
        if (comma == std::string::npos) comma = value.size();
        std::string p = value.substr(pos, comma - pos);
        unsigned n = 0;
        auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
        if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || n > 65535)
          throw badRequest("unable to parse \"" + value + "\" as a port");
        if (n < 1) throw badRequest("port \"" + value + "\" must be > 0");
        ports.push_back(static_cast<uint16_t>(n));
        pos = comma + 1;
      }
    }
  if (!any) throw badRequest("query parameter \"port\" is required");
  return ports;
}

net::HttpResponse servePortForward(const net::HttpRequest& req,
                                   const PortForwardUrlProvider& runtimeUrl) {
  const bool ws = isWebSocketRequest(req);
  net::HttpResponse res;
  bool tunnel = false;  // SPDY in WebSocket messages, else the channel protocols
  std::vector<uint16_t> ports;
  std::string protocol;
  if (ws) {
    static const std::vector<std::string> kProtocols = {
        kPortForwardTunnelProtocol, kPortForwardChannelProtocol, kPortForwardBase64Protocol, ""};
    auto p = negotiateWebSocketProtocol(req, kProtocols);
    if (!p)
      throw badRequest("websocket: requested protocol(s) [" + req.header("sec-websocket-protocol") +
                       "] are not supported; supported: [" + kPortForwardTunnelProtocol + " " +
                       kPortForwardChannelProtocol + " " + kPortForwardBase64Protocol + "]");
    protocol = *p;
    tunnel = protocol == kPortForwardTunnelProtocol;
    if (!tunnel) ports = portForwardPorts(req);
    res = webSocketUpgradeResponse(req, protocol, {});
  } else if (spdy::isUpgradeRequest(req)) {
    auto p = spdy::negotiateProtocol(req, {kPortForwardProtocolV1});
    if (!p)
      throw ApiError(403, "Forbidden",
                     "unable to upgrade: unable to negotiate protocol: client supports [" +
                         req.header("x-stream-protocol-version") + "], server accepts [" +
                         kPortForwardProtocolV1 + "]");
    res = spdy::upgradeResponse(p->empty() ? std::string() : *p, {});
  } else {
    throw badRequest("Upgrade request required");
  }

  std::string url = runtimeUrl();
  auto rt = std::make_shared<RuntimeConnection>();
  try {
    auto dialed = spdy::dial(url, {kPortForwardProtocolV1}, kDialTimeout);
    rt->session = std::move(dialed.session);
    rt->session->start();
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("kubelet port-forward: runtime connection failed url={} error=\"{}\"", url,
                   e.what());
    throw ApiError(500, "InternalError",
                   std::string("error connecting to the container runtime: ") + e.what());
  }
  res.upgrade = [rt, ws, tunnel, ports, protocol](UpgradedConnectionPtr conn) {
    try {
      if (ws && !tunnel) {
        serveChannelSession(std::move(conn), rt, ports, channelEncoding(protocol));
        return;
      }
      std::unique_ptr<spdy::Session> client;
      if (ws)
        client =
            std::make_unique<spdy::Session>(std::make_unique<WebSocketByteStream>(
                                                std::move(conn), WebSocketConnection::Role::Server),
                                            spdy::Session::Role::Server);
      else
        client = std::make_unique<spdy::Session>(std::move(conn), spdy::Session::Role::Server);
      serveSession(std::move(client), rt);
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("kubelet port-forward: session failed error=\"{}\"", e.what());
    }
  };
  return res;
}

}  // namespace skiff::kubelet::streaming
