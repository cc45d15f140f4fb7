// NodeAffinity: Filter applies spec.nodeSelector and required node affinity (terms ORed,
// expressions ANDed); Score sums the weights of matching preferred terms (upstream weight 2).
#pragma once
#include "scheduler/framework.h"

namespace skiff::scheduler {

// PreFilter and PreScore say Skip for a pod without selector/required terms or without
// preferred terms (as upstream), so the per-node loops leave the plugin out.
class NodeAffinity : public PreFilterPlugin, public FilterPlugin, public ScorePlugin {
 public:
  static constexpr std::string_view kName = "NodeAffinity";
  static constexpr std::string_view kReason = "node(s) didn't match Pod's node affinity/selector";
  static constexpr int64_t kDefaultWeight = 2;
  std::string_view name() const override { return kName; }
  Status preFilter(CycleState& state, const PodInfo& pod, const Snapshot& snapshot) const override;
  Status filter(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const override;
  Status preScore(CycleState& state, const PodInfo& pod, const Snapshot& snapshot,
                  const std::vector<NodeInfoPtr>& feasible) const override;
  int64_t score(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const override;
  void normalizeScore(const CycleState& state, const PodInfo& pod,
                      std::vector<NodeScore>& scores) const override;
};

// nodeSelector and required affinity; PodTopologySpread uses it to choose counted nodes.
bool matchesRequiredNodeAffinity(const PodInfo& pod, const NodeInfo& node);

}  // namespace skiff::scheduler
