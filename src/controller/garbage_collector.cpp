// Garbage collector (upstream's garbagecollector controller).
//
// Every served resource that can own or be owned is watched through a shared informer and
// folded into one owner graph: object uid → identity, owner references and deletion state,
// plus an index owner uid → dependents. The informer handlers only update the graph and queue
// work; the workers act on two kinds of keys:
//
//   "d/<uid>"  a dependent that may have lost an owner (upstream's attemptToDelete): each
//              owner reference is checked with a live GET by name and uid (caches lag, and a
//              recreated owner with the same name is a different owner). If every owner is
//              gone — or waiting for its dependents in a foreground deletion — the dependent
//              is deleted; if some owner remains, only the dangling references are removed.
//   "o/<uid>"  an owner being deleted with a GC finalizer: "orphan" strips its references
//              from the dependents and then drops the finalizer; "foregroundDeletion"
//              deletes the dependents and drops the finalizer once no dependent with
//              blockOwnerDeletion=true is left, which lets the API server delete the owner.
//
// On start the informers replay every object, which rebuilds the graph and queues every
// dependent whose owner has not been seen, so orphans left while the collector was down are
// collected as well.
//
// The resources come from API discovery (controller/discovery.h), not from the built-in
// registry: custom resources and aggregated APIs appear and disappear at run time. Like
// upstream's resyncMonitors, the list is read again every 30 s; a new resource gets an
// informer (started at once when the collector runs), one no longer served has its
// informer stopped and its events ignored.
#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>

#include "api/resource_registry.h"
#include "common/api_error.h"
#include "common/log.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"
#include "controller/discovery.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;

const std::string kOrphanFinalizer = "orphan";
const std::string kForegroundFinalizer = "foregroundDeletion";

struct OwnerRef {
  std::string apiVersion, kind, name, uid;
  bool blockOwnerDeletion = false;
};

using ResourcePtr = std::shared_ptr<const DiscoveredResource>;

// What the graph knows about one object.
struct Node {
  ResourcePtr info;
  std::string ns, name, uid;
  std::vector<OwnerRef> owners;
  bool deleting = false;
  bool orphanFinalizer = false, foregroundFinalizer = false;
};

std::vector<OwnerRef> ownerRefsOf(const json::object& obj) {
  std::vector<OwnerRef> refs;
  const json::array* arr = arrayAt(obj, {"metadata", "ownerReferences"});
  if (!arr) return refs;
  for (const auto& v : *arr) {
    if (!v.is_object()) continue;  // malformed entries are ignored, never fatal
    const auto& r = v.as_object();
    OwnerRef ref{stringAt(r, {"apiVersion"}), stringAt(r, {"kind"}), stringAt(r, {"name"}),
                 stringAt(r, {"uid"}), boolAt(r, {"blockOwnerDeletion"})};
    if (!ref.uid.empty()) refs.push_back(std::move(ref));
  }
  return refs;
}

bool hasFinalizer(const json::object& obj, const std::string& name) {
  const json::array* arr = arrayAt(obj, {"metadata", "finalizers"});
  if (!arr) return false;
  for (const auto& f : *arr)
    if (f.is_string() && f.as_string() == name) return true;
  return false;
}

client::Resource toResource(const DiscoveredResource& info) { return info.ref(); }

std::string qualifiedResource(const DiscoveredResource& info) {
  return info.group.empty() ? info.resource : info.resource + "." + info.group;
}

std::string groupOf(const std::string& apiVersion) {
  auto slash = apiVersion.find('/');
  return slash == std::string::npos ? "" : apiVersion.substr(0, slash);
}

// Resources worth a monitor: every stored resource that can be listed, watched and deleted
// (other versions share its objects). Events are skipped like upstream: they are many,
// short-lived, and nothing owns them.
bool monitored(const DiscoveredResource& r) {
  return r.supports("list") && r.supports("watch") && r.supports("delete") &&
         r.resource != "events" && !r.aliasOfAnotherResource();
}

// How often the set of monitored resources follows discovery (upstream: 30 s).
constexpr auto kMonitorResyncPeriod = std::chrono::seconds(30);

class GarbageCollector : public QueueController {
 public:
  explicit GarbageCollector(ControllerContext& ctx)
      : QueueController(ctx, "garbagecollector", "garbage-collector-controller"),
        discovery_(ctx.discovery ? ctx.discovery : std::make_shared<ServerDiscovery>(ctx.client)) {
    syncMonitors();
    every(kMonitorResyncPeriod, [this] { syncMonitors(); });
  }

