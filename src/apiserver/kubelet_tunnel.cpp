// Upgraded tunnels and plain proxied requests to kubelets (see kubelet_tunnel.h).
#include "apiserver/kubelet_tunnel.h"

#include <strings.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/api_error.h"
#include "common/log.h"
#include "net/http_upgrade_client.h"

namespace skiff::apiserver {

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// The comma-separated items of a list header, trimmed, empty ones dropped.
std::vector<std::string> listItems(const std::string& value) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string::npos) comma = value.size();
    std::string item = trim(std::string_view(value).substr(start, comma - start));
    if (!item.empty()) out.push_back(std::move(item));
    start = comma + 1;
  }
  return out;
}

// Go's textproto.CanonicalMIMEHeaderKey: "sec-websocket-key" -> "Sec-Websocket-Key".
std::string canonicalName(const std::string& name) {
  std::string out = name;
  bool upper = true;
  for (auto& c : out) {
    c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c))
                                : std::tolower(static_cast<unsigned char>(c)));
    upper = c == '-';
  }
  return out;
}

bool sameName(const std::string& a, const char* b) { return strcasecmp(a.c_str(), b) == 0; }

// Hop-by-hop headers, as Go's httputil.ReverseProxy drops them (plus those named in
// Connection).
bool isHopByHop(const std::string& lowerName) {
  static const char* const kHop[] = {"connection",
                                     "proxy-connection",
                                     "keep-alive",
                                     "proxy-authenticate",
                                     "proxy-authorization",
                                     "te",
                                     "trailer",
                                     "transfer-encoding",
                                     "upgrade"};
  return std::any_of(std::begin(kHop), std::end(kHop),
                     [&](const char* h) { return lowerName == h; });
}

// Client headers that never reach a kubelet: the kubelet gets its own Host and length, and
// the client's credentials stay with the API server (upstream's authentication and
// impersonation filters delete them before any handler runs).
bool isPrivate(const std::string& lowerName) {
  return lowerName == "host" || lowerName == "content-length" || lowerName == "authorization" ||
         lowerName == "proxy-authorization" || lowerName.starts_with("impersonate-") ||
         lowerName == "x-forwarded-for";
}

// utilnet.AppendForwardedForHeader: the client's IP after any earlier proxies'.
void appendForwardedFor(const HttpRequest& req, Headers& out) {
  const std::string& remote = req.remoteAddress;
  size_t colon = remote.rfind(':');
  if (colon == std::string::npos || colon == 0) return;
  std::string ip = remote.substr(0, colon);
  if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  std::string prior = req.header("x-forwarded-for");
  out.emplace_back("X-Forwarded-For", prior.empty() ? ip : prior + ", " + ip);
}

Headers upgradeRequestHeaders(const HttpRequest& req) {
  Headers out;
  for (const auto& [name, value] : req.headers) {
    if (isPrivate(name)) continue;
    if (name == "x-stream-protocol-version") {
      // One line per offered protocol, as kubectl sent them.
      for (auto& protocol : listItems(value)) out.emplace_back(canonicalName(name), protocol);
      continue;
    }
    out.emplace_back(canonicalName(name), value);
  }
  appendForwardedFor(req, out);
  return out;
}

Headers plainRequestHeaders(const HttpRequest& req, const std::string& forwardedUri) {
  std::vector<std::string> named;  // headers the client's Connection header declares hop-by-hop
  for (auto& n : listItems(req.header("connection"))) named.push_back(lower(n));
  Headers out;
  for (const auto& [name, value] : req.headers) {
    if (isPrivate(name) || isHopByHop(name) ||
        std::find(named.begin(), named.end(), name) != named.end())
      continue;
    out.emplace_back(canonicalName(name), value);
  }
  appendForwardedFor(req, out);
  out.emplace_back("X-Forwarded-Uri", forwardedUri);
  return out;
}

