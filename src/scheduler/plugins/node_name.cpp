#include "scheduler/plugins/node_name.h"

namespace skiff::scheduler {

Status NodeName::filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) const {
  if (pod.nodeName.empty() || pod.nodeName == node.name) return Status::success();
  return Status::unresolvable(std::string(kReason));
}

}  // namespace skiff::scheduler
