// The API server's side of pods/log: finds the pod's node and kubelet, and streams the
// kubelet's /containerLogs answer back (upstream's pod LogREST + LogLocation + the kubelet
// client). Asio/Beast stay in kubelet_proxy.cpp.
//
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
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "apiserver/http_types.h"
#include "apiserver/request_info.h"
#include "apiserver/resource_store.h"

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
};

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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::apiserver
