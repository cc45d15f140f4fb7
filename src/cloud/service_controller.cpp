// service (upstream's service controller in the cloud controller manager): type
// LoadBalancer Services without spec.loadBalancerClass (or with one the provider claims)
// get a load balancer from the provider:
//   Event EnsuringLoadBalancer, finalizer service.kubernetes.io/load-balancer-cleanup added
//   BEFORE provisioning (so the Service cannot vanish with the address still held), ensure,
//   Event EnsuredLoadBalancer, status.loadBalancer.ingress written.
//   When the Service is deleted or stops being a LoadBalancer: Event DeletingLoadBalancer,
//   the provider releases it, the finalizer is removed, Event DeletedLoadBalancer.
//   Any failure: Warning SyncLoadBalancerFailed "Error syncing load balancer: ..." and a
//   retry with backoff.
// The hosts of every load balancer follow the Nodes (UpdateLoadBalancer, Events
// UpdatedLoadBalancer / UnAvailableLoadBalancer / UpdateLoadBalancerFailed). Eligible nodes
// are upstream's predicates (StableLoadBalancerNodeSet, GA): no
// node.kubernetes.io/exclude-from-external-load-balancers label, a providerID, and no
// ToBeDeletedByClusterAutoscaler taint; readiness is not one of them.
#include <map>
#include <mutex>
#include <set>

#include "api/json_access.h"
#include "cloud/cloud_controller_manager.h"
#include "cloud/node_util.h"
#include "common/api_error.h"
#include "common/log.h"

namespace skiff::cloud {
namespace {

namespace json = boost::json;
using api::stringAt;

const std::string kNodeSyncKey = "#nodes";  // not a valid "ns/name": the node-set resync
const std::string kToBeDeletedTaint = "ToBeDeletedByClusterAutoscaler";

class ServiceController : public controller::QueueController {
 public:
  explicit ServiceController(CloudContext& ctx)
      : QueueController(ctx.base, "service", "service-controller", ctx.options.workers),
        provider_(ctx.provider),
        balancer_(*ctx.provider.loadBalancer()),
        cluster_(ctx.options.clusterName),
        services_(ctx.base.informers.informer(client::resources::services)),
        nodes_(ctx.base.informers.informer(client::resources::nodes)) {
    services_.addEventHandler({
        .onAdd =
            [this](const json::object& s) {
              if (wantsLoadBalancer(s) || needsCleanup(s)) enqueue(s);
            },
        .onUpdate =
            [this](const json::object& o, const json::object& s) {
              if (needsUpdate(o, s) || needsCleanup(s)) enqueue(s);
            },
        .onDelete = [this](const json::object& s) { enqueue(s); },
    });
    nodes_.addEventHandler({
        .onAdd = [this](const json::object&) { enqueueKey(kNodeSyncKey); },
        .onUpdate =
            [this](const json::object& o, const json::object& n) {
              if (eligible(o) != eligible(n)) enqueueKey(kNodeSyncKey);
            },
        .onDelete = [this](const json::object&) { enqueueKey(kNodeSyncKey); },
    });
  }

 protected:
  void sync(const std::string& key) override {
    if (key == kNodeSyncKey) return syncNodes();
    auto svc = services_.get(key);
    if (!svc) {
      // Gone without our finalizer (created before this controller ran, or force-removed):
      // release what we hold for it.
      std::optional<json::object> last;
      {
        std::lock_guard lock(mu_);
        if (auto it = cache_.find(key); it != cache_.end()) last = it->second;
      }
      if (last) {
        balancer_.ensureLoadBalancerDeleted(cluster_, *last);
        forget(key);
      }
      return;
    }
    json::object service = *svc;
    std::optional<json::object> previous;
    {
      std::lock_guard lock(mu_);
      if (auto it = cache_.find(key); it != cache_.end()) previous = it->second;
      cache_[key] = service;
    }
    // Deleted and re-created (only possible without the finalizer): drop the old one first.
    if (previous &&
        stringAt(*previous, {"metadata", "uid"}) != stringAt(service, {"metadata", "uid"}))
      balancer_.ensureLoadBalancerDeleted(cluster_, *previous);
    try {
      bool deleted = syncLoadBalancer(service);
      if (deleted) forget(key);
    } catch (const std::exception& e) {
      recorder_.event(service, client::kEventTypeWarning, "SyncLoadBalancerFailed",
                      std::string("Error syncing load balancer: ") + e.what());
      {
        std::lock_guard lock(mu_);
        waiting_.insert(key);
      }
      throw;
    }
  }

