// EndpointSlice controller (upstream's endpoint-slice-controller): for every Service with a
// selector, discovery.k8s.io/v1 EndpointSlices listing the pods it selects, at most 100
// endpoints per slice, one group of slices per distinct port set. Unlike Endpoints, slices
// keep terminating pods (conditions ready/serving/terminating tell consumers what they may
// do with them). Existing slices are updated in place: endpoints that stay keep their slice,
// new ones fill free room before new slices are created, and a slice that would be deleted
// while another is created is rewritten instead. A Service without pods still gets one
// empty placeholder slice, as upstream.
#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "common/api_error.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"
#include "controller/endpoints_util.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;
using namespace endpoints;

constexpr size_t kMaxEndpointsPerSlice = 100;

json::array portsJson(const std::vector<ResolvedPort>& ports) {
  json::array out;
  for (const auto& p : ports) {
    json::object o{{"name", p.name}, {"protocol", p.protocol}, {"port", p.port}};
    if (!p.appProtocol.empty()) o["appProtocol"] = p.appProtocol;
    out.push_back(std::move(o));
  }
  return out;
}

// Identity of an endpoint across syncs: the pod it stands for.
std::string endpointId(const json::object& ep) {
  const json::object* ref = objectAt(ep, {"targetRef"});
  if (ref)
    return stringAt(*ref, {"namespace"}) + "/" + stringAt(*ref, {"name"}) + "/" +
           stringAt(*ref, {"uid"});
  const json::array* addrs = arrayAt(ep, {"addresses"});
  return addrs && !addrs->empty() && addrs->front().is_string()
             ? "ip/" + std::string(addrs->front().get_string())
             : "";
}

// The slices we wrote and deleted per service, to notice a cache that has not caught up with
// our own writes (upstream's endpointSliceTracker): acting on it would duplicate slices.
class SliceTracker {
 public:
  void wrote(const std::string& service, const std::string& slice, int64_t rv) {
    std::lock_guard lock(mu_);
    written_[service][slice] = rv;
  }
  void deleted(const std::string& service, const std::string& slice) {
    std::lock_guard lock(mu_);
    written_[service][slice] = -1;
  }
  // True when the cache shows every write recorded for `service` (entries it confirms are
  // forgotten).
  bool cacheCurrent(const std::string& service,
                    const std::function<int64_t(const std::string&)>& cachedRv) {
    std::lock_guard lock(mu_);
    auto it = written_.find(service);
    if (it == written_.end()) return true;
    bool current = true;
    for (auto e = it->second.begin(); e != it->second.end();) {
      int64_t seen = cachedRv(e->first);  // 0 when absent from the cache
      bool ok = e->second < 0 ? seen == 0 : seen >= e->second;
      if (ok)
        e = it->second.erase(e);
      else {
        current = false;
        ++e;
      }
    }
    if (it->second.empty()) written_.erase(it);
    return current;
  }
  void forget(const std::string& service) {
    std::lock_guard lock(mu_);
    written_.erase(service);
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::map<std::string, int64_t>> written_;
};

int64_t rvOf(const json::object& obj) {
  try {
    return std::stoll(stringAt(obj, {"metadata", "resourceVersion"}, "0"));
  } catch (const std::exception&) {
    return 0;
  }
}

class EndpointSliceController : public QueueController {
 public:
  explicit EndpointSliceController(ControllerContext& ctx)
      : QueueController(ctx, "endpointslice", "endpoint-slice-controller"),
        services_(ctx.informers.informer(client::resources::services)),
        pods_(ctx.informers.informer(client::resources::pods)),
        nodes_(ctx.informers.informer(client::resources::nodes)),
        slices_(ctx.informers.informer(client::resources::endpointSlices)) {
    services_.addIndexer(client::kIndexNamespace, client::indexByNamespace);
    pods_.addIndexer(client::kIndexNamespace, client::indexByNamespace);
    slices_.addIndexer(client::kIndexLabel, client::indexByLabel);
    services_.addEventHandler(enqueueingHandlers());
    pods_.addEventHandler({
        .onAdd = [this](const json::object& p) { enqueueServicesOf(p); },
        .onUpdate =
            [this](const json::object& o, const json::object& n) {
              enqueueServicesOf(n);
              const json::object* ol = objectAt(o, {"metadata", "labels"});
              const json::object* nl = objectAt(n, {"metadata", "labels"});
              if ((ol ? *ol : json::object{}) != (nl ? *nl : json::object{})) enqueueServicesOf(o);
            },
        .onDelete = [this](const json::object& p) { enqueueServicesOf(p); },
    });
    // Zones come from node labels: a node appearing in the cache or being relabelled changes
    // the slices of the pods on it.
    pods_.addIndexer(client::kIndexNodeName, client::indexByNodeName);
    nodes_.addEventHandler({
        .onAdd = [this](const json::object& n) { enqueueServicesOnNode(nameOf(n)); },
        .onUpdate =
            [this](const json::object& o, const json::object& n) {
              if (stringAt(o, {"metadata", "labels", kZoneLabel}) !=
                  stringAt(n, {"metadata", "labels", kZoneLabel}))
                enqueueServicesOnNode(nameOf(n));
            },
    });
    auto onSlice = [this](const json::object& slice) {
      if (stringAt(slice, {"metadata", "labels", kLabelSliceManagedBy}) != kSliceControllerName)
        return;
      auto svc = stringAt(slice, {"metadata", "labels", kLabelServiceName});
      if (!svc.empty()) enqueueKey(makeKey(namespaceOf(slice), svc));
    };
    slices_.addEventHandler({
        .onAdd = onSlice,
        .onUpdate = [onSlice](const json::object&, const json::object& s) { onSlice(s); },
        .onDelete = onSlice,
    });
  }

