#include "scheduler/plugins/taint_toleration.h"

namespace skiff::scheduler {

Status TaintToleration::filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) const {
  for (const auto& taint : node.taints) {
    // PreferNoSchedule only affects scoring.
    if (taint.effect != TaintEffect::NoSchedule && taint.effect != TaintEffect::NoExecute) continue;
    if (!toleratesAny(pod.tolerations, taint)) {
      return Status::unresolvable("node(s) had untolerated taint {" + taint.key + ": " +
                                  taint.value + "}");
    }
  }
  return Status::success();
}

int64_t TaintToleration::score(const CycleState&, const PodInfo& pod, const NodeInfo& node) const {
  // Only tolerations that could apply to PreferNoSchedule count, as upstream; a toleration
  // naming another effect never tolerates a PreferNoSchedule taint, so tolerates() already
  // leaves those out.
  int64_t intolerable = 0;
  for (const auto& taint : node.taints) {
    if (taint.effect == TaintEffect::PreferNoSchedule && !toleratesAny(pod.tolerations, taint))
      ++intolerable;
  }
  return intolerable;
}

void TaintToleration::normalizeScore(const CycleState&, const PodInfo&,
                                     std::vector<NodeScore>& scores) const {
  defaultNormalizeScore(kMaxNodeScore, true, scores);
}

}  // namespace skiff::scheduler
