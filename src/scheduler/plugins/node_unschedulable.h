// NodeUnschedulable: nodes with spec.unschedulable take only pods tolerating the
// node.kubernetes.io/unschedulable:NoSchedule taint.
#pragma once
#include "scheduler/framework.h"

namespace skiff::scheduler {

class NodeUnschedulable : public FilterPlugin {
 public:
  static constexpr std::string_view kName = "NodeUnschedulable";
  static constexpr std::string_view kReason = "node(s) were unschedulable";
  std::string_view name() const override { return kName; }
  Status filter(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const override;
};

}  // namespace skiff::scheduler
