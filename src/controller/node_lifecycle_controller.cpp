// Node lifecycle controller (upstream's nodelifecycle controller, event source
// "node-controller").
//
// Health: a node's heartbeat is its Lease (kube-node-lease/<node>, spec.renewTime) or its
// Ready condition's lastHeartbeatTime, whichever moves. Like upstream we do not compare those
// timestamps with our own clock (kubelets' clocks may drift): we remember, per node, when WE
// last saw either of them change (the "probe time"), and a node whose probe time is older
// than nodeMonitorGracePeriod (nodeStartupGracePeriod while it never posted a Ready
// condition) gets Ready, MemoryPressure, DiskPressure and PIDPressure set to Unknown. A node
// first seen by this controller gets a full grace period, so a controller restart never
// marks a healthy cluster down.
//
// Taints follow the conditions (level-triggered, on every sync):
// - NoExecute: unreachable while Ready=Unknown, not-ready while Ready=False (timeAdded set,
//   the taint eviction controller counts tolerationSeconds from it);
// - NoSchedule (TaintNodesByCondition): not-ready, unreachable, memory/disk/pid-pressure,
//   network-unavailable, and unschedulable for spec.unschedulable.
// Pods on a node whose Ready condition is not True get their Ready condition set to False
// (upstream's MarkPodsNotReady), so Services stop sending them traffic.
//
// Not done: upstream's zone-based eviction rate limiting (--node-eviction-rate,
// --unhealthy-zone-threshold, "master disruption mode" when every node is down). Here every
// unhealthy node is tainted at once, whatever the share of unhealthy nodes.
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "common/api_error.h"
#include "common/log.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"
#include "controller/taint_utils.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;
using namespace taints;

const std::string kLeaseNamespace = "kube-node-lease";
// Conditions the controller owns once the kubelet stops reporting.
const char* const kMonitoredConditions[] = {"Ready", "MemoryPressure", "DiskPressure",
                                            "PIDPressure"};

// NoSchedule taint key for a condition (TaintNodesByCondition), "" when none applies.
std::string noScheduleTaintFor(const std::string& type, const std::string& status) {
  if (type == "Ready") {
    if (status == "False") return kNotReady;
    if (status == "Unknown") return kUnreachable;
    return "";
  }
  if (status != "True") return "";
  if (type == "MemoryPressure") return kMemoryPressure;
  if (type == "DiskPressure") return kDiskPressure;
  if (type == "PIDPressure") return kPidPressure;
  if (type == "NetworkUnavailable") return kNetworkUnavailable;
  return "";
}

bool isManagedNoSchedule(const std::string& key) {
  return key == kNotReady || key == kUnreachable || key == kMemoryPressure ||
         key == kDiskPressure || key == kPidPressure || key == kNetworkUnavailable ||
         key == kUnschedulable;
}

std::chrono::system_clock::time_point parsedOr(const std::string& s) {
  std::chrono::system_clock::time_point t{};
  parseTime(s, t);
  return t;
}

class NodeLifecycleController : public QueueController {
 public:
  explicit NodeLifecycleController(ControllerContext& ctx)
      : QueueController(ctx, "nodelifecycle", "node-controller"),
        nodes_(ctx.informers.informer(client::resources::nodes)),
        leases_(ctx.informers.informer(client::resources::leases, kLeaseNamespace)),
        pods_(ctx.informers.informer(client::resources::pods)) {
    pods_.addIndexer(client::kIndexNodeName, client::indexByNodeName);
    nodes_.addEventHandler({
        .onAdd = [this](const json::object& n) { enqueueKey(nameOf(n)); },
        .onUpdate = [this](const json::object&, const json::object& n) { enqueueKey(nameOf(n)); },
        .onDelete = [this](const json::object& n) { forgetNode(n); },
    });
    leases_.addEventHandler({
        .onAdd = [this](const json::object& l) { enqueueKey(nameOf(l)); },
        .onUpdate = [this](const json::object&, const json::object& l) { enqueueKey(nameOf(l)); },
    });
    // A pod bound to (or staying Ready on) a node that is not Ready is marked not Ready.
    // Pods on Ready nodes are not queued at all (every pod event would otherwise wake a
    // worker): when a node stops being Ready, its sync queues the Ready pods it holds.
    auto onPod = [this](const json::object& p) {
      if (isPodReady(p) && onUnreadyNode(p)) enqueue(p);
    };
    pods_.addEventHandler({
        .onAdd = onPod,
        .onUpdate = [onPod](const json::object&, const json::object& p) { onPod(p); },
    });
    every(options_.nodeMonitorPeriod, [this] {
      for (const auto& n : nodes_.list()) enqueueKey(nameOf(*n));
    });
  }

