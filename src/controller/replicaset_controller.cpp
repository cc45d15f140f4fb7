// ReplicaSet controller (upstream's replicaset-controller), and the same logic for core/v1
// ReplicationControllers (upstream runs the RS controller over an RC adapter too).
//
// sync(key): claim the active pods (adopt matching orphans, release owned pods that stopped
// matching), then, once earlier creations/deletions have been observed (expectations), create
// the missing pods in slow-start batches or delete the surplus ranked like upstream, and
// write status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
// observedGeneration, the ReplicaFailure condition).
#include <atomic>
#include <mutex>
#include <unordered_map>

#include "api/json_view.h"
#include "common/api_error.h"
#include "common/hash.h"
#include "common/ids.h"
#include "common/log.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"
#include "controller/workload_utils.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;
using api::sameAt;
using api::stringViewAt;

// Upstream caps the creations/deletions of one sync (burstReplicas).
constexpr int kBurstReplicas = 500;

struct WorkloadKind {
  client::Resource resource;
  std::string apiVersion;
  std::string kind;
  bool mapSelector;  // RC selectors are plain label maps
};

const WorkloadKind kReplicaSetKind{client::resources::replicaSets, "apps/v1", "ReplicaSet", false};
const WorkloadKind kReplicationControllerKind{
    {"", "v1", "replicationcontrollers"}, "v1", "ReplicationController", true};

class ReplicaSetController : public QueueController {
 public:
  ReplicaSetController(ControllerContext& ctx, const WorkloadKind& kind, std::string name,
                       std::string component)
      : QueueController(ctx, std::move(name), std::move(component)),
        kind_(kind),
        sets_(ctx.informers.informer(kind.resource)),
        pods_(ctx.informers.informer(client::resources::pods)) {
    sets_.addIndexer(client::kIndexNamespace, client::indexByNamespace);
    pods_.addIndexer(client::kIndexNamespace, client::indexByNamespace);
    pods_.addIndexer(client::kIndexOwnerUid, client::indexByOwnerUid);
    pods_.addIndexer(client::kIndexOrphanNamespace, client::indexOrphansByNamespace);
    sets_.addEventHandler({
        .onAdd = [this](const json::object& rs) { enqueue(rs); },
        .onUpdate = [this](const json::object&, const json::object& rs) { enqueue(rs); },
        .onDelete =
            [this](const json::object& rs) {
              expectations_.forget(client::objectKey(rs));
              enqueue(rs);
            },
    });
    pods_.addEventHandler({
        .onAdd =
            [this](const json::object& pod) {
              rememberFacts(pod);
              podAdded(pod);
            },
        .onUpdate =
            [this](const json::object& o, const json::object& n) {
              rememberFacts(n);
              podUpdated(o, n);
            },
        .onDelete =
            [this](const json::object& pod) {
              forgetFacts(pod);
              podDeleted(pod);
            },
    });
  }

