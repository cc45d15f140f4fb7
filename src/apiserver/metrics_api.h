// metrics.k8s.io/v1beta1 served by the API server itself (metrics-server built in; issue 21).
//
//   - Resources: NodeMetrics `nodes` (cluster-scoped) and PodMetrics `pods` (namespaced), verbs
//     get and list only, as metrics-server registers them. Lists take labelSelector and
//     fieldSelector (metadata.name, metadata.namespace: the object-meta fields metrics-server
//     matches) and run over the Nodes and Pods of the watch cache, in name order; a pod is
//     listed only while Running and once it has usage. Writes answer 405, watch 405.
//   - Shapes as metrics-server writes them: metadata {name, namespace, creationTimestamp (now),
//     labels (the node's or pod's)}, `timestamp` (the newer scrape point), `window` (Go
//     duration between the two points), `usage` {cpu in nanocores ("12345n", canonical
//     Quantity), memory in bytes (BinarySI: "1234Ki")}; pods have containers[] {name, usage}.
//     List items carry no kind/apiVersion, the list `metadata: {}`.
//   - Not found, as metrics-server: a node or pod that does not exist is the core lister's
//     NotFound (`node "x" not found`, `pods "x" not found`); one that exists without usage yet
//     `nodemetrics.metrics.k8s.io "x" not found` / `podmetrics.metrics.k8s.io "ns/x" not found`.
//   - Table output (Accept ...;as=Table): metrics-server's columns Name, cpu, memory (summed
//     over containers for pods), Window; no columns when there are no rows.
//   - Discovery: the group-version joins /apis (legacy and aggregated) with priorities 100/100
//     (upstream's metrics-server APIService); GET /apis/metrics.k8s.io/v1beta1 answers the
//     APIResourceList here. The APIService v1beta1.metrics.k8s.io is a local one (written by
//     the aggregator at start, Available/Local), since no Service stands behind it.
//   - Usage comes from MetricsStore (metrics_api_store.h), fed by the scraper: every
//     `resolution` one pass over the Nodes of the cache, up to `parallelism` kubelets at a time,
//     GET /metrics/resource through KubeletProxy::getWhole (HTTPS, the API server's kubelet
//     client certificate, resumed TLS sessions, timeout 0.9 × resolution as metrics-server).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "apiserver/discovery.h"
#include "net/http_types.h"

namespace skiff::apiserver {

class ResourceStore;
class KubeletProxy;
class MetricsStore;

struct MetricsApiOptions {
  std::chrono::milliseconds resolution{15000};  // --metric-resolution
  size_t parallelism = 16;                      // kubelets scraped at a time
  size_t maxBodyBytes = 16 << 20;               // a /metrics/resource answer
};

struct ScrapeStats {
  size_t nodes = 0, succeeded = 0, failed = 0;
  size_t bytesRead = 0;   // response bodies of the pass
  size_t storeBytes = 0;  // MetricsStore::bytes() after the pass
  std::chrono::microseconds took{0};
};

// Go's time.Duration.String() of a millisecond count ("15.011s", "1m0s", "500ms").
std::string goDuration(int64_t ms);
// Usage as metrics-server's Quantities: CPU NewScaledQuantity(n, Nano), memory BinarySI.
std::string cpuQuantity(int64_t nanocores);
std::string memoryQuantity(uint64_t bytes);

class MetricsApi {
 public:
  static constexpr const char* kGroup = "metrics.k8s.io";
  static constexpr const char* kVersion = "v1beta1";

  MetricsApi(ResourceStore& resources, KubeletProxy& kubelets, MetricsApiOptions options = {});
  ~MetricsApi();
  MetricsApi(const MetricsApi&) = delete;
  MetricsApi& operator=(const MetricsApi&) = delete;

  // Starts / stops the scraper thread.
  void start();
  void stop();
  // One scrape pass now, on the caller's thread.
  ScrapeStats scrapeOnce();
  ScrapeStats lastScrape() const;

  // Whether PATH is /apis/metrics.k8s.io/v1beta1[/...].
  static bool serves(const std::string& path);
  // Answers a request under that path (lists run long: call it off the event loop).
  HttpResponse handle(HttpRequest& req);
  // The group-version for discovery, with its resources.
  static AggregatedVersion discoveryVersion();

  MetricsStore& store();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::apiserver
