// PodTopologySpread PreScore/Score/NormalizeScore (upstream podtopologyspread/scoring.go).
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "scheduler/plugins/node_affinity.h"
#include "scheduler/plugins/pod_topology_spread.h"

namespace skiff::scheduler {
namespace {

constexpr std::string_view kStateKey = "PreScorePodTopologySpread";

struct SpreadScoreState : StateData {
  std::vector<const TopologySpreadConstraint*> constraints;
  std::set<std::string, std::less<>> ignoredNodes;  // feasible nodes missing a topology key
  std::vector<std::map<std::string, int64_t, std::less<>>> counts;
  std::vector<double> weights;  // log(domains + 2): few domains weigh less
};

bool hasAllKeys(const NodeInfo& node, const std::vector<const TopologySpreadConstraint*>& cs) {
  return std::all_of(cs.begin(), cs.end(),
                     [&](auto* c) { return node.labels.contains(c->topologyKey); });
}

}  // namespace

Status PodTopologySpread::preScore(CycleState& state, const PodInfo& pod, const Snapshot& snapshot,
                                   const std::vector<NodeInfoPtr>& feasible) const {
  auto s = std::make_shared<SpreadScoreState>();
  for (const auto& c : pod.spreadConstraints) {
    if (!c.doNotSchedule) s->constraints.push_back(&c);
  }
  if (s->constraints.empty() || snapshot.nodes().empty()) return Status::skip();
  s->counts.resize(s->constraints.size());
  for (const auto& node : feasible) {
    if (!hasAllKeys(*node, s->constraints)) {
      s->ignoredNodes.insert(node->name);
      continue;
    }
    for (size_t i = 0; i < s->constraints.size(); ++i) {
      const auto& key = s->constraints[i]->topologyKey;
      if (key == kHostnameLabel) continue;  // counted per node in score()
      s->counts[i].try_emplace(node->labels.find(key)->second, 0);
    }
  }
  for (size_t i = 0; i < s->constraints.size(); ++i) {
    size_t domains = s->constraints[i]->topologyKey == kHostnameLabel
                         ? feasible.size() - s->ignoredNodes.size()
                         : s->counts[i].size();
    s->weights.push_back(std::log(static_cast<double>(domains + 2)));
  }
  // Pods are counted on every node the pod could land on, not just the feasible ones.
  for (const auto& node : snapshot.nodes()) {
    if (!matchesRequiredNodeAffinity(pod, *node) || !hasAllKeys(*node, s->constraints)) continue;
    for (size_t i = 0; i < s->constraints.size(); ++i) {
      auto it = s->counts[i].find(node->labels.find(s->constraints[i]->topologyKey)->second);
      if (it != s->counts[i].end())
        it->second += countMatchingPods(*node, s->constraints[i]->selector, pod.ns);
    }
  }
  state.write(kStateKey, std::move(s));
  return Status::success();
}

int64_t PodTopologySpread::score(const CycleState& state, const PodInfo& pod,
                                 const NodeInfo& node) const {
  const auto* s = state.read<SpreadScoreState>(kStateKey);
  if (!s || s->ignoredNodes.contains(node.name)) return 0;
  double score = 0;
  for (size_t i = 0; i < s->constraints.size(); ++i) {
    const auto* c = s->constraints[i];
    auto label = node.labels.find(c->topologyKey);
    if (label == node.labels.end()) continue;
    int64_t cnt = 0;
    if (c->topologyKey == kHostnameLabel) {
      cnt = countMatchingPods(node, c->selector, pod.ns);
    } else if (auto it = s->counts[i].find(label->second); it != s->counts[i].end()) {
      cnt = it->second;
    }
    // maxSkew-1 waters down small differences so a larger maxSkew tolerates more skew.
    score += static_cast<double>(cnt) * s->weights[i] + static_cast<double>(c->maxSkew - 1);
  }
  return static_cast<int64_t>(std::round(score));
}

void PodTopologySpread::normalizeScore(const CycleState& state, const PodInfo&,
                                       std::vector<NodeScore>& scores) const {
  const auto* s = state.read<SpreadScoreState>(kStateKey);
  if (!s) return;
  int64_t minScore = std::numeric_limits<int64_t>::max(), maxScore = 0;
  for (const auto& ns : scores) {
    if (s->ignoredNodes.contains(ns.name)) continue;
    minScore = std::min(minScore, ns.score);
    maxScore = std::max(maxScore, ns.score);
  }
  for (auto& ns : scores) {
    if (s->ignoredNodes.contains(ns.name)) {
      ns.score = 0;
    } else if (maxScore == 0) {
      ns.score = kMaxNodeScore;
    } else {
      // Fewer matching pods -> higher score.
      ns.score = kMaxNodeScore * (maxScore + minScore - ns.score) / maxScore;
    }
  }
}

}  // namespace skiff::scheduler