 protected:
  // One sync, step by step: wait for a cache that lags behind our own writes, drop the
  // slices of a Service that is gone, compute the endpoints wanted per port set, plan which
  // slice holds which endpoints, then write what changed.
  void sync(const std::string& key) override {
    auto [ns, name] = splitKey(key);
    auto cachedRv = [this, &ns](const std::string& slice) -> int64_t {
      auto s = slices_.get(makeKey(ns, slice));
      return s ? std::max<int64_t>(1, rvOf(*s)) : 0;
    };
    if (!tracker_.cacheCurrent(key, cachedRv)) {
      // Our own writes are not in the cache yet; look again shortly.
      enqueueAfter(key, std::chrono::milliseconds(50));
      return;
    }
    auto existing = managedSlices(ns, name);
    auto service = services_.get(key);
    if (!service || isBeingDeleted(*service)) {
      // The garbage collector would remove them through the ownerReference; doing it here
      // keeps the cluster tidy without depending on it.
      for (auto& s : existing) removeSlice(key, ns, nameOf(*s));
      if (!service) tracker_.forget(key);
      return;
    }
    auto selector = serviceSelector(*service);
    if (!selector) return;  // slices of selector-less Services belong to their owner

    auto desired = desiredEndpoints(*service, *selector);
    std::vector<client::ObjectPtr> spare;
    auto plan = planSlices(desired, existing, spare);
    reuseSpareSlices(plan, spare);
    for (auto& s : spare) removeSlice(key, ns, nameOf(*s));
    writeSlices(key, *service, plan);
  }

 private:
  // A slice as it should be written: `base` is the existing slice to update (null: create).
  struct Planned {
    client::ObjectPtr base;
    std::vector<json::object> endpoints;
    std::vector<ResolvedPort> ports;
    bool changed = false;
  };
  using EndpointsByPorts = std::map<std::vector<ResolvedPort>, std::vector<json::object>>;

  // The slices this controller manages for the Service ns/name.
  std::vector<client::ObjectPtr> managedSlices(const std::string& ns,
                                               const std::string& name) const {
    std::vector<client::ObjectPtr> existing;
    for (auto& s :
         slices_.byIndex(client::kIndexLabel, std::string(kLabelServiceName) + "=" + name))
      if (namespaceOf(*s) == ns &&
          stringAt(*s, {"metadata", "labels", kLabelSliceManagedBy}) == kSliceControllerName)
        existing.push_back(s);
    return existing;
  }

  // Desired endpoints per port set; a Service with no endpoints still has one (empty) set.
  EndpointsByPorts desiredEndpoints(const json::object& service,
                                    const api::LabelSelector& selector) const {
    EndpointsByPorts desired;
    for (const auto& pod : selectedPods(pods_, service, selector)) {
      if (!shouldPodBeInEndpoints(*pod, true)) continue;
      auto ports = resolvePorts(service, *pod);
      const json::array* servicePorts = arrayAt(service, {"spec", "ports"});
      if (ports.empty() && servicePorts && !servicePorts->empty()) continue;
      std::sort(ports.begin(), ports.end());
      desired[ports].push_back(endpointFor(*pod, service));
    }
    if (desired.empty()) desired[{}];
    return desired;
  }

