// The Deployment controller's class, shared by deployment_controller.cpp (wiring, sync
// entry) and deployment_rollout.cpp (the rollout, scaling and status logic).
#pragma once
#include <boost/json.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/controller.h"
#include "controller/controller_utils.h"
#include "controller/workload_utils.h"

namespace skiff::controller {

// One sync's view: the deployment (updated in place from every write's answer) and its
// claimed ReplicaSets (likewise), with the index of the new one (-1 when none).
struct DeploymentState {
  boost::json::object d;
  std::vector<boost::json::object> rss;
  int newIdx = -1;
  std::vector<int> oldIdx() const;
};

class DeploymentController : public QueueController {
 public:
  explicit DeploymentController(ControllerContext& ctx);

 protected:
  void sync(const std::string& key) override;

 private:
  // event handlers
  std::optional<std::string> ownerKey(const boost::json::object& rs);
  void enqueueMatching(const boost::json::object& rs);
  void replicaSetAdded(const boost::json::object& rs);
  void replicaSetUpdated(const boost::json::object& oldRs, const boost::json::object& rs);
  void replicaSetDeleted(const boost::json::object& rs);
  void podDeleted(const boost::json::object& pod);
  bool canAdopt(const boost::json::object& d);

  // sync steps (deployment_rollout.cpp)
  void getAllReplicaSetsAndSyncRevision(DeploymentState& st, bool createIfMissing);
  void getNewReplicaSet(DeploymentState& st, bool createIfMissing);
  void syncStatusOnly(DeploymentState& st);
  void syncScale(DeploymentState& st);
  void scale(DeploymentState& st);
  bool isScalingEvent(DeploymentState& st);
  void checkPausedConditions(DeploymentState& st);
  void rolloutRolling(DeploymentState& st);
  void rolloutRecreate(DeploymentState& st);
  bool reconcileNewReplicaSet(DeploymentState& st);
  bool reconcileOldReplicaSets(DeploymentState& st);
  bool oldPodsRunning(const DeploymentState& st);
  void cleanupDeployment(DeploymentState& st);
  void syncDeploymentStatus(DeploymentState& st);
  void syncRolloutStatus(DeploymentState& st);
  boost::json::object calculateStatus(const DeploymentState& st);
  void requeueStuckDeployment(const DeploymentState& st, const boost::json::object& newStatus);
  // Scales rss[idx]; returns true when spec.replicas changed. `op` is "up"/"down" for the event.
  bool scaleReplicaSet(DeploymentState& st, int idx, int64_t newScale, const std::string& op);
  bool scaleReplicaSetAndRecordEvent(DeploymentState& st, int idx, int64_t newScale);
  void setDeploymentRevision(DeploymentState& st, const std::string& revision);
  void writeStatus(DeploymentState& st);

  // ReplicaSet writes the cache has not shown yet ("ns/name" -> resourceVersion written):
  // a sync waits for them, so it never scales from sizes it has itself already changed.
  void rememberWrite(const boost::json::object& rs);
  bool cacheBehindWrites(const std::vector<client::ObjectPtr>& rss);
  std::mutex writtenMu_;
  std::unordered_map<std::string, int64_t> written_;

  client::SharedInformer& deployments_;
  client::SharedInformer& sets_;
  client::SharedInformer& pods_;
};

// Pure rollout arithmetic, exposed for unit tests.
namespace deployment {
int64_t specReplicas(const boost::json::object& obj);  // spec.replicas (1 when absent)
int64_t maxSurge(const boost::json::object& d);        // 0 unless RollingUpdate
int64_t maxUnavailable(const boost::json::object& d);  // capped at spec.replicas
// How big the new ReplicaSet may be now (upstream NewRSNewReplicas).
int64_t newRSNewReplicas(const boost::json::object& d,
                         const std::vector<const boost::json::object*>& all,
                         const boost::json::object& newRs);
// The share of `toAdd` that `rs` gets when scaling proportionally (upstream GetProportion).
int64_t proportion(const boost::json::object& rs, const boost::json::object& d, int64_t toAdd,
                   int64_t added);
// Sets desired-replicas/max-replicas annotations; true when they changed.
bool setReplicasAnnotations(boost::json::object& rs, int64_t desired, int64_t max);
// Copies deployment annotations and the revision (keeping revision-history when an old
// ReplicaSet is reused); true when anything changed.
bool setNewReplicaSetAnnotations(const boost::json::object& d, boost::json::object& rs,
                                 const std::string& newRevision, bool exists);
bool deploymentComplete(const boost::json::object& d, const boost::json::object& status);
}  // namespace deployment

}  // namespace skiff::controller
