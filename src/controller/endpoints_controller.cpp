// Endpoints controller (upstream's endpoint-controller): every Service with a selector has a
// core/v1 Endpoints object of the same name listing the IPs of the pods it selects, grouped
// into subsets by the set of ports they serve. Ready pods go to `addresses`, others with an
// IP to `notReadyAddresses` (publishNotReadyAddresses puts everyone in `addresses`);
// terminating and terminal pods are left out. Services without a selector are left alone
// (their Endpoints are the user's); the Endpoints of a deleted Service are deleted.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "common/api_error.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"
#include "controller/endpoints_util.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;
using namespace endpoints;

// Upstream's maxCapacity: more addresses than this are truncated and flagged.
constexpr size_t kMaxEndpointsAddresses = 1000;

json::object labelsOf(const json::object& obj) {
  const json::object* l = objectAt(obj, {"metadata", "labels"});
  return l ? *l : json::object{};
}

json::object portJson(const ResolvedPort& p) {
  json::object o{{"port", p.port}, {"protocol", p.protocol}};
  if (!p.name.empty()) o["name"] = p.name;
  if (!p.appProtocol.empty()) o["appProtocol"] = p.appProtocol;
  return o;
}

// Addresses of one subset, keyed by IP so a pod listed twice (or two pods sharing an IP, as
// host-network pods do) appear once, and sorted for a stable comparison with what is stored.
struct Subset {
  std::vector<ResolvedPort> ports;
  std::map<std::string, json::object> ready, notReady;
};

// Keeps at most kMaxEndpointsAddresses addresses, ready ones first, taking from every
// subset in proportion to its size (rounded up, so later subsets may get a little less).
// Returns true when something was dropped.
bool truncate(std::vector<Subset>& subsets) {
  size_t totalReady = 0, total = 0;
  for (auto& s : subsets) {
    totalReady += s.ready.size();
    total += s.ready.size() + s.notReady.size();
  }
  if (total <= kMaxEndpointsAddresses) return false;
  size_t canReady = std::min(totalReady, kMaxEndpointsAddresses);
  size_t canNotReady = kMaxEndpointsAddresses - canReady;
  size_t totalNotReady = total - totalReady;
  auto shrink = [](std::map<std::string, json::object>& m, size_t keep) {
    while (m.size() > keep) m.erase(std::prev(m.end()));
  };
  for (auto& s : subsets) {
    size_t wantReady = totalReady == 0
                           ? 0
                           : static_cast<size_t>(std::ceil(static_cast<double>(s.ready.size()) /
                                                           totalReady * canReady));
    size_t wantNotReady =
        totalNotReady == 0 ? 0
                           : static_cast<size_t>(std::ceil(static_cast<double>(s.notReady.size()) /
                                                           totalNotReady * canNotReady));
    wantReady = std::min({wantReady, canReady, s.ready.size()});
    wantNotReady = std::min({wantNotReady, canNotReady, s.notReady.size()});
    shrink(s.ready, wantReady);
    shrink(s.notReady, wantNotReady);
    canReady -= wantReady;
    canNotReady -= wantNotReady;
  }
  return true;
}

json::array subsetsJson(const std::vector<Subset>& subsets) {
  json::array out;
  for (const auto& s : subsets) {
    if (s.ready.empty() && s.notReady.empty()) continue;
    json::object o;
    if (!s.ready.empty()) {
      json::array a;
      for (const auto& [ip, addr] : s.ready) a.push_back(addr);
      o["addresses"] = std::move(a);
    }
    if (!s.notReady.empty()) {
      json::array a;
      for (const auto& [ip, addr] : s.notReady) a.push_back(addr);
      o["notReadyAddresses"] = std::move(a);
    }
    if (!s.ports.empty()) {
      json::array ports;
      for (const auto& p : s.ports) ports.push_back(portJson(p));
      o["ports"] = std::move(ports);
    }
    out.push_back(std::move(o));
  }
  return out;
}

class EndpointsController : public QueueController {
 public:
  explicit EndpointsController(ControllerContext& ctx)
      : QueueController(ctx, "endpoints", "endpoint-controller"),
        services_(ctx.informers.informer(client::resources::services)),
        pods_(ctx.informers.informer(client::resources::pods)),
        endpoints_(ctx.informers.informer(client::resources::endpoints)) {
    services_.addIndexer(client::kIndexNamespace, client::indexByNamespace);
    pods_.addIndexer(client::kIndexNamespace, client::indexByNamespace);
    services_.addEventHandler(enqueueingHandlers());
    pods_.addEventHandler({
        .onAdd = [this](const json::object& p) { enqueueServicesOf(p); },
        .onUpdate =
            [this](const json::object& o, const json::object& n) {
              // A label change can move the pod between services: both sides need a sync.
              enqueueServicesOf(n);
              if (labelsOf(o) != labelsOf(n)) enqueueServicesOf(o);
            },
        .onDelete = [this](const json::object& p) { enqueueServicesOf(p); },
    });
    // Someone deleting a managed Endpoints object gets it back.
    endpoints_.addEventHandler({.onDelete = [this](const json::object& e) { enqueue(e); }});
  }