  void run() override {
    {
      std::lock_guard lock(monitorMu_);
      running_ = true;
    }
    // Informers created before the manager started the factory are started by it; this
    // covers any created since.
    startMonitors();
    QueueController::run();
  }

 protected:
  void sync(const std::string& key) override {
    if (key.size() < 3) return;
    std::string uid = key.substr(2);
    if (key.starts_with("d/"))
      attemptToDelete(uid);
    else if (key.starts_with("o/"))
      processDeletingOwner(uid);
  }

 private:
  // --- monitors: one informer per discovered resource

  struct Monitor {
    ResourcePtr resource;
    client::SharedInformer* informer = nullptr;
    // Cleared when the resource is no longer served; its handlers then ignore events.
    std::shared_ptr<std::atomic<bool>> active = std::make_shared<std::atomic<bool>>(true);
  };

  static std::string monitorKey(const DiscoveredResource& r) { return r.group + "/" + r.resource; }

  // Follows discovery: monitors for new resources, stops those of resources gone. Kinds
  // (for owner references) are learnt from every discovered resource.
  void syncMonitors() {
    std::vector<DiscoveredResource> served;
    try {
      served = discovery_->resources();
    } catch (const std::exception& e) {
      bool first;
      {
        std::lock_guard lock(monitorMu_);
        first = monitors_.empty();
      }
      if (!first) {
        SKIFF_LOG_WARN(
            "garbagecollector: discovery failed, keeping the monitored resources error=\"{}\"",
            e.what());
        return;
      }
      // Not even a first answer (the server is not up yet): start with the built-in
      // resources; the next resync brings the rest.
      SKIFF_LOG_WARN(
          "garbagecollector: discovery failed, monitoring the built-in resources error=\"{}\"",
          e.what());
      served = StaticDiscovery().resources();
    }
    std::map<std::string, ResourcePtr> kinds;
    std::set<std::string> wanted;
    std::vector<Monitor> added, removed;
    {
      std::lock_guard lock(monitorMu_);
      for (auto& r : served) {
        auto ptr = std::make_shared<const DiscoveredResource>(r);
        kinds.emplace(r.group + "/" + r.kind, ptr);
        if (!monitored(r)) continue;
        auto key = monitorKey(r);
        wanted.insert(key);
        if (monitors_.count(key)) continue;
        Monitor m{ptr, &informers_.informer(toResource(r))};
        monitors_[key] = m;
        added.push_back(m);
      }
      for (auto it = monitors_.begin(); it != monitors_.end();) {
        if (wanted.count(it->first)) {
          ++it;
          continue;
        }
        removed.push_back(it->second);
        it = monitors_.erase(it);
      }
      kinds_ = std::move(kinds);
    }
    for (auto& m : removed) {
      SKIFF_LOG_INFO("garbagecollector: {} is no longer served, stopping its monitor",
                     qualifiedResource(*m.resource));
      m.active->store(false);
      m.informer->stop();
    }
    for (auto& m : added) {
      ResourcePtr ri = m.resource;
      auto active = m.active;
      m.informer->addEventHandler({
          .onAdd =
              [this, ri, active](const json::object& obj) {
                if (*active) observe(ri, obj);
              },
          .onUpdate =
              [this, ri, active](const json::object&, const json::object& obj) {
                if (*active) observe(ri, obj);
              },
          .onDelete =
              [this, active](const json::object& obj) {
                if (*active) forget(obj);
              },
      });
    }
    if (!added.empty()) startMonitors();
  }

  void startMonitors() {
    std::vector<client::SharedInformer*> toStart;
    {
      std::lock_guard lock(monitorMu_);
      if (!running_) return;
      for (auto& [key, m] : monitors_) toStart.push_back(m.informer);
    }
    for (auto* inf : toStart) inf->start();  // idempotent
  }

