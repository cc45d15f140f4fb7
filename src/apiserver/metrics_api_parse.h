// The kubelet's /metrics/resource (Prometheus text exposition format 0.0.4) read into the compact
// points the metrics API keeps per node (apiserver/metrics_api_store.h). Upstream's metric names,
// as metrics-server reads them:
//   node_cpu_usage_seconds_total            cumulative CPU seconds of the node
//   node_memory_working_set_bytes           the node's working set
//   container_cpu_usage_seconds_total       {namespace, pod, container} cumulative CPU seconds
//   container_memory_working_set_bytes      {namespace, pod, container}
//   container_start_time_seconds            {namespace, pod, container} Unix seconds
// each sample with its timestamp in milliseconds (a sample without one is dated `nowMs`).
// Everything else (# HELP/# TYPE lines, pod_* and scrape_error samples, unknown metrics) is
// skipped; so is a line that does not parse, or a NaN/Inf/negative value: a kubelet of another
// version, or one in the middle of a restart, degrades to fewer points, never to an error.
// Nothing here allocates per sample beyond the names kept.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::apiserver {

// One container's last readings. Times are Unix milliseconds; 0 means "not reported".
struct ContainerPoint {
  std::string name;
  int64_t startMs = 0;    // container_start_time_seconds (tells a restart apart)
  int64_t cpuMs = 0;      // when cpuSeconds was read
  double cpuSeconds = 0;  // cumulative
  int64_t memMs = 0;
  uint64_t memBytes = 0;
  bool hasCpu() const { return cpuMs != 0; }
  bool hasMemory() const { return memMs != 0; }
};

struct PodPoint {
  std::string ns, name;
  std::vector<ContainerPoint> containers;  // sorted by name
};

struct NodePoint {
  int64_t cpuMs = 0;
  double cpuSeconds = 0;
  int64_t memMs = 0;
  uint64_t memBytes = 0;
  bool hasCpu() const { return cpuMs != 0; }
  bool hasMemory() const { return memMs != 0; }
};

// One scrape of one node.
struct ScrapeBatch {
  NodePoint node;
  std::vector<PodPoint> pods;  // sorted by (ns, name)
  size_t skippedLines = 0;     // lines that did not parse (for the log)

  // The pod, or null.
  const PodPoint* pod(std::string_view ns, std::string_view name) const;
  // Heap and inline bytes this batch holds (what the memory measurement adds up).
  size_t bytes() const;
};

ScrapeBatch parseResourceMetrics(std::string_view text, int64_t nowMs);

}  // namespace skiff::apiserver
