// route (upstream's RouteController): every --route-reconciliation-period, and soon after
// Nodes change, the provider's routes are compared with the Nodes' pod ranges:
//   - each Node with spec.podCIDRs gets a route to each range via the node (CreateRoute);
//   - routes the provider holds for no Node (deleted nodes, changed ranges) are deleted when
//     they lie inside --cluster-cidr (routes outside it are not ours to touch);
//   - each Node's NetworkUnavailable condition says whether its routes exist: False
//     RouteCreated "RouteController created a route", or True NoRouteCreated "RouteController
//     failed to create a route" with a Warning FailedToCreateRoute Event.
// The diff itself is diffRoutes() (route_diff.h), a pure function with its own unit tests.
#include "api/json_access.h"
#include "cloud/cloud_controller_manager.h"
#include "cloud/node_util.h"
#include "cloud/route_diff.h"
#include "common/ids.h"
#include "common/log.h"

namespace skiff::cloud {
namespace {

namespace json = boost::json;
using api::stringAt;

const std::string kReconcileKey = "routes";

class RouteController : public controller::QueueController {
 public:
  explicit RouteController(CloudContext& ctx)
      : QueueController(ctx.base, "route", "route_controller", 1),
        routes_(*ctx.provider.routes()),
        cluster_(ctx.options.clusterName),
        clusterCidr_(ctx.options.clusterCidr),
        nodes_(ctx.base.informers.informer(client::resources::nodes)) {
    auto changed = [this](const json::object&) { enqueueKey(kReconcileKey); };
    nodes_.addEventHandler({
        .onAdd = changed,
        .onUpdate =
            [this](const json::object& o, const json::object& n) {
              if (podCidrsOf(o) != podCidrsOf(n) ||
                  stringAt(o, {"metadata", "uid"}) != stringAt(n, {"metadata", "uid"}) ||
                  (!podCidrsOf(n).empty() &&
                   conditionReason(n, "NetworkUnavailable") != "RouteCreated"))
                enqueueKey(kReconcileKey);
            },
        .onDelete = changed,
    });
    every(ctx.options.routeReconciliationPeriod, [this] { enqueueKey(kReconcileKey); });
  }

 protected:
  void sync(const std::string&) override {
    std::vector<RouteNode> nodes;
    std::map<std::string, json::object> byName;
    for (const auto& n : nodes_.list()) {
      RouteNode rn{stringAt(*n, {"metadata", "name"}), stringAt(*n, {"metadata", "uid"}),
                   podCidrsOf(*n)};
      byName[rn.name] = *n;
      nodes.push_back(std::move(rn));
    }
    auto existing = routes_.listRoutes(cluster_);
    auto plan = diffRoutes(nodes, existing, clusterCidr_);
    for (const auto& r : plan.toDelete) {
      try {
        routes_.deleteRoute(cluster_, r);
        SKIFF_LOG_INFO("controller=route deleted route {} (target node \"{}\")", r.destinationCidr,
                       r.targetNode);
      } catch (const std::exception& e) {
        SKIFF_LOG_WARN("controller=route could not delete route {} error=\"{}\"", r.destinationCidr,
                       e.what());
      }
    }
    std::set<std::string> failed;
    for (const auto& [uid, r] : plan.toCreate) {
      auto start = clock_.now();
      try {
        routes_.createRoute(cluster_, uid, r);
        SKIFF_LOG_INFO("controller=route created route {} via node {}", r.destinationCidr,
                       r.targetNode);
      } catch (const std::exception& e) {
        failed.insert(r.targetNode);
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - start);
        if (auto it = byName.find(r.targetNode); it != byName.end())
          recorder_.event(it->second, client::kEventTypeWarning, "FailedToCreateRoute",
                          "Could not create route " + uid + " " + r.destinationCidr + " for node " +
                              r.targetNode + " after " + std::to_string(took.count()) +
                              "ms: " + e.what());
      }
    }
    for (const auto& n : nodes) {
      if (n.podCidrs.empty()) continue;  // nothing to route yet: leave the condition alone
      bool ok = !failed.count(n.name);
      const auto& node = byName[n.name];
      std::string want = ok ? "False" : "True";
      if (conditionStatus(node, "NetworkUnavailable") == want &&
          conditionReason(node, "NetworkUnavailable") == (ok ? "RouteCreated" : "NoRouteCreated"))
        continue;
      setNetworkCondition(node, ok);
    }
    if (!failed.empty())
      throw CloudError("routes for " + std::to_string(failed.size()) + " node(s) failed");
  }

 private:
  static std::vector<std::string> podCidrsOf(const json::object& node) {
    std::vector<std::string> out;
    if (const auto* arr = api::arrayAt(node, {"spec", "podCIDRs"}))
      for (const auto& v : *arr)
        if (v.is_string()) out.emplace_back(v.as_string());
    if (out.empty())
      if (auto one = stringAt(node, {"spec", "podCIDR"}); !one.empty()) out.push_back(one);
    return out;
  }

  void setNetworkCondition(const json::object& node, bool created) {
    auto now = formatTime(clock_.now());
    json::object cond{{"type", "NetworkUnavailable"},
                      {"status", created ? "False" : "True"},
                      {"reason", created ? "RouteCreated" : "NoRouteCreated"},
                      {"message", created ? "RouteController created a route"
                                          : "RouteController failed to create a route"},
                      {"lastTransitionTime", now},
                      {"lastHeartbeatTime", now}};
    // Strategic merge: conditions merge by type, so the kubelet's own are left alone.
    try {
      client_.patch(client::resources::nodes, "", stringAt(node, {"metadata", "name"}),
                    client::PatchType::StrategicMerge,
                    json::object{{"status", json::object{{"conditions", json::array{cond}}}}},
                    "status");
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("controller=route node={} condition update failed error=\"{}\"",
                     stringAt(node, {"metadata", "name"}), e.what());
    }
  }

  Routes& routes_;
  const std::string cluster_, clusterCidr_;
  client::SharedInformer& nodes_;
};

CloudControllerRegistration reg("route", [](CloudContext& ctx) {
  return std::make_unique<RouteController>(ctx);
});

}  // namespace
}  // namespace skiff::cloud