  // The resource serving (apiVersion, kind): any served version of the group will do,
  // since every version shares the object (and its uid). Discovery first; the built-in
  // registry for kinds discovery did not list this time.
  ResourcePtr resolveKind(const std::string& apiVersion, const std::string& kind) {
    const std::string group = groupOf(apiVersion);
    {
      std::lock_guard lock(monitorMu_);
      if (auto it = kinds_.find(group + "/" + kind); it != kinds_.end()) return it->second;
    }
    const auto& registry = api::ResourceRegistry::builtin();
    std::string version =
        apiVersion.substr(apiVersion.find('/') == std::string::npos ? 0 : apiVersion.find('/') + 1);
    const api::ResourceInfo* info = registry.findKind(group, version, kind);
    if (!info)
      for (const auto& i : registry.all())
        if (i.group == group && i.kind == kind) info = &i;
    if (!info) return nullptr;
    const auto& stored = info->storageInfo();
    return std::make_shared<const DiscoveredResource>(DiscoveredResource{
        stored.group, stored.version, stored.plural, stored.kind, stored.namespaced, stored.verbs});
  }

  // --- graph maintenance (informer threads)

  void observe(const ResourcePtr& info, const json::object& obj) {
    Node node;
    node.info = info;
    node.ns = namespaceOf(obj);
    node.name = nameOf(obj);
    node.uid = uidOf(obj);
    if (node.uid.empty()) return;
    node.owners = ownerRefsOf(obj);
    node.deleting = isBeingDeleted(obj);
    node.orphanFinalizer = hasFinalizer(obj, kOrphanFinalizer);
    node.foregroundFinalizer = hasFinalizer(obj, kForegroundFinalizer);

    std::lock_guard lock(mu_);
    std::set<std::string> touchedOwners, oldOwners, newOwners;
    if (auto it = nodes_.find(node.uid); it != nodes_.end()) {
      for (const auto& ref : it->second.owners) {
        oldOwners.insert(ref.uid);
        unlinkLocked(ref.uid, node.uid);
      }
    }
    bool needsCheck = false;
    for (const auto& ref : node.owners) {
      newOwners.insert(ref.uid);
      dependents_[ref.uid].insert(node.uid);
      auto owner = nodes_.find(ref.uid);
      if (owner != nodes_.end() && owner->second.deleting && owner->second.foregroundFinalizer)
        needsCheck = true;  // its owner waits for it
      // An owner the graph has not seen may be gone (or its informer is behind: the live
      // check sorts that out); one seen in another namespace is not a valid owner. Checked
      // when the references are new, not on every status update of the dependent.
      else if (oldOwners != newOwners || oldOwners.empty())
        if (owner == nodes_.end() ||
            (owner->second.info->namespaced && owner->second.ns != node.ns))
          needsCheck = true;
    }
    touchedOwners = oldOwners;
    touchedOwners.insert(newOwners.begin(), newOwners.end());
    bool gcFinalizer = node.deleting && (node.orphanFinalizer || node.foregroundFinalizer);
    const std::string uid = node.uid;
    nodes_[uid] = std::move(node);
    if (needsCheck) enqueueKey("d/" + uid);
    if (gcFinalizer) enqueueKey("o/" + uid);
    // A dependent changed (deletion started, references edited): an owner waiting for its
    // dependents re-evaluates.
    for (const auto& ownerUid : touchedOwners) enqueueIfWaitingLocked(ownerUid);
  }

  void forget(const json::object& obj) {
    std::string uid = uidOf(obj);
    if (uid.empty()) return;
    std::lock_guard lock(mu_);
    auto it = nodes_.find(uid);
    if (it == nodes_.end()) return;
    for (const auto& ref : it->second.owners) {
      unlinkLocked(ref.uid, uid);
      enqueueIfWaitingLocked(ref.uid);
    }
    nodes_.erase(it);
    // Its dependents still reference it: each may now be garbage.
    if (auto deps = dependents_.find(uid); deps != dependents_.end())
      for (const auto& dep : deps->second) enqueueKey("d/" + dep);
  }

  void unlinkLocked(const std::string& ownerUid, const std::string& depUid) {
    auto it = dependents_.find(ownerUid);
    if (it == dependents_.end()) return;
    it->second.erase(depUid);
    if (it->second.empty()) dependents_.erase(it);
  }

  void enqueueIfWaitingLocked(const std::string& ownerUid) {
    auto owner = nodes_.find(ownerUid);
    if (owner != nodes_.end() && owner->second.deleting &&
        (owner->second.foregroundFinalizer || owner->second.orphanFinalizer))
      enqueueKey("o/" + ownerUid);
  }