 protected:
  void sync(const std::string& key) override {
    if (key.find('/') != std::string::npos) return syncPod(key);
    syncNode(key);
  }

 private:
  struct Health {
    std::string leaseRenewTime;                   // last seen spec.renewTime of the node's Lease
    std::string readyHeartbeat;                   // last seen Ready.lastHeartbeatTime
    std::chrono::steady_clock::time_point probe;  // when either last moved, on our clock
    std::string lastReadyStatus;  // Ready status at the previous sync ("" = none/unknown)
  };

  static json::object nodeRef(const json::object& node, bool uidIsName) {
    // Upstream's node status events carry the node name as UID (kubectl describe node
    // looks them up that way); registration events carry the real UID.
    return json::object{{"kind", "Node"},
                        {"apiVersion", "v1"},
                        {"name", nameOf(node)},
                        {"uid", uidIsName ? nameOf(node) : uidOf(node)}};
  }

  void forgetNode(const json::object& node) {
    {
      std::lock_guard lock(mu_);
      if (!health_.erase(nameOf(node))) return;
    }
    recorder_.event(nodeRef(node, false), client::kEventTypeNormal, "RemovingNode",
                    "Removing Node " + nameOf(node) + " from Controller");
  }

  // Updates the probe time from the node's Lease and Ready heartbeat; true when stale.
  bool observeHeartbeat(const json::object& node) {
    const std::string name = nameOf(node);
    std::string renew;
    if (auto lease = leases_.get(makeKey(kLeaseNamespace, name)))
      renew = stringAt(*lease, {"spec", "renewTime"});
    const json::object* ready = findCondition(node, "Ready");
    std::string heartbeat = ready ? stringAt(*ready, {"lastHeartbeatTime"}) : "";
    auto now = syncClock().monotonic();
    bool registered = false;
    bool stale = false;
    {
      std::lock_guard lock(mu_);
      auto [it, inserted] = health_.try_emplace(name);
      Health& h = it->second;
      if (inserted) {
        h = Health{renew, heartbeat, now, ready ? stringAt(*ready, {"status"}) : ""};
        registered = true;
      } else {
        // A heartbeat that moves forward (or appears) resets the clock; one that goes
        // backwards (a recreated Lease with an old time) does not.
        if (renew != h.leaseRenewTime && !renew.empty() &&
            (h.leaseRenewTime.empty() || parsedOr(renew) >= parsedOr(h.leaseRenewTime)))
          h.probe = now;
        if (heartbeat != h.readyHeartbeat && !heartbeat.empty() &&
            (h.readyHeartbeat.empty() || parsedOr(heartbeat) >= parsedOr(h.readyHeartbeat)))
          h.probe = now;
        h.leaseRenewTime = renew;
        h.readyHeartbeat = heartbeat;
      }
      auto grace = ready ? options_.nodeMonitorGracePeriod : options_.nodeStartupGracePeriod;
      stale = now - h.probe > grace;
    }
    if (registered)
      recorder_.event(nodeRef(node, false), client::kEventTypeNormal, "RegisteredNode",
                      "Registered Node " + name + " in Controller");
    return stale;
  }

