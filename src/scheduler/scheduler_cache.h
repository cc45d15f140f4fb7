// The scheduler's view of nodes and the pods on them (upstream internal/cache), including
// pods the scheduler has assumed onto a node before the binding is confirmed by a watch.
// NodeInfos are immutable once shared: a change replaces the node's NodeInfo (copy-on-write),
// and snapshot() swaps just the changed nodes into the last snapshot (a full rebuild only
// when nodes come or go), so a cycle on a large cluster does not pay for the whole cluster.
// Assumed pods whose binding finished but never showed up in the watch expire after `ttl`.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "scheduler/framework.h"

namespace skiff::scheduler {

class SchedulerCache {
 public:
  using Clock = std::function<TimePoint()>;
  explicit SchedulerCache(
      std::chrono::seconds assumedTtl = std::chrono::minutes(15),
      Clock clock = [] { return std::chrono::system_clock::now(); });

  // Node object changes; pods already on the node are kept.
  void addOrUpdateNode(const NodeInfo& node);
  void removeNode(const std::string& name);

  // Bound pods seen by the watch. Adding an assumed pod confirms it.
  void addPod(PodInfoPtr pod);
  void updatePod(PodInfoPtr pod);
  void removePod(const std::string& key);

  // Places the pod (pod->nodeName set) before binding, so the next cycle sees it.
  // False when the pod is already in the cache.
  bool assumePod(PodInfoPtr pod);
  // Binding request sent; from now the assumption may expire.
  void finishBinding(const std::string& key);
  // Binding failed: undo the assumption.
  void forgetPod(const std::string& key);
  bool isAssumed(const std::string& key) const;
  // Drops assumed pods whose binding finished more than ttl ago without confirmation.
  void cleanupExpiredAssumedPods();

  // The current nodes (only those with a Node object), shared until the next change.
  std::shared_ptr<const Snapshot> snapshot();
  size_t podCount() const;

 private:
  struct NodeEntry {
    NodeInfoPtr info;
    bool hasNode = false;  // pods can arrive before their Node
  };
  struct PodState {
    PodInfoPtr pod;
    bool assumed = false;
    bool bindingFinished = false;
    TimePoint deadline{};
  };
  void placePod(const PodInfoPtr& pod);  // mu_ held
  void markDirty(const std::string& node);
  void unplacePod(const PodInfo& pod);
  // `old` leaves and `pod` joins the same node, in one copy of its info.
  void replaceOnNode(const PodInfo& old, const PodInfoPtr& pod);

  std::chrono::seconds ttl_;
  Clock clock_;
  mutable std::mutex mu_;
  std::map<std::string, NodeEntry, std::less<>> nodes_;
  std::map<std::string, PodState, std::less<>> pods_;
  // Kept up to date incrementally: nodes whose NodeInfo changed are listed in dirty_ and
  // swapped into the snapshot by the next snapshot() call (in place when no cycle still
  // holds it); null when the node set changed and it must be rebuilt.
  std::shared_ptr<Snapshot> snapshot_;
  std::set<std::string, std::less<>> dirty_;
};

}  // namespace skiff::scheduler
