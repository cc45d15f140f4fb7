// InterPodAffinity PreFilter/Filter (upstream interpodaffinity/filtering.go).
#include <algorithm>

#include "scheduler/plugins/inter_pod_affinity.h"

namespace skiff::scheduler {
namespace {

constexpr std::string_view kStateKey = "PreFilterInterPodAffinity";

struct AffinityFilterState : StateData {
  TopologyCounts existingAntiAffinity;  // domains where placed pods repel the incoming pod
  TopologyCounts affinity;              // domains with pods matching ALL required affinity terms
  TopologyCounts antiAffinity;          // domains with pods matching a required anti-affinity term
};

void bump(TopologyCounts& counts, const NodeInfo& node, const std::string& key) {
  if (auto it = node.labels.find(key); it != node.labels.end()) ++counts[{key, it->second}];
}

bool matchesAll(const std::vector<PodAffinityTerm>& terms, const PodInfo& pod) {
  return !terms.empty() &&
         std::all_of(terms.begin(), terms.end(), [&](const auto& t) { return t.matches(pod); });
}

}  // namespace

Status InterPodAffinity::preFilter(CycleState& state, const PodInfo& pod,
                                   const Snapshot& snapshot) const {
  auto s = std::make_shared<AffinityFilterState>();
  bool anyExistingAnti = false;
  // Without terms of its own the pod only meets existing pods' anti-affinity: skip nodes
  // that hold none (the common case; this loop used to walk every pod in the cluster).
  const bool podHasTerms = !pod.requiredAffinity.empty() || !pod.requiredAntiAffinity.empty();
  const auto& nodes = snapshot.nodes();
  auto visit = [&](const NodeInfoPtr& node) {
    for (const auto& existing : node->pods) {
      for (const auto& term : existing->requiredAntiAffinity) {
        anyExistingAnti = true;
        if (term.matches(pod)) bump(s->existingAntiAffinity, *node, term.topologyKey);
      }
      if (matchesAll(pod.requiredAffinity, *existing)) {
        for (const auto& term : pod.requiredAffinity) bump(s->affinity, *node, term.topologyKey);
      }
      for (const auto& term : pod.requiredAntiAffinity) {
        if (term.matches(*existing)) bump(s->antiAffinity, *node, term.topologyKey);
      }
    }
  };
  if (podHasTerms) {
    for (const auto& node : nodes) visit(node);
  } else {
    for (size_t i : snapshot.nodesWithRequiredAntiAffinity()) visit(nodes[i]);
  }
  if (!anyExistingAnti && pod.requiredAffinity.empty() && pod.requiredAntiAffinity.empty()) {
    return Status::skip();
  }
  state.write(kStateKey, std::move(s));
  return Status::success();
}

Status InterPodAffinity::filter(const CycleState& state, const PodInfo& pod,
                                const NodeInfo& node) const {
  const auto* s = state.read<AffinityFilterState>(kStateKey);
  if (!s) return Status::success();
  for (const auto& [pair, count] : s->existingAntiAffinity) {
    auto it = node.labels.find(pair.first);
    if (count > 0 && it != node.labels.end() && it->second == pair.second) {
      return Status::unschedulable(std::string(kExistingAntiAffinityReason));
    }
  }
  bool podsExist = true;
  for (const auto& term : pod.requiredAffinity) {
    auto it = node.labels.find(term.topologyKey);
    if (it == node.labels.end()) return Status::unresolvable(std::string(kAffinityReason));
    auto c = s->affinity.find({term.topologyKey, it->second});
    if (c == s->affinity.end() || c->second <= 0) podsExist = false;
  }
  // The first pod of a group with affinity to itself may go anywhere with the topology keys.
  if (!podsExist && !(s->affinity.empty() && matchesAll(pod.requiredAffinity, pod))) {
    return Status::unresolvable(std::string(kAffinityReason));
  }
  for (const auto& term : pod.requiredAntiAffinity) {
    auto it = node.labels.find(term.topologyKey);
    if (it == node.labels.end()) continue;
    auto c = s->antiAffinity.find({term.topologyKey, it->second});
    if (c != s->antiAffinity.end() && c->second > 0)
      return Status::unschedulable(std::string(kAntiAffinityReason));
  }
  return Status::success();
}

}  // namespace skiff::scheduler
