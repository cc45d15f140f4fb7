#include "kubelet/streaming/port_forward.h"

#include <atomic>
#include <charconv>
#include <chrono>
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

}  // namespace

apiserver::HttpResponse servePortForward(const apiserver::HttpRequest& req,
                                         const PortForwardUrlProvider& runtimeUrl) {
  const bool ws = isWebSocketRequest(req);
  apiserver::HttpResponse res;
  if (ws) {
    if (!negotiateWebSocketProtocol(req, {kPortForwardTunnelProtocol}))
      throw badRequest(std::string("websocket: port-forward needs subprotocol ") +
                       kPortForwardTunnelProtocol);
    res = webSocketUpgradeResponse(req, kPortForwardTunnelProtocol, {});
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
  res.upgrade = [rt, ws](UpgradedConnectionPtr conn) {
    try {
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
