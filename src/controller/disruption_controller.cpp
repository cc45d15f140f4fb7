// Disruption controller (upstream's disruption controller, Events from "controllermanager"):
// keeps the status of every PodDisruptionBudget current so the eviction subresource can
// decide quickly. For the pods the budget selects it computes
//   expectedPods   - the scale of their controllers (ReplicaSet, or its Deployment;
//                    StatefulSet; ReplicationController), or simply the pod count when
//                    minAvailable is an integer;
//   currentHealthy - ready pods that are neither being deleted nor recently evicted;
//   desiredHealthy - minAvailable, or expectedPods - maxUnavailable (percentages of
//                    expectedPods rounded up);
//   disruptionsAllowed = max(0, currentHealthy - desiredHealthy) (0 without expected pods);
// and the DisruptionAllowed condition. status.disruptedPods holds the pods the eviction
// subresource let go; an entry is trusted for 2 minutes, after which the pod, if still there,
// counts again. When the status cannot be computed the budget fails safe: no disruptions
// allowed, condition reason SyncFailed.
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "common/api_error.h"
#include "common/ids.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;

const client::Resource kPdbs{"policy", "v1", "poddisruptionbudgets"};
const client::Resource kReplicationControllers{"", "v1", "replicationcontrollers"};

// How long an eviction's entry in disruptedPods is trusted (upstream's DeletionTimeout).
constexpr auto kDeletionTimeout = std::chrono::minutes(2);

// A failure to compute the status; the budget then fails safe.
struct SyncError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// intstr.GetScaledValueFromIntOrPercent with rounding up.
int64_t scaledValue(const json::value& v, int64_t total) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return static_cast<int64_t>(v.get_uint64());
  if (v.is_string()) {
    std::string s(v.get_string());
    if (s.empty() || s.back() != '%')
      throw SyncError("invalid value for IntOrString: invalid type: string is not a percentage");
    try {
      size_t used = 0;
      int64_t percent = std::stoll(s.substr(0, s.size() - 1), &used);
      if (used != s.size() - 1) throw std::invalid_argument(s);
      return static_cast<int64_t>(
          std::ceil(static_cast<double>(percent) * static_cast<double>(total) / 100.0));
    } catch (const std::logic_error&) {
      throw SyncError("invalid value for IntOrString: invalid value \"" + s + "\"");
    }
  }
  throw SyncError("invalid value for IntOrString: invalid type");
}

class DisruptionController : public QueueController {
 public:
  explicit DisruptionController(ControllerContext& ctx)
      : QueueController(ctx, "disruption", "controllermanager"),
        pdbs_(ctx.informers.informer(kPdbs)),
        pods_(ctx.informers.informer(client::resources::pods)),
        replicaSets_(ctx.informers.informer(client::resources::replicaSets)),
        deployments_(ctx.informers.informer(client::resources::deployments)),
        statefulSets_(ctx.informers.informer(client::resources::statefulSets)),
        replicationControllers_(ctx.informers.informer(kReplicationControllers)) {
    pdbs_.addIndexer(client::kIndexNamespace, client::indexByNamespace);
    pods_.addIndexer(client::kIndexNamespace, client::indexByNamespace);
    pdbs_.addEventHandler({
        .onAdd = [this](const json::object& p) { enqueue(p); },
        .onUpdate = [this](const json::object&, const json::object& p) { enqueue(p); },
    });
    pods_.addEventHandler({
        .onAdd = [this](const json::object& p) { enqueueBudgetsOf(p); },
        .onUpdate =
            [this](const json::object& o, const json::object& n) {
              enqueueBudgetsOf(n);
              const json::object* ol = objectAt(o, {"metadata", "labels"});
              const json::object* nl = objectAt(n, {"metadata", "labels"});
              if ((ol ? *ol : json::object{}) != (nl ? *nl : json::object{})) enqueueBudgetsOf(o);
            },
        .onDelete = [this](const json::object& p) { enqueueBudgetsOf(p); },
    });
    // A scale change alters expectedPods even before any pod moves.
    auto onScale = [this](const json::object& o, const json::object& n) {
      if (intAt(o, {"spec", "replicas"}, 1) == intAt(n, {"spec", "replicas"}, 1)) return;
      for (auto& pdb : pdbs_.byIndex(client::kIndexNamespace, namespaceOf(n))) enqueue(*pdb);
    };
    for (auto* inf : {&replicaSets_, &deployments_, &statefulSets_, &replicationControllers_}) {
      inf->addEventHandler({.onUpdate = onScale});
    }
  }

