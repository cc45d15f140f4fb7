// InterPodAffinity PreScore/Score/NormalizeScore (upstream interpodaffinity/scoring.go).
#include <algorithm>
#include <limits>

#include "scheduler/plugins/inter_pod_affinity.h"

namespace skiff::scheduler {
namespace {

constexpr std::string_view kStateKey = "PreScoreInterPodAffinity";

struct AffinityScoreState : StateData {
  TopologyCounts weights;
};

void addWeight(TopologyCounts& w, const NodeInfo& node, const std::string& key, int64_t weight) {
  if (auto it = node.labels.find(key); it != node.labels.end()) w[{key, it->second}] += weight;
}

}  // namespace

Status InterPodAffinity::preScore(CycleState& state, const PodInfo& pod, const Snapshot& snapshot,
                                  const std::vector<NodeInfoPtr>&) const {
  bool incoming = !pod.preferredAffinity.empty() || !pod.preferredAntiAffinity.empty();
  auto s = std::make_shared<AffinityScoreState>();
  const auto& nodes = snapshot.nodes();
  auto visit = [&](const NodeInfoPtr& node) {
    for (const auto& existing : node->pods) {
      for (const auto& t : pod.preferredAffinity) {
        if (t.term.matches(*existing)) addWeight(s->weights, *node, t.term.topologyKey, t.weight);
      }
      for (const auto& t : pod.preferredAntiAffinity) {
        if (t.term.matches(*existing)) addWeight(s->weights, *node, t.term.topologyKey, -t.weight);
      }
      for (const auto& t : existing->requiredAffinity) {
        if (t.matches(pod)) addWeight(s->weights, *node, t.topologyKey, kHardPodAffinityWeight);
      }
      for (const auto& t : existing->preferredAffinity) {
        if (t.term.matches(pod)) addWeight(s->weights, *node, t.term.topologyKey, t.weight);
      }
      for (const auto& t : existing->preferredAntiAffinity) {
        if (t.term.matches(pod)) addWeight(s->weights, *node, t.term.topologyKey, -t.weight);
      }
    }
  };
  // Without preferences of its own, only placed pods with affinity terms can matter.
  if (incoming) {
    for (const auto& node : nodes) visit(node);
  } else {
    for (size_t i : snapshot.nodesWithPodAffinity()) visit(nodes[i]);
  }
  if (s->weights.empty()) return Status::skip();
  state.write(kStateKey, std::move(s));
  return Status::success();
}

int64_t InterPodAffinity::score(const CycleState& state, const PodInfo&,
                                const NodeInfo& node) const {
  const auto* s = state.read<AffinityScoreState>(kStateKey);
  if (!s) return 0;
  int64_t sum = 0;
  for (const auto& [pair, weight] : s->weights) {
    auto it = node.labels.find(pair.first);
    if (it != node.labels.end() && it->second == pair.second) sum += weight;
  }
  return sum;
}

void InterPodAffinity::normalizeScore(const CycleState& state, const PodInfo&,
                                      std::vector<NodeScore>& scores) const {
  if (!state.read<AffinityScoreState>(kStateKey) || scores.empty()) return;
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
  for (const auto& s : scores) {
    lo = std::min(lo, s.score);
    hi = std::max(hi, s.score);
  }
  for (auto& s : scores) {
    s.score = hi > lo ? static_cast<int64_t>(static_cast<double>(kMaxNodeScore) *
                                             static_cast<double>(s.score - lo) /
                                             static_cast<double>(hi - lo))
                      : 0;
  }
}

}  // namespace skiff::scheduler