 private:
  bool wantsLoadBalancer(const json::object& s) const {
    if (stringAt(s, {"spec", "type"}) != "LoadBalancer") return false;
    auto cls = stringAt(s, {"spec", "loadBalancerClass"});
    return cls.empty() || provider_.claimsLoadBalancerClass(cls);
  }
  static bool hasFinalizer(const json::object& s) {
    if (const auto* f = api::arrayAt(s, {"metadata", "finalizers"}))
      for (const auto& v : *f)
        if (v.is_string() && v.as_string() == kLbFinalizer) return true;
    return false;
  }
  bool needsCleanup(const json::object& s) const {
    if (!hasFinalizer(s)) return false;
    return !stringAt(s, {"metadata", "deletionTimestamp"}).empty() || !wantsLoadBalancer(s);
  }

  // Upstream's needsUpdate, with its Events for the changes users care to see.
  bool needsUpdate(const json::object& o, const json::object& n) {
    bool was = wantsLoadBalancer(o), is = wantsLoadBalancer(n);
    if (!was && !is) return false;
    if (was != is) {
      recorder_.event(n, client::kEventTypeNormal, "Type",
                      stringAt(o, {"spec", "type"}) + " -> " + stringAt(n, {"spec", "type"}));
      return true;
    }
    auto spec = [](const json::object& s, const char* f) -> json::value {
      const auto* v = api::valueAt(s, {"spec", f});
      return v ? *v : json::value();
    };
    if (spec(o, "loadBalancerSourceRanges") != spec(n, "loadBalancerSourceRanges")) {
      recorder_.event(n, client::kEventTypeNormal, "LoadBalancerSourceRanges",
                      json::serialize(spec(o, "loadBalancerSourceRanges")) + " -> " +
                          json::serialize(spec(n, "loadBalancerSourceRanges")));
      return true;
    }
    for (const char* f : {"ports", "sessionAffinity", "sessionAffinityConfig"})
      if (spec(o, f) != spec(n, f)) return true;
    if (stringAt(o, {"spec", "loadBalancerIP"}) != stringAt(n, {"spec", "loadBalancerIP"})) {
      recorder_.event(n, client::kEventTypeNormal, "LoadbalancerIP",
                      stringAt(o, {"spec", "loadBalancerIP"}) + " -> " +
                          stringAt(n, {"spec", "loadBalancerIP"}));
      return true;
    }
    if (spec(o, "externalIPs") != spec(n, "externalIPs")) {
      recorder_.event(n, client::kEventTypeNormal, "ExternalIP", "changed");
      return true;
    }
    const auto* oa = api::valueAt(o, {"metadata", "annotations"});
    const auto* na = api::valueAt(n, {"metadata", "annotations"});
    if ((oa ? *oa : json::value()) != (na ? *na : json::value())) return true;
    if (stringAt(o, {"metadata", "uid"}) != stringAt(n, {"metadata", "uid"})) return true;
    if (stringAt(o, {"spec", "externalTrafficPolicy"}) !=
        stringAt(n, {"spec", "externalTrafficPolicy"})) {
      recorder_.event(n, client::kEventTypeNormal, "ExternalTrafficPolicy",
                      stringAt(o, {"spec", "externalTrafficPolicy"}) + " -> " +
                          stringAt(n, {"spec", "externalTrafficPolicy"}));
      return true;
    }
    return spec(o, "healthCheckNodePort") != spec(n, "healthCheckNodePort") ||
           spec(o, "allocateLoadBalancerNodePorts") != spec(n, "allocateLoadBalancerNodePorts");
  }

