// The aggregation layer (upstream's kube-aggregator inside kube-apiserver): APIServices of
// apiregistration.k8s.io/v1 say which group-versions this server serves itself ("local",
// no spec.service) and which an extension API server behind a Service serves.
//
//   - Local APIServices: one per built-in group-version, written at start (like upstream's
//     autoregister controller with the "onstart" label), with upstream's priorities; ones for
//     group-versions no longer built in are removed.
//   - Availability controller (one thread): keeps status.conditions[Available] of every
//     APIService current. Local: True/Local. With a service: the Service must exist
//     (ServiceNotFound) and have the port (ServicePortError), its Endpoints must exist
//     (EndpointsNotFound) and have a ready address for that port's name (MissingEndpoints;
//     without an Endpoints object its EndpointSlices are looked at instead),
//     and GET /apis/<group>/<version> on that address must answer 2xx within 5 s
//     (FailedDiscoveryCheck); then True/Passed. The answer, an APIResourceList, is kept for
//     discovery. It reruns on any change of APIServices, Services, Endpoints or EndpointSlices
//     and every 5 s; a backend is asked again when its spec or address changed, when a
//     proxied request to it failed, or when its last answer is 5 s old.
//   - Proxy: /apis/<group>/<version>[/...] of an APIService with a service goes to a ready
//     endpoint address of that Service over TLS (verified with spec.caBundle for the name
//     <service>.<namespace>.svc, or not at all with insecureSkipTLSVerify), with method,
//     path, query, body and headers; the caller's identity travels as X-Remote-User and
//     X-Remote-Group (upstream's front-proxy headers; Authorization, Impersonate-* and
//     incoming X-Remote-* are not passed on). Not available: 503 "service unavailable" as
//     plain text, as upstream's proxy answers.
//   - Discovery: the APIServices' group-versions join /apis (legacy and aggregated) and
//     /apis/<group>; a version whose last check failed is listed "Stale" without resources.
//     Available ones join the /openapi/v3 root, their documents proxied from the backend.
// Watches (GET with watch=true) are streamed as the backend sends them; other answers are read
// whole, then relayed. Not done: protocol upgrades (exec-like) through the proxy, a
// front-proxy client certificate (the extension server has to trust X-Remote-* from any TLS
// client).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/resource_registry.h"
#include "apiserver/discovery.h"
#include "net/http_types.h"

namespace skiff::apiserver {

class ResourceStore;

struct AggregatorOptions {
  // How often every APIService is checked again even without a change.
  std::chrono::milliseconds resyncPeriod{5000};
  // Discovery checks of extension servers (upstream: 5 s).
  std::chrono::milliseconds discoveryTimeout{5000};
  // Proxied requests: connecting and the TLS handshake, and the whole answer.
  std::chrono::milliseconds connectTimeout{5000};
  std::chrono::milliseconds responseTimeout{60000};
};

class Aggregator {
 public:
  Aggregator(ResourceStore& resources, const api::ResourceRegistry& registry,
             AggregatorOptions options = {});
  ~Aggregator();
  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;

  // A group-version this server serves itself besides the registry's (metrics.k8s.io,
  // apiserver/metrics_api.h): registerLocalApiServices() writes its local APIService too.
  void addLocalGroupVersion(const std::string& group, const std::string& version,
                            ApiServicePriority priority);
  // Writes the local APIServices (call once the store and caches are up).
  void registerLocalApiServices();
  // Starts / stops the availability controller.
  void start();
  void stop();
  // Runs one pass of the availability controller now (tests).
  void syncOnce();

  // The APIServices with a service, for discovery.
  std::vector<AggregatedVersion> discoveryVersions();
  // The /openapi/v3 root with the group-versions of available APIServices added; their
  // documents (/openapi/v3/apis/<group>/<version>) are the extension servers' own, proxied.
  std::string openApiV3Root(const std::string& builtinRoot);
  // Whether the request's path belongs to an APIService with a service (then proxy()):
  // /apis/<group>/<version>[/...] or /openapi/v3/apis/<group>/<version>.
  bool proxies(const std::string& path) const;
  // Relays the request to the extension server (blocking: run off the event loop).
  HttpResponse proxy(HttpRequest& req);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::apiserver
