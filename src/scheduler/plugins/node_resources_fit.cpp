#include "scheduler/plugins/node_resources_fit.h"

#include "scheduler/plugins/least_allocated.h"

namespace skiff::scheduler {

std::vector<std::string> insufficientResources(const PodInfo& pod, const NodeInfo& node) {
  std::vector<std::string> out;
  if (static_cast<int64_t>(node.pods.size()) + 1 > node.allowedPods)
    out.emplace_back("Too many pods");
  const Resources& want = pod.requests;
  bool none = want.milliCpu == 0 && want.memory == 0 && want.ephemeralStorage == 0;
  for (const auto& [k, v] : want.scalar) none = none && v == 0;
  if (none) return out;
  const Resources& have = node.allocatable;
  const Resources& used = node.requested;
  if (want.milliCpu > 0 && want.milliCpu > have.milliCpu - used.milliCpu)
    out.emplace_back("Insufficient cpu");
  if (want.memory > 0 && want.memory > have.memory - used.memory)
    out.emplace_back("Insufficient memory");
  if (want.ephemeralStorage > 0 &&
      want.ephemeralStorage > have.ephemeralStorage - used.ephemeralStorage) {
    out.emplace_back("Insufficient ephemeral-storage");
  }
  for (const auto& [name, amount] : want.scalar) {
    if (amount == 0) continue;
    auto a = have.scalar.find(name);
    auto u = used.scalar.find(name);
    int64_t free =
        (a == have.scalar.end() ? 0 : a->second) - (u == used.scalar.end() ? 0 : u->second);
    if (amount > free) out.push_back("Insufficient " + name);
  }
  return out;
}

Status NodeResourcesFit::filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) const {
  auto reasons = insufficientResources(pod, node);
  if (reasons.empty()) return Status::success();
  return Status(Status::Code::Unschedulable, std::move(reasons));
}

int64_t NodeResourcesFit::score(const CycleState&, const PodInfo& pod, const NodeInfo& node) const {
  return leastAllocatedScore(pod, node);
}

}  // namespace skiff::scheduler