 protected:
  void sync(const std::string& key) override {
    auto cached = sets_.get(key);
    if (!cached) {
      expectations_.forget(key);
      return;
    }
    const json::object& rs = *cached;
    auto selector = workloadSelector(rs, kind_.mapSelector);
    bool needsSync = expectations_.satisfied(key);

    // Only active pods count (upstream FilterActivePods): terminating and finished pods are
    // neither claimed nor counted.
    // The candidates are the pods this set controls and the namespace's orphans: pods of
    // other controllers can never be claimed, and walking them made each sync cost
    // O(pods in the namespace) (30,000 pods in one namespace: 0.6 of a core in this loop).
    // The pods it controls and still selects are read from their facts (no JSON walk);
    // the rest — orphans, and controlled pods whose labels stopped matching — go through
    // claimObjects, which adopts or releases them.
    const std::string uid = uidOf(rs);
    const uint64_t ownUid = uidHash(uid);
    const json::object* templateLabels = objectAt(rs, {"spec", "template", "metadata", "labels"});
    LabelVerdicts verdicts(selector, templateLabels);
    std::vector<client::ObjectPtr> pods, unclaimed;
    std::vector<PodFacts> facts;
    {
      auto entries = pods_.store().byIndexWithKeys(client::kIndexOwnerUid, uid);
      std::lock_guard lock(factsMu_);
      for (auto& [podKey, p] : entries) {
        auto it = facts_.find(podKey);
        PodFacts f = it != facts_.end() && it->second.state == p.get() ? it->second : readFacts(*p);
        if (!f.controllerUid || !f.active) continue;  // orphans come from their own index
        if (f.controllerUid != ownUid) continue;      // another controller's
        if (verdicts.of(f.labels, *p).selected) {
          pods.push_back(std::move(p));
          facts.push_back(f);
        } else {
          unclaimed.push_back(std::move(p));
        }
      }
    }
    for (auto& p : pods_.byIndex(client::kIndexOrphanNamespace, namespaceOf(rs)))
      if (isPodActive(*p)) unclaimed.push_back(p);
    if (!unclaimed.empty()) {
      auto ref = makeControllerRef(rs, kind_.apiVersion, kind_.kind);
      for (auto& p : claimObjects(client_, client::resources::pods, rs, ref, selector, unclaimed,
                                  [&] { return canAdopt(rs); })) {
        facts.push_back(readFacts(*p));
        pods.push_back(std::move(p));
      }
    }

    std::optional<std::string> manageError;
    int64_t diff = static_cast<int64_t>(pods.size()) - desiredReplicas(rs);
    if (needsSync && !isBeingDeleted(rs) && !selector.matchesNothing())
      manageError = manageReplicas(key, rs, pods);

    auto updated = updateStatus(rs, countPods(rs, pods, facts, verdicts), manageError, diff);
    int64_t minReady = intAt(rs, {"spec", "minReadySeconds"});
    // Pods turn available minReadySeconds after they became ready: look again then.
    if (!manageError && minReady > 0 &&
        intAt(updated, {"status", "readyReplicas"}) == desiredReplicas(rs) &&
        intAt(updated, {"status", "availableReplicas"}) != desiredReplicas(rs))
      enqueueAfter(key, std::chrono::seconds(minReady));
    if (manageError) throw std::runtime_error(*manageError);
  }

 private:
  // --- what a sync reads of each pod, kept from the pod events
  //
  // Every sync looks at all of its set's pods. Reading owner reference, phase, deletion,
  // Ready condition and labels out of 1,500 pods' JSON trees, spread over gigabytes of
  // cached objects, cost ~7 µs a pod in cache and TLB misses (perf at 150,000 pods: 38 % of
  // the controller in controllerRefOf alone) and made this controller the busiest part of a
  // 5,000-node ramp. The facts are read once per pod event instead, while the object is
  // fresh in the CPU cache, and kept per pod key for the pods a set of our kind controls.
  struct PodFacts {
    const json::object* state = nullptr;  // the object read; a sync uses the facts only while
                                          // it is still the cached one
    uint64_t controllerUid = 0;           // uidHash of the controller reference; 0: none
    uint64_t labels = 0;                  // labelsHash of metadata.labels
    bool active = false;
    bool ready = false;
    bool readySinceKnown = false;  // the Ready condition's lastTransitionTime parsed
    std::chrono::system_clock::time_point readySince;
  };

  static uint64_t uidHash(std::string_view uid) { return std::max<uint64_t>(1, fnv1a(uid)); }

  // Equal label maps hash equal whatever their order. Two different label maps sharing a
  // hash (odds 2^-64) would share a selector verdict within one sync.
  static uint64_t labelsHash(const json::object* labels) {
    if (!labels) return 0;
    uint64_t sum = 0;
    for (const auto& kv : *labels) {
      uint64_t h = fnv1a(kv.key());
      h = kv.value().is_string() ? fnv1a(std::string_view(kv.value().get_string()), h)
                                 : fnv1a(json::serialize(kv.value()), ~h);
      sum += h * 0x9e3779b97f4a7c15ull;
    }
    return fnv1a(std::to_string(labels->size()), sum) | 1;
  }

