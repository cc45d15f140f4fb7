// InterPodAffinity: Filter enforces required pod affinity, required pod anti-affinity and the
// required anti-affinity of pods already placed; Score sums preferred (anti-)affinity weights
// of both sides per topology domain (upstream weight 2, hardPodAffinityWeight 1).
// namespaceSelector is understood only when empty (all namespaces).
#pragma once
#include "scheduler/framework.h"

namespace skiff::scheduler {

class InterPodAffinity : public PreFilterPlugin, public FilterPlugin, public ScorePlugin {
 public:
  static constexpr std::string_view kName = "InterPodAffinity";
  static constexpr std::string_view kAffinityReason = "node(s) didn't match pod affinity rules";
  static constexpr std::string_view kAntiAffinityReason =
      "node(s) didn't match pod anti-affinity rules";
  static constexpr std::string_view kExistingAntiAffinityReason =
      "node(s) didn't satisfy existing pods anti-affinity rules";
  static constexpr int64_t kDefaultWeight = 2;
  static constexpr int64_t kHardPodAffinityWeight = 1;
  std::string_view name() const override { return kName; }

  Status preFilter(CycleState& state, const PodInfo& pod, const Snapshot& snapshot) const override;
  Status filter(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const override;

  Status preScore(CycleState& state, const PodInfo& pod, const Snapshot& snapshot,
                  const std::vector<NodeInfoPtr>& feasible) const override;
  int64_t score(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const override;
  void normalizeScore(const CycleState& state, const PodInfo& pod,
                      std::vector<NodeScore>& scores) const override;
};

// (topologyKey, value) -> count or weight.
using TopologyCounts = std::map<std::pair<std::string, std::string>, int64_t>;

}  // namespace skiff::scheduler
