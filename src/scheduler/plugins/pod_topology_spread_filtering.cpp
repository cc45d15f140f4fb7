// PodTopologySpread PreFilter/Filter (upstream podtopologyspread/filtering.go).
#include <algorithm>
#include <limits>

#include "scheduler/plugins/node_affinity.h"
#include "scheduler/plugins/pod_topology_spread.h"

namespace skiff::scheduler {
namespace {

constexpr std::string_view kStateKey = "PreFilterPodTopologySpread";

struct SpreadFilterState : StateData {
  std::vector<const TopologySpreadConstraint*> constraints;  // point into the PodInfo
  // Per constraint: matching pods per topology value among eligible nodes.
  std::vector<std::map<std::string, int64_t, std::less<>>> counts;
  std::vector<int64_t> globalMin;
};

bool hasAllKeys(const NodeInfo& node, const std::vector<const TopologySpreadConstraint*>& cs) {
  return std::all_of(cs.begin(), cs.end(),
                     [&](auto* c) { return node.labels.contains(c->topologyKey); });
}

}  // namespace

int64_t countMatchingPods(const NodeInfo& node, const api::LabelSelector& selector,
                          const std::string& ns) {
  int64_t n = 0;
  for (const auto& p : node.pods) {
    if (p->ns == ns && !p->terminating && selectorMatches(selector, p->labels)) ++n;
  }
  return n;
}

Status PodTopologySpread::preFilter(CycleState& state, const PodInfo& pod,
                                    const Snapshot& snapshot) const {
  auto s = std::make_shared<SpreadFilterState>();
  for (const auto& c : pod.spreadConstraints) {
    if (c.doNotSchedule) s->constraints.push_back(&c);
  }
  if (s->constraints.empty()) return Status::skip();
  s->counts.resize(s->constraints.size());
  for (const auto& node : snapshot.nodes()) {
    if (!matchesRequiredNodeAffinity(pod, *node) || !hasAllKeys(*node, s->constraints)) continue;
    for (size_t i = 0; i < s->constraints.size(); ++i) {
      const auto* c = s->constraints[i];
      s->counts[i][node->labels.find(c->topologyKey)->second] +=
          countMatchingPods(*node, c->selector, pod.ns);
    }
  }
  for (size_t i = 0; i < s->constraints.size(); ++i) {
    int64_t min = std::numeric_limits<int64_t>::max();
    for (const auto& [value, n] : s->counts[i]) min = std::min(min, n);
    // Fewer domains than minDomains: the missing domains count as empty ones.
    if (s->counts[i].empty() ||
        static_cast<int64_t>(s->counts[i].size()) < s->constraints[i]->minDomains)
      min = 0;
    s->globalMin.push_back(min);
  }
  state.write(kStateKey, std::move(s));
  return Status::success();
}

Status PodTopologySpread::filter(const CycleState& state, const PodInfo& pod,
                                 const NodeInfo& node) const {
  const auto* s = state.read<SpreadFilterState>(kStateKey);
  if (!s) return Status::success();
  for (size_t i = 0; i < s->constraints.size(); ++i) {
    const auto* c = s->constraints[i];
    auto label = node.labels.find(c->topologyKey);
    if (label == node.labels.end()) return Status::unresolvable(std::string(kMissingLabelReason));
    int64_t self = selectorMatches(c->selector, pod.labels) ? 1 : 0;
    auto it = s->counts[i].find(label->second);
    int64_t matching = it == s->counts[i].end() ? 0 : it->second;
    if (matching + self - s->globalMin[i] > c->maxSkew)
      return Status::unschedulable(std::string(kReason));
  }
  return Status::success();
}

}  // namespace skiff::scheduler
