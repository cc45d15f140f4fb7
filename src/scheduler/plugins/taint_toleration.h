// TaintToleration: Filter rejects nodes with an untolerated NoSchedule/NoExecute taint;
// Score prefers nodes with fewer untolerated PreferNoSchedule taints (upstream weight 3).
#pragma once
#include "scheduler/framework.h"

namespace skiff::scheduler {

class TaintToleration : public FilterPlugin, public ScorePlugin {
 public:
  static constexpr std::string_view kName = "TaintToleration";
  static constexpr int64_t kDefaultWeight = 3;
  std::string_view name() const override { return kName; }
  Status filter(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const override;
  int64_t score(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const override;
  void normalizeScore(const CycleState& state, const PodInfo& pod,
                      std::vector<NodeScore>& scores) const override;
};

}  // namespace skiff::scheduler
