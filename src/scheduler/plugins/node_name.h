// NodeName: a pod with spec.nodeName fits only that node.
#pragma once
#include "scheduler/framework.h"

namespace skiff::scheduler {

class NodeName : public FilterPlugin {
 public:
  static constexpr std::string_view kName = "NodeName";
  static constexpr std::string_view kReason = "node(s) didn't match the requested node name";
  std::string_view name() const override { return kName; }
  Status filter(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const override;
};

}  // namespace skiff::scheduler