// A kubelet's answer as ours: status, body, Content-Type and the other end-to-end headers.
HttpResponse relay(UpgradeResult& r, bool dropCors) {
  HttpResponse res;
  res.status = r.status;
  res.body = std::move(r.body);
  res.contentType = "";
  std::vector<std::string> named;
  for (const auto& [name, value] : r.headers)
    if (sameName(name, "connection"))
      for (auto& n : listItems(value)) named.push_back(lower(n));
  for (auto& [name, value] : r.headers) {
    std::string l = lower(name);
    if (l == "content-type") {
      res.contentType = value;
      continue;
    }
    if (l == "content-length" || isHopByHop(l) ||
        std::find(named.begin(), named.end(), l) != named.end())
      continue;
    // corsRemovingTransport: the API server's own CORS policy applies, not the kubelet's.
    if (dropCors && l.starts_with("access-control-allow-")) continue;
    res.headers.emplace_back(name, value);
  }
  if (res.contentType.empty()) res.contentType = "text/plain; charset=utf-8";
  return res;
}

// openUpgrade's failures before the request was sent are dial errors in Go's wording.
bool isDialError(const std::string& m) {
  return m.starts_with("dial tcp") || m.starts_with("tls: ") || m.starts_with("net/http: TLS") ||
         m.starts_with("TLS client setup");
}

// Copies `from` into `to` until end of stream, which is passed on as a half-close. False when
// a read or write failed (or the connection was closed under it).
bool copyBytes(UpgradedConnection& from, UpgradedConnection& to, const char* direction) {
  char buf[32 * 1024];
  try {
    for (;;) {
      size_t n = from.read(buf, sizeof buf);
      if (n == 0) {
        to.shutdownWrite();
        return true;
      }
      to.write(buf, n);
    }
  } catch (const std::exception& e) {
    SKIFF_LOG_DEBUG("kubelet tunnel copy ended direction={} error=\"{}\"", direction, e.what());
    return false;
  }
}

}  // namespace

std::string ProxyTarget::url() const {
  bool v6 = host.find(':') != std::string::npos;
  return std::string(tls ? "https://" : "http://") + (v6 ? "[" + host + "]" : host) + ":" +
         std::to_string(port) + target;
}

bool isUpgradeRequest(const HttpRequest& req) {
  return lower(req.header("connection")).find("upgrade") != std::string::npos;
}

struct KubeletTunnel::Shared {
  KubeletTunnelOptions options;

  mutable std::mutex mu;
  bool stopping = false;
  uint64_t nextId = 0;
  struct Ends {
    UpgradedConnection* client;
    UpgradedConnection* kubelet;
  };
  std::unordered_map<uint64_t, Ends> open;  // pointers valid while registered

  UpgradeRequest request(const ProxyTarget& to, HttpRequest& req) const {
    UpgradeRequest u;
    u.host = to.host;
    u.port = static_cast<unsigned short>(to.port);
    u.tls = to.tls;
    if (to.tls && to.clientCert) {
      u.clientCertPem = options.clientCertPem;
      u.clientKeyPem = options.clientKeyPem;
    }
    u.method = req.method;
    u.target = to.target;
    u.body = req.body;
    u.connectTimeout = options.connectTimeout;
    u.responseTimeout = options.responseTimeout;
    return u;
  }

  // 0 when stopping (the caller closes the connections itself).
  uint64_t add(UpgradedConnection* client, UpgradedConnection* kubelet) {
    std::lock_guard lock(mu);
    if (stopping) return 0;
    uint64_t id = ++nextId;
    open.emplace(id, Ends{client, kubelet});
    return id;
  }
  void remove(uint64_t id) {
    std::lock_guard lock(mu);
    open.erase(id);
  }