  std::vector<Node> dependentsOf(const std::string& uid) {
    std::lock_guard lock(mu_);
    std::vector<Node> out;
    if (auto it = dependents_.find(uid); it != dependents_.end())
      for (const auto& dep : it->second)
        if (auto n = nodes_.find(dep); n != nodes_.end()) out.push_back(n->second);
    return out;
  }

  std::optional<Node> nodeOf(const std::string& uid) {
    std::lock_guard lock(mu_);
    auto it = nodes_.find(uid);
    if (it == nodes_.end()) return std::nullopt;
    return it->second;
  }

  bool hasDependents(const std::string& uid) {
    std::lock_guard lock(mu_);
    auto it = dependents_.find(uid);
    if (it == dependents_.end()) return false;
    for (const auto& dep : it->second)
      if (nodes_.count(dep)) return true;
    return false;
  }

  // --- live reads and writes (workers)

  // The object as the API server has it now, if it is still the one with `uid`.
  std::optional<json::object> liveGet(const Node& node) {
    try {
      auto obj = client_.get(toResource(*node.info), node.ns, node.name);
      if (uidOf(obj) != node.uid) return std::nullopt;
      return obj;
    } catch (const ApiError& e) {
      if (e.code() == 404) return std::nullopt;
      throw;
    }
  }

  // Rewrites the object's ownerReferences without the given owner uids (compare-and-swap,
  // re-read on conflict). Gone objects need nothing.
  void removeOwnerRefs(const Node& node, const std::set<std::string>& ownerUids) {
    for (int attempt = 0;; ++attempt) {
      auto obj = liveGet(node);
      if (!obj) return;
      json::array* refs = nullptr;
      if (auto* meta = obj->if_contains("metadata"); meta && meta->is_object())
        if (auto* r = meta->as_object().if_contains("ownerReferences"); r && r->is_array())
          refs = &r->as_array();
      if (!refs) return;
      json::array kept;
      for (const auto& r : *refs)
        if (!(r.is_object() && ownerUids.count(stringAt(r.as_object(), {"uid"}))))
          kept.push_back(r);
      if (kept.size() == refs->size()) return;
      auto& meta = (*obj)["metadata"].as_object();
      if (kept.empty())
        meta.erase("ownerReferences");
      else
        meta["ownerReferences"] = std::move(kept);
      try {
        client_.update(toResource(*node.info), node.ns, *obj);
        return;
      } catch (const ApiError& e) {
        if (e.code() == 404) return;
        if (e.code() != 409 || attempt >= 5) throw;
      }
    }
  }

  void removeFinalizer(const Node& node, const std::string& finalizer) {
    for (int attempt = 0;; ++attempt) {
      auto obj = liveGet(node);
      if (!obj || !hasFinalizer(*obj, finalizer)) return;
      auto& meta = (*obj)["metadata"].as_object();
      json::array kept;
      for (const auto& f : meta["finalizers"].as_array())
        if (!(f.is_string() && f.as_string() == finalizer)) kept.push_back(f);
      if (kept.empty())
        meta.erase("finalizers");
      else
        meta["finalizers"] = std::move(kept);
      try {
        client_.update(toResource(*node.info), node.ns, *obj);
        return;
      } catch (const ApiError& e) {
        if (e.code() == 404) return;
        if (e.code() != 409 || attempt >= 5) throw;
      }
    }
  }

  enum class OwnerState { Solid, Dangling, Waiting };

  OwnerState ownerState(const Node& dependent, const json::object& dependentObj,
                        const OwnerRef& ref) {
    ResourcePtr info = resolveKind(ref.apiVersion, ref.kind);
    if (!info) {
      // A kind skiff does not serve cannot be verified: never delete on a guess.
      SKIFF_LOG_DEBUG("garbagecollector: unknown owner kind {} {} of {}/{}", ref.apiVersion,
                      ref.kind, dependent.ns, dependent.name);
      return OwnerState::Solid;
    }
    if (info->namespaced && dependent.ns.empty()) {
      // A cluster-scoped object cannot be owned by a namespaced one.
      recorder_.event(dependentObj, client::kEventTypeWarning, "OwnerRefInvalidNamespace",
                      "ownerRef [" + ref.apiVersion + "/" + ref.kind + ", namespace: , name: " +
                          ref.name + ", uid: " + ref.uid + "] does not exist in namespace \"\"");
      return OwnerState::Dangling;
    }
    try {
      auto owner = client_.get(toResource(*info), info->namespaced ? dependent.ns : "", ref.name);
      if (uidOf(owner) != ref.uid) return OwnerState::Dangling;
      if (isBeingDeleted(owner) && hasFinalizer(owner, kForegroundFinalizer))
        return OwnerState::Waiting;
      return OwnerState::Solid;
    } catch (const ApiError& e) {
      if (e.code() == 404) return OwnerState::Dangling;
      throw;
    }
  }