  static bool eligible(const json::object& node) {
    if (api::valueAt(node, {"metadata", "labels", kLabelExcludeFromLb})) return false;
    if (stringAt(node, {"spec", "providerID"}).empty()) return false;
    return !hasTaintKey(node, kToBeDeletedTaint);
  }
  std::vector<json::object> eligibleNodes() const {
    std::vector<json::object> out;
    for (const auto& n : nodes_.list())
      if (eligible(*n)) out.push_back(*n);
    return out;
  }
  static std::set<std::string> names(const std::vector<json::object>& nodes) {
    std::set<std::string> out;
    for (const auto& n : nodes) out.insert(stringAt(n, {"metadata", "name"}));
    return out;
  }

  // Returns true when the load balancer was deleted (the Service no longer wants one).
  bool syncLoadBalancer(json::object& service) {
    const json::value* prev = api::valueAt(service, {"status", "loadBalancer"});
    json::value previousStatus = prev ? *prev : json::value(json::object{});
    json::object newStatus;
    bool deleted = false;
    auto key = client::objectKey(service);
    if (!wantsLoadBalancer(service) || needsCleanup(service)) {
      deleted = true;
      std::optional<LoadBalancerStatus> existing;
      try {
        existing = balancer_.getLoadBalancer(cluster_, service);
      } catch (const std::exception& e) {
        throw CloudError(std::string("failed to check if load balancer exists before cleanup: ") +
                         e.what());
      }
      if (existing) {
        recorder_.event(service, client::kEventTypeNormal, "DeletingLoadBalancer",
                        "Deleting load balancer");
        try {
          balancer_.ensureLoadBalancerDeleted(cluster_, service);
        } catch (const std::exception& e) {
          throw CloudError(std::string("failed to delete load balancer: ") + e.what());
        }
        retryWaiting(key);  // an address came free
      }
      setFinalizer(service, false);
      recorder_.event(service, client::kEventTypeNormal, "DeletedLoadBalancer",
                      "Deleted load balancer");
    } else {
      recorder_.event(service, client::kEventTypeNormal, "EnsuringLoadBalancer",
                      "Ensuring load balancer");
      setFinalizer(service, true);
      auto nodes = eligibleNodes();
      if (nodes.empty())
        recorder_.event(service, client::kEventTypeWarning, "UnAvailableLoadBalancer",
                        "There are no available nodes for LoadBalancer");
      LoadBalancerStatus status;
      try {
        status = balancer_.ensureLoadBalancer(cluster_, service, nodes);
      } catch (const std::exception& e) {
        throw CloudError(std::string("failed to ensure load balancer: ") + e.what());
      }
      {
        std::lock_guard lock(mu_);
        lastHosts_[key] = names(nodes);
        waiting_.erase(key);
      }
      json::array ingress;
      for (const auto& in : status.ingress) {
        json::object o{{"ip", in.ip}};
        if (!in.ipMode.empty()) o["ipMode"] = in.ipMode;
        ingress.push_back(std::move(o));
      }
      if (!ingress.empty()) newStatus["ingress"] = std::move(ingress);
      recorder_.event(service, client::kEventTypeNormal, "EnsuredLoadBalancer",
                      "Ensured load balancer");
    }
    if (json::value(newStatus) != previousStatus) {
      // A merge patch: null removes the old ingress list when there is none any more.
      json::object lb = newStatus;
      if (!lb.contains("ingress")) lb["ingress"] = nullptr;
      try {
        client_.patch(client::resources::services, stringAt(service, {"metadata", "namespace"}),
                      stringAt(service, {"metadata", "name"}), client::PatchType::Merge,
                      json::object{{"status", json::object{{"loadBalancer", lb}}}}, "status");
      } catch (const ApiError& e) {
        if (e.code() != 404) throw;  // gone right after the finalizer came off
      }
    }
    return deleted;
  }

