// The scheduling framework's seams (upstream pkg/scheduler/framework/interface.go, in small):
// plugins implement one interface per extension point; a Profile holds them with weights.
// Filter and Score run concurrently over nodes, so they are const and read CycleState only;
// PreFilter/PreScore write CycleState before the parallel phase.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "scheduler/types.h"

namespace skiff::scheduler {

inline constexpr int64_t kMaxNodeScore = 100;

class Status {
 public:
  enum class Code { Success, Error, Unschedulable, UnschedulableAndUnresolvable, Skip };

  Status() = default;
  Status(Code code, std::vector<std::string> reasons) : code_(code), reasons_(std::move(reasons)) {}
  static Status success() { return {}; }
  static Status skip() { return {Code::Skip, {}}; }
  static Status unschedulable(std::string reason) {
    return {Code::Unschedulable, {std::move(reason)}};
  }
  static Status unresolvable(std::string reason) {
    return {Code::UnschedulableAndUnresolvable, {std::move(reason)}};
  }
  static Status error(std::string message) { return {Code::Error, {std::move(message)}}; }

  Code code() const { return code_; }
  bool isSuccess() const { return code_ == Code::Success; }
  bool isSkip() const { return code_ == Code::Skip; }
  bool isRejected() const {
    return code_ == Code::Unschedulable || code_ == Code::UnschedulableAndUnresolvable;
  }
  // Reasons exactly as upstream prints them; FailedScheduling counts them per node.
  const std::vector<std::string>& reasons() const { return reasons_; }
  std::string message() const;
  // Name of the plugin that produced a rejection (the queue uses it to pick wake-up events).
  const std::string& plugin() const { return plugin_; }
  Status& withPlugin(std::string_view name) {
    plugin_ = name;
    return *this;
  }

 private:
  Code code_ = Code::Success;
  std::vector<std::string> reasons_;
  std::string plugin_;
};

// Per-cycle data a plugin computes once (PreFilter/PreScore) and reads per node.
struct StateData {
  virtual ~StateData() = default;
};

class FilterPlugin;

class CycleState {
 public:
  void write(std::string_view key, std::shared_ptr<StateData> data) {
    data_.insert_or_assign(std::string(key), std::move(data));
  }
  // Called per node by Filter and Score: the transparent map looks up without building a key.
  template <class T>
  const T* read(std::string_view key) const {
    auto it = data_.find(key);
    return it == data_.end() ? nullptr : dynamic_cast<const T*>(it->second.get());
  }
  // Plugins whose PreFilter said Skip: their Filter is not run this cycle.
  std::vector<std::string> skipFilter;
  std::vector<std::string> skipScore;
  // Set by a successful Profile::runPreFilters: the filters to run on every node this cycle
  // (skipped ones left out), so the per-node loop compares no plugin names.
  std::vector<const FilterPlugin*> activeFilters;
  bool activeFiltersSet = false;

 private:
  std::map<std::string, std::shared_ptr<StateData>, std::less<>> data_;
};

// Immutable view of the cluster for one scheduling cycle.
class Snapshot {
 public:
  Snapshot() = default;
  explicit Snapshot(std::vector<NodeInfoPtr> nodes);
  const std::vector<NodeInfoPtr>& nodes() const { return nodes_; }
  const NodeInfo* get(std::string_view name) const;
  // Number of nodes that have the (normalized) image; ImageLocality spreads its score by it.
  int nodesWithImage(std::string_view image) const;
  // Indices into nodes() of the nodes holding pods with any pod (anti-)affinity term, and
  // with a required anti-affinity term (upstream's havePodsWithAffinityNodeInfoList): the
  // InterPodAffinity pre-passes walk these instead of every node of the cluster.
  const std::vector<size_t>& nodesWithPodAffinity() const { return withAffinity_; }
  const std::vector<size_t>& nodesWithRequiredAntiAffinity() const { return withRequiredAnti_; }
  // Replaces one node (preemption's what-if); other nodes stay shared.
  Snapshot withNode(NodeInfoPtr node) const;
  // The cache's incremental update: replaces the node of the same name in place when that
  // leaves the name index and image counts valid (same images); false when the caller must
  // rebuild. Only for a Snapshot nobody else is reading.
  bool replaceNode(NodeInfoPtr node);

