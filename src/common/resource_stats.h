// One node's resource usage (node, pods, containers) and its two renderings, shared by the
// real kubelet (numbers from /proc, cgroups and CRI) and hollow nodes (synthetic numbers):
//
//   renderResourceMetrics  GET /metrics/resource, upstream's kubelet resource metrics
//                          (GA since 1.29) in the Prometheus text format with millisecond
//                          timestamps: node_cpu_usage_seconds_total, node_memory_working_set_bytes,
//                          container_cpu_usage_seconds_total{container,namespace,pod},
//                          container_memory_working_set_bytes{...}, container_start_time_seconds
//                          {...}, pod_cpu_usage_seconds_total{namespace,pod},
//                          pod_memory_working_set_bytes{...}, resource_scrape_error (and the
//                          deprecated scrape_error). metrics-server ≥ 0.6 scrapes exactly this.
//   renderStatsSummary     GET /stats/summary, the Summary API (stats.k8s.io/v1alpha1) fields
//                          the metrics pipeline reads: node/pod/container cpu and memory.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace skiff {

struct ResourceUsage {
  int64_t timeMs = 0;                    // when sampled, Unix milliseconds
  std::optional<uint64_t> cpuCoreNanos;  // cumulative CPU time, core-nanoseconds
  std::optional<uint64_t> cpuNanoCores;  // rate over the last sampling interval
  std::optional<uint64_t> workingSetBytes, usageBytes, rssBytes, availableBytes, pageFaults,
      majorPageFaults;
};

struct ContainerResourceStats {
  std::string name;
  int64_t startTimeMs = 0;  // Unix milliseconds; 0: unknown
  ResourceUsage usage;
};

struct PodResourceStats {
  std::string ns, name, uid;
  int64_t startTimeMs = 0;
  ResourceUsage usage;
  std::vector<ContainerResourceStats> containers;
};

struct NodeResourceStats {
  std::string nodeName;
  int64_t startTimeMs = 0;
  ResourceUsage usage;
  std::vector<PodResourceStats> pods;
  bool scrapeError = false;  // some container's stats could not be read
};

std::string renderResourceMetrics(const NodeResourceStats& stats);
boost::json::object renderStatsSummary(const NodeResourceStats& stats);

// Unix milliseconds as RFC 3339 with seconds ("2026-01-02T03:04:05Z"), as metav1.Time prints.
std::string formatUnixMillis(int64_t ms);

}  // namespace skiff
