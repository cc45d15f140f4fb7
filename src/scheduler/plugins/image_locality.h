// ImageLocality: favours nodes that already have the pod's images, each image's size scaled by
// the share of nodes holding it (so a ubiquitous image does not pull every pod to one node),
// clamped between 23 MiB and 1000 MiB per container (upstream weight 1).
#pragma once
#include "scheduler/framework.h"

namespace skiff::scheduler {

class ImageLocality : public ScorePlugin {
 public:
  static constexpr std::string_view kName = "ImageLocality";
  static constexpr int64_t kDefaultWeight = 1;
  static constexpr int64_t kMinThreshold = 23LL * 1024 * 1024;
  static constexpr int64_t kMaxContainerThreshold = 1000LL * 1024 * 1024;
  std::string_view name() const override { return kName; }
  Status preScore(CycleState& state, const PodInfo& pod, const Snapshot& snapshot,
                  const std::vector<NodeInfoPtr>& feasible) const override;
  int64_t score(const CycleState& state, const PodInfo& pod, const NodeInfo& node) const override;
};

}  // namespace skiff::scheduler
