#include "scheduler/plugins/image_locality.h"

#include <algorithm>

namespace skiff::scheduler {
namespace {

constexpr std::string_view kStateKey = "PreScoreImageLocality";

// How many nodes hold each of the pod's images, read once per cycle.
struct ImageSpread : StateData {
  std::vector<int> nodesWithImage;  // parallel to PodInfo::images
  int totalNodes = 0;
};

}  // namespace

Status ImageLocality::preScore(CycleState& state, const PodInfo& pod, const Snapshot& snapshot,
                               const std::vector<NodeInfoPtr>&) const {
  auto s = std::make_shared<ImageSpread>();
  s->totalNodes = static_cast<int>(snapshot.nodes().size());
  for (const auto& image : pod.images) s->nodesWithImage.push_back(snapshot.nodesWithImage(image));
  state.write(kStateKey, std::move(s));
  return Status::success();
}

int64_t ImageLocality::score(const CycleState& state, const PodInfo& pod,
                             const NodeInfo& node) const {
  if (node.imageSizes.empty()) return 0;  // the sum would clamp to the minimum: score 0
  const auto* s = state.read<ImageSpread>(kStateKey);
  if (!s || s->totalNodes == 0 || pod.images.empty()) return 0;
  int64_t sum = 0;
  for (size_t i = 0; i < pod.images.size(); ++i) {
    auto it = node.imageSizes.find(pod.images[i]);
    if (it == node.imageSizes.end()) continue;
    double spread = static_cast<double>(s->nodesWithImage[i]) / static_cast<double>(s->totalNodes);
    sum += static_cast<int64_t>(static_cast<double>(it->second) * spread);
  }
  int64_t maxThreshold = kMaxContainerThreshold * static_cast<int64_t>(pod.images.size());
  sum = std::clamp(sum, kMinThreshold, maxThreshold);
  return kMaxNodeScore * (sum - kMinThreshold) / (maxThreshold - kMinThreshold);
}

}  // namespace skiff::scheduler
