// Node lifecycle controller over fakes: nodes whose kubelet stops renewing go Unknown after
// the grace period (a FakeClock is stepped past it) and get the unreachable taints, their
// pods stop being Ready; taints follow the conditions and go away when the kubelet is back.
// The wiring (real kubelets, Leases over the API) is covered by tests/e2e/test_node_lifecycle.sh.
#include "common/ids.h"
#include "unit/controller/fake_env.h"
#include "unit/controller/node_test_util.h"

namespace skiff::controller::testing {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::leases;
using client::resources::nodes;
using client::resources::pods;

namespace {

// Conditions as a kubelet posts them, with heartbeats at the env's fake time.
json::array conditionsAt(const Clock& clock, const std::string& ready,
                         const std::string& memoryPressure = "False") {
  auto now = formatTime(clock.now());
  auto cond = [&](const char* type, const std::string& status) {
    return json::object{{"type", type},
                        {"status", status},
                        {"reason", "Kubelet"},
                        {"lastHeartbeatTime", now},
                        {"lastTransitionTime", now}};
  };
  return json::array{cond("Ready", ready), cond("MemoryPressure", memoryPressure),
                     cond("DiskPressure", "False"), cond("PIDPressure", "False")};
}

struct NodeEnv : ControllerTestEnv {
  NodeEnv() : ControllerTestEnv("nodelifecycle") { reflectWrites(); }

