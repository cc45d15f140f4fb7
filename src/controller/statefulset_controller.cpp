// StatefulSet controller (upstream's statefulset-controller): pods with stable names
// <set>-<ordinal>, stable storage and ordered rollout.
//
// sync(set) finds (or creates) the ControllerRevision of the current template, splits the
// set's pods into replicas (ordinals in [start, start+replicas)) and condemned ones, and:
// creates missing replicas (their PersistentVolumeClaims first) and replaces failed ones;
// deletes condemned pods from the highest ordinal; then, for RollingUpdate, replaces pods
// not at the update revision from the highest ordinal down to the partition. With
// OrderedReady every step waits until all lower ordinals are Running and Ready (and one
// pod changes at a time); Parallel does not wait. Pods below the partition are recreated
// at the current revision, as upstream does.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "common/api_error.h"
#include "controller/controller.h"
#include "controller/controller_history.h"
#include "controller/controller_utils.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;
using client::ObjectPtr;

const std::string kPodNameLabel = "statefulset.kubernetes.io/pod-name";
const std::string kPodIndexLabel = "apps.kubernetes.io/pod-index";

// The ordinal in "<set>-<ordinal>", or -1 when the name is not of that form.
int64_t ordinalOf(const std::string& setName, const std::string& podName) {
  if (podName.size() <= setName.size() + 1 || podName.compare(0, setName.size(), setName) != 0 ||
      podName[setName.size()] != '-')
    return -1;
  auto digits = podName.substr(setName.size() + 1);
  if (digits.empty() || digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), ::isdigit))
    return -1;
  if (digits.size() > 1 && digits[0] == '0') return -1;
  return std::stoll(digits);
}