 private:
  std::vector<NodeInfoPtr> nodes_;
  // Shared between copies: most updates change pods on a node, not names or images.
  std::shared_ptr<const std::unordered_map<std::string, size_t>> index_;
  std::shared_ptr<const std::unordered_map<std::string, int>> imageNodes_;
  std::vector<size_t> withAffinity_, withRequiredAnti_;
  void rebuildAffinityLists();
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual std::string_view name() const = 0;
};
using PluginPtr = std::shared_ptr<Plugin>;

class PreFilterPlugin : public virtual Plugin {
 public:
  // Computes state for Filter. Skip: the plugin's Filter does not apply to this pod.
  virtual Status preFilter(CycleState& state, const PodInfo& pod,
                           const Snapshot& snapshot) const = 0;
};

class FilterPlugin : public virtual Plugin {
 public:
  // Whether the pod fits the node. Must be thread-safe.
  virtual Status filter(const CycleState& state, const PodInfo& pod,
                        const NodeInfo& node) const = 0;
};

struct NodeScore {
  // Views the NodeInfo's name in the cycle's snapshot, which outlives the scores: copying
  // 500 names per plugin per cycle was a measurable share of a scheduling cycle.
  std::string_view name;
  int64_t score = 0;
};

class ScorePlugin : public virtual Plugin {
 public:
  // Runs once before scoring with the feasible nodes; Skip leaves every node at 0.
  virtual Status preScore(CycleState&, const PodInfo&, const Snapshot&,
                          const std::vector<NodeInfoPtr>& /*feasible*/) const {
    return Status::success();
  }
  // Raw score of one node. Must be thread-safe.
  virtual int64_t score(const CycleState& state, const PodInfo& pod,
                        const NodeInfo& node) const = 0;
  // Maps raw scores into [0, kMaxNodeScore]; default: already in range.
  virtual void normalizeScore(const CycleState&, const PodInfo&, std::vector<NodeScore>&) const {}
};

// Per-node filter outcome of a failed cycle; nodes absent from the map were not evaluated.
using NodeToStatus = std::map<std::string, Status, std::less<>>;

struct PostFilterResult {
  std::string nominatedNode;  // empty: no node can be made feasible
  std::vector<PodInfoPtr> victims;
  std::string message;  // appended to the FailedScheduling message when nothing was found
};

class PostFilterPlugin : public virtual Plugin {
 public:
  virtual PostFilterResult postFilter(const PodInfo& pod, const Snapshot& snapshot,
                                      const NodeToStatus& statuses) const = 0;
};

// The plugins of one scheduler profile, in run order, with score weights.
class Profile {
 public:
  // Registers the plugin at every extension point it implements.
  void add(PluginPtr plugin, int64_t scoreWeight = 1);

  const std::vector<std::shared_ptr<const PreFilterPlugin>>& preFilters() const {
    return preFilters_;
  }
  const std::vector<std::shared_ptr<const FilterPlugin>>& filters() const { return filters_; }
  const std::vector<std::pair<std::shared_ptr<const ScorePlugin>, int64_t>>& scorers() const {
    return scorers_;
  }
  const std::vector<std::shared_ptr<const PostFilterPlugin>>& postFilters() const {
    return postFilters_;
  }

  // PreFilter of every plugin; a rejection ends the cycle for all nodes.
  Status runPreFilters(CycleState& state, const PodInfo& pod, const Snapshot& snapshot) const;
  // Filters in order, stopping at the first rejection (as upstream outside preemption).
  Status runFilters(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const;

 private:
  std::vector<std::shared_ptr<const PreFilterPlugin>> preFilters_;
  std::vector<std::shared_ptr<const FilterPlugin>> filters_;
  std::vector<std::pair<std::shared_ptr<const ScorePlugin>, int64_t>> scorers_;
  std::vector<std::shared_ptr<const PostFilterPlugin>> postFilters_;
};

// Upstream helper.DefaultNormalizeScore: scale to [0, max]; `reverse` flips (fewer is better).
void defaultNormalizeScore(int64_t maxPriority, bool reverse, std::vector<NodeScore>& scores);

}  // namespace skiff::scheduler
