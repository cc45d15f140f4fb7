#include "scheduler/scheduler_algorithm.h"

#include <algorithm>
#include <atomic>
#include <map>

#include "scheduler/parallel.h"

namespace skiff::scheduler {

namespace {
// How many nodes ahead the filter and score loops start loading a node's fields: enough to
// cover a memory load's latency with the per-node work of the plugins.
constexpr size_t kPrefetchAhead = 8;
}  // namespace

int numFeasibleNodesToFind(int32_t percentageOfNodesToScore, int numAllNodes) {
  if (numAllNodes < kMinFeasibleNodesToFind) return numAllNodes;
  int64_t pct = percentageOfNodesToScore;
  if (pct <= 0) {
    // Large clusters look at a smaller share: 50% at 0 nodes, 5% from 5625 nodes on.
    pct = 50 - numAllNodes / 125;
    if (pct < kMinFeasibleNodesPercentageToFind) pct = kMinFeasibleNodesPercentageToFind;
  }
  if (pct >= 100) return numAllNodes;
  int64_t n = static_cast<int64_t>(numAllNodes) * pct / 100;
  return n < kMinFeasibleNodesToFind ? kMinFeasibleNodesToFind : static_cast<int>(n);
}

std::string fitErrorMessage(int numAllNodes, const NodeToStatus& statuses,
                            const std::string& preFilterMessage,
                            const std::string& postFilterMessage) {
  std::string msg = "0/" + std::to_string(numAllNodes) + " nodes are available:";
  if (!preFilterMessage.empty()) {
    // A PreFilter rejection applies to every node; per-node counts would repeat it.
    msg += " " + preFilterMessage + ".";
  } else {
    std::map<std::string, int> counts;
    for (const auto& [node, status] : statuses) {
      for (const auto& r : status.reasons()) ++counts[r];
    }
    std::vector<std::string> parts;
    for (const auto& [reason, n] : counts) parts.push_back(std::to_string(n) + " " + reason);
    std::sort(parts.begin(), parts.end());  // as strings, like upstream's sort.Strings
    if (!parts.empty()) {
      msg += " ";
      for (size_t i = 0; i < parts.size(); ++i) msg += (i ? ", " : "") + parts[i];
      msg += ".";
    }
  }
  if (!postFilterMessage.empty()) msg += " " + postFilterMessage;
  return msg;
}

SchedulingAlgorithm::SchedulingAlgorithm(std::shared_ptr<const Profile> profile,
                                         ScheduleOptions options, uint64_t seed)
    : profile_(std::move(profile)), options_(options), rng_(seed) {}

ScheduleResult SchedulingAlgorithm::schedulePod(const PodInfo& pod, const Snapshot& snapshot) {
  std::lock_guard lock(mu_);
  ScheduleResult result;
  const auto& nodes = snapshot.nodes();
  const int numNodes = static_cast<int>(nodes.size());
  if (numNodes == 0) {
    result.message = "no nodes available to schedule pods";
    return result;
  }

  CycleState state;
  Status pre = profile_->runPreFilters(state, pod, snapshot);
  std::vector<NodeInfoPtr> feasible;
  if (pre.isSuccess()) {
    // Filter: nodes are visited round-robin from where the last cycle stopped so every node
    // gets its turn when only a share of the cluster is evaluated.
    const int target = numFeasibleNodesToFind(options_.percentageOfNodesToScore, numNodes);
    const size_t start = nextStartNodeIndex_ % nodes.size();
    filterStatuses_.resize(nodes.size());
    evaluated_.resize(nodes.size());  // all zero between cycles
    auto& statuses = filterStatuses_;
    auto& evaluated = evaluated_;
    std::atomic<int> found{0};
    std::atomic<size_t> scanned{0};  // one past the highest index evaluated
    parallelForUntil(
        nodes.size(), options_.parallelism,
        [&](size_t i) {
          const NodeInfo& node = *nodes[(start + i) % nodes.size()];
          nodes[(start + i + kPrefetchAhead) % nodes.size()]->prefetch();
          statuses[i] = profile_->runFilters(state, pod, node);
          evaluated[i] = 1;
          for (size_t seen = scanned.load(std::memory_order_relaxed);
               seen <= i &&
               !scanned.compare_exchange_weak(seen, i + 1, std::memory_order_relaxed);) {
          }
          return statuses[i].isSuccess() &&
                 found.fetch_add(1, std::memory_order_relaxed) + 1 >= target;
        },
        /*expectedWork=*/2 * static_cast<size_t>(target));
    for (size_t i = 0; i < scanned.load(); ++i) {
      if (!evaluated[i]) continue;
      evaluated[i] = 0;
      const auto& node = nodes[(start + i) % nodes.size()];
      if (statuses[i].isSuccess()) {
        if (static_cast<int>(feasible.size()) < target) feasible.push_back(node);
      } else {
        result.statuses.emplace(node->name, std::move(statuses[i]));
        statuses[i] = Status();  // the buffer holds only successes between cycles
      }
    }
    result.evaluatedNodes = static_cast<int>(feasible.size() + result.statuses.size());
    nextStartNodeIndex_ = (start + result.evaluatedNodes) % nodes.size();
  }
  result.feasibleNodes = static_cast<int>(feasible.size());

  if (feasible.empty()) {
    for (const auto& post : profile_->postFilters()) {
      PostFilterResult r = post->postFilter(pod, snapshot, result.statuses);
      if (!r.nominatedNode.empty()) {
        result.preemption = std::move(r);
        break;
      }
      if (result.preemption.message.empty()) result.preemption.message = r.message;
    }
    result.message =
        fitErrorMessage(numNodes, result.statuses, pre.isSuccess() ? "" : pre.message(),
                        result.preemption.nominatedNode.empty() ? result.preemption.message : "");
    return result;
  }
  if (feasible.size() == 1) {  // nothing to compare
    result.suggestedHost = feasible[0]->name;
    return result;
  }

  // Score: each plugin scores every feasible node, normalizes, and is weighted.
  std::vector<int64_t> totals(feasible.size(), 0);
  std::vector<NodeScore> scores(feasible.size());
  for (const auto& [plugin, weight] : profile_->scorers()) {
    if (plugin->preScore(state, pod, snapshot, feasible).isSkip()) continue;
    parallelFor(feasible.size(), options_.parallelism, [&](size_t i) {
      if (i + kPrefetchAhead < feasible.size()) feasible[i + kPrefetchAhead]->prefetch();
      scores[i] = {feasible[i]->name, plugin->score(state, pod, *feasible[i])};
    });
    plugin->normalizeScore(state, pod, scores);
    for (size_t i = 0; i < scores.size(); ++i) totals[i] += scores[i].score * weight;
  }

  // Highest total wins; ties are broken uniformly at random: count them, draw one.
  const int64_t top = *std::max_element(totals.begin(), totals.end());
  const auto ties = std::count(totals.begin(), totals.end(), top);
  auto pick = std::uniform_int_distribution<std::ptrdiff_t>(0, ties - 1)(rng_);
  size_t best = 0;
  while (totals[best] != top || pick-- > 0) ++best;
  result.suggestedHost = feasible[best]->name;
  return result;
}

}  // namespace skiff::scheduler
