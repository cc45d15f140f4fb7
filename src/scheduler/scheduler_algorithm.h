// One scheduling cycle for one pod over a Snapshot (upstream schedule_one.go: schedulePod,
// findNodesThatFitPod, prioritizeNodes, selectHost, FitError): filter in parallel, stop after
// numFeasibleNodesToFind feasible nodes, score, pick the best; on failure build the
// FailedScheduling message and run PostFilter (preemption).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "scheduler/framework.h"

namespace skiff::scheduler {

struct ScheduleOptions {
  // 0: upstream's adaptive percentage (50% - nodes/125, at least 5%); 100: every node.
  int32_t percentageOfNodesToScore = 0;
  unsigned parallelism = 16;  // upstream default
};

struct ScheduleResult {
  std::string suggestedHost;  // empty when the pod fits nowhere
  int evaluatedNodes = 0;
  int feasibleNodes = 0;
  NodeToStatus statuses;        // why each evaluated node was rejected
  std::string message;          // FailedScheduling event message when suggestedHost is empty
  PostFilterResult preemption;  // nominated node and victims when preemption found room
  bool ok() const { return !suggestedHost.empty(); }
};

inline constexpr int kMinFeasibleNodesToFind = 100;
inline constexpr int kMinFeasibleNodesPercentageToFind = 5;
// How many feasible nodes to look for before scoring (upstream numFeasibleNodesToFind).
int numFeasibleNodesToFind(int32_t percentageOfNodesToScore, int numAllNodes);

// "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {a: b}."
// Reasons are counted over nodes and sorted as strings, like upstream FitError.
std::string fitErrorMessage(int numAllNodes, const NodeToStatus& statuses,
                            const std::string& preFilterMessage = {},
                            const std::string& postFilterMessage = {});

// Holds what carries over between cycles: the round-robin start index and the tie-break RNG.
// Thread-safe, though the scheduler runs one cycle at a time.
class SchedulingAlgorithm {
 public:
  SchedulingAlgorithm(std::shared_ptr<const Profile> profile, ScheduleOptions options = {},
                      uint64_t seed = std::random_device{}());
  ScheduleResult schedulePod(const PodInfo& pod, const Snapshot& snapshot);

 private:
  std::shared_ptr<const Profile> profile_;
  ScheduleOptions options_;
  std::mutex mu_;
  size_t nextStartNodeIndex_ = 0;
  std::mt19937_64 rng_;
  // Per-node buffers of the filter phase, kept between cycles (mu_ serializes them) so that a
  // cycle does not construct and destroy one Status per node of the cluster.
  std::vector<Status> filterStatuses_;
  std::vector<char> evaluated_;
};

// The default profile: upstream's default filter order, score weights and DefaultPreemption.
struct VolumeListers;
// With `volumes` (the claim/PV/class caches), VolumeBinding is part of the profile.
std::shared_ptr<Profile> defaultProfile();
std::shared_ptr<Profile> defaultProfile(const VolumeListers& volumes);

}  // namespace skiff::scheduler