 protected:
  void sync(const std::string& key) override {
    auto pdb = pdbs_.get(key);
    if (!pdb) return;
    try {
      trySync(*pdb);
    } catch (const SyncError& e) {
      failSafe(*pdb, e.what());
      // Retry with backoff: the missing piece (often a controller not yet in the cache)
      // usually shows up soon.
      throw;
    }
  }

 private:
  void enqueueBudgetsOf(const json::object& pod) {
    for (auto& pdb : pdbs_.byIndex(client::kIndexNamespace, namespaceOf(pod))) {
      try {
        auto sel = selectorOf(*pdb);
        if (sel.matches(objectAt(pod, {"metadata", "labels"}))) enqueue(*pdb);
      } catch (const ApiError&) {
      }
    }
  }

  // The pods a budget covers. policy/v1: a null selector selects nothing, an empty one
  // every pod of the namespace.
  std::vector<client::ObjectPtr> podsFor(const json::object& pdb) {
    api::LabelSelector sel;
    try {
      sel = selectorOf(pdb);
    } catch (const ApiError& e) {
      throw SyncError(e.what());
    }
    std::vector<client::ObjectPtr> out;
    for (auto& pod : pods_.byIndex(client::kIndexNamespace, namespaceOf(pdb)))
      if (labelsMatch(sel, *pod)) out.push_back(pod);
    return out;
  }

  // The controller scale behind a pod: {uid, replicas}, following ReplicaSet → Deployment.
  std::optional<std::pair<std::string, int64_t>> scaleOf(const json::object& pod,
                                                         const json::object& ref) {
    std::string ns = namespaceOf(pod), kind = stringAt(ref, {"kind"}),
                name = stringAt(ref, {"name"}), uid = stringAt(ref, {"uid"});
    auto lookup = [&](client::SharedInformer& inf, const std::string& n,
                      const std::string& wantUid) -> client::ObjectPtr {
      auto obj = inf.get(makeKey(ns, n));
      return obj && uidOf(*obj) == wantUid ? obj : nullptr;
    };
    auto replicas = [](const json::object& o) { return intAt(o, {"spec", "replicas"}, 1); };
    std::string group = stringAt(ref, {"apiVersion"});
    group = group.find('/') == std::string::npos ? "" : group.substr(0, group.find('/'));
    if (kind == "ReplicaSet" && group == "apps") {
      auto rs = lookup(replicaSets_, name, uid);
      if (!rs) return std::nullopt;
      if (const json::object* owner = controllerRefOf(*rs);
          owner && stringAt(*owner, {"kind"}) == "Deployment")
        if (auto dep = lookup(deployments_, stringAt(*owner, {"name"}), stringAt(*owner, {"uid"})))
          return std::pair{uidOf(*dep), replicas(*dep)};
      return std::pair{uidOf(*rs), replicas(*rs)};
    }
    if (kind == "StatefulSet" && group == "apps") {
      if (auto sts = lookup(statefulSets_, name, uid))
        return std::pair{uidOf(*sts), replicas(*sts)};
      return std::nullopt;
    }
    if (kind == "ReplicationController" && group.empty()) {
      if (auto rc = lookup(replicationControllers_, name, uid))
        return std::pair{uidOf(*rc), replicas(*rc)};
      return std::nullopt;
    }
    return std::nullopt;
  }

