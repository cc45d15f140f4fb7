// The API server's side of the subresources a kubelet answers (upstream's pod LogREST,
// ExecREST, AttachREST, PortForwardREST and node ProxyREST with their *Location functions):
// finds the pod's node and kubelet and passes the request on. Asio/Beast stay in the .cpp
// files; the connections for exec, attach, port-forward and nodes/proxy are KubeletTunnel's.
//
// pods/log
// Semantics as upstream (pkg/registry/core/pod/rest/log.go, strategy.go LogLocation):
//   - only GET; query options as PodLogOptions (container, follow, previous, timestamps,
//     sinceSeconds, sinceTime, tailLines, limitBytes, insecureSkipTLSVerifyBackend), validated
//     like ValidatePodLogOptions (422 PodLogOptions invalid);
//   - the container may be omitted only when the pod has exactly one (400 otherwise); an
//     unknown container is a 400;
//   - a pod not yet bound to a node has no logs: 204 No Content;
//   - the node's address comes from status.addresses in preference order, its port from
//     status.daemonEndpoints.kubeletEndpoint.Port (10250 when unset);
//   - the kubelet's serving certificate is not verified (upstream's default without
//     --kubelet-certificate-authority); connection failures are a 500 with Go's wording;
//     kubelet errors come back with their code (its Status as is, or text wrapped in one).
//
// pods/exec, pods/attach, pods/portforward (strategy.go streamLocation, PortForwardLocation):
//   - GET or POST, and an upgrade request (400 "Upgrade request required" otherwise, checked
//     last as upstream's proxy handler does);
//   - exec needs a command; exec and attach choose the container as pods/log does; the pod
//     must be bound to a node (400 "pod NAME does not have a host assigned") and, for exec and
//     attach, not have completed (400, kubectl's wording);
//   - the kubelet gets /exec|/attach/{ns}/{pod}/{container} or /portForward/{ns}/{pod} with the
//     client's query as it came (stdin=true&command=ls...: the names this kubelet reads;
//     upstream's API server rewrites them to input=1&output=1, which this kubelet does not).
//
// nodes/proxy (node ResourceLocation + the proxy handler):
//   - {name} may be "name", "name:port" or "scheme:name:port"; without a port, or with the
//     kubelet's, the request goes to the kubelet over HTTPS with the client certificate, else
//     to that port of the node (http unless asked) without it;
//   - GET/HEAD on .../proxy (no path) is redirected (301) to .../proxy/;
//   - an upgrade request is tunnelled; anything else is relayed with its method and body.
//   - only the kubelet's port is proxied: "name:port" with another port is refused (400),
//     stricter than upstream, which relays to any port of the node.
//
// Destination guard (all of the above): the API server does not dial a node address that is
// loopback, link-local (169.254.0.0/16, fe80::/10), unspecified or multicast (500 "address
// not allowed", upstream's IsProxyableIP wording); a node name that resolves to such an
// address is refused the same way. Loopback is allowed only when the API server itself
// listens on loopback (every client is then on this machine; `skiff up` on 127.0.0.1
// registers its node at 127.0.0.1) or for the node the server runs itself (`skiff up`
// passes its name): a node's credentials cannot point the API server at its own host's
// loopback services otherwise.
// pods/proxy is not served.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "apiserver/request_info.h"
#include "apiserver/resource_store.h"
#include "net/http_types.h"

