// Helpers of the workload controllers (ReplicaSet, ReplicationController, Deployment):
// intOrPercent fenceposts, the upstream pod deletion ranking, slow-start batches,
// per-pod deletion expectations, adoption/release of owned objects, template comparison
// ignoring pod-template-hash, and the Deployment condition rules (which differ from the
// generic setCondition: the same status+reason is left untouched, even its message).
#pragma once
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/label_selector.h"
#include "client/indexer.h"
#include "client/rest_client.h"
#include "controller/controller_utils.h"

namespace skiff::controller {

inline const std::string kPodTemplateHashLabel = "pod-template-hash";
inline const std::string kRevisionAnnotation = "deployment.kubernetes.io/revision";
inline const std::string kRevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history";
inline const std::string kDesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas";
inline const std::string kMaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";
inline const std::string kRollbackToAnnotation = "deprecated.deployment.rollback.to";
inline const std::string kLastAppliedAnnotation =
    "kubectl.kubernetes.io/last-applied-configuration";
inline const std::string kPodDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost";

// --- intOrString
// An IntOrString scaled against `total`: ints as is, "N%" as total*N/100 rounded up or
// down (upstream GetScaledValueFromIntOrPercent). nullopt when malformed.
std::optional<int64_t> workloadScaledValue(const boost::json::value* v, int64_t total,
                                           bool roundUp);
// maxSurge and maxUnavailable resolved for `desired` replicas; when both round to zero
// maxUnavailable becomes 1 so a rollout can always make progress.
struct Fenceposts {
  int64_t surge = 0;
  int64_t unavailable = 0;
};
Fenceposts resolveFenceposts(const boost::json::object& deployment);

// --- pods
// Upstream's ActivePodsWithRanks "less": true when `a` should be deleted before `b`.
// `rankA/rankB` count related pods on the same node (doubled-up pods go first).
bool podDeleteBefore(const boost::json::object& a, int rankA, const boost::json::object& b,
                     int rankB, std::chrono::system_clock::time_point now);
// Picks `count` pods to delete from `pods`, ranked as above against `related` pods.
std::vector<client::ObjectPtr> podsToDelete(std::vector<client::ObjectPtr> pods,
                                            const std::vector<client::ObjectPtr>& related,
                                            size_t count);
// Runs fn(i) for i in [0, count) in batches of 1, 2, 4, ... (upstream slowStartBatch): a
// batch with a failure ends the run. Calls within a batch run concurrently. Returns the
// number of successful calls.
int slowStartBatch(int count, int initialBatch, const std::function<bool(int)>& fn);
// Runs fn(i) for every i concurrently (a few threads).
void parallelFor(int count, const std::function<void(int)>& fn);

// --- expectations with per-pod deletion tracking (upstream UIDTrackingControllerExpectations):
// a pod seen terminating and then deleted counts once.
class WorkloadExpectations {
 public:
  void expectCreations(const std::string& key, int adds);
  void expectDeletions(const std::string& key, const std::vector<std::string>& podKeys);
  void creationObserved(const std::string& key) { counts_.creationObserved(key); }
  void lowerCreations(const std::string& key, int n) { counts_.lower(key, n, 0); }
  void deletionObserved(const std::string& key, const std::string& podKey);
  bool satisfied(const std::string& key) const { return counts_.satisfied(key); }
  void forget(const std::string& key);

 private:
  Expectations counts_;
  std::mutex mu_;
  std::unordered_map<std::string, std::set<std::string>> deleting_;
};

// --- ownership
// The owner's selector, tolerant of malformed specs (nothing() then).
api::LabelSelector workloadSelector(const boost::json::object& owner, bool mapSelector = false);
// Upstream ClaimObjects: among `candidates`, keeps those controlled by `owner` whose labels
// still match (releasing the others through a patch) and adopts matching orphans (when
// `canAdopt()` confirms the owner is live). Returns the claimed objects, adopted ones as
// the server returned them.
std::vector<client::ObjectPtr> claimObjects(client::RestClient& client, const client::Resource& r,
                                            const boost::json::object& owner,
                                            const boost::json::object& controllerRef,
                                            const api::LabelSelector& selector,
                                            const std::vector<client::ObjectPtr>& candidates,
                                            const std::function<bool()>& canAdopt);

// --- templates
// Pod templates equal once the pod-template-hash label is removed (upstream EqualIgnoreHash).
bool templatesEqualIgnoreHash(const boost::json::value* a, const boost::json::value* b);
// Labels/annotations of a JSON object as a string map (non-strings skipped).
std::string annotationOf(const boost::json::object& obj, const std::string& key);
// The revision annotation as a number (0 when absent or malformed).
int64_t revisionOf(const boost::json::object& rs);

// --- Deployment conditions (upstream deployment util semantics)
boost::json::object newDeploymentCondition(const std::string& type, const std::string& status,
                                           const std::string& reason, const std::string& message);
const boost::json::object* deploymentCondition(const boost::json::object& status,
                                               std::string_view type);
// Same status and reason: untouched. Same status: keeps lastTransitionTime.
void setDeploymentCondition(boost::json::object& status, boost::json::object condition);
void removeDeploymentCondition(boost::json::object& status, std::string_view type);

}  // namespace skiff::controller