  // Sum of the scales of the pods' controllers; pods without a controller are reported.
  int64_t expectedScale(const json::object& pdb, const std::vector<client::ObjectPtr>& pods,
                        std::vector<std::string>& unmanaged) {
    std::map<std::string, int64_t> scales;  // by the uid of the controller whose scale counts
    std::set<std::string> resolved;         // pod controllerRef uids already looked up
    for (auto& pod : pods) {
      const json::object* ref = controllerRefOf(*pod);
      if (!ref) {
        unmanaged.push_back(nameOf(*pod));
        continue;
      }
      std::string refUid = stringAt(*ref, {"uid"});
      if (resolved.contains(refUid)) continue;
      auto scale = scaleOf(*pod, *ref);
      if (!scale) {
        std::string msg = "found no controllers for pod \"" + nameOf(*pod) + "\"";
        recorder_.event(pdb, client::kEventTypeWarning, "NoControllers", msg);
        throw SyncError(msg);
      }
      resolved.insert(refUid);
      scales[scale->first] = scale->second;  // ReplicaSets of one Deployment count it once
    }
    int64_t total = 0;
    for (auto& [uid, n] : scales) total += n;
    return total;
  }

  void trySync(const json::object& pdb) {
    auto pods = podsFor(pdb);
    if (pods.empty())
      recorder_.event(pdb, client::kEventTypeNormal, "NoPods", "No matching pods found");

    int64_t expected = 0, desiredHealthy = 0;
    std::vector<std::string> unmanaged;
    const json::value* maxUnavailable = valueAt(pdb, {"spec", "maxUnavailable"});
    const json::value* minAvailable = valueAt(pdb, {"spec", "minAvailable"});
    try {
      if (maxUnavailable && !maxUnavailable->is_null()) {
        expected = expectedScale(pdb, pods, unmanaged);
        desiredHealthy = std::max<int64_t>(0, expected - scaledValue(*maxUnavailable, expected));
      } else if (minAvailable && !minAvailable->is_null()) {
        if (minAvailable->is_string()) {
          expected = expectedScale(pdb, pods, unmanaged);
          desiredHealthy = scaledValue(*minAvailable, expected);
        } else {
          desiredHealthy = scaledValue(*minAvailable, 0);
          expected = static_cast<int64_t>(pods.size());
        }
      }
    } catch (const SyncError& e) {
      recorder_.event(pdb, client::kEventTypeWarning, "CalculateExpectedPodCountFailed",
                      std::string("Failed to calculate the number of expected pods: ") + e.what());
      throw;
    }
    if (!unmanaged.empty()) {
      std::string sel = json::serialize(
          valueAt(pdb, {"spec", "selector"}) ? *valueAt(pdb, {"spec", "selector"}) : json::value());
      recorder_.event(
          pdb, client::kEventTypeWarning, "UnmanagedPods",
          "Pods selected by this PodDisruptionBudget (selector: " + sel +
              ") were found to be unmanaged. As a result, the status of the PDB cannot be "
              "calculated correctly, which may result in undefined behavior. To account for "
              "these pods please set \".spec.minAvailable\" field of the PDB to an integer value.");
    }

    // disruptedPods: keep the entries of live pods not yet past the deletion timeout.
    auto now = syncClock().now();
    json::object disrupted;
    std::optional<std::chrono::system_clock::time_point> recheck;
    const json::object* recorded = objectAt(pdb, {"status", "disruptedPods"});
    for (auto& pod : pods) {
      if (!recorded || isBeingDeleted(*pod)) continue;
      const json::value* t = recorded->if_contains(nameOf(*pod));
      if (!t || !t->is_string()) continue;
      std::chrono::system_clock::time_point when;
      if (!parseTime(std::string(t->get_string()), when)) continue;
      auto deadline = when + kDeletionTimeout;
      if (deadline < now) {
        recorder_.event(
            *pod, client::kEventTypeWarning, "NotDeleted",
            "Pod was expected by PDB " + client::objectKey(pdb) + " to be deleted but it wasn't");
        continue;
      }
      disrupted[nameOf(*pod)] = *t;
      if (!recheck || deadline < *recheck) recheck = deadline;
    }

    int64_t healthy = 0;
    for (auto& pod : pods) {
      if (isBeingDeleted(*pod) || disrupted.contains(nameOf(*pod))) continue;
      if (isPodReady(*pod)) ++healthy;
    }
    int64_t allowed = healthy - desiredHealthy;
    if (expected <= 0 || allowed <= 0) allowed = 0;

    writeStatus(pdb, healthy, desiredHealthy, expected, allowed, disrupted);
    if (recheck) {
      auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(*recheck - now) +
                   std::chrono::seconds(1);
      enqueueAfter(client::objectKey(pdb), delay);
    }
  }

