// DaemonSet controller (upstream's daemonset-controller): one daemon pod per eligible node.
//
// sync(ds) groups the DaemonSet's pods by target node and, when its expectations are met:
// creates a pod on every eligible node that has none (pinned by a metadata.name node
// affinity term so the default scheduler binds it there), deletes pods on nodes that must
// not run them, deletes failed pods (recreated on the next sync, with a per-node backoff),
// then rolls pods to the current ControllerRevision (RollingUpdate with maxUnavailable or
// maxSurge; OnDelete leaves it to the user), trims the revision history and writes status.
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "api/json_view.h"
#include "common/api_error.h"
#include "common/ids.h"
#include "controller/controller.h"
#include "controller/controller_history.h"
#include "controller/controller_utils.h"
#include "controller/daemonset_util.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;
using api::sameAt;
using client::ObjectPtr;

const std::string kTemplateGenerationLabel = "pod-template-generation";

// An IntOrString ("25%" or 2) against `total`, percentages rounded up as upstream does for
// DaemonSets.
int64_t resolveIntOrPercent(const json::value* v, int64_t total, int64_t fallback) {
  if (!v) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_string()) {
    std::string s(v->get_string());
    if (!s.empty() && s.back() == '%') {
      try {
        double pct = std::stod(s.substr(0, s.size() - 1));
        return static_cast<int64_t>(std::ceil(pct * static_cast<double>(total) / 100.0));
      } catch (...) {
        return fallback;
      }
    }
    try {
      return std::stoll(s);
    } catch (...) {
      return fallback;
    }
  }
  return fallback;
}

bool olderFirst(const ObjectPtr& a, const ObjectPtr& b) {
  auto ta = stringAt(*a, {"metadata", "creationTimestamp"}),
       tb = stringAt(*b, {"metadata", "creationTimestamp"});
  return ta != tb ? ta < tb : nameOf(*a) < nameOf(*b);
}