  // The kubelet stopped posting: its conditions become Unknown (returns true if changed).
  static bool markUnknown(json::object& node) {
    auto& status = ensureObject(node, {"status"});
    json::value& condsValue = status["conditions"];
    if (!condsValue.is_array()) condsValue.emplace_array();
    json::array& conds = condsValue.as_array();
    const std::string now = nowTime();
    const std::string created = stringAt(node, {"metadata", "creationTimestamp"}, now);
    bool changed = false;
    for (const char* type : kMonitoredConditions) {
      json::object* cond = nullptr;
      for (auto& c : conds)
        if (c.is_object() && stringAt(c.as_object(), {"type"}) == type) cond = &c.as_object();
      if (!cond) {
        conds.push_back(json::object{{"type", type},
                                     {"status", "Unknown"},
                                     {"reason", "NodeStatusNeverUpdated"},
                                     {"message", "Kubelet never posted node status."},
                                     {"lastHeartbeatTime", created},
                                     {"lastTransitionTime", now}});
        changed = true;
      } else if (stringAt(*cond, {"status"}) != "Unknown") {
        // lastHeartbeatTime stays: it is the kubelet's last word.
        (*cond)["status"] = "Unknown";
        (*cond)["reason"] = "NodeStatusUnknown";
        (*cond)["message"] = "Kubelet stopped posting node status.";
        (*cond)["lastTransitionTime"] = now;
        changed = true;
      }
    }
    return changed;
  }

  // spec.taints as the conditions want them, or nothing when the node already has them.
  // Read-only on purpose: most syncs (every Lease renewal, every monitor period) change
  // nothing, and copying a whole Node for each of them cost more than the check.
  static std::optional<json::array> desiredTaints(const json::object& node) {
    std::string readyStatus;
    if (auto* ready = findCondition(node, "Ready")) readyStatus = stringAt(*ready, {"status"});
    // Desired NoExecute taint (at most one of not-ready / unreachable).
    std::string noExecute = readyStatus == "False"     ? kNotReady
                            : readyStatus == "Unknown" ? kUnreachable
                                                       : "";
    // Desired NoSchedule taints.
    std::vector<std::string> noSchedule;
    if (auto* conds = arrayAt(node, {"status", "conditions"}))
      for (const auto& c : *conds)
        if (auto* cond = c.if_object()) {
          auto key = noScheduleTaintFor(stringAt(*cond, {"type"}), stringAt(*cond, {"status"}));
          if (!key.empty() &&
              std::find(noSchedule.begin(), noSchedule.end(), key) == noSchedule.end())
            noSchedule.push_back(key);
        }
    if (boolAt(node, {"spec", "unschedulable"})) noSchedule.push_back(kUnschedulable);

    static const json::array kNone;
    const json::array* arr = arrayAt(node, {"spec", "taints"});
    const json::array& current = arr ? *arr : kNone;
    json::array next;
    bool haveNoExecute = false;
    std::vector<std::string> haveNoSchedule;
    for (const auto& v : current) {
      const json::object* t = v.if_object();
      if (!t) continue;  // drop garbage entries rather than fail on them forever
      std::string key = stringAt(*t, {"key"}), effect = stringAt(*t, {"effect"});
      if (effect == kNoExecute && (key == kNotReady || key == kUnreachable)) {
        if (key != noExecute || haveNoExecute) continue;
        haveNoExecute = true;
      } else if (effect == kNoSchedule && isManagedNoSchedule(key)) {
        bool wanted = std::find(noSchedule.begin(), noSchedule.end(), key) != noSchedule.end();
        bool dup =
            std::find(haveNoSchedule.begin(), haveNoSchedule.end(), key) != haveNoSchedule.end();
        if (!wanted || dup) continue;
        haveNoSchedule.push_back(key);
      }
      next.push_back(v);
    }
    for (const auto& key : noSchedule)
      if (std::find(haveNoSchedule.begin(), haveNoSchedule.end(), key) == haveNoSchedule.end())
        next.push_back(json::object{{"key", key}, {"effect", kNoSchedule}});
    if (!noExecute.empty() && !haveNoExecute)
      next.push_back(
          json::object{{"key", noExecute}, {"effect", kNoExecute}, {"timeAdded", nowTime()}});
    if (next == current) return std::nullopt;
    return next;
  }

