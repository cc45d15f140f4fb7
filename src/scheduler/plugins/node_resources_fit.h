// NodeResourcesFit: Filter checks the pod's requests (upstream rule: max(sum of containers,
// max init container) + overhead, see PodInfo) and the pod count against what is left on the
// node; Score uses the LeastAllocated strategy over cpu and memory (upstream weight 1).
#pragma once
#include "scheduler/framework.h"

namespace skiff::scheduler {

class NodeResourcesFit : public FilterPlugin, public ScorePlugin {
 public:
  static constexpr std::string_view kName = "NodeResourcesFit";
  static constexpr int64_t kDefaultWeight = 1;
  std::string_view name() const override { return kName; }
  Status filter(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const override;
  int64_t score(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const override;
};

// Every reason the pod does not fit ("Too many pods", "Insufficient cpu", ...), in upstream's
// order; empty when it fits. Shared with preemption's what-if checks.
std::vector<std::string> insufficientResources(const PodInfo& pod, const NodeInfo& node);

}  // namespace skiff::scheduler