  // Sets the DisruptionAllowed condition from status.disruptionsAllowed (upstream's
  // UpdateDisruptionAllowedCondition); returns whether anything changed.
  static bool updateAllowedCondition(json::object& pdb) {
    int64_t allowed = intAt(pdb, {"status", "disruptionsAllowed"});
    bool changed = setCondition(pdb, "DisruptionAllowed", allowed > 0 ? "True" : "False",
                                allowed > 0 ? "SufficientPods" : "InsufficientPods", "");
    return stampConditionGeneration(pdb) || changed;
  }

  // metav1.Condition carries observedGeneration: the status generation it describes.
  static bool stampConditionGeneration(json::object& pdb) {
    int64_t gen = intAt(pdb, {"status", "observedGeneration"});
    json::value* conds = ensureObject(pdb, {"status"}).if_contains("conditions");
    if (!conds || !conds->is_array()) return false;
    for (auto& c : conds->get_array()) {
      json::object* cond = c.if_object();
      if (!cond || stringAt(*cond, {"type"}) != "DisruptionAllowed") continue;
      if (intAt(*cond, {"observedGeneration"}, -1) == gen) return false;
      (*cond)["observedGeneration"] = gen;
      return true;
    }
    return false;
  }

  void writeStatus(const json::object& pdb, int64_t healthy, int64_t desired, int64_t expected,
                   int64_t allowed, const json::object& disrupted) {
    json::object updated = pdb;
    json::object& status = ensureObject(updated, {"status"});
    status["currentHealthy"] = healthy;
    status["desiredHealthy"] = desired;
    status["expectedPods"] = expected;
    status["disruptionsAllowed"] = allowed;
    if (disrupted.empty())
      status.erase("disruptedPods");
    else
      status["disruptedPods"] = disrupted;
    status["observedGeneration"] = intAt(pdb, {"metadata", "generation"});
    updateAllowedCondition(updated);
    if (updated == pdb) return;  // up to date: no write
    client_.updateStatus(kPdbs, namespaceOf(pdb), updated);
  }

  void failSafe(const json::object& pdb, const std::string& why) {
    json::object updated = pdb;
    ensureObject(updated, {"status"})["disruptionsAllowed"] = 0;
    setCondition(updated, "DisruptionAllowed", "False", "SyncFailed", why);
    stampConditionGeneration(updated);
    if (updated == pdb) return;
    try {
      client_.updateStatus(kPdbs, namespaceOf(pdb), updated);
    } catch (const ApiError& e) {
      if (e.code() != 404 && e.code() != 409) throw;
    }
  }

  client::SharedInformer& pdbs_;
  client::SharedInformer& pods_;
  client::SharedInformer& replicaSets_;
  client::SharedInformer& deployments_;
  client::SharedInformer& statefulSets_;
  client::SharedInformer& replicationControllers_;
};

ControllerRegistration reg("disruption", [](ControllerContext& ctx) {
  return std::make_unique<DisruptionController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
