#include "scheduler/plugins/node_ports.h"

namespace skiff::scheduler {

Status NodePorts::preFilter(CycleState&, const PodInfo& pod, const Snapshot&) const {
  return pod.hostPorts.empty() ? Status::skip() : Status::success();
}

Status NodePorts::filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) const {
  for (const auto& want : pod.hostPorts) {
    for (const auto& used : node.usedPorts) {
      if (want.conflicts(used)) return Status::unschedulable(std::string(kReason));
    }
  }
  return Status::success();
}

}  // namespace skiff::scheduler
