// cloud-node (upstream's CloudNodeController): a Node registered with the taint
// node.cloudprovider.kubernetes.io/uninitialized (kubelets of clusters with an external
// cloud provider register so, and nothing schedules there yet) gets from the provider its
// spec.providerID, instance-type / zone / region labels (stable and beta names) and its
// addresses; then the taint is removed and the Event Synced says so. A provider that cannot
// answer yet (no inventory record) leaves the taint on and the Node is retried with backoff.
// Initialized Nodes get their addresses refreshed every --node-status-update-frequency.
#include "api/json_access.h"
#include "cloud/cloud_controller_manager.h"
#include "cloud/node_util.h"
#include "common/ids.h"
#include "common/log.h"

namespace skiff::cloud {
namespace {

namespace json = boost::json;
using api::stringAt;

json::array addressesJson(const std::vector<NodeAddress>& addrs) {
  json::array out;
  for (const auto& a : addrs) out.push_back(json::object{{"type", a.type}, {"address", a.address}});
  return out;
}

std::vector<NodeAddress> nodeAddresses(const json::object& node) {
  std::vector<NodeAddress> out;
  if (const auto* arr = api::arrayAt(node, {"status", "addresses"}))
    for (const auto& a : *arr)
      if (a.is_object())
        out.push_back({stringAt(a.as_object(), {"type"}), stringAt(a.as_object(), {"address"})});
  return out;
}

// Upstream's nodeAddressesChangeDetected: same length and the same address per type.
bool addressesDiffer(const std::vector<NodeAddress>& a, const std::vector<NodeAddress>& b) {
  if (a.size() != b.size()) return true;
  std::map<std::string, std::string> byType;
  for (const auto& x : a) byType[x.type] = x.address;
  for (const auto& y : b)
    if (byType[y.type] != y.address) return true;
  return false;
}

class CloudNodeController : public controller::QueueController {
 public:
  explicit CloudNodeController(CloudContext& ctx)
      : QueueController(ctx.base, "cloud-node", "cloud-node-controller", 1),
        provider_(ctx.provider),
        nodes_(ctx.base.informers.informer(client::resources::nodes)) {
    nodes_.addEventHandler({
        .onAdd = [this](const json::object& n) { maybeEnqueue(n); },
        .onUpdate = [this](const json::object&, const json::object& n) { maybeEnqueue(n); },
    });
    every(ctx.options.nodeStatusUpdateFrequency, [this] { updateAllAddresses(); });
  }

 protected:
  void sync(const std::string& name) override {
    auto cached = nodes_.get(name);
    if (!cached || !hasTaintKey(*cached, kTaintUninitialized)) return;
    auto* instances = provider_.instancesV2();
    if (!instances) throw CloudError("the cloud provider has no instances");
    SKIFF_LOG_INFO("controller=cloud-node node={} initializing with cloud provider {}", name,
                   provider_.providerName());
    InstanceMetadata meta;
    try {
      meta = instances->instanceMetadata(*cached);
    } catch (const CloudError& e) {
      throw CloudError("failed to get instance metadata for node " + name + ": " + e.what());
    }
    if (meta.providerID.empty() && stringAt(*cached, {"spec", "providerID"}).empty())
      throw CloudError("cloud provider does not set node provider ID for node " + name);
    json::object updated;
    bool done = updateNode(client_, name, [&](json::object& node) {
      if (!hasTaintKey(node, kTaintUninitialized)) return false;  // someone else finished it
      if (stringAt(node, {"spec", "providerID"}).empty() && !meta.providerID.empty())
        api::ensureObject(node, {"spec"})["providerID"] = meta.providerID;
      auto& labels = api::ensureObject(node, {"metadata", "labels"});
      if (!meta.instanceType.empty()) {
        labels[kLabelInstanceType] = meta.instanceType;
        labels[kLabelInstanceTypeBeta] = meta.instanceType;
      }
      if (!meta.zone.empty()) {
        labels[kLabelZone] = meta.zone;
        labels[kLabelZoneBeta] = meta.zone;
      }
      if (!meta.region.empty()) {
        labels[kLabelRegion] = meta.region;
        labels[kLabelRegionBeta] = meta.region;
      }
      removeTaint(node, kTaintUninitialized);
      updated = node;
      return true;
    });
    if (!done) return;
    // Addresses right after, so users see them without waiting for the periodic refresh.
    updateAddresses(updated, meta.nodeAddresses);
    SKIFF_LOG_INFO("controller=cloud-node node={} initialized providerID={} zone={}", name,
                   meta.providerID, meta.zone);
    recorder_.event(updated, client::kEventTypeNormal, "Synced", "Node synced successfully");
  }

 private:
  void maybeEnqueue(const json::object& node) {
    if (hasTaintKey(node, kTaintUninitialized)) enqueue(node);
  }

  // Upstream's updateNodeAddress: not while tainted; the kubelet's Hostname is kept when the
  // provider has none.
  void updateAddresses(const json::object& node, std::vector<NodeAddress> addrs) {
    if (hasTaintKey(node, kTaintUninitialized) || addrs.empty()) return;
    auto current = nodeAddresses(node);
    bool hasHostname = false;
    for (const auto& a : addrs) hasHostname |= a.type == "Hostname";
    if (!hasHostname)
      for (const auto& a : current)
        if (a.type == "Hostname") addrs.push_back(a);
    if (!addressesDiffer(current, addrs)) return;
    client_.patch(client::resources::nodes, "", nameOf(node), client::PatchType::Merge,
                  json::object{{"status", json::object{{"addresses", addressesJson(addrs)}}}},
                  "status");
  }

  void updateAllAddresses() {
    auto* instances = provider_.instancesV2();
    if (!instances) return;
    for (const auto& node : nodes_.list()) {
      if (hasTaintKey(*node, kTaintUninitialized)) continue;
      try {
        updateAddresses(*node, instances->instanceMetadata(*node).nodeAddresses);
      } catch (const std::exception& e) {
        SKIFF_LOG_DEBUG("controller=cloud-node node={} address refresh skipped error=\"{}\"",
                        nameOf(*node), e.what());
      }
    }
  }

  static std::string nameOf(const json::object& n) { return stringAt(n, {"metadata", "name"}); }

  CloudProvider& provider_;
  client::SharedInformer& nodes_;
};

CloudControllerRegistration reg("cloud-node", [](CloudContext& ctx) {
  return std::make_unique<CloudNodeController>(ctx);
});

}  // namespace
}  // namespace skiff::cloud
