// NodeResourcesBalancedAllocation: favours nodes whose cpu and memory would be used in equal
// fractions after placing the pod: score = (1 - stddev of the fractions) * 100. Uses the real
// requests (not the non-zero defaults), as upstream; best-effort pods are not scored.
#pragma once
#include "scheduler/framework.h"

namespace skiff::scheduler {

class BalancedAllocation : public ScorePlugin {
 public:
  static constexpr std::string_view kName = "NodeResourcesBalancedAllocation";
  static constexpr int64_t kDefaultWeight = 1;
  std::string_view name() const override { return kName; }
  Status preScore(CycleState& state, const PodInfo& pod, const Snapshot& snapshot,
                  const std::vector<NodeInfoPtr>& feasible) const override;
  int64_t score(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const override;
};

}  // namespace skiff::scheduler