  // Which slice holds which endpoints: endpoints that stay keep their slice, new ones fill
  // free room before new slices are planned. Slices no longer needed go to `spare`.
  std::vector<Planned> planSlices(const EndpointsByPorts& desired,
                                  const std::vector<client::ObjectPtr>& existing,
                                  std::vector<client::ObjectPtr>& spare) const {
    // Existing slices by port set; slices of port sets no longer wanted are spare.
    std::map<std::vector<ResolvedPort>, std::vector<client::ObjectPtr>> existingBySet;
    for (auto& s : existing) {
      auto ports = slicePorts(*s);
      if (desired.contains(ports) && stringAt(*s, {"addressType"}) == "IPv4")
        existingBySet[ports].push_back(s);
      else
        spare.push_back(s);
    }
    std::vector<Planned> plan;
    for (auto& [ports, eps] : desired) {
      std::unordered_map<std::string, const json::object*> want;
      for (auto& ep : eps) want[endpointId(ep)] = &ep;
      std::set<std::string> placed;
      std::vector<Planned> group;
      for (auto& s : existingBySet[ports]) {
        Planned p{s, {}, ports, false};
        const json::array* cur = arrayAt(*s, {"endpoints"});
        size_t curCount = cur ? cur->size() : 0;
        if (cur)
          for (const auto& e : *cur) {
            const json::object* eo = e.if_object();
            if (!eo) continue;
            auto id = endpointId(*eo);
            auto it = want.find(id);
            if (it == want.end() || placed.contains(id)) continue;
            placed.insert(id);
            if (*it->second != *eo) p.changed = true;
            p.endpoints.push_back(*it->second);
          }
        if (p.endpoints.size() != curCount) p.changed = true;
        group.push_back(std::move(p));
      }
      // New endpoints fill slices already being rewritten, then any with room, then new ones.
      std::vector<const json::object*> fresh;
      for (auto& ep : eps)
        if (!placed.contains(endpointId(ep))) fresh.push_back(&ep);
      auto fill = [&](bool onlyChanged) {
        for (auto& p : group) {
          if (onlyChanged && !p.changed) continue;
          while (!fresh.empty() && p.endpoints.size() < kMaxEndpointsPerSlice) {
            p.endpoints.push_back(*fresh.front());
            fresh.erase(fresh.begin());
            p.changed = true;
          }
        }
      };
      fill(true);
      fill(false);
      while (!fresh.empty()) {
        Planned p{nullptr, {}, ports, true};
        while (!fresh.empty() && p.endpoints.size() < kMaxEndpointsPerSlice) {
          p.endpoints.push_back(*fresh.front());
          fresh.erase(fresh.begin());
        }
        group.push_back(std::move(p));
      }
      // Emptied slices go, except that a port set without endpoints keeps one placeholder.
      bool keptOne = false;
      for (auto& p : group) {
        if (p.endpoints.empty() && (!eps.empty() || keptOne)) {
          if (p.base) spare.push_back(p.base);
          continue;
        }
        keptOne = true;
        plan.push_back(std::move(p));
      }
      if (!keptOne) plan.push_back(Planned{nullptr, {}, ports, true});
    }
    return plan;
  }

  // Rewrites a spare slice rather than deleting one and creating another (addressType is
  // immutable, so only IPv4 slices can be reused).
  static void reuseSpareSlices(std::vector<Planned>& plan, std::vector<client::ObjectPtr>& spare) {
    for (auto& p : plan) {
      if (p.base) continue;
      auto it = std::find_if(spare.begin(), spare.end(), [](const client::ObjectPtr& s) {
        return stringAt(*s, {"addressType"}) == "IPv4";
      });
      if (it == spare.end()) break;
      p.base = *it;
      spare.erase(it);
      p.changed = true;
    }
  }

