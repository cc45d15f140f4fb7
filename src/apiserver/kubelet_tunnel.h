// The API server's connections through to kubelets, as upstream's UpgradeAwareHandler makes
// them (k8s.io/apimachinery/pkg/util/proxy/upgradeaware.go):
//   - upgrade(): the client asked to switch protocols (exec, attach, port-forward, an upgrade on
//     nodes/proxy). The request goes to the kubelet with the client's headers; a 101 is answered
//     with the kubelet's headers and the two connections are then piped byte for byte, so the
//     kubelet alone speaks WebSocket/SPDY. A kubelet error (>= 400) is relayed as is (kubectl
//     then falls back from WebSocket to SPDY); any other non-101 is a 500.
//   - forward(): a plain request (nodes/proxy), relayed with its method and body; the answer is
//     buffered, not streamed.
// Only the transport lives here; kubelet_proxy.cpp decides where a request goes.
//
// Headers sent to the kubelet on an upgrade: every client header except Host, Content-Length,
// Authorization, Proxy-Authorization and Impersonate-*, under Go's canonical names
// ("Sec-Websocket-Protocol"), plus X-Forwarded-For. HttpRequest joins repeated headers with
// ", "; X-Stream-Protocol-Version is split back into one header line per protocol, as kubectl
// sends it (SPDY negotiation reads it as a list). Other list headers go as one joined line.
//
// Piping: the handler thread copies client -> kubelet, a second thread kubelet -> client. End
// of stream on one side is passed on as a half-close (shutdownWrite). After the kubelet ends
// its side, the client has drainTimeout to end its own; after the client ends, the kubelet is
// waited for (its session ends with the command). A read or write failure closes both at once.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "net/http_types.h"

namespace skiff::apiserver {

// Where a proxied request goes.
struct ProxyTarget {
  std::string host;  // IP literal or name
  int port = 0;
  bool tls = true;
  bool clientCert = true;   // present the kubelet client certificate (TLS only)
  std::string target;       // escaped path and query: "/exec/default/web/app?command=ls"
  std::string url() const;  // "https://127.0.0.1:10250/exec/..." (for messages)
};

struct KubeletTunnelOptions {
  std::string clientCertPem, clientKeyPem;           // empty: no client certificate
  std::chrono::milliseconds connectTimeout{5000};    // TCP connect, and the TLS handshake again
  std::chrono::milliseconds responseTimeout{30000};  // request sent, response headers read
  // How long a client may keep its side open once the kubelet has ended its own.
  std::chrono::milliseconds drainTimeout{10000};
};

// Like httpstream.IsUpgradeRequest: a Connection header that mentions "upgrade".
bool isUpgradeRequest(const HttpRequest& req);

class KubeletTunnel {
 public:
  explicit KubeletTunnel(KubeletTunnelOptions options);
  ~KubeletTunnel();
  KubeletTunnel(const KubeletTunnel&) = delete;
  KubeletTunnel& operator=(const KubeletTunnel&) = delete;

  // The upgrade path (see above). Throws ApiError(500) when the kubelet cannot be reached
  // ("error dialing backend: dial tcp ...: connect: connection refused").
  HttpResponse upgrade(const ProxyTarget& to, HttpRequest& req);
  // The plain path. `forwardedUri` is sent as X-Forwarded-Uri (the path the client asked the
  // API server for). Throws ApiError(503) when the kubelet cannot be reached ("error trying to
  // reach service: ...").
  HttpResponse forward(const ProxyTarget& to, HttpRequest& req, const std::string& forwardedUri);

  // Ends every open tunnel (both connections) and refuses new ones: for server shutdown, so
  // that no piping thread waits on a kubelet after the HTTP server has stopped.
  void closeAll();
  // Tunnels whose piping has started and not yet ended.
  size_t openTunnels() const;

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;  // also held by running tunnels
};

}  // namespace skiff::apiserver