  static PodFacts readFacts(const json::object& pod) {
    return readFacts(pod, controllerRefOf(pod));
  }
  // `ref`: the pod's controller reference (controllerRefOf), when the caller read it already.
  static PodFacts readFacts(const json::object& pod, const json::object* ref) {
    PodFacts f;
    f.state = &pod;
    if (ref) f.controllerUid = uidHash(stringViewAt(*ref, {"uid"}));
    f.active = isPodActive(pod);
    if (auto* c = findCondition(pod, "Ready"); c && stringViewAt(*c, {"status"}) == "True") {
      f.ready = true;
      f.readySinceKnown = parseTime(stringAt(*c, {"lastTransitionTime"}), f.readySince);
    }
    f.labels = labelsHash(objectAt(pod, {"metadata", "labels"}));
    return f;
  }

  void rememberFacts(const json::object& pod) {
    auto* ref = controllerRefOf(pod);
    bool ours = ref && stringViewAt(*ref, {"kind"}) == kind_.kind;
    auto key = client::objectKey(pod);
    PodFacts f;
    if (ours) f = readFacts(pod, ref);
    std::lock_guard lock(factsMu_);
    if (ours)
      facts_[key] = f;
    else
      facts_.erase(key);
  }

  void forgetFacts(const json::object& pod) {
    auto key = client::objectKey(pod);
    std::lock_guard lock(factsMu_);
    facts_.erase(key);
  }

  // Whether pods with a given label map are selected by the set and carry all of its
  // template's labels: decided once per distinct label map in a sync (a set's pods share
  // theirs), from the first pod that has it.
  struct LabelVerdict {
    bool selected = false;
    bool fullyLabeled = false;
  };
  class LabelVerdicts {
   public:
    LabelVerdicts(const api::LabelSelector& selector, const json::object* templateLabels)
        : selector_(selector), templateLabels_(templateLabels) {}
    const LabelVerdict& of(uint64_t labelsHash, const json::object& pod) {
      auto [it, fresh] = byHash_.try_emplace(labelsHash);
      if (fresh) {
        const json::object* labels = objectAt(pod, {"metadata", "labels"});
        it->second.selected = selector_.matches(labels);
        bool full = true;
        if (templateLabels_)
          for (const auto& kv : *templateLabels_) {
            auto* v = labels ? labels->if_contains(kv.key()) : nullptr;
            if (!v || *v != kv.value()) full = false;
          }
        it->second.fullyLabeled = full;
      }
      return it->second;
    }

   private:
    const api::LabelSelector& selector_;
    const json::object* templateLabels_;
    std::unordered_map<uint64_t, LabelVerdict> byHash_;
  };

  int64_t desiredReplicas(const json::object& rs) const {
    return std::max<int64_t>(0, intAt(rs, {"spec", "replicas"}, 1));
  }

  // The set still exists with the UID we act for (a fresh read, as upstream's adoption check).
  bool canAdopt(const json::object& rs) {
    try {
      auto fresh = client_.get(kind_.resource, namespaceOf(rs), nameOf(rs));
      return uidOf(fresh) == uidOf(rs) && !isBeingDeleted(fresh);
    } catch (const ApiError& e) {
      if (e.code() == 404) return false;
      throw;
    }
  }

