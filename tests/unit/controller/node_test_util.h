// Helpers for the node lifecycle, taint eviction and pod GC tests: the tests play the
// kubelet (a Node with conditions, its Lease in kube-node-lease, renewed or not). Nodes are
// cluster-scoped on a shared server, so every test uses unique names and cleans up.
#pragma once
#include <atomic>
#include <optional>
#include <thread>

#include "common/ids.h"
#include "unit/controller/test_env.h"

namespace skiff::controller::testing {

inline std::string uniqueNodeName(const std::string& prefix) {
  static std::atomic<int> n{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

// The four kubelet conditions with a fresh heartbeat; Ready as given, pressures False.
inline boost::json::array kubeletConditions(const std::string& ready,
                                            const std::string& memoryPressure = "False") {
  auto now = nowTime();
  auto cond = [&](const char* type, const std::string& status) {
    return boost::json::object{{"type", type},
                               {"status", status},
                               {"reason", "Kubelet"},
                               {"lastHeartbeatTime", now},
                               {"lastTransitionTime", now}};
  };
  return boost::json::array{cond("Ready", ready), cond("MemoryPressure", memoryPressure),
                            cond("DiskPressure", "False"), cond("PIDPressure", "False")};
}

// Posts node status as a kubelet does (merge patch replaces the condition list).
inline void postNodeStatus(client::RestClient& c, const std::string& node, const std::string& ready,
                           const std::string& memoryPressure = "False") {
  boost::json::object patch{
      {"status", boost::json::object{{"conditions", kubeletConditions(ready, memoryPressure)}}}};
  c.patch(client::resources::nodes, "", node, client::PatchType::Merge, patch, "status");
}

inline void renewLease(client::RestClient& c, const std::string& node) {
  boost::json::object patch{
      {"spec",
       boost::json::object{{"renewTime", formatMicroTime(std::chrono::system_clock::now())}}}};
  c.patch(client::resources::leases, "kube-node-lease", node, client::PatchType::Merge, patch);
}

// A registered node (Ready=True when `ready`) with its Lease; deleted with its Lease on scope exit.
struct FakeNode {
  client::RestClient& c;
  std::string name;
  std::atomic<bool> renewing{false};
  std::thread renewer;

  FakeNode(client::RestClient& client, const std::string& prefix, bool ready = true,
           boost::json::object spec = {})
      : c(client), name(uniqueNodeName(prefix)) {
    c.create(client::resources::nodes, "",
             boost::json::object{{"apiVersion", "v1"},
                                 {"kind", "Node"},
                                 {"metadata", boost::json::object{{"name", name}}},
                                 {"spec", spec}});
    c.create(
        client::resources::leases, "kube-node-lease",
        boost::json::object{
            {"apiVersion", "coordination.k8s.io/v1"},
            {"kind", "Lease"},
            {"metadata", boost::json::object{{"name", name}, {"namespace", "kube-node-lease"}}},
            {"spec", boost::json::object{
                         {"holderIdentity", name},
                         {"leaseDurationSeconds", 40},
                         {"renewTime", formatMicroTime(std::chrono::system_clock::now())}}}});
    if (ready) postNodeStatus(c, name, "True");
  }
  ~FakeNode() {
    stopRenewing();
    for (auto* r : {&client::resources::leases, &client::resources::nodes}) {
      try {
        c.remove(*r, r == &client::resources::leases ? "kube-node-lease" : "", name);
      } catch (const std::exception&) {
      }
    }
  }
  // The kubelet's lease loop (every 100 ms here, 10 s upstream).
  void startRenewing() {
    renewing = true;
    renewer = std::thread([this] {
      while (renewing) {
        try {
          renewLease(c, name);
        } catch (const std::exception&) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  void stopRenewing() {
    renewing = false;
    if (renewer.joinable()) renewer.join();
  }
  boost::json::object get() { return c.get(client::resources::nodes, "", name); }
};

inline bool nodeHasTaint(const boost::json::object& node, const std::string& key,
                         const std::string& effect) {
  if (auto* taints = arrayAt(node, {"spec", "taints"}))
    for (const auto& t : *taints)
      if (t.is_object() && stringAt(t.as_object(), {"key"}) == key &&
          stringAt(t.as_object(), {"effect"}) == effect)
        return true;
  return false;
}

inline std::string conditionStatus(const boost::json::object& obj, const std::string& type) {
  auto* c = findCondition(obj, type);
  return c ? stringAt(*c, {"status"}) : "";
}

// A pod bound directly to `node` (no scheduler in these tests).
inline boost::json::object boundPod(const std::string& name, const std::string& node,
                                    boost::json::array tolerations = {}) {
  boost::json::object spec{
      {"nodeName", node},
      {"containers", boost::json::array{boost::json::object{{"name", "c"}, {"image", "busybox"}}}}};
  if (!tolerations.empty()) spec["tolerations"] = std::move(tolerations);
  return boost::json::object{{"apiVersion", "v1"},
                             {"kind", "Pod"},
                             {"metadata", boost::json::object{{"name", name}}},
                             {"spec", std::move(spec)}};
}

// Events in `ns` with this reason about the object named `name`.
inline std::vector<boost::json::object> eventsFor(client::RestClient& c, const std::string& ns,
                                                  const std::string& name,
                                                  const std::string& reason) {
  std::vector<boost::json::object> out;
  for (auto& e : listItems(c, client::resources::events, ns))
    if (stringAt(e.as_object(), {"involvedObject", "name"}) == name &&
        stringAt(e.as_object(), {"reason"}) == reason)
      out.push_back(e.as_object());
  return out;
}

}  // namespace skiff::controller::testing