class StatefulSetController : public QueueController {
 public:
  explicit StatefulSetController(ControllerContext& ctx)
      : QueueController(ctx, "statefulset", "statefulset-controller"),
        sets_(ctx.informers.informer(client::resources::statefulSets)),
        pods_(ctx.informers.informer(client::resources::pods)),
        claims_(ctx.informers.informer(client::resources::persistentVolumeClaims)),
        revisions_(ctx.informers.informer(kControllerRevisions)) {
    pods_.addIndexer(client::kIndexOwnerUid, client::indexByOwnerUid);
    revisions_.addIndexer(client::kIndexOwnerUid, client::indexByOwnerUid);
    sets_.addEventHandler({
        .onAdd = [this](const json::object& s) { enqueue(s); },
        .onUpdate = [this](const json::object&, const json::object& s) { enqueue(s); },
        .onDelete = [this](const json::object& s) { expectations_.forget(client::objectKey(s)); },
    });
    pods_.addEventHandler(ownedObjectHandlers("StatefulSet", expectations_));
    revisions_.addEventHandler({
        .onDelete =
            [this](const json::object& rev) {
              if (auto key = ownerKey(rev); !key.empty()) enqueueKey(key);
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
    if (isBeingDeleted(*cached)) return;  // the garbage collector removes the pods
    const json::object& set = *cached;
    auto selector = selectorOf(set);
    if (selector.empty() || selector.matchesNothing() || !objectAt(set, {"spec", "template"}))
      return;

    auto history = ownedRevisions(revisions_, uidOf(set));
    int64_t collisionCount = intAt(set, {"status", "collisionCount"});
    auto updateRev = ensureRevision(client_, set, "StatefulSet", history, collisionCount);
    json::object currentRev = updateRev;
    auto currentName = stringAt(set, {"status", "currentRevision"});
    bool foundCurrent = false;
    for (auto& r : history)
      if (nameOf(*r) == currentName) {
        currentRev = *r;
        foundCurrent = true;
      }
    if (!foundCurrent && !currentName.empty()) {
      // The revision cache may lag behind our status: ask the server before treating the
      // current revision as gone (that would wrongly report the update revision as current).
      try {
        auto rev = client_.get(kControllerRevisions, namespaceOf(set), currentName);
        if (isControlledBy(rev, uidOf(set))) currentRev = rev;
      } catch (const ApiError& e) {
        if (e.code() != 404) throw;
      }
    }

    State st;
    st.set = &set;
    st.key = key;
    st.ns = namespaceOf(set);
    st.name = nameOf(set);
    st.currentSet = applyRevision(set, currentRev);
    st.currentRevision = nameOf(currentRev);
    st.updateRevision = nameOf(updateRev);
    st.start = std::max<int64_t>(0, intAt(set, {"spec", "ordinals", "start"}, 0));
    st.replicas = std::max<int64_t>(0, intAt(set, {"spec", "replicas"}, 1));
    st.monotonic = stringAt(set, {"spec", "podManagementPolicy"}, "OrderedReady") != "Parallel";
    st.minReady = intAt(set, {"spec", "minReadySeconds"});
    st.slots.assign(static_cast<size_t>(std::min<int64_t>(st.replicas, 100000)), nullptr);
    auto uid = uidOf(set);
    for (auto& p : pods_.byIndex(client::kIndexOwnerUid, uid)) {
      if (!isControlledBy(*p, uid)) continue;
      auto ord = ordinalOf(st.name, nameOf(*p));
      if (ord < 0) continue;  // not a member: upstream ignores such pods
      st.pods.push_back(p);
      if (ord >= st.start && ord < st.start + static_cast<int64_t>(st.slots.size()))
        st.slots[static_cast<size_t>(ord - st.start)] = p;
      else
        st.condemned.push_back(p);
    }
    std::sort(st.condemned.begin(), st.condemned.end(), [&](auto& a, auto& b) {
      return ordinalOf(st.name, nameOf(*a)) > ordinalOf(st.name, nameOf(*b));
    });

    if (expectations_.satisfied(key)) update(st);
    updateStatus(st, collisionCount);

    std::set<std::string> keep{st.currentRevision, st.updateRevision};
    for (auto& p : st.pods)
      keep.insert(stringAt(*p, {"metadata", "labels", kControllerRevisionHashLabel}));
    truncateHistory(client_, history, keep, intAt(set, {"spec", "revisionHistoryLimit"}, 10));
  }

 private:
  struct State {
    const json::object* set = nullptr;
    std::string key, ns, name;
    json::object currentSet;
    std::string currentRevision, updateRevision;
    int64_t start = 0, replicas = 0, minReady = 0;
    bool monotonic = true;
    std::vector<ObjectPtr> pods;       // every member pod
    std::vector<ObjectPtr> slots;      // index i holds ordinal start+i (null: missing)
    std::vector<ObjectPtr> condemned;  // ordinals out of range, highest first
  };

  std::string ownerKey(const json::object& obj) const {
    return controllerKeyOf(obj, "StatefulSet");
  }

  static std::string revisionOf(const json::object& pod) {
    return stringAt(pod, {"metadata", "labels", kControllerRevisionHashLabel});
  }
  static bool runningAndReady(const json::object& pod) {
    return podPhase(pod) == "Running" && isPodReady(pod);
  }
  bool healthy(const State& st, const json::object& pod) const {
    return !isBeingDeleted(pod) && runningAndReady(pod) && isPodAvailable(pod, st.minReady);
  }

  // Brings pods to the spec; returns early wherever OrderedReady has to wait.
  void update(State& st) {
    // Replicas: create what is missing, replace failures, and (OrderedReady) wait for each
    // ordinal to be Running and Ready before looking at the next.
    for (size_t i = 0; i < st.slots.size(); ++i) {
      int64_t ord = st.start + static_cast<int64_t>(i);
      auto& pod = st.slots[i];
      if (!pod) {
        createReplica(st, ord);
        if (st.monotonic) return;
        continue;
      }
      if (isBeingDeleted(*pod)) {
        if (st.monotonic) return;
        continue;
      }
      if (isPodTerminal(*pod)) {
        // Failed (or completed) pods are deleted; the next sync recreates the ordinal.
        deletePod(st, *pod);
        if (st.monotonic) return;
        continue;
      }
      if (st.monotonic && !healthy(st, *pod)) {
        if (runningAndReady(*pod) && st.minReady > 0)
          enqueueAfter(st.key, std::chrono::seconds(st.minReady));
        return;
      }
      ensureClaims(st, ord, pod.get());
    }

    // Scale down from the highest ordinal; OrderedReady one pod at a time, and only while
    // every other pod is healthy (an unhealthy condemned pod may go first, as upstream).
    ObjectPtr firstUnhealthy;
    for (auto& pod : st.condemned)
      if (!firstUnhealthy && !healthy(st, *pod)) firstUnhealthy = pod;
    for (auto& pod : st.condemned) {
      if (isBeingDeleted(*pod)) {
        if (st.monotonic) return;
        continue;
      }
      if (st.monotonic && firstUnhealthy && firstUnhealthy != pod) return;
      releaseClaimsOnScaleDown(st, *pod);
      deletePod(st, *pod);
      if (st.monotonic) return;
    }

    if (stringAt(*st.set, {"spec", "updateStrategy", "type"}, "RollingUpdate") != "RollingUpdate")
      return;
    rollingUpdate(st);
  }

  void rollingUpdate(State& st) {
    const int64_t partition = std::max<int64_t>(
        0, intAt(*st.set, {"spec", "updateStrategy", "rollingUpdate", "partition"}));
    int64_t maxUnavailable = 1;
    if (auto* mu =
            valueAt(*st.set, {"spec", "updateStrategy", "rollingUpdate", "maxUnavailable"})) {
      if (mu->is_int64()) maxUnavailable = mu->get_int64();
      if (mu->is_string()) {
        std::string s(mu->get_string());
        try {
          if (!s.empty() && s.back() == '%')
            maxUnavailable = static_cast<int64_t>(
                std::ceil(std::stod(s.substr(0, s.size() - 1)) * st.replicas / 100.0));
          else
            maxUnavailable = std::stoll(s);
        } catch (...) {
          maxUnavailable = 1;
        }
      }
    }
    maxUnavailable = std::max<int64_t>(1, maxUnavailable);
    const int64_t n = static_cast<int64_t>(st.slots.size());
    if (partition >= n) return;
    int64_t unavailable = 0;
    for (int64_t i = partition; i < n; ++i)
      if (!st.slots[i] || !healthy(st, *st.slots[i])) ++unavailable;
    // From the highest ordinal down to the partition, never exceeding maxUnavailable pods down.
    for (int64_t i = n - 1; i >= partition; --i) {
      auto& pod = st.slots[i];
      if (!pod) continue;
      if (revisionOf(*pod) != st.updateRevision && !isBeingDeleted(*pod)) {
        if (unavailable >= maxUnavailable && healthy(st, *pod)) return;
        bool wasHealthy = healthy(st, *pod);
        deletePod(st, *pod);
        if (wasHealthy) ++unavailable;
        if (unavailable >= maxUnavailable) return;
        continue;
      }
      // With one pod at a time (upstream's default) an updated pod that is not yet healthy
      // blocks the ones below it.
      if (maxUnavailable == 1 && !healthy(st, *pod)) return;
    }
  }

  // The pod for `ordinal`: ordinals below the partition keep the current revision.
  json::object newPod(const State& st, int64_t ordinal) {
    bool useCurrent = false;
    if (stringAt(*st.set, {"spec", "updateStrategy", "type"}, "RollingUpdate") == "RollingUpdate") {
      auto partition = intAt(*st.set, {"spec", "updateStrategy", "rollingUpdate", "partition"});
      useCurrent = ordinal < st.start + partition;
    }
    const json::object& source = useCurrent ? st.currentSet : *st.set;
    const std::string& revision = useCurrent ? st.currentRevision : st.updateRevision;
    const auto podName = st.name + "-" + std::to_string(ordinal);

    json::object tmpl;
    if (auto* t = objectAt(source, {"spec", "template"})) tmpl = *t;
    auto& labels = ensureObject(tmpl, {"metadata", "labels"});
    labels[kPodNameLabel] = podName;
    labels[kPodIndexLabel] = std::to_string(ordinal);
    labels[kControllerRevisionHashLabel] = revision;
    auto pod =
        podFromTemplate(tmpl, st.ns, makeControllerRef(*st.set, "apps/v1", "StatefulSet"), "");
    pod["metadata"].as_object()["name"] = podName;
    auto& spec = ensureObject(pod, {"spec"});
    spec["hostname"] = podName;
    auto service = stringAt(*st.set, {"spec", "serviceName"});
    if (!service.empty()) spec["subdomain"] = service;

    // Each claim template becomes the pod's volume of that name, bound to its own claim.
    if (auto* templates = arrayAt(*st.set, {"spec", "volumeClaimTemplates"})) {
      auto& vv = spec["volumes"];
      if (!vv.is_array()) vv = json::array{};
      auto& volumes = vv.get_array();
      for (auto& t : *templates) {
        if (!t.is_object()) continue;
        auto claimTemplate = nameOf(t.get_object());
        if (claimTemplate.empty()) continue;
        json::object volume{{"name", claimTemplate},
                            {"persistentVolumeClaim",
                             json::object{{"claimName", claimName(st, claimTemplate, ordinal)}}}};
        bool replaced = false;
        for (auto& v : volumes)
          if (v.is_object() && stringAt(v.get_object(), {"name"}) == claimTemplate) {
            v = volume;
            replaced = true;
          }
        if (!replaced) volumes.push_back(std::move(volume));
      }
      if (volumes.empty()) spec.erase("volumes");
    }
    return pod;
  }

  static std::string claimName(const State& st, const std::string& templateName, int64_t ordinal) {
    return templateName + "-" + st.name + "-" + std::to_string(ordinal);
  }

  // Creates the claims of `ordinal` that do not exist yet (before the pod, so the pod never
  // waits on storage that nobody will create).
  void ensureClaims(const State& st, int64_t ordinal, const json::object* pod) {
    auto* templates = arrayAt(*st.set, {"spec", "volumeClaimTemplates"});
    if (!templates) return;
    const bool deleteWithSet =
        stringAt(*st.set, {"spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted"},
                 "Retain") == "Delete";
    for (auto& t : *templates) {
      if (!t.is_object()) continue;
      const auto& tmpl = t.get_object();
      auto tname = nameOf(tmpl);
      if (tname.empty()) continue;
      auto name = claimName(st, tname, ordinal);
      if (claims_.get(makeKey(st.ns, name))) continue;
      json::object labels;
      if (auto* l = objectAt(tmpl, {"metadata", "labels"})) labels = *l;
      if (auto* ml = objectAt(*st.set, {"spec", "selector", "matchLabels"}))
        for (auto& [k, v] : *ml) labels[k] = v;
      json::object meta{{"name", name}, {"namespace", st.ns}};
      if (!labels.empty()) meta["labels"] = std::move(labels);
      if (auto* a = objectAt(tmpl, {"metadata", "annotations"})) meta["annotations"] = *a;
      if (deleteWithSet)
        meta["ownerReferences"] = json::array{makeControllerRef(*st.set, "apps/v1", "StatefulSet")};
      json::object claim{
          {"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"}, {"metadata", std::move(meta)}};
      if (auto* s = objectAt(tmpl, {"spec"})) claim["spec"] = *s;
      try {
        client_.create(client::resources::persistentVolumeClaims, st.ns, claim);
        recorder_.event(*st.set, client::kEventTypeNormal, "SuccessfulCreate",
                        "create Claim " + name + " Pod " + st.name + "-" + std::to_string(ordinal) +
                            " in StatefulSet " + st.name + " success");
      } catch (const ApiError& e) {
        if (e.code() == 409) continue;  // created earlier; the cache has not caught up
        recorder_.event(*st.set, client::kEventTypeWarning, "FailedCreate",
                        "create Claim " + name + " for Pod " + st.name + "-" +
                            std::to_string(ordinal) + " in StatefulSet " + st.name +
                            " failed error: " + e.what());
        throw;
      }
    }
    (void)pod;
  }

  void createReplica(State& st, int64_t ordinal) {
    ensureClaims(st, ordinal, nullptr);
    auto pod = newPod(st, ordinal);
    auto podName = nameOf(pod);
    expectations_.expect(st.key, 1, 0);
    try {
      client_.create(client::resources::pods, st.ns, pod);
    } catch (const ApiError& e) {
      expectations_.creationObserved(st.key);
      if (e.code() == 409) return;  // it exists; the cache will show it
      if (e.code() == 403) return;  // terminating namespace
      recorder_.event(
          *st.set, client::kEventTypeWarning, "FailedCreate",
          "create Pod " + podName + " in StatefulSet " + st.name + " failed error: " + e.what());
      throw;
    }
    recorder_.event(*st.set, client::kEventTypeNormal, "SuccessfulCreate",
                    "create Pod " + podName + " in StatefulSet " + st.name + " successful");
  }

  void deletePod(State& st, const json::object& pod) {
    expectations_.expect(st.key, 0, 1);
    try {
      client_.remove(client::resources::pods, st.ns, nameOf(pod));
    } catch (const ApiError& e) {
      expectations_.deletionObserved(st.key);
      if (e.code() == 404) return;
      recorder_.event(*st.set, client::kEventTypeWarning, "FailedDelete",
                      "delete Pod " + nameOf(pod) + " in StatefulSet " + st.name +
                          " failed error: " + e.what());
      throw;
    }
    recorder_.event(*st.set, client::kEventTypeNormal, "SuccessfulDelete",
                    "delete Pod " + nameOf(pod) + " in StatefulSet " + st.name + " successful");
  }

  // whenScaled=Delete: the condemned pod becomes an owner of its claims, so the garbage
  // collector deletes them with the pod.
  void releaseClaimsOnScaleDown(const State& st, const json::object& pod) {
    if (stringAt(*st.set, {"spec", "persistentVolumeClaimRetentionPolicy", "whenScaled"},
                 "Retain") != "Delete")
      return;
    auto* templates = arrayAt(*st.set, {"spec", "volumeClaimTemplates"});
    if (!templates) return;
    auto ord = ordinalOf(st.name, nameOf(pod));
    for (auto& t : *templates) {
      if (!t.is_object()) continue;
      auto name = claimName(st, nameOf(t.get_object()), ord);
      auto claim = claims_.get(makeKey(st.ns, name));
      if (!claim) continue;
      json::array refs;
      if (auto* r = arrayAt(*claim, {"metadata", "ownerReferences"})) refs = *r;
      bool has = false;
      for (auto& r : refs)
        if (r.is_object() && stringAt(r.get_object(), {"uid"}) == uidOf(pod)) has = true;
      if (has) continue;
      refs.push_back(json::object{
          {"apiVersion", "v1"}, {"kind", "Pod"}, {"name", nameOf(pod)}, {"uid", uidOf(pod)}});
      try {
        client_.patch(
            client::resources::persistentVolumeClaims, st.ns, name, client::PatchType::Merge,
            json::object{{"metadata", json::object{{"ownerReferences", std::move(refs)}}}});
      } catch (const ApiError& e) {
        if (e.code() != 404) throw;
      }
    }
  }

  void updateStatus(const State& st, int64_t collisionCount) {
    const auto now = syncClock().now();
    int64_t replicas = 0, ready = 0, available = 0, current = 0, updated = 0;
    for (auto& p : st.pods) {
      if (isBeingDeleted(*p)) continue;
      ++replicas;
      if (runningAndReady(*p)) {
        ++ready;
        if (isPodAvailable(*p, st.minReady, now)) ++available;
      }
      if (revisionOf(*p) == st.currentRevision) ++current;
      if (revisionOf(*p) == st.updateRevision) ++updated;
    }
    std::string currentRevision = st.currentRevision;
    // A finished rolling update makes the update revision current.
    if (stringAt(*st.set, {"spec", "updateStrategy", "type"}, "RollingUpdate") == "RollingUpdate" &&
        updated == replicas && ready == replicas) {
      currentRevision = st.updateRevision;
      current = updated;
    }
    json::object status{{"observedGeneration", intAt(*st.set, {"metadata", "generation"})},
                        {"replicas", replicas},
                        {"readyReplicas", ready},
                        {"currentReplicas", current},
                        {"updatedReplicas", updated},
                        {"availableReplicas", available},
                        {"currentRevision", currentRevision},
                        {"updateRevision", st.updateRevision},
                        {"collisionCount", collisionCount}};
    if (ready > available && st.minReady > 0)
      enqueueAfter(st.key, std::chrono::seconds(st.minReady));
    auto* old = objectAt(*st.set, {"status"});
    bool same = old != nullptr;
    if (old)
      for (auto& [k, v] : status)
        if (!old->if_contains(k) || old->at(k) != v) same = false;
    if (same) return;
    try {
      client_.patch(client::resources::statefulSets, st.ns, st.name, client::PatchType::Merge,
                    json::object{{"status", std::move(status)}}, "status");
    } catch (const ApiError& e) {
      if (e.code() != 404) throw;
    }
  }

  client::SharedInformer& sets_;
  client::SharedInformer& pods_;
  client::SharedInformer& claims_;
  client::SharedInformer& revisions_;
  Expectations expectations_;
};

ControllerRegistration reg("statefulset", [](ControllerContext& ctx) {
  return std::make_unique<StatefulSetController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
