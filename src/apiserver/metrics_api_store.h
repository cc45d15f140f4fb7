// What the metrics API serves: the last two scrapes' points of every node, and the usage
// computed from them on request (metrics-server's storage rules):
//   - CPU usage is a rate: (cumulative seconds now − before) / (time now − before), so a node,
//     pod or container needs two points; the window is the time between them and the
//     timestamp the newer one's;
//   - a new point becomes "now" only when it is newer than the stored one (a kubelet answering
//     from its stats cache repeats a timestamp); the previous point is kept per entity;
//   - a container whose start time changed (restarted) or whose counter went down has no
//     usage until it has two points of its new life; a pod is served when at least one of its
//     containers has usage;
//   - memory is the newest working set.
// Kept in memory only (never in the store), compact: the numbers and names of the points,
// no JSON. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "apiserver/metrics_api_parse.h"

namespace skiff::apiserver {

struct ResourceUsage {
  int64_t nanocores = 0;
  uint64_t memoryBytes = 0;
};

struct NodeUsage {
  int64_t timestampMs = 0, windowMs = 0;
  ResourceUsage usage;
};

struct PodUsage {
  int64_t timestampMs = 0, windowMs = 0;
  std::vector<std::pair<std::string, ResourceUsage>> containers;  // by name
};

// The usage between two points of one counter, or nullopt (no rate: see above).
std::optional<int64_t> cpuNanocores(int64_t prevMs, double prevSeconds, int64_t lastMs,
                                    double lastSeconds);

class MetricsStore {
 public:
  // Adds a node's scrape: its points become the newest, the replaced ones the previous.
  void store(const std::string& node, ScrapeBatch batch);
  // Drops the nodes not in `nodes` (deleted ones).
  void retain(const std::set<std::string>& nodes);

  std::optional<NodeUsage> nodeUsage(const std::string& node) const;
  std::optional<PodUsage> podUsage(const std::string& node, const std::string& ns,
                                   const std::string& pod) const;

  size_t nodeCount() const;
  // Bytes held for all nodes (points, names, map nodes).
  size_t bytes() const;

 private:
  struct NodeEntry {
    ScrapeBatch last, prev;  // prev holds only entities with an older point
  };
  mutable std::mutex mu_;
  std::map<std::string, NodeEntry, std::less<>> nodes_;
};

}  // namespace skiff::apiserver