  void attemptToDelete(const std::string& uid) {
    auto node = nodeOf(uid);
    if (!node || node->deleting) return;
    auto latest = liveGet(*node);
    if (!latest || isBeingDeleted(*latest)) return;
    auto refs = ownerRefsOf(*latest);
    if (refs.empty()) return;
    std::set<std::string> solid, dangling, waiting;
    for (const auto& ref : refs) {
      switch (ownerState(*node, *latest, ref)) {
        case OwnerState::Solid:
          solid.insert(ref.uid);
          break;
        case OwnerState::Dangling:
          dangling.insert(ref.uid);
          break;
        case OwnerState::Waiting:
          waiting.insert(ref.uid);
          break;
      }
    }
    if (!solid.empty()) {
      // Some owner remains: the object stays, only references to gone owners (and owners
      // that wait for their dependents to go) are dropped.
      std::set<std::string> drop = dangling;
      drop.insert(waiting.begin(), waiting.end());
      if (!drop.empty()) removeOwnerRefs(*node, drop);
      return;
    }
    std::string policy = "Background";
    if (!waiting.empty() && hasDependents(uid)) {
      // The owner waits for this object, which has dependents of its own: they go first.
      policy = "Foreground";
    } else if (hasFinalizer(*latest, kOrphanFinalizer)) {
      policy = "Orphan";
    } else if (hasFinalizer(*latest, kForegroundFinalizer)) {
      policy = "Foreground";
    }
    json::object options{{"kind", "DeleteOptions"},
                         {"apiVersion", "v1"},
                         {"propagationPolicy", policy},
                         {"preconditions", json::object{{"uid", uid}}}};
    try {
      SKIFF_LOG_INFO("garbagecollector: deleting {} {}/{} (owners gone) propagation={}",
                     qualifiedResource(*node->info), node->ns, node->name, policy);
      client_.remove(toResource(*node->info), node->ns, node->name, options);
    } catch (const ApiError& e) {
      // Gone already, or replaced by a new object of the same name (uid precondition).
      if (e.code() != 404 && e.code() != 409) throw;
    }
  }

  void processDeletingOwner(const std::string& uid) {
    auto node = nodeOf(uid);
    if (!node) return;
    auto latest = liveGet(*node);
    if (!latest || !isBeingDeleted(*latest)) return;
    if (hasFinalizer(*latest, kOrphanFinalizer)) {
      for (const auto& dep : dependentsOf(uid)) removeOwnerRefs(dep, {uid});
      removeFinalizer(*node, kOrphanFinalizer);
      return;
    }
    if (!hasFinalizer(*latest, kForegroundFinalizer)) return;
    bool blocked = false;
    for (const auto& dep : dependentsOf(uid)) {
      for (const auto& ref : dep.owners)
        if (ref.uid == uid && ref.blockOwnerDeletion) blocked = true;
      if (!dep.deleting) enqueueKey("d/" + dep.uid);
    }
    // Blocking dependents' deletions come back through the informers and requeue this owner.
    if (!blocked) removeFinalizer(*node, kForegroundFinalizer);
  }

  std::shared_ptr<ResourceDiscovery> discovery_;
  std::mutex monitorMu_;
  std::map<std::string, Monitor> monitors_;   // "group/plural"
  std::map<std::string, ResourcePtr> kinds_;  // "group/Kind" of every discovered resource
  bool running_ = false;

  std::mutex mu_;
  std::unordered_map<std::string, Node> nodes_;
  // owner uid → uids of objects whose ownerReferences name it (the owner may be absent).
  std::unordered_map<std::string, std::set<std::string>> dependents_;
};

ControllerRegistration reg("garbagecollector", [](ControllerContext& ctx) {
  return std::make_unique<GarbageCollector>(ctx);
});

}  // namespace
}  // namespace skiff::controller