  void syncNode(const std::string& name) {
    client::ObjectPtr cached = nodes_.get(name);
    if (!cached) return;
    bool stale = observeHeartbeat(*cached);

    if (stale) {
      json::object updated = *cached;
      if (markUnknown(updated)) {
        SKIFF_LOG_INFO("controller=nodelifecycle node={} kubelet stopped posting node status",
                       name);
        cached = std::make_shared<const json::object>(
            client_.updateStatus(client::resources::nodes, "", updated));
      }
    }

    std::string readyStatus;
    const json::object* ready = findCondition(*cached, "Ready");
    if (ready) readyStatus = stringAt(*ready, {"status"});
    bool becameNotReady = false;
    {
      std::lock_guard lock(mu_);
      auto it = health_.find(name);
      if (it != health_.end()) {
        becameNotReady = it->second.lastReadyStatus == "True" && readyStatus != "True";
        it->second.lastReadyStatus = readyStatus;
      }
    }
    if (becameNotReady)
      recorder_.event(nodeRef(*cached, true), client::kEventTypeNormal, "NodeNotReady",
                      "Node " + name + " status is now: NodeNotReady");
    // Level-triggered MarkPodsNotReady: every Ready pod of a not-Ready node is queued.
    if (ready && readyStatus != "True")
      for (const auto& pod : pods_.byIndex(client::kIndexNodeName, name))
        if (isPodReady(*pod)) enqueue(*pod);

    // Like upstream's taint swaps: on a conflict, read the node fresh and try again at once
    // rather than waiting (with growing backoff) for a cache that lags behind a busy server.
    for (int attempt = 0;; ++attempt) {
      auto taints = desiredTaints(*cached);
      if (!taints) return;
      json::object tainted = *cached;
      auto& spec = ensureObject(tainted, {"spec"});
      if (taints->empty())
        spec.erase("taints");
      else
        spec["taints"] = std::move(*taints);
      try {
        client_.update(client::resources::nodes, "", tainted);
        return;
      } catch (const ApiError& e) {
        if (e.code() == 404) return;  // deleted meanwhile
        if (e.code() != 409 || attempt >= 4) throw;
      }
      try {
        cached =
            std::make_shared<const json::object>(client_.get(client::resources::nodes, "", name));
      } catch (const ApiError& e) {
        if (e.code() == 404) return;
        throw;
      }
    }
  }

  void syncPod(const std::string& key) {
    auto pod = pods_.get(key);
    if (!pod || !isPodReady(*pod) || !onUnreadyNode(*pod)) return;
    std::string nodeName = stringAt(*pod, {"spec", "nodeName"});
    // Strategic merge on the condition list (merge key "type") changes only Ready.
    json::object patch{
        {"status", json::object{{"conditions",
                                 json::array{json::object{{"type", "Ready"},
                                                          {"status", "False"},
                                                          {"lastTransitionTime", nowTime()}}}}}}};
    try {
      client_.patch(client::resources::pods, namespaceOf(*pod), nameOf(*pod),
                    client::PatchType::StrategicMerge, patch, "status");
      SKIFF_LOG_INFO("controller=nodelifecycle pod={} marked not ready: node {} is not ready", key,
                     nodeName);
    } catch (const ApiError& e) {
      if (e.code() != 404) throw;
    }
  }

  // Bound to a known node whose Ready condition is there and not True.
  bool onUnreadyNode(const json::object& pod) const {
    std::string nodeName = stringAt(pod, {"spec", "nodeName"});
    if (nodeName.empty()) return false;
    auto node = nodes_.get(nodeName);
    if (!node) return false;
    const json::object* ready = findCondition(*node, "Ready");
    return ready && stringAt(*ready, {"status"}) != "True";
  }

  client::SharedInformer& nodes_;
  client::SharedInformer& leases_;
  client::SharedInformer& pods_;
  std::mutex mu_;
  std::map<std::string, Health> health_;
};

ControllerRegistration reg("nodelifecycle", [](ControllerContext& ctx) {
  return std::make_unique<NodeLifecycleController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