// Per DaemonSet+node backoff before a failed daemon pod is replaced (upstream: 1 s doubling
// to 15 min), so a crashing pod does not turn into a create/delete hot loop.
class FailedPodBackoff {
 public:
  // Remaining wait for `key`, zero when a replacement may happen now.
  std::chrono::milliseconds remaining(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return {};
    auto now = syncClock().monotonic();
    if (now >= it->second.until) return {};
    return std::chrono::duration_cast<std::chrono::milliseconds>(it->second.until - now);
  }
  void next(const std::string& key) {
    std::lock_guard lock(mu_);
    auto& e = entries_[key];
    e.delay = e.delay.count() == 0
                  ? std::chrono::seconds(1)
                  : std::min(e.delay * 2, std::chrono::milliseconds(std::chrono::minutes(15)));
    e.until = syncClock().monotonic() + e.delay;
  }
  void forgetPrefix(const std::string& prefix) {
    std::lock_guard lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end();)
      it = it->first.rfind(prefix, 0) == 0 ? entries_.erase(it) : std::next(it);
  }

 private:
  struct Entry {
    std::chrono::milliseconds delay{0};
    std::chrono::steady_clock::time_point until;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

class DaemonSetController : public QueueController {
 public:
  explicit DaemonSetController(ControllerContext& ctx)
      : QueueController(ctx, "daemonset", "daemonset-controller"),
        sets_(ctx.informers.informer(client::resources::daemonSets)),
        pods_(ctx.informers.informer(client::resources::pods)),
        nodes_(ctx.informers.informer(client::resources::nodes)),
        revisions_(ctx.informers.informer(kControllerRevisions)) {
    pods_.addIndexer(client::kIndexOwnerUid, client::indexByOwnerUid);
    revisions_.addIndexer(client::kIndexOwnerUid, client::indexByOwnerUid);
    sets_.addEventHandler({
        .onAdd = [this](const json::object& ds) { enqueue(ds); },
        .onUpdate = [this](const json::object&, const json::object& ds) { enqueue(ds); },
        .onDelete =
            [this](const json::object& ds) {
              auto key = client::objectKey(ds);
              expectations_.forget(key);
              backoff_.forgetPrefix(key + "/");
            },
    });
    pods_.addEventHandler(ownedObjectHandlers("DaemonSet", expectations_));
    nodes_.addEventHandler({
        .onAdd = [this](const json::object&) { enqueueAll(); },
        .onUpdate =
            [this](const json::object& o, const json::object& n) {
              // Heartbeats change only status; what decides eligibility is labels and spec.
              if (!sameAt(o, n, {"metadata", "labels"}) || !sameAt(o, n, {"spec"})) enqueueAll();
            },
        .onDelete = [this](const json::object&) { enqueueAll(); },
    });
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
    const json::object& ds = *cached;
    auto selector = selectorOf(ds);
    if (selector.empty() || selector.matchesNothing() || !objectAt(ds, {"spec", "template"})) {
      // Upstream refuses to act on a DaemonSet that selects every pod (or none).
      recorder_.event(ds, client::kEventTypeWarning, "SelectingAll",
                      "This daemon set is selecting all pods. A non-empty selector is required.");
      return;
    }

    auto history = ownedRevisions(revisions_, uidOf(ds));
    int64_t collisionCount = intAt(ds, {"status", "collisionCount"});
    auto current = ensureRevision(client_, ds, "DaemonSet", history, collisionCount);
    auto hash = stringAt(current, {"metadata", "labels", kControllerRevisionHashLabel});

    auto byNode = podsByNode(ds);
    auto nodes = nodes_.list();
    std::sort(nodes.begin(), nodes.end(), [](auto& a, auto& b) { return nameOf(*a) < nameOf(*b); });

    if (expectations_.satisfied(key)) {
      bool acted = manage(key, ds, nodes, byNode, hash);
      if (!acted &&
          stringAt(ds, {"spec", "updateStrategy", "type"}, "RollingUpdate") == "RollingUpdate")
        rollingUpdate(key, ds, nodes, byNode, hash);
      cleanupHistory(ds, history, current, byNode);
    }
    updateStatus(key, ds, nodes, byNode, hash, collisionCount);
  }

 private:
  std::string ownerKey(const json::object& obj) const { return controllerKeyOf(obj, "DaemonSet"); }

  void enqueueAll() {
    for (auto& ds : sets_.list()) enqueue(*ds);
  }

  // Pods controlled by the DaemonSet, by target node, oldest first.
  std::map<std::string, std::vector<ObjectPtr>> podsByNode(const json::object& ds) {
    std::map<std::string, std::vector<ObjectPtr>> out;
    auto uid = uidOf(ds);
    for (auto& p : pods_.byIndex(client::kIndexOwnerUid, uid))
      if (isControlledBy(*p, uid)) out[daemonPodTargetNode(*p)].push_back(p);
    for (auto& [_, v] : out) std::sort(v.begin(), v.end(), olderFirst);
    return out;
  }

  static bool isUpdated(const json::object& pod, const std::string& hash, int64_t generation) {
    auto podHash = stringAt(pod, {"metadata", "labels", kControllerRevisionHashLabel});
    if (!podHash.empty()) return podHash == hash;
    return stringAt(pod, {"metadata", "labels", kTemplateGenerationLabel}) ==
           std::to_string(generation);
  }

  static bool allowsSurge(const json::object& ds, int64_t desired) {
    if (stringAt(ds, {"spec", "updateStrategy", "type"}, "RollingUpdate") != "RollingUpdate")
      return false;
    return resolveIntOrPercent(valueAt(ds, {"spec", "updateStrategy", "rollingUpdate", "maxSurge"}),
                               desired, 0) > 0;
  }

  // Creates and deletes daemon pods so every eligible node runs exactly one. Returns whether
  // anything was written (the rolling update then waits for the next sync).
  bool manage(const std::string& key, const json::object& ds, const std::vector<ObjectPtr>& nodes,
              std::map<std::string, std::vector<ObjectPtr>>& byNode, const std::string& hash) {
    std::vector<std::string> create;
    std::vector<ObjectPtr> remove;
    std::set<std::string> known;
    const auto generation = intAt(ds, {"metadata", "generation"});
    int64_t desired = 0;
    for (auto& n : nodes) desired += nodeShouldRunDaemonPod(*n, ds).shouldRun ? 1 : 0;
    const bool surge = allowsSurge(ds, desired);

    for (auto& n : nodes) {
      const auto node = nameOf(*n);
      known.insert(node);
      auto fit = nodeShouldRunDaemonPod(*n, ds);
      auto& pods = byNode[node];
      if (fit.shouldRun && pods.empty()) {
        create.push_back(node);
        continue;
      }
      if (!fit.shouldContinueRunning) {
        for (auto& p : pods)
          if (!isBeingDeleted(*p)) remove.push_back(p);
        continue;
      }
      std::vector<ObjectPtr> running;
      for (auto& p : pods) {
        if (isBeingDeleted(*p)) continue;
        if (podPhase(*p) == "Failed") {
          auto bkey = key + "/" + node;
          if (auto wait = backoff_.remaining(bkey); wait.count() > 0) {
            enqueueAfter(key, wait + std::chrono::milliseconds(10));
            continue;
          }
          backoff_.next(bkey);
          recorder_.event(ds, client::kEventTypeWarning, "FailedDaemonPod",
                          "Found failed daemon pod " + namespaceOf(*p) + "/" + nameOf(*p) +
                              " on node " + node + ", will try to kill it");
          remove.push_back(p);
          continue;
        }
        running.push_back(p);
      }
      if (running.size() <= 1) continue;
      if (!surge) {
        // Only one daemon pod per node: keep the oldest.
        for (size_t i = 1; i < running.size(); ++i) remove.push_back(running[i]);
        continue;
      }
      // With surge an updated and an old pod may overlap; keep the oldest of each.
      bool keptNew = false, keptOld = false;
      for (auto& p : running) {
        bool updated = isUpdated(*p, hash, generation);
        bool& kept = updated ? keptNew : keptOld;
        if (kept) remove.push_back(p);
        kept = true;
      }
    }
    // Pods waiting for a node that no longer exists would never be scheduled.
    for (auto& [node, pods] : byNode) {
      if (known.count(node)) continue;
      for (auto& p : pods)
        if (stringAt(*p, {"spec", "nodeName"}).empty() && !isBeingDeleted(*p)) remove.push_back(p);
    }
    syncNodes(key, ds, remove, create, hash);
    return !create.empty() || !remove.empty();
  }

  void syncNodes(const std::string& key, const json::object& ds,
                 const std::vector<ObjectPtr>& remove, const std::vector<std::string>& create,
                 const std::string& hash) {
    if (create.empty() && remove.empty()) return;
    expectations_.expect(key, static_cast<int>(create.size()), static_cast<int>(remove.size()));
    const auto ns = namespaceOf(ds);
    std::exception_ptr firstError;
    for (auto& node : create) {
      try {
        auto pod = newPod(ds, node, hash);
        auto created = client_.create(client::resources::pods, ns, pod);
        recorder_.event(ds, client::kEventTypeNormal, "SuccessfulCreate",
                        "Created pod: " + nameOf(created));
      } catch (const ApiError& e) {
        expectations_.creationObserved(key);  // no watch event will come for it
        if (e.code() == 403 && e.reason() == "Forbidden") {
          // The namespace is terminating: nothing to do until it is gone.
          continue;
        }
        recorder_.event(ds, client::kEventTypeWarning, "FailedCreate",
                        "Error creating: " + std::string(e.what()));
        if (!firstError) firstError = std::current_exception();
      } catch (...) {
        expectations_.creationObserved(key);
        if (!firstError) firstError = std::current_exception();
      }
    }
    for (auto& p : remove) {
      try {
        client_.remove(client::resources::pods, ns, nameOf(*p));
        recorder_.event(ds, client::kEventTypeNormal, "SuccessfulDelete",
                        "Deleted pod: " + nameOf(*p));
      } catch (const ApiError& e) {
        expectations_.deletionObserved(key);
        if (e.code() == 404) continue;
        recorder_.event(ds, client::kEventTypeWarning, "FailedDelete",
                        "Error deleting: " + std::string(e.what()));
        if (!firstError) firstError = std::current_exception();
      } catch (...) {
        expectations_.deletionObserved(key);
        if (!firstError) firstError = std::current_exception();
      }
    }
    if (firstError) std::rethrow_exception(firstError);
  }

  json::object newPod(const json::object& ds, const std::string& node, const std::string& hash) {
    json::object tmpl;
    if (auto* t = objectAt(ds, {"spec", "template"})) tmpl = *t;
    auto& labels = ensureObject(tmpl, {"metadata", "labels"});
    labels[kControllerRevisionHashLabel] = hash;
    labels[kTemplateGenerationLabel] = std::to_string(intAt(ds, {"metadata", "generation"}));
    auto pod = podFromTemplate(tmpl, namespaceOf(ds), makeControllerRef(ds, "apps/v1", "DaemonSet"),
                               nameOf(ds) + "-");
    auto& spec = ensureObject(pod, {"spec"});
    addDaemonTolerations(spec);
    pinToNode(spec, node);
    return pod;
  }

  // Replaces old pods with pods of the current revision: without surge at most
  // maxUnavailable daemon pods are down at once (old pods are deleted, manage() creates
  // the new ones); with maxSurge a new pod starts next to the old one, which is deleted
  // once the new one is available.
  void rollingUpdate(const std::string& key, const json::object& ds,
                     const std::vector<ObjectPtr>& nodes,
                     std::map<std::string, std::vector<ObjectPtr>>& byNode,
                     const std::string& hash) {
    const auto generation = intAt(ds, {"metadata", "generation"});
    const auto minReady = intAt(ds, {"spec", "minReadySeconds"});
    const auto now = syncClock().now();
    std::vector<std::string> eligible;
    for (auto& n : nodes)
      if (nodeShouldRunDaemonPod(*n, ds).shouldRun) eligible.push_back(nameOf(*n));
    const int64_t desired = static_cast<int64_t>(eligible.size());
    auto* ru = valueAt(ds, {"spec", "updateStrategy", "rollingUpdate"});
    const json::object* ruObj = ru ? ru->if_object() : nullptr;
    int64_t maxSurge = ruObj ? resolveIntOrPercent(ruObj->if_contains("maxSurge"), desired, 0) : 0;
    int64_t maxUnavailable =
        ruObj ? resolveIntOrPercent(ruObj->if_contains("maxUnavailable"), desired, 1) : 1;
    if (maxSurge == 0 && maxUnavailable <= 0)
      maxUnavailable = 1;  // validation forbids both zero; stay safe

    std::vector<ObjectPtr> remove;
    std::vector<std::string> create;
    int64_t unavailable = 0, surging = 0;
    struct Slot {
      std::string node;
      ObjectPtr newPod, oldPod;
    };
    std::vector<Slot> slots;
    for (auto& node : eligible) {
      Slot s{node, nullptr, nullptr};
      int news = 0, olds = 0;
      for (auto& p : byNode[node]) {
        if (!isPodActive(*p)) continue;
        if (isUpdated(*p, hash, generation)) {
          ++news;
          if (!s.newPod) s.newPod = p;
        } else {
          ++olds;
          if (!s.oldPod) s.oldPod = p;
        }
      }
      if (news > 1 || olds > 1) {  // manage() is still cleaning up this node
        ++unavailable;
        continue;
      }
      slots.push_back(s);
    }

    if (maxSurge == 0) {
      std::vector<ObjectPtr> replaceNow, candidates;
      for (auto& s : slots) {
        if ((!s.newPod && !s.oldPod) || (s.newPod && s.oldPod)) {
          ++unavailable;
        } else if (s.newPod) {
          if (!isPodAvailable(*s.newPod, minReady, now)) ++unavailable;
        } else if (!isPodAvailable(*s.oldPod, minReady, now)) {
          replaceNow.push_back(s.oldPod);  // already down: replacing it costs nothing
        } else {
          candidates.push_back(s.oldPod);
        }
      }
      // Replacing a pod that is already down costs nothing, so only candidates use the budget.
      int64_t budget = std::max<int64_t>(0, maxUnavailable - unavailable);
      remove = replaceNow;
      for (size_t i = 0; i < candidates.size() && static_cast<int64_t>(i) < budget; ++i)
        remove.push_back(candidates[i]);
    } else {
      for (auto& s : slots)
        if (s.newPod && s.oldPod && !isPodAvailable(*s.newPod, minReady, now)) ++surging;
      for (auto& s : slots) {
        if (s.newPod && s.oldPod) {
          if (isPodAvailable(*s.newPod, minReady, now)) remove.push_back(s.oldPod);
        } else if (s.oldPod && !s.newPod) {
          if (!isPodAvailable(*s.oldPod, minReady, now)) {
            create.push_back(s.node);
          } else if (surging < maxSurge) {
            ++surging;
            create.push_back(s.node);
          }
        }
      }
    }
    syncNodes(key, ds, remove, create, hash);
    if (minReady > 0) enqueueAfter(key, std::chrono::seconds(minReady));
  }

  // Keeps revisionHistoryLimit old revisions besides the current one and any a live pod uses.
  void cleanupHistory(const json::object& ds, const std::vector<ObjectPtr>& history,
                      const json::object& current,
                      const std::map<std::string, std::vector<ObjectPtr>>& byNode) {
    std::set<std::string> liveHashes;
    for (auto& [_, pods] : byNode)
      for (auto& p : pods)
        liveHashes.insert(stringAt(*p, {"metadata", "labels", kControllerRevisionHashLabel}));
    std::set<std::string> keep{nameOf(current)};
    for (auto& r : history)
      if (liveHashes.count(stringAt(*r, {"metadata", "labels", kControllerRevisionHashLabel})))
        keep.insert(nameOf(*r));
    truncateHistory(client_, history, keep, intAt(ds, {"spec", "revisionHistoryLimit"}, 10));
  }

  void updateStatus(const std::string& key, const json::object& ds,
                    const std::vector<ObjectPtr>& nodes,
                    std::map<std::string, std::vector<ObjectPtr>>& byNode, const std::string& hash,
                    int64_t collisionCount) {
    const auto generation = intAt(ds, {"metadata", "generation"});
    const auto minReady = intAt(ds, {"spec", "minReadySeconds"});
    const auto now = syncClock().now();
    int64_t desired = 0, current = 0, misscheduled = 0, ready = 0, available = 0, updated = 0;
    bool waitingForAvailability = false;
    for (auto& n : nodes) {
      auto fit = nodeShouldRunDaemonPod(*n, ds);
      std::vector<ObjectPtr> pods;
      for (auto& p : byNode[nameOf(*n)])
        if (!isBeingDeleted(*p)) pods.push_back(p);
      bool scheduled = !pods.empty();
      if (!fit.shouldRun) {
        if (scheduled) ++misscheduled;
        continue;
      }
      ++desired;
      if (!scheduled) continue;
      ++current;
      // With surge a node may hold an old and a new pod: the new one speaks for the node.
      ObjectPtr pod = pods.front();
      for (auto& p : pods)
        if (isUpdated(*p, hash, generation)) {
          pod = p;
          break;
        }
      if (isPodReady(*pod)) {
        ++ready;
        if (isPodAvailable(*pod, minReady, now))
          ++available;
        else
          waitingForAvailability = true;
      }
      if (isUpdated(*pod, hash, generation)) ++updated;
    }
    json::object status{
        {"currentNumberScheduled", current}, {"numberMisscheduled", misscheduled},
        {"desiredNumberScheduled", desired}, {"numberReady", ready},
        {"observedGeneration", generation},  {"updatedNumberScheduled", updated},
        {"numberAvailable", available},      {"numberUnavailable", desired - available}};
    if (collisionCount > 0) status["collisionCount"] = collisionCount;
    if (waitingForAvailability && minReady > 0) enqueueAfter(key, std::chrono::seconds(minReady));

    auto* old = objectAt(ds, {"status"});
    bool same = old != nullptr;
    if (old)
      for (auto& [k, v] : status)
        if (!old->if_contains(k) || old->at(k) != v) same = false;
    if (same) return;
    try {
      client_.patch(client::resources::daemonSets, namespaceOf(ds), nameOf(ds),
                    client::PatchType::Merge, json::object{{"status", std::move(status)}},
                    "status");
    } catch (const ApiError& e) {
      if (e.code() != 404) throw;
    }
  }

  client::SharedInformer& sets_;
  client::SharedInformer& pods_;
  client::SharedInformer& nodes_;
  client::SharedInformer& revisions_;
  Expectations expectations_;
  FailedPodBackoff backoff_;
};

ControllerRegistration reg("daemonset", [](ControllerContext& ctx) {
  return std::make_unique<DaemonSetController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