 protected:
  void sync(const std::string& key) override {
    auto [ns, name] = splitKey(key);
    auto service = services_.get(key);
    if (!service) {
      // The Service is gone: so are its Endpoints (user-managed ones included, as upstream).
      try {
        client_.remove(client::resources::endpoints, ns, name);
      } catch (const ApiError& e) {
        if (e.code() != 404) throw;
      }
      return;
    }
    auto selector = serviceSelector(*service);
    if (!selector) return;  // no selector: the Endpoints are managed by someone else
    if (isBeingDeleted(*service)) return;

    bool publishNotReady = boolAt(*service, {"spec", "publishNotReadyAddresses"});
    // A headless Service may declare no ports: its Endpoints then list bare addresses.
    const json::array* servicePorts = arrayAt(*service, {"spec", "ports"});
    bool headlessWithoutPorts = isHeadless(*service) && (!servicePorts || servicePorts->empty());

    // Subsets by port set: every pod serves the ports that resolve on it.
    std::map<std::vector<ResolvedPort>, Subset> bySet;
    for (const auto& pod : selectedPods(pods_, *service, *selector)) {
      if (!shouldPodBeInEndpoints(*pod, publishNotReady)) continue;
      std::vector<ResolvedPort> ports;
      if (!headlessWithoutPorts) {
        ports = resolvePorts(*service, *pod);
        if (ports.empty()) continue;  // serves none of the service's ports
        std::sort(ports.begin(), ports.end());
      }
      json::object addr{{"ip", podIp(*pod)}};
      if (auto h = podHostname(*pod, *service); !h.empty()) addr["hostname"] = h;
      if (auto node = stringAt(*pod, {"spec", "nodeName"}); !node.empty()) addr["nodeName"] = node;
      addr["targetRef"] = podTargetRef(*pod);
      Subset& s = bySet[ports];
      s.ports = ports;
      std::string ip = podIp(*pod);
      if (publishNotReady || isPodReady(*pod)) {
        s.notReady.erase(ip);
        s.ready[ip] = std::move(addr);
      } else if (!s.ready.contains(ip)) {
        s.notReady[ip] = std::move(addr);
      }
    }
    std::vector<Subset> subsets;
    for (auto& [ports, s] : bySet) subsets.push_back(std::move(s));
    bool truncated = truncate(subsets);
    json::array desiredSubsets = subsetsJson(subsets);

    json::object labels;
    if (const json::object* l = objectAt(*service, {"metadata", "labels"})) labels = *l;
    labels[kLabelEndpointsManagedBy] = kEndpointsControllerName;
    if (isHeadless(*service))
      labels[kLabelHeadless] = "";
    else
      labels.erase(kLabelHeadless);

    auto current = endpoints_.get(key);
    if (current) {
      const json::value* curSubsets = current->if_contains("subsets");
      json::array existing =
          curSubsets && curSubsets->is_array() ? curSubsets->get_array() : json::array{};
      const json::object* curLabels = objectAt(*current, {"metadata", "labels"});
      bool capacityOk =
          truncated == (stringAt(*current, {"metadata", "annotations", kAnnotationOverCapacity}) ==
                        "truncated") &&
          (truncated || !valueAt(*current, {"metadata", "annotations", kAnnotationOverCapacity}));
      if (existing == desiredSubsets && curLabels && *curLabels == labels && capacityOk) return;
    }

    json::object ep =
        current ? *current : json::object{{"apiVersion", "v1"}, {"kind", "Endpoints"}};
    json::object& meta = ensureObject(ep, {"metadata"});
    meta["name"] = name;
    meta["namespace"] = ns;
    meta["labels"] = labels;
    json::object& annotations = ensureObject(ep, {"metadata", "annotations"});
    bool subsetsChanged = true;
    if (current)
      if (const json::value* cs = current->if_contains("subsets"))
        subsetsChanged = !(cs->is_array() && cs->get_array() == desiredSubsets);
    if (subsetsChanged) annotations[kAnnotationTriggerTime] = nowTime();
    if (truncated)
      annotations[kAnnotationOverCapacity] = "truncated";
    else
      annotations.erase(kAnnotationOverCapacity);
    if (annotations.empty()) meta.erase("annotations");
    ep["subsets"] = desiredSubsets;

    try {
      if (current)
        client_.update(client::resources::endpoints, ns, ep);
      else
        client_.create(client::resources::endpoints, ns, ep);
    } catch (const ApiError& e) {
      // A terminating namespace refuses new objects: nothing to do there.
      if (!current && e.code() == 403) return;
      if (e.code() != 409)
        recorder_.event(*service, client::kEventTypeWarning,
                        current ? "FailedToUpdateEndpoint" : "FailedToCreateEndpoint",
                        current ? "Failed to update endpoint " + key + ": " + e.what()
                                : "Failed to create endpoint for service " + key + ": " + e.what());
      throw;
    }
  }

 private:
  void enqueueServicesOf(const json::object& pod) {
    for (auto& k : servicesForPod(services_, pod)) enqueueKey(k);
  }

  client::SharedInformer& services_;
  client::SharedInformer& pods_;
  client::SharedInformer& endpoints_;
};

ControllerRegistration reg("endpoints", [](ControllerContext& ctx) {
  return std::make_unique<EndpointsController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