  json::object node(const std::string& name) { return *api->object("nodes", "", name); }
  void addNode(const std::string& name, const std::string& ready) {
    json::object n{{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}};
    if (!ready.empty()) n["status"] = json::object{{"conditions", conditionsAt(clock, ready)}};
    add(nodes, n);
  }
  // The kubelet's status post (merge patch of the conditions).
  void postStatus(const std::string& name, const std::string& ready,
                  const std::string& memoryPressure = "False") {
    auto n = node(name);
    ensureObject(n, {"status"})["conditions"] = conditionsAt(clock, ready, memoryPressure);
    update(nodes, n);
  }
  void renewLease(const std::string& name) {
    json::object lease{
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", name}, {"namespace", "kube-node-lease"}}},
        {"spec", {{"holderIdentity", name}, {"renewTime", formatMicroTime(clock.now())}}}};
    update(leases, lease, "kube-node-lease");
  }
  // One node-monitor period: every node is looked at.
  void monitor() {
    runPeriodic();
    sync();
  }
};

}  // namespace

TEST(NodeLifecycle, StaleNodeGoesUnknownAndUnreachableThenRecovers) {
  NodeEnv env;
  env.addNode("n1", "True");
  env.renewLease("n1");
  auto pod = boundPod("web", "n1");
  pod["metadata"].as_object()["namespace"] = "ns";
  pod["status"] = json::object{
      {"phase", "Running"},
      {"conditions", json::array{json::object{{"type", "Ready"}, {"status", "True"}}}}};
  env.add(pods, pod);
  env.monitor();
  EXPECT_TRUE(env.writes().empty());
  EXPECT_TRUE(env.hasEvent("RegisteredNode", "Registered Node n1 in Controller"));

  // Lease renewals keep it healthy past the 40 s grace period.
  for (int i = 0; i < 3; ++i) {
    env.step(30s);
    env.renewLease("n1");
    env.monitor();
  }
  EXPECT_TRUE(env.writes().empty());

  // The kubelet dies: 40 s after its last renewal nothing happens yet, a moment later
  // everything it reported becomes Unknown.
  env.step(40s);
  env.monitor();
  EXPECT_TRUE(env.writes().empty());
  env.step(1s);
  env.monitor();
  EXPECT_EQ(env.writes(),
            (std::vector<std::string>{"update nodes/status", "update nodes", "patch pods/status"}));
  auto n = env.node("n1");
  auto* ready = findCondition(n, "Ready");
  EXPECT_EQ(stringAt(*ready, {"status"}), "Unknown");
  EXPECT_EQ(stringAt(*ready, {"reason"}), "NodeStatusUnknown");
  EXPECT_EQ(stringAt(*ready, {"message"}), "Kubelet stopped posting node status.");
  EXPECT_EQ(stringAt(*ready, {"lastTransitionTime"}), formatTime(env.clock.now()));
  for (const char* t : {"MemoryPressure", "DiskPressure", "PIDPressure"})
    EXPECT_EQ(conditionStatus(n, t), "Unknown") << t;
  EXPECT_TRUE(nodeHasTaint(n, "node.kubernetes.io/unreachable", "NoExecute"));
  EXPECT_TRUE(nodeHasTaint(n, "node.kubernetes.io/unreachable", "NoSchedule"));
  EXPECT_FALSE(nodeHasTaint(n, "node.kubernetes.io/not-ready", "NoExecute"));
  for (const auto& t : *arrayAt(n, {"spec", "taints"}))
    if (stringAt(t.as_object(), {"effect"}) == "NoExecute")
      EXPECT_EQ(stringAt(t.as_object(), {"timeAdded"}), formatTime(env.clock.now()));
  // MarkPodsNotReady.
  EXPECT_EQ(conditionStatus(*env.api->object("pods", "ns", "web"), "Ready"), "False");
  EXPECT_TRUE(env.hasEvent("NodeNotReady", "Node n1 status is now: NodeNotReady"));

  // The kubelet is back: it posts Ready=True, the controller lifts the taints.
  env.api->clearActions();
  env.step(5s);
  env.renewLease("n1");
  env.postStatus("n1", "True");
  env.sync();
  EXPECT_EQ(env.writes(), std::vector<std::string>{"update nodes"});
  EXPECT_FALSE(arrayAt(env.node("n1"), {"spec", "taints"}));
  // And it stays healthy while it keeps renewing.
  for (int i = 0; i < 3; ++i) {
    env.step(30s);
    env.renewLease("n1");
    env.monitor();
  }
  EXPECT_EQ(conditionStatus(env.node("n1"), "Ready"), "True");
}

TEST(NodeLifecycle, NeverReadyNodeUsesStartupGrace) {
  NodeEnv env;
  env.addNode("new", "");
  env.monitor();
  env.step(60s);  // the startup grace (60 s), not the monitor grace (40 s)
  env.monitor();
  EXPECT_TRUE(env.writes().empty());
  env.step(1s);
  env.monitor();
  auto n = env.node("new");
  auto* ready = findCondition(n, "Ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(stringAt(*ready, {"status"}), "Unknown");
  EXPECT_EQ(stringAt(*ready, {"reason"}), "NodeStatusNeverUpdated");
  EXPECT_TRUE(nodeHasTaint(n, "node.kubernetes.io/unreachable", "NoExecute"));
}

TEST(NodeLifecycle, TaintsFollowConditions) {
  NodeEnv env;
  env.addNode("t", "True");
  env.postStatus("t", "False", "True");
  env.sync();
  auto n = env.node("t");
  EXPECT_TRUE(nodeHasTaint(n, "node.kubernetes.io/not-ready", "NoExecute"));
  EXPECT_TRUE(nodeHasTaint(n, "node.kubernetes.io/not-ready", "NoSchedule"));
  EXPECT_TRUE(nodeHasTaint(n, "node.kubernetes.io/memory-pressure", "NoSchedule"));
  EXPECT_FALSE(nodeHasTaint(n, "node.kubernetes.io/unreachable", "NoExecute"));

  // Cordon: the unschedulable taint; a user's own taint is left alone.
  auto& spec = ensureObject(n, {"spec"});
  spec["unschedulable"] = true;
  spec["taints"].as_array().push_back(
      json::object{{"key", "example.com/mine"}, {"effect", "NoSchedule"}});
  env.update(nodes, n);
  env.sync();
  EXPECT_TRUE(nodeHasTaint(env.node("t"), "node.kubernetes.io/unschedulable", "NoSchedule"));

  // Healthy again and uncordoned: only the user's taint is left.
  n = env.node("t");
  n["spec"].as_object().erase("unschedulable");
  ensureObject(n, {"status"})["conditions"] = conditionsAt(env.clock, "True");
  env.update(nodes, n);
  env.sync();
  n = env.node("t");
  auto* taints = arrayAt(n, {"spec", "taints"});
  ASSERT_TRUE(taints);
  EXPECT_EQ(taints->size(), 1u) << json::serialize(*taints);
  EXPECT_TRUE(nodeHasTaint(env.node("t"), "example.com/mine", "NoSchedule"));
}

TEST(NodeLifecycle, TaintConflictIsRetriedOnAFreshNode) {
  NodeEnv env;
  env.addNode("c", "False");
  env.api->fail("update", "nodes", 409, "Conflict");
  env.sync();
  // The lost write is redone at once on the node read again, not after a backoff.
  EXPECT_EQ(env.writes(), (std::vector<std::string>{"update nodes", "update nodes"}));
  EXPECT_TRUE(nodeHasTaint(env.node("c"), "node.kubernetes.io/not-ready", "NoExecute"));
}

TEST(NodeLifecycle, MalformedNodeDoesNotStopTheController) {
  NodeEnv env;
  // A Ready condition without a status.
  env.add(nodes, json::parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"bad"},
                                 "status":{"conditions":[{"type":"Ready"}]}})")
                     .as_object());
  env.addNode("good", "");
  env.monitor();
  env.step(61s);
  env.monitor();
  EXPECT_EQ(conditionStatus(env.node("good"), "Ready"), "Unknown");
}

}  // namespace skiff::controller::testing