  // Adds or removes our finalizer with a merge patch guarded by resourceVersion (a
  // concurrent change to the list answers 409 and the sync is retried).
  void setFinalizer(json::object& service, bool present) {
    if (hasFinalizer(service) == present) return;
    json::array list;
    if (const auto* f = api::arrayAt(service, {"metadata", "finalizers"}))
      for (const auto& v : *f)
        if (!(v.is_string() && v.as_string() == kLbFinalizer)) list.push_back(v);
    if (present) list.push_back(json::value(kLbFinalizer));
    json::object patch{
        {"metadata",
         json::object{{"finalizers", list},
                      {"resourceVersion", stringAt(service, {"metadata", "resourceVersion"})}}}};
    try {
      service =
          client_.patch(client::resources::services, stringAt(service, {"metadata", "namespace"}),
                        stringAt(service, {"metadata", "name"}), client::PatchType::Merge, patch);
    } catch (const ApiError& e) {
      if (e.code() == 404 && !present) return;
      throw;
    }
  }

  void syncNodes() {
    auto nodes = eligibleNodes();
    auto now = names(nodes);
    std::vector<json::object> services;
    {
      std::lock_guard lock(mu_);
      for (const auto& [key, hosts] : lastHosts_)
        if (hosts != now)
          if (auto it = cache_.find(key); it != cache_.end()) services.push_back(it->second);
    }
    for (auto& cached : services) {
      auto key = client::objectKey(cached);
      auto current = services_.get(key);
      if (!current || !wantsLoadBalancer(*current)) continue;
      try {
        balancer_.updateLoadBalancer(cluster_, *current, nodes);
        if (nodes.empty())
          recorder_.event(*current, client::kEventTypeWarning, "UnAvailableLoadBalancer",
                          "There are no available nodes for LoadBalancer");
        else
          recorder_.event(*current, client::kEventTypeNormal, "UpdatedLoadBalancer",
                          "Updated load balancer with new hosts");
        std::lock_guard lock(mu_);
        lastHosts_[key] = now;
      } catch (const std::exception& e) {
        std::string list;
        for (const auto& n : now) list += (list.empty() ? "" : " ") + n;
        recorder_.event(*current, client::kEventTypeWarning, "UpdateLoadBalancerFailed",
                        "Error updating load balancer with new hosts [" + list + "]: " + e.what());
        enqueueKey(key);  // a full sync retries it
      }
    }
  }

  void forget(const std::string& key) {
    std::lock_guard lock(mu_);
    cache_.erase(key);
    lastHosts_.erase(key);
    waiting_.erase(key);
  }

  // Services that failed (e.g. the address pool was exhausted) get another go at once.
  void retryWaiting(const std::string& except) {
    std::set<std::string> keys;
    {
      std::lock_guard lock(mu_);
      keys = waiting_;
    }
    for (const auto& k : keys)
      if (k != except) enqueueKey(k);
  }

  CloudProvider& provider_;
  LoadBalancer& balancer_;
  const std::string cluster_;
  client::SharedInformer& services_;
  client::SharedInformer& nodes_;
  std::mutex mu_;
  std::map<std::string, json::object> cache_;               // last Service seen per key
  std::map<std::string, std::set<std::string>> lastHosts_;  // hosts last given per key
  std::set<std::string> waiting_;                           // keys whose last sync failed
};

CloudControllerRegistration reg("service", [](CloudContext& ctx) {
  return std::make_unique<ServiceController>(ctx);
});

}  // namespace
}  // namespace skiff::cloud