  // Creates or updates the planned slices that differ from what is stored.
  void writeSlices(const std::string& key, const json::object& service,
                   const std::vector<Planned>& plan) {
    auto [ns, name] = splitKey(key);
    json::object labels = sliceLabels(service);
    for (auto& p : plan) {
      json::array endpointsJson;
      for (auto& e : p.endpoints) endpointsJson.push_back(e);
      json::array ports = portsJson(p.ports);
      if (p.base && !p.changed) {
        const json::object* curLabels = objectAt(*p.base, {"metadata", "labels"});
        const json::array* curPorts = arrayAt(*p.base, {"ports"});
        bool labelsSame = curLabels && *curLabels == labels;
        bool portsSame = curPorts ? *curPorts == ports : ports.empty();
        bool ownerSame = controllerRefOf(*p.base) && isControlledBy(*p.base, uidOf(service));
        if (labelsSame && portsSame && ownerSame) continue;
      }
      json::object slice = p.base ? *p.base : json::object{};
      slice["apiVersion"] = "discovery.k8s.io/v1";
      slice["kind"] = "EndpointSlice";
      json::object& meta = ensureObject(slice, {"metadata"});
      if (!p.base) meta["generateName"] = sliceNamePrefix(name);
      meta["namespace"] = ns;
      meta["labels"] = labels;
      meta["ownerReferences"] = json::array{makeControllerRef(service, "v1", "Service")};
      ensureObject(slice, {"metadata", "annotations"})[kAnnotationTriggerTime] = nowTime();
      slice["addressType"] = "IPv4";
      slice["endpoints"] = std::move(endpointsJson);
      slice["ports"] = std::move(ports);
      try {
        json::object written = p.base
                                   ? client_.update(client::resources::endpointSlices, ns, slice)
                                   : client_.create(client::resources::endpointSlices, ns, slice);
        tracker_.wrote(key, nameOf(written), rvOf(written));
      } catch (const ApiError& e) {
        if (!p.base && e.code() == 403) return;  // terminating namespace
        if (e.code() != 409)
          recorder_.event(service, client::kEventTypeWarning, "FailedToUpdateEndpointSlices",
                          "Error updating Endpoint Slices for Service " + key + ": " + e.what());
        throw;
      }
    }
  }

  static constexpr const char* kZoneLabel = "topology.kubernetes.io/zone";

  void enqueueServicesOf(const json::object& pod) {
    for (auto& k : servicesForPod(services_, pod)) enqueueKey(k);
  }

  void enqueueServicesOnNode(const std::string& node) {
    for (auto& pod : pods_.byIndex(client::kIndexNodeName, node)) enqueueServicesOf(*pod);
  }

  void removeSlice(const std::string& key, const std::string& ns, const std::string& slice) {
    try {
      client_.remove(client::resources::endpointSlices, ns, slice);
    } catch (const ApiError& e) {
      if (e.code() != 404) throw;
    }
    tracker_.deleted(key, slice);
  }

  // generateName "<service>-", the service name shortened so the generated name fits 63.
  static std::string sliceNamePrefix(const std::string& service) {
    std::string prefix = service.substr(0, 57);
    return prefix + "-";
  }

  json::object sliceLabels(const json::object& service) const {
    json::object labels;
    if (const json::object* l = objectAt(service, {"metadata", "labels"})) labels = *l;
    labels.erase(kLabelSliceManagedBy);
    labels[kLabelServiceName] = nameOf(service);
    labels[kLabelSliceManagedBy] = kSliceControllerName;
    if (isHeadless(service))
      labels[kLabelHeadless] = "";
    else
      labels.erase(kLabelHeadless);
    return labels;
  }

  static std::vector<ResolvedPort> slicePorts(const json::object& slice) {
    std::vector<ResolvedPort> out;
    if (const json::array* ports = arrayAt(slice, {"ports"}))
      for (const auto& p : *ports)
        if (const json::object* po = p.if_object())
          out.push_back(ResolvedPort{stringAt(*po, {"name"}), intAt(*po, {"port"}),
                                     stringAt(*po, {"protocol"}, "TCP"),
                                     stringAt(*po, {"appProtocol"})});
    std::sort(out.begin(), out.end());
    return out;
  }

  json::object endpointFor(const json::object& pod, const json::object& service) const {
    bool serving = isPodReady(pod);
    bool terminating = isBeingDeleted(pod);
    // "ready" is never true for a terminating pod unless the Service publishes everything.
    bool ready = boolAt(service, {"spec", "publishNotReadyAddresses"}) || (serving && !terminating);
    json::object ep{
        {"addresses", json::array{json::value(podIp(pod))}},
        {"conditions",
         json::object{{"ready", ready}, {"serving", serving}, {"terminating", terminating}}}};
    if (auto h = podHostname(pod, service); !h.empty()) ep["hostname"] = h;
    ep["targetRef"] = podTargetRef(pod);
    if (auto node = stringAt(pod, {"spec", "nodeName"}); !node.empty()) {
      ep["nodeName"] = node;
      if (auto n = nodes_.get(node))
        if (auto zone = stringAt(*n, {"metadata", "labels", kZoneLabel}); !zone.empty())
          ep["zone"] = zone;
    }
    return ep;
  }

  client::SharedInformer& services_;
  client::SharedInformer& pods_;
  client::SharedInformer& nodes_;
  client::SharedInformer& slices_;
  SliceTracker tracker_;
};

ControllerRegistration reg("endpointslice", [](ControllerContext& ctx) {
  return std::make_unique<EndpointSliceController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
