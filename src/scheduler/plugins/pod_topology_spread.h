// PodTopologySpread: Filter enforces DoNotSchedule constraints (skew of matching pods between
// topology domains <= maxSkew, with minDomains); Score prefers nodes in less crowded domains
// for ScheduleAnyway constraints (upstream weight 2). Nodes are counted when they match the
// pod's required node affinity (nodeAffinityPolicy Honor) and regardless of taints
// (nodeTaintsPolicy Ignore), the upstream defaults. matchLabelKeys is not supported yet.
#pragma once
#include "scheduler/framework.h"

namespace skiff::scheduler {

class PodTopologySpread : public PreFilterPlugin, public FilterPlugin, public ScorePlugin {
 public:
  static constexpr std::string_view kName = "PodTopologySpread";
  static constexpr std::string_view kReason =
      "node(s) didn't match pod topology spread constraints";
  static constexpr std::string_view kMissingLabelReason =
      "node(s) didn't match pod topology spread constraints (missing required label)";
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

// Pods on the node in `ns`, not terminating, whose labels match the selector.
int64_t countMatchingPods(const NodeInfo& node, const api::LabelSelector& selector,
                          const std::string& ns);

}  // namespace skiff::scheduler