  // Returns an error message when some create/delete failed (the sync is then retried).
  std::optional<std::string> manageReplicas(const std::string& key, const json::object& rs,
                                            const std::vector<client::ObjectPtr>& pods) {
    int64_t diff = static_cast<int64_t>(pods.size()) - desiredReplicas(rs);
    const std::string ns = namespaceOf(rs);
    if (diff < 0) {
      int count = static_cast<int>(std::min<int64_t>(-diff, kBurstReplicas));
      const json::object* tmpl = objectAt(rs, {"spec", "template"});
      if (!tmpl) return std::string("spec.template is missing");
      expectations_.expectCreations(key, count);
      auto ref = makeControllerRef(rs, kind_.apiVersion, kind_.kind);
      std::mutex errMu;
      std::optional<std::string> firstError;
      std::atomic<bool> terminating{false};
      int created = slowStartBatch(count, 1, [&](int) {
        try {
          auto pod = podFromTemplate(*tmpl, ns, ref, nameOf(rs) + "-");
          auto out = client_.create(client::resources::pods, ns, pod);
          recorder_.event(rs, client::kEventTypeNormal, "SuccessfulCreate",
                          "Created pod: " + nameOf(out));
          return true;
        } catch (const std::exception& e) {
          // A namespace being torn down refuses every create: not a failure of this set
          // (upstream ignores the NamespaceTerminating cause too).
          auto* api = dynamic_cast<const ApiError*>(&e);
          if (api && api->code() == 403 &&
              std::string_view(e.what()).find("being terminated") != std::string_view::npos) {
            terminating = true;
            return false;
          }
          recorder_.event(rs, client::kEventTypeWarning, "FailedCreate",
                          std::string("Error creating: ") + e.what());
          std::lock_guard lock(errMu);
          if (!firstError) firstError = e.what();
          return false;
        }
      });
      // Creations that failed or were skipped will never be observed.
      if (created < count) expectations_.lowerCreations(key, count - created);
      if (terminating && !firstError) return std::nullopt;
      return firstError;
    }
    if (diff > 0) {
      int count = static_cast<int>(std::min<int64_t>(diff, kBurstReplicas));
      auto victims = podsToDelete(pods, relatedPods(rs), count);
      std::vector<std::string> keys;
      for (auto& p : victims) keys.push_back(client::objectKey(*p));
      expectations_.expectDeletions(key, keys);
      std::mutex errMu;
      std::optional<std::string> firstError;
      parallelFor(static_cast<int>(victims.size()), [&](int i) {
        const json::object& pod = *victims[i];
        try {
          client_.remove(client::resources::pods, ns, nameOf(pod));
          recorder_.event(rs, client::kEventTypeNormal, "SuccessfulDelete",
                          "Deleted pod: " + nameOf(pod));
        } catch (const std::exception& e) {
          // A pod already gone will not produce the event we wait for.
          expectations_.deletionObserved(key, keys[i]);
          auto* api = dynamic_cast<const ApiError*>(&e);
          if (api && api->code() == 404) return;
          recorder_.event(rs, client::kEventTypeWarning, "FailedDelete",
                          std::string("Error deleting: ") + e.what());
          std::lock_guard lock(errMu);
          if (!firstError) firstError = e.what();
        }
      });
      return firstError;
    }
    return std::nullopt;
  }

  // Pods of this set and of its siblings (same controller owner): upstream ranks a victim
  // higher when related pods are doubled up on its node.
  std::vector<client::ObjectPtr> relatedPods(const json::object& rs) {
    std::vector<client::ObjectPtr> out;
    std::vector<std::string> owners{uidOf(rs)};
    if (auto* ownerRef = controllerRefOf(rs)) {
      auto ownerUid = stringAt(*ownerRef, {"uid"});
      for (auto& sibling : sets_.byIndex(client::kIndexNamespace, namespaceOf(rs)))
        if (uidOf(*sibling) != uidOf(rs) && isControlledBy(*sibling, ownerUid))
          owners.push_back(uidOf(*sibling));
    }
    for (auto& uid : owners)
      for (auto& p : pods_.byIndex(client::kIndexOwnerUid, uid))
        if (isControlledBy(*p, uid)) out.push_back(p);
    return out;
  }

  struct PodCounts {
    int64_t replicas = 0, fullyLabeled = 0, ready = 0, available = 0;
  };

  // The status counts of the claimed pods, from their facts.
  static PodCounts countPods(const json::object& rs, const std::vector<client::ObjectPtr>& pods,
                             const std::vector<PodFacts>& facts, LabelVerdicts& verdicts) {
    const int64_t minReady = intAt(rs, {"spec", "minReadySeconds"});
    const auto now = syncClock().now();
    PodCounts c;
    c.replicas = static_cast<int64_t>(pods.size());
    for (size_t i = 0; i < pods.size(); ++i) {
      const PodFacts& f = facts[i];
      if (verdicts.of(f.labels, *pods[i]).fullyLabeled) ++c.fullyLabeled;
      if (!f.ready) continue;
      ++c.ready;
      // Available minReadySeconds after it became ready (an unreadable time never is).
      if (minReady <= 0 ||
          (f.readySinceKnown && f.readySince + std::chrono::seconds(minReady) <= now))
        ++c.available;
    }
    return c;
  }

