#include "scheduler/plugins/least_allocated.h"

#include "scheduler/framework.h"

namespace skiff::scheduler {

int64_t leastRequestedScore(int64_t requested, int64_t allocatable) {
  if (allocatable == 0 || requested > allocatable) return 0;
  return (allocatable - requested) * kMaxNodeScore / allocatable;
}

int64_t leastAllocatedScore(const PodInfo& pod, const NodeInfo& node) {
  int64_t cpu =
      leastRequestedScore(node.nonZeroMilliCpu + pod.nonZeroMilliCpu, node.allocatable.milliCpu);
  int64_t mem =
      leastRequestedScore(node.nonZeroMemory + pod.nonZeroMemory, node.allocatable.memory);
  return (cpu + mem) / 2;
}

}  // namespace skiff::scheduler
