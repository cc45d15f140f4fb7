#include "scheduler/plugins/balanced_allocation.h"

#include <algorithm>
#include <cmath>

namespace skiff::scheduler {

Status BalancedAllocation::preScore(CycleState&, const PodInfo& pod, const Snapshot&,
                                    const std::vector<NodeInfoPtr>&) const {
  const Resources& r = pod.requests;
  bool bestEffort = r.milliCpu == 0 && r.memory == 0;
  return bestEffort ? Status::skip() : Status::success();
}

int64_t BalancedAllocation::score(const CycleState&, const PodInfo& pod,
                                  const NodeInfo& node) const {
  // cpu and memory only (upstream's default resources): the standard deviation of two
  // fractions is half their distance; with one or none there is nothing to balance.
  double fractions[2];
  size_t n = 0;
  auto add = [&](int64_t requested, int64_t allocatable) {
    if (allocatable == 0) return;  // resource absent on the node: not part of the balance
    fractions[n++] =
        std::min(1.0, static_cast<double>(requested) / static_cast<double>(allocatable));
  };
  add(node.requested.milliCpu + pod.requests.milliCpu, node.allocatable.milliCpu);
  add(node.requested.memory + pod.requests.memory, node.allocatable.memory);
  double stddev = n == 2 ? std::abs(fractions[0] - fractions[1]) / 2 : 0;
  return static_cast<int64_t>((1 - stddev) * static_cast<double>(kMaxNodeScore));
}

}  // namespace skiff::scheduler
