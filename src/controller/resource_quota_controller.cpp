// Resource quota controller (upstream's resourcequota-controller): keeps every
// ResourceQuota's status.hard equal to spec.hard and status.used equal to what the objects of
// its namespace use (api/resource_quota.h computes both the admission charge and this).
// Admission charges creates as they happen; this controller recomputes the usage from the
// informer caches when a quota is created or its spec changes, when an accounted object is
// deleted or stops using something (a pod that terminated), and for every quota on a full
// resync (--resource-quota-sync-period, upstream's 5 minutes). So deletions give quota
// back, and charges for writes that failed after admission are corrected.
//
// Pods, services, claims, config maps, secrets, replication controllers and quotas are
// followed with informers; other kinds named by count/<resource>.<group> are listed through
// the API server when a quota is synced (their deletions are given back at the next resync).
#include <map>
#include <set>

#include "api/resource_quota.h"
#include "common/api_error.h"
#include "common/log.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"
#include "controller/discovery.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;
using api::quota::GroupResource;
using api::quota::ResourceList;

const client::Resource kResourceQuotas{"", "v1", "resourcequotas"};
const client::Resource kReplicationControllers{"", "v1", "replicationcontrollers"};

const json::object* childObject(const json::object& o, std::string_view a, std::string_view b) {
  return objectAt(o, {a, b});
}

class ResourceQuotaController : public QueueController {
 public:
  explicit ResourceQuotaController(ControllerContext& ctx)
      : QueueController(ctx, "resourcequota", "resourcequota-controller"),
        discovery_(ctx.discovery),
        quotas_(ctx.informers.informer(kResourceQuotas)) {
    quotas_.addEventHandler({
        .onAdd = [this](const json::object& q) { enqueue(q); },
        .onUpdate =
            [this](const json::object& o, const json::object& n) {
              // Status writes (ours, and admission's charges) need no recomputation.
              const json::value* oldSpec = o.if_contains("spec");
              const json::value* newSpec = n.if_contains("spec");
              const bool specChanged =
                  (oldSpec ? *oldSpec : json::value()) != (newSpec ? *newSpec : json::value());
              const json::object* hard = childObject(n, "spec", "hard");
              const json::object* statusHard = childObject(n, "status", "hard");
              const bool hardStale =
                  (hard ? *hard : json::object()) != (statusHard ? *statusHard : json::object());
              if (specChanged || hardStale) enqueue(n);
            },
    });
    follow(client::resources::pods, {"", "pods"});
    follow(client::resources::services, {"", "services"});
    follow(client::resources::persistentVolumeClaims, {"", "persistentvolumeclaims"});
    follow(client::resources::configMaps, {"", "configmaps"});
    follow(client::resources::secrets, {"", "secrets"});
    follow(kReplicationControllers, {"", "replicationcontrollers"});
    followed_[{"", "resourcequotas"}] = &quotas_;
    every(std::max(ctx.options.resourceQuotaSyncPeriod, std::chrono::milliseconds(100)), [this] {
      for (const auto& q : quotas_.list()) enqueue(*q);
    });
  }

 protected:
  void sync(const std::string& key) override {
    auto quota = quotas_.get(key);
    if (!quota || isBeingDeleted(*quota)) return;
    const std::string ns = namespaceOf(*quota);
    const json::object* specHard = childObject(*quota, "spec", "hard");
    const ResourceList hard = api::quota::parseList(specHard);
    const std::vector<std::string> hardNames = api::quota::names(hard);

    std::set<GroupResource> kinds;
    for (const auto& name : hardNames)
      for (auto& gr : api::quota::kindsOf(name)) kinds.insert(gr);
    ResourceList used;
    for (const auto& name : hardNames) used[name] = api::Quantity();
    for (const auto& gr : kinds) {
      const auto accounted = api::quota::matchingNames(gr, hardNames);
      for (const auto& obj : objectsOf(gr, ns)) {
        if (!api::quota::scopesMatch(*quota, gr, *obj)) continue;
        used = api::quota::add(used, api::quota::mask(api::quota::usage(gr, *obj), accounted));
      }
    }

    const json::object* statusHard = childObject(*quota, "status", "hard");
    const ResourceList currentUsed = api::quota::parseList(childObject(*quota, "status", "used"));
    const json::object wantHard = specHard ? *specHard : json::object();
    if (statusHard && *statusHard == wantHard && currentUsed == used) return;

    json::object updated = *quota;
    updated["status"] = json::object{{"hard", wantHard}, {"used", api::quota::toJson(used)}};
    try {
      client_.updateStatus(kResourceQuotas, ns, updated);
    } catch (const ApiError& e) {
      if (e.code() == 404) return;
      // 409: admission charged it meanwhile; retried (with backoff) once the cache has it.
      throw;
    }
  }

 private:
  // Deletions, and updates that lower an object's usage, recompute the namespace's quotas.
  void follow(const client::Resource& resource, GroupResource gr) {
    client::SharedInformer& informer = informers_.informer(resource);
    followed_[gr] = &informer;
    informer.addEventHandler({
        .onUpdate =
            [this, gr](const json::object& o, const json::object& n) {
              const ResourceList before = api::quota::usage(gr, o);
              const ResourceList after = api::quota::usage(gr, n);
              for (const auto& [name, q] : before) {
                auto it = after.find(name);
                if (it == after.end() || it->second < q) {
                  enqueueNamespace(namespaceOf(n));
                  return;
                }
              }
            },
        .onDelete = [this](const json::object& o) { enqueueNamespace(namespaceOf(o)); },
    });
  }

  void enqueueNamespace(const std::string& ns) {
    for (const auto& q : quotas_.list())
      if (namespaceOf(*q) == ns) enqueue(*q);
  }

  // The objects of one kind in a namespace: from its informer, else listed through the API
  // (a kind named only by a count/ quota); a kind the server does not serve has none.
  std::vector<client::ObjectPtr> objectsOf(const GroupResource& gr, const std::string& ns) {
    std::vector<client::ObjectPtr> out;
    if (auto it = followed_.find(gr); it != followed_.end()) {
      for (auto& o : it->second->list())
        if (namespaceOf(*o) == ns) out.push_back(o);
      return out;
    }
    if (!discovery_) return out;
    for (const auto& r : discovery_->resources()) {
      if (r.group != gr.group || r.resource != gr.resource || !r.namespaced) continue;
      json::object list = client_.listAll(r.ref(), ns);
      if (const json::value* items = list.if_contains("items"); items && items->is_array())
        for (const auto& item : items->as_array())
          if (item.is_object())
            out.push_back(std::make_shared<const json::object>(item.as_object()));
      break;
    }
    return out;
  }

  std::shared_ptr<ResourceDiscovery> discovery_;
  client::SharedInformer& quotas_;
  std::map<GroupResource, client::SharedInformer*> followed_;
};

ControllerRegistration reg("resourcequota", [](ControllerContext& ctx) {
  return std::make_unique<ResourceQuotaController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