  // Runs on the HTTP server's upgrade thread for as long as the session lasts.
  void pipe(UpgradedConnectionPtr client, std::shared_ptr<UpgradedConnection> kubelet,
            const std::string& url) {
    auto closeBoth = [&] {
      client->close();
      kubelet->close();
    };
    uint64_t id = add(client.get(), kubelet.get());
    if (id == 0) {
      closeBoth();
      return;
    }
    SKIFF_LOG_DEBUG("kubelet tunnel open url={}", url);
    std::mutex doneMu;
    std::condition_variable doneCv;
    bool clientDone = false;
    std::thread fromKubelet;
    try {
      fromKubelet = std::thread([&] {
        if (copyBytes(*kubelet, *client, "kubelet-to-client")) {
          std::unique_lock lock(doneMu);
          if (doneCv.wait_for(lock, options.drainTimeout, [&] { return clientDone; })) return;
        }
        closeBoth();
      });
    } catch (const std::system_error& e) {
      SKIFF_LOG_ERROR("kubelet tunnel not started url={} error=\"{}\"", url, e.what());
      closeBoth();
      remove(id);
      return;
    }
    bool clean = copyBytes(*client, *kubelet, "client-to-kubelet");
    {
      std::lock_guard lock(doneMu);
      clientDone = true;
    }
    doneCv.notify_all();
    if (!clean) closeBoth();
    fromKubelet.join();
    closeBoth();
    remove(id);
    SKIFF_LOG_DEBUG("kubelet tunnel closed url={}", url);
  }
};

KubeletTunnel::KubeletTunnel(KubeletTunnelOptions options) : shared_(std::make_shared<Shared>()) {
  shared_->options = std::move(options);
}

KubeletTunnel::~KubeletTunnel() { closeAll(); }

HttpResponse KubeletTunnel::upgrade(const ProxyTarget& to, HttpRequest& req) {
  UpgradeRequest u = shared_->request(to, req);
  u.headers = upgradeRequestHeaders(req);
  UpgradeResult r;
  try {
    r = openUpgrade(u);
  } catch (const std::runtime_error& e) {
    std::string m = e.what();
    SKIFF_LOG_DEBUG("kubelet upgrade failed url={} error=\"{}\"", to.url(), m);
    // Upstream's dial() wording; a failure after that is passed on as it is.
    throw ApiError(500, "", isDialError(m) ? "error dialing backend: " + m : m);
  }
  if (r.status != 101) {
    if (r.status < 400)
      throw ApiError(500, "", "invalid upgrade response: status code " + std::to_string(r.status));
    return relay(r, false);  // e.g. the kubelet's 400 or 403 Status, kubectl's cue to retry
  }
  if (!r.connection) throw ApiError(500, "", "invalid upgrade response: no connection");
  HttpResponse res;
  res.status = 101;
  for (auto& [name, value] : r.headers)
    if (!sameName(name, "content-length") && !sameName(name, "transfer-encoding"))
      res.headers.emplace_back(name, value);
  std::shared_ptr<UpgradedConnection> kubelet(std::move(r.connection));
  res.upgrade = [shared = shared_, kubelet, url = to.url()](UpgradedConnectionPtr client) {
    shared->pipe(std::move(client), kubelet, url);
  };
  return res;
}

HttpResponse KubeletTunnel::forward(const ProxyTarget& to, HttpRequest& req,
                                    const std::string& forwardedUri) {
  UpgradeRequest u = shared_->request(to, req);
  u.headers = plainRequestHeaders(req, forwardedUri);
  UpgradeResult r;
  try {
    r = openUpgrade(u);
  } catch (const std::runtime_error& e) {
    SKIFF_LOG_DEBUG("kubelet proxy request failed url={} error=\"{}\"", to.url(), e.what());
    throw ApiError(503, "ServiceUnavailable",
                   std::string("error trying to reach service: ") + e.what());
  }
  // Not an upgrade request, so a 101 would be a broken backend; the connection is dropped.
  if (r.status == 101)
    throw ApiError(503, "ServiceUnavailable",
                   "error trying to reach service: unexpected 101 Switching Protocols");
  return relay(r, true);
}

void KubeletTunnel::closeAll() {
  std::lock_guard lock(shared_->mu);
  shared_->stopping = true;
  for (auto& [id, ends] : shared_->open) {
    ends.client->close();
    ends.kubelet->close();
  }
}

size_t KubeletTunnel::openTunnels() const {
  std::lock_guard lock(shared_->mu);
  return shared_->open.size();
}

}  // namespace skiff::apiserver
