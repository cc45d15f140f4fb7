// DefaultPreemption (PostFilter): when a pod fits nowhere, find a node where evicting pods of
// lower priority makes it fit, keeping as many of them as possible (highest priority first),
// and pick the node whose victims matter least (upstream pickOneNodeForPreemption order:
// lowest highest-victim priority, lowest priority sum, fewest victims, latest start time).
// Simplified against upstream: PodDisruptionBudgets are not consulted, every candidate node is
// examined (no minCandidateNodes sampling), and pods nominated to a node are not considered.
#pragma once
#include <optional>

#include "scheduler/framework.h"

namespace skiff::scheduler {

class DefaultPreemption : public PostFilterPlugin {
 public:
  static constexpr std::string_view kName = "DefaultPreemption";
  // `profile` supplies the filters for what-if checks; it must outlive the plugin.
  explicit DefaultPreemption(const Profile* profile) : profile_(profile) {}
  std::string_view name() const override { return kName; }
  PostFilterResult postFilter(const PodInfo& pod, const Snapshot& snapshot,
                              const NodeToStatus& statuses) const override;

  // The fewest lower-priority pods to evict from `node` so `pod` fits; nullopt when even
  // evicting all of them does not help.
  std::optional<std::vector<PodInfoPtr>> selectVictimsOnNode(const PodInfo& pod,
                                                             const Snapshot& snapshot,
                                                             const NodeInfo& node) const;

 private:
  bool fits(const PodInfo& pod, const Snapshot& snapshot, const NodeInfoPtr& node) const;
  const Profile* profile_;
};

}  // namespace skiff::scheduler