namespace skiff::apiserver {

struct KubeletClientOptions {
  // The client certificate presented to kubelets (they accept any certificate of the cluster
  // CA). Empty: none is presented and kubelets answer 401.
  std::string clientCertFile, clientKeyFile;
  std::chrono::milliseconds connectTimeout{5000};
  std::chrono::milliseconds tlsHandshakeTimeout{10000};  // Go's transport default
  // For sending the request and receiving the kubelet's response headers; the body may then
  // stream for as long as the client follows it.
  std::chrono::milliseconds responseTimeout{30000};
  int defaultPort = 10250;
  // Node address types tried in order (upstream's --kubelet-preferred-address-types, with
  // InternalIP moved first: nodes here always report it and their names need not resolve).
  std::vector<std::string> preferredAddressTypes = {"InternalIP", "Hostname", "InternalDNS",
                                                    "ExternalDNS", "ExternalIP"};
  // exec/attach/port-forward: how long a client may keep its side of a tunnel open once the
  // kubelet has ended its own.
  std::chrono::milliseconds tunnelDrainTimeout{10000};
  // The destination guard's loopback exceptions (see above).
  bool allowLoopback = false;
  std::string localNodeName;
};

// Whether IP (a literal) may be dialled: not link-local, unspecified or multicast, and not
// loopback unless `allowLoopback`. False for what is not an IP literal.
bool proxyableIp(const std::string& ip, bool allowLoopback);
// Throws upstream's "address not allowed" (500) unless HOST (an IP literal, or a name whose
// every address passes) may be dialled for node NODE_NAME.
void checkKubeletDestination(const std::string& nodeName, const std::string& host,
                             const KubeletClientOptions& options);

// /api/v1/nodes/{name}/proxy[/{path}] taken apart (upstream's NodeProxyOptions).
struct NodeProxyRequest {
  std::string name;    // {name}, decoded: "node", "node:port" or "scheme:node:port"
  std::string path;    // the rest, escaped as the client sent it: "" or "/stats/summary"
  std::string query;   // raw, without '?'
  std::string prefix;  // "/api/v1/nodes/{name}/proxy", escaped
};
// nullopt when `target` (HttpRequest::target) is not a nodes/proxy path.
std::optional<NodeProxyRequest> parseNodeProxyPath(const std::string& target);

class KubeletProxy {
 public:
  // Throws std::runtime_error when the client certificate cannot be loaded.
  explicit KubeletProxy(KubeletClientOptions options);
  ~KubeletProxy();
  KubeletProxy(const KubeletProxy&) = delete;
  KubeletProxy& operator=(const KubeletProxy&) = delete;

  // GET /api/v1/namespaces/{ns}/pods/{name}/log. Throws ApiError for failures known before
  // the kubelet answers; a 2xx answer becomes a streamed text/plain response.
  HttpResponse podLog(ResourceStore& store, const RequestInfo& ri, HttpRequest& req);
  // GET|POST /api/v1/namespaces/{ns}/pods/{name}/exec|attach|portforward (ri.subresource).
  // Throws ApiError for failures known before the kubelet answers; a kubelet's 101 becomes
  // ours, with the tunnel as its upgrade handler.
  HttpResponse podStream(ResourceStore& store, const RequestInfo& ri, HttpRequest& req);
  // Any method on /api/v1/nodes/{name}/proxy[/{path}].
  HttpResponse nodeProxy(ResourceStore& store, const NodeProxyRequest& np, HttpRequest& req);

  // GET `target` on NODE's kubelet (address, port and destination guard as above, the client
  // certificate) and its whole 2xx body, for the metrics scraper (apiserver/metrics_api.h):
  // everything within `timeout`, at most `maxBytes` of body. The connection stays open for
  // the node's next call (kubelet_scrape_connection.h); when the kubelet closed it, a new one
  // resumes the TLS session (handshakes counted by
  // skiff_kubelet_client_tls_handshakes_total{resumed}). Throws ApiError (500, "Get \"URL\":
  // ...") when the kubelet cannot be reached or answers another status.
  std::string getWhole(const boost::json::object& node, const std::string& target,
                       std::chrono::milliseconds timeout, size_t maxBytes);
  // Closes the kept connections and forgets the TLS sessions of nodes not named (deleted
  // ones).
  void retainSessions(const std::set<std::string>& nodeNames);
  // Kubelet connections kept open for the next scrape (benchmarks).
  size_t keptConnections() const;

  // Ends open exec/attach/port-forward tunnels and refuses new ones (server shutdown).
  void closeTunnels();
  // Tunnels currently piping (for tests).
  size_t openTunnels() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::apiserver
