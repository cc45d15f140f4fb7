#include "scheduler/plugins/node_affinity.h"

namespace skiff::scheduler {

bool matchesRequiredNodeAffinity(const PodInfo& pod, const NodeInfo& node) {
  for (const auto& [key, value] : pod.nodeSelector) {
    auto it = node.labels.find(key);
    if (it == node.labels.end() || it->second != value) return false;
  }
  if (!pod.requiredNodeAffinity) return true;
  for (const auto& term : *pod.requiredNodeAffinity) {
    if (term.matches(node.labels, node.name)) return true;
  }
  return false;  // no terms, or none matched
}

Status NodeAffinity::preFilter(CycleState&, const PodInfo& pod, const Snapshot&) const {
  return pod.nodeSelector.empty() && !pod.requiredNodeAffinity ? Status::skip() : Status::success();
}

Status NodeAffinity::preScore(CycleState&, const PodInfo& pod, const Snapshot&,
                              const std::vector<NodeInfoPtr>&) const {
  return pod.preferredNodeAffinity.empty() ? Status::skip() : Status::success();
}

Status NodeAffinity::filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) const {
  if (matchesRequiredNodeAffinity(pod, node)) return Status::success();
  return Status::unresolvable(std::string(kReason));
}

int64_t NodeAffinity::score(const CycleState&, const PodInfo& pod, const NodeInfo& node) const {
  int64_t sum = 0;
  for (const auto& pref : pod.preferredNodeAffinity) {
    if (pref.weight != 0 && pref.term.matches(node.labels, node.name)) sum += pref.weight;
  }
  return sum;
}

void NodeAffinity::normalizeScore(const CycleState&, const PodInfo&,
                                  std::vector<NodeScore>& scores) const {
  defaultNormalizeScore(kMaxNodeScore, false, scores);
}

}  // namespace skiff::scheduler