  json::object updateStatus(const json::object& rs, const PodCounts& counts,
                            const std::optional<std::string>& manageError, int64_t diff) {
    json::object status = rs.contains("status") && rs.at("status").is_object()
                              ? rs.at("status").get_object()
                              : json::object{};
    status["replicas"] = counts.replicas;
    auto setOrErase = [&](const char* field, int64_t v) {
      if (v)
        status[field] = v;
      else
        status.erase(field);
    };
    setOrErase("fullyLabeledReplicas", counts.fullyLabeled);
    setOrErase("readyReplicas", counts.ready);
    setOrErase("availableReplicas", counts.available);
    setOrErase("observedGeneration", intAt(rs, {"metadata", "generation"}));

    json::object withStatus{{"status", status}};
    bool hasFailure = findCondition(withStatus, "ReplicaFailure") != nullptr;
    if (manageError && !hasFailure) {
      setCondition(withStatus, "ReplicaFailure", "True", diff < 0 ? "FailedCreate" : "FailedDelete",
                   *manageError);
    } else if (!manageError && hasFailure) {
      removeCondition(withStatus, "ReplicaFailure");
      if (auto* c = withStatus["status"].get_object().if_contains("conditions");
          c && c->is_array() && c->get_array().empty())
        withStatus["status"].get_object().erase("conditions");
    }
    status = withStatus["status"].get_object();

    auto* old = rs.if_contains("status");
    if (old && old->is_object() && old->get_object() == status) return rs;
    json::object next = rs;
    next["status"] = status;
    try {
      return client_.updateStatus(kind_.resource, namespaceOf(rs), next);
    } catch (const ApiError& e) {
      if (e.code() == 404) return rs;  // deleted meanwhile
      if (e.code() != 409) throw;
    }
    // Our cache is behind (often our own previous status write): like upstream, write the
    // status computed from the pods onto the current object once more.
    try {
      json::object fresh = client_.get(kind_.resource, namespaceOf(rs), nameOf(rs));
      if (uidOf(fresh) != uidOf(rs)) return rs;
      fresh["status"] = std::move(status);
      return client_.updateStatus(kind_.resource, namespaceOf(rs), fresh);
    } catch (const ApiError& e) {
      if (e.code() == 404) return rs;
      throw;
    }
  }

  // The set a pod's controllerRef names, if it is one of ours and still exists.
  std::optional<std::string> ownerKey(const json::object& pod) {
    auto* ref = controllerRefOf(pod);
    if (!ref || stringAt(*ref, {"kind"}) != kind_.kind) return std::nullopt;
    auto key = makeKey(namespaceOf(pod), stringAt(*ref, {"name"}));
    auto rs = sets_.get(key);
    if (!rs || uidOf(*rs) != stringAt(*ref, {"uid"})) return std::nullopt;
    return key;
  }

  void enqueueMatching(const json::object& pod) {
    for (auto& rs : sets_.byIndex(client::kIndexNamespace, namespaceOf(pod))) {
      auto sel = workloadSelector(*rs, kind_.mapSelector);
      if (labelsMatch(sel, pod)) enqueue(*rs);
    }
  }

  void podAdded(const json::object& pod) {
    if (isBeingDeleted(pod)) return podDeleted(pod);
    if (controllerRefOf(pod)) {
      if (auto key = ownerKey(pod)) {
        expectations_.creationObserved(*key);
        // The last awaited creation lets the next batch start now; earlier ones only
        // move status.replicas.
        if (expectations_.satisfied(*key))
          enqueueKey(*key);
        else
          enqueueBatched(*key);
      }
      return;
    }
    enqueueMatching(pod);
  }

