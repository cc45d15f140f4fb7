#include "scheduler/plugins/default_preemption.h"

#include <algorithm>
#include <limits>
#include <map>

namespace skiff::scheduler {
namespace {

// Upstream MoreImportantPod: higher priority, then the one running longer.
bool moreImportant(const PodInfoPtr& a, const PodInfoPtr& b) {
  if (a->priority != b->priority) return a->priority > b->priority;
  return a->startTime < b->startTime;
}

struct Candidate {
  std::string node;
  std::vector<PodInfoPtr> victims;
  int64_t highest = std::numeric_limits<int64_t>::min();
  int64_t prioritySum = 0;
  TimePoint earliestStartOfHighest = TimePoint::max();
};

Candidate describe(std::string node, std::vector<PodInfoPtr> victims) {
  Candidate c{std::move(node), std::move(victims)};
  for (const auto& v : c.victims) {
    c.highest = std::max<int64_t>(c.highest, v->priority);
    // Shifted so negative priorities do not make a sum smaller than fewer victims.
    c.prioritySum += static_cast<int64_t>(v->priority) + std::numeric_limits<int32_t>::max() + 1;
  }
  for (const auto& v : c.victims) {
    if (v->priority == c.highest)
      c.earliestStartOfHighest = std::min(c.earliestStartOfHighest, v->startTime);
  }
  return c;
}

// True when `a` is the better node to preempt on.
bool better(const Candidate& a, const Candidate& b) {
  if (a.highest != b.highest) return a.highest < b.highest;
  if (a.prioritySum != b.prioritySum) return a.prioritySum < b.prioritySum;
  if (a.victims.size() != b.victims.size()) return a.victims.size() < b.victims.size();
  // Evicting pods that started recently loses the least work.
  return a.earliestStartOfHighest > b.earliestStartOfHighest;
}

}  // namespace

bool DefaultPreemption::fits(const PodInfo& pod, const Snapshot& snapshot,
                             const NodeInfoPtr& node) const {
  Snapshot what = snapshot.withNode(node);
  CycleState state;
  if (!profile_->runPreFilters(state, pod, what).isSuccess()) return false;
  return profile_->runFilters(state, pod, *node).isSuccess();
}

std::optional<std::vector<PodInfoPtr>> DefaultPreemption::selectVictimsOnNode(
    const PodInfo& pod, const Snapshot& snapshot, const NodeInfo& node) const {
  std::vector<PodInfoPtr> potential;
  auto without = std::make_shared<NodeInfo>(node);
  for (const auto& p : node.pods) {
    if (p->priority < pod.priority) {
      potential.push_back(p);
      without->removePod(p->key());
    }
  }
  if (potential.empty() || !fits(pod, snapshot, without)) return std::nullopt;
  // Reprieve the most important pods first; whoever cannot come back is a victim.
  std::sort(potential.begin(), potential.end(), moreImportant);
  std::vector<PodInfoPtr> victims;
  for (const auto& p : potential) {
    auto with = std::make_shared<NodeInfo>(*without);
    with->addPod(p);
    if (fits(pod, snapshot, with)) {
      without = std::move(with);
    } else {
      victims.push_back(p);
    }
  }
  return victims;
}

PostFilterResult DefaultPreemption::postFilter(const PodInfo& pod, const Snapshot& snapshot,
                                               const NodeToStatus& statuses) const {
  PostFilterResult out;
  if (pod.preemptionNever) {
    out.message = "preemption: not eligible due to preemptionPolicy=Never.";
    return out;
  }
  std::map<std::string, int> reasons;
  std::optional<Candidate> best;
  for (const auto& node : snapshot.nodes()) {
    auto st = statuses.find(node->name);
    // Unresolvable rejections (taints, affinity, ...) do not go away by evicting pods.
    if (st == statuses.end() || st->second.code() != Status::Code::Unschedulable) {
      ++reasons["Preemption is not helpful for scheduling"];
      continue;
    }
    auto victims = selectVictimsOnNode(pod, snapshot, *node);
    if (!victims) {
      ++reasons["No preemption victims found for incoming pod"];
      continue;
    }
    Candidate c = describe(node->name, std::move(*victims));
    if (!best || better(c, *best)) best = std::move(c);
  }
  if (best) {
    out.nominatedNode = best->node;
    out.victims = std::move(best->victims);
    return out;
  }
  std::vector<std::string> parts;
  for (const auto& [r, n] : reasons) parts.push_back(std::to_string(n) + " " + r);
  std::sort(parts.begin(), parts.end());
  out.message =
      "preemption: 0/" + std::to_string(snapshot.nodes().size()) + " nodes are available: ";
  for (size_t i = 0; i < parts.size(); ++i) out.message += (i ? ", " : "") + parts[i];
  out.message += ".";
  return out;
}

}  // namespace skiff::scheduler
