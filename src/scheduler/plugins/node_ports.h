// NodePorts: the pod's hostPorts must be free on the node (same protocol+port on an
// overlapping IP conflicts). Unschedulable, not unresolvable: preemption can free a port.
#pragma once
#include "scheduler/framework.h"

namespace skiff::scheduler {

class NodePorts : public PreFilterPlugin, public FilterPlugin {
 public:
  static constexpr std::string_view kName = "NodePorts";
  static constexpr std::string_view kReason =
      "node(s) didn't have free ports for the requested pod ports";
  std::string_view name() const override { return kName; }
  Status preFilter(CycleState& state, const PodInfo& pod, const Snapshot& snapshot) const override;
  Status filter(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const override;
};

}  // namespace skiff::scheduler