  // Whether a pod update changed something a sync of its set reads: labels (claiming,
  // fullyLabeledReplicas), owner references, deletion, phase (active), the Ready condition
  // (ready and available replicas). A binding or an IP or container status change does not:
  // skipping them halves the syncs of a set whose pods are starting, and every sync walks
  // all of the set's pods (1,500 per set at upstream's largest cluster).
  static bool changesWhatSetsRead(const json::object& oldPod, const json::object& pod) {
    auto same = [&](Path path) { return sameAt(oldPod, pod, path); };
    if (!same({"metadata", "labels"}) || !same({"metadata", "ownerReferences"}) ||
        !same({"metadata", "deletionTimestamp"}) || !same({"status", "phase"}))
      return true;
    const json::object* was = findCondition(oldPod, "Ready");
    const json::object* now = findCondition(pod, "Ready");
    if ((was == nullptr) != (now == nullptr)) return true;
    return was &&
           (stringAt(*was, {"status"}) != stringAt(*now, {"status"}) ||
            stringAt(*was, {"lastTransitionTime"}) != stringAt(*now, {"lastTransitionTime"}));
  }

  void podUpdated(const json::object& oldPod, const json::object& pod) {
    if (!changesWhatSetsRead(oldPod, pod)) return;
    bool labelsChanged = !sameAt(oldPod, pod, {"metadata", "labels"});
    if (isBeingDeleted(pod) && !isBeingDeleted(oldPod)) {
      // A terminating pod no longer counts: treat it as deleted now (upstream does the same).
      podDeleted(pod);
      if (labelsChanged) podDeleted(oldPod);
      return;
    }
    auto* oldRef = controllerRefOf(oldPod);
    auto* newRef = controllerRefOf(pod);
    bool refChanged =
        (oldRef == nullptr) != (newRef == nullptr) ||
        (oldRef && newRef && stringAt(*oldRef, {"uid"}) != stringAt(*newRef, {"uid"}));
    if (refChanged && oldRef)
      if (auto key = ownerKey(oldPod)) enqueueKey(*key);
    if (newRef) {
      if (auto key = ownerKey(pod)) {
        // A pod that stays active with the same labels and owner only moves the ready and
        // available counts: batched. Anything else may need pods created or released now.
        if (!labelsChanged && !refChanged && isPodActive(pod) == isPodActive(oldPod))
          enqueueBatched(*key);
        else
          enqueueKey(*key);
        // Ready pods become available minReadySeconds later.
        if (isPodReady(pod) && !isPodReady(oldPod))
          if (auto rs = sets_.get(*key)) {
            int64_t minReady = intAt(*rs, {"spec", "minReadySeconds"});
            if (minReady > 0)
              enqueueAfter(*key, std::chrono::seconds(minReady) + std::chrono::milliseconds(100));
          }
      }
      return;
    }
    if (labelsChanged || refChanged) enqueueMatching(pod);
  }

  void podDeleted(const json::object& pod) {
    auto key = ownerKey(pod);
    if (!key) return;
    expectations_.deletionObserved(*key, client::objectKey(pod));
    enqueueKey(*key);
  }

  // A sync walks every pod of its set, so a big set whose pods change one after another
  // would be synced once per pod event (1,500 pods a set: ~1,500 syncs of 1,500 pods each
  // while they start). Events that only move status counters wait half a millisecond per
  // desired replica (rounded down, at most 1 s), so one sync covers all of them: a 3-pod set
  // reports within 1 ms, a 1,500-pod set within 750 ms. The queue keeps the earliest of the
  // pending delays, so a stream of events cannot postpone the sync.
  void enqueueBatched(const std::string& key) {
    auto rs = sets_.get(key);
    int64_t replicas = rs ? desiredReplicas(*rs) : 0;
    enqueueAfter(key, std::chrono::milliseconds(std::min<int64_t>(1000, replicas / 2)));
  }

  const WorkloadKind& kind_;
  client::SharedInformer& sets_;
  client::SharedInformer& pods_;
  WorkloadExpectations expectations_;
  std::mutex factsMu_;
  std::unordered_map<std::string, PodFacts> facts_;  // by pod key
};

ControllerRegistration reg("replicaset", [](ControllerContext& ctx) {
  return std::make_unique<ReplicaSetController>(ctx, kReplicaSetKind, "replicaset",
                                                "replicaset-controller");
});
ControllerRegistration regRc("replicationcontroller", [](ControllerContext& ctx) {
  return std::make_unique<ReplicaSetController>(ctx, kReplicationControllerKind,
                                                "replicationcontroller", "replication-controller");
});

}  // namespace
}  // namespace skiff::controller
