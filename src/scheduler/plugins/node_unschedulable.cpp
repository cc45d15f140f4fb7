#include "scheduler/plugins/node_unschedulable.h"

namespace skiff::scheduler {

Status NodeUnschedulable::filter(const CycleState&, const PodInfo& pod,
                                 const NodeInfo& node) const {
  if (!node.unschedulable) return Status::success();
  static const Taint kTaint{"node.kubernetes.io/unschedulable", "", TaintEffect::NoSchedule};
  if (toleratesAny(pod.tolerations, kTaint)) return Status::success();
  return Status::unresolvable(std::string(kReason));
}

}  // namespace skiff::scheduler
