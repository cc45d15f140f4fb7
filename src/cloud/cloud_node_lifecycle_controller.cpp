// cloud-node-lifecycle (upstream's CloudNodeLifecycleController): every
// --node-monitor-period, each Node whose Ready condition is not True is checked with the
// provider: when its instance no longer exists the Node is deleted (Event DeletingNode),
// when the instance is shut down the Node gets node.cloudprovider.kubernetes.io/shutdown
// :NoSchedule. The taint comes off once the Node is Ready again. Ready Nodes are never
// asked about, so a provider hiccup cannot delete a healthy node.
#include "api/json_access.h"
#include "cloud/cloud_controller_manager.h"
#include "cloud/node_util.h"
#include "common/api_error.h"
#include "common/ids.h"
#include "common/log.h"
#include "controller/controller_utils.h"

namespace skiff::cloud {
namespace {

namespace json = boost::json;
using api::stringAt;

class CloudNodeLifecycleController : public controller::QueueController {
 public:
  explicit CloudNodeLifecycleController(CloudContext& ctx)
      : QueueController(ctx.base, "cloud-node-lifecycle", "cloud-node-lifecycle-controller", 1),
        provider_(ctx.provider),
        nodes_(ctx.base.informers.informer(client::resources::nodes)) {
    every(ctx.options.nodeMonitorPeriod, [this] { monitorNodes(); });
  }

 protected:
  // Node names are queued by monitorNodes; each is checked on its own so one failure does
  // not hold up the rest and is retried with backoff.
  void sync(const std::string& name) override {
    auto node = nodes_.get(name);
    if (!node) return;
    auto* instances = provider_.instancesV2();
    if (!instances) return;
    if (conditionStatus(*node, "Ready") == "True") {
      if (hasTaintKey(*node, kTaintShutdown) &&
          updateNode(client_, name, [](json::object& n) { return removeTaint(n, kTaintShutdown); }))
        SKIFF_LOG_INFO(
            "controller=cloud-node-lifecycle node={} Ready again: shutdown taint removed", name);
      return;
    }
    if (!instances->instanceExists(*node)) {
      SKIFF_LOG_INFO("controller=cloud-node-lifecycle node={} instance gone: deleting the node",
                     name);
      recorder_.event(*node, client::kEventTypeNormal, "DeletingNode",
                      "Deleting node " + name + " because it does not exist in the cloud provider");
      try {
        client_.remove(client::resources::nodes, "", name);
      } catch (const ApiError& e) {
        if (e.code() != 404) throw;
      }
      return;
    }
    if (instances->instanceShutdown(*node) && !hasTaintKey(*node, kTaintShutdown)) {
      auto now = formatTime(clock_.now());
      if (updateNode(client_, name, [&](json::object& n) {
            return addTaint(n, kTaintShutdown, "NoSchedule", now);
          }))
        SKIFF_LOG_INFO("controller=cloud-node-lifecycle node={} instance shut down: tainted", name);
    }
  }

 private:
  void monitorNodes() {
    for (const auto& node : nodes_.list()) {
      bool ready = conditionStatus(*node, "Ready") == "True";
      // Only the cases that can need a write: not Ready, or Ready with the taint to lift.
      if (!ready || hasTaintKey(*node, kTaintShutdown))
        enqueueKey(stringAt(*node, {"metadata", "name"}));
    }
  }

  CloudProvider& provider_;
  client::SharedInformer& nodes_;
};

CloudControllerRegistration reg("cloud-node-lifecycle", [](CloudContext& ctx) {
  return std::make_unique<CloudNodeLifecycleController>(ctx);
});

}  // namespace
}  // namespace skiff::cloud
