// Node lifecycle controller: nodes whose kubelet stops renewing go Unknown and get the
// unreachable taints, their pods stop being Ready; taints follow the conditions and go away
// when the kubelet comes back.
#include "unit/controller/node_test_util.h"

namespace skiff::controller::testing {

using namespace std::chrono_literals;

namespace {
void fastNodeMonitor(ControllerOptions& o) {
  o.nodeMonitorGracePeriod = 1500ms;
  o.nodeStartupGracePeriod = 1500ms;
  o.nodeMonitorPeriod = 100ms;
}
}  // namespace

TEST(NodeLifecycle, StaleNodeGoesUnknownAndUnreachableThenRecovers) {
  ControllerEnv env({"nodelifecycle"}, fastNodeMonitor);
  auto ns = freshNamespace(env.c(), "nlc");
  FakeNode node(env.c(), "nlc-stale");
  node.startRenewing();
  env.c().create(client::resources::pods, ns, boundPod("web", node.name));
  markPodRunning(env.c(), ns, "web");

  // Heartbeats keep it healthy past the grace period.
  std::this_thread::sleep_for(2500ms);
  auto n = node.get();
  EXPECT_EQ(conditionStatus(n, "Ready"), "True");
  EXPECT_FALSE(nodeHasTaint(n, "node.kubernetes.io/unreachable", "NoExecute"));

  // The kubelet dies: everything it reported becomes Unknown.
  node.stopRenewing();
  ASSERT_TRUE(eventually([&] { return conditionStatus(node.get(), "Ready") == "Unknown"; }, 6s));
  n = node.get();
  auto* ready = findCondition(n, "Ready");
  EXPECT_EQ(stringAt(*ready, {"reason"}), "NodeStatusUnknown");
  EXPECT_EQ(stringAt(*ready, {"message"}), "Kubelet stopped posting node status.");
  for (const char* t : {"MemoryPressure", "DiskPressure", "PIDPressure"}) EXPECT_EQ(conditionStatus(n, t), "Unknown") << t;
  ASSERT_TRUE(eventually([&] {
    auto cur = node.get();
    return nodeHasTaint(cur, "node.kubernetes.io/unreachable", "NoExecute") &&
           nodeHasTaint(cur, "node.kubernetes.io/unreachable", "NoSchedule");
  }));
  n = node.get();
  for (const auto& t : *arrayAt(n, {"spec", "taints"})) {
    if (stringAt(t.as_object(), {"effect"}) == "NoExecute") {
      EXPECT_FALSE(stringAt(t.as_object(), {"timeAdded"}).empty());
    }
  }
  EXPECT_FALSE(nodeHasTaint(n, "node.kubernetes.io/not-ready", "NoExecute"));
  // MarkPodsNotReady.
  ASSERT_TRUE(eventually([&] {
    return conditionStatus(env.c().get(client::resources::pods, ns, "web"), "Ready") == "False";
  }));
  ASSERT_TRUE(eventually([&] { return !eventsFor(env.c(), "default", node.name, "NodeNotReady").empty(); }));
  EXPECT_EQ(stringAt(eventsFor(env.c(), "default", node.name, "NodeNotReady")[0], {"source", "component"}),
            "node-controller");

  // The kubelet is back: it posts Ready=True, the controller lifts the taints.
  node.startRenewing();
  postNodeStatus(env.c(), node.name, "True");
  ASSERT_TRUE(eventually([&] {
    auto cur = node.get();
    return !nodeHasTaint(cur, "node.kubernetes.io/unreachable", "NoExecute") &&
           !nodeHasTaint(cur, "node.kubernetes.io/unreachable", "NoSchedule");
  }));
  // And it stays healthy while it keeps renewing.
  std::this_thread::sleep_for(2000ms);
  EXPECT_EQ(conditionStatus(node.get(), "Ready"), "True");
}

TEST(NodeLifecycle, NeverReadyNodeUsesStartupGrace) {
  ControllerEnv env({"nodelifecycle"}, fastNodeMonitor);
  FakeNode node(env.c(), "nlc-new", /*ready=*/false);
  ASSERT_TRUE(eventually([&] { return conditionStatus(node.get(), "Ready") == "Unknown"; }, 6s));
  auto n = node.get();
  auto* ready = findCondition(n, "Ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(stringAt(*ready, {"reason"}), "NodeStatusNeverUpdated");
  EXPECT_TRUE(eventually([&] { return nodeHasTaint(node.get(), "node.kubernetes.io/unreachable", "NoExecute"); }));
}

TEST(NodeLifecycle, TaintsFollowConditions) {
  // A long grace period: only the kubelet-reported conditions matter here.
  ControllerEnv env({"nodelifecycle"}, [](ControllerOptions& o) {
    o.nodeMonitorGracePeriod = 60s;
    o.nodeMonitorPeriod = 100ms;
  });
  FakeNode node(env.c(), "nlc-taints");
  postNodeStatus(env.c(), node.name, "False", "True");
  ASSERT_TRUE(eventually([&] {
    auto n = node.get();
    return nodeHasTaint(n, "node.kubernetes.io/not-ready", "NoExecute") &&
           nodeHasTaint(n, "node.kubernetes.io/not-ready", "NoSchedule") &&
           nodeHasTaint(n, "node.kubernetes.io/memory-pressure", "NoSchedule");
  }, 10s)) << boost::json::serialize(node.get());
  EXPECT_FALSE(nodeHasTaint(node.get(), "node.kubernetes.io/unreachable", "NoExecute"));

  // Cordon: unschedulable taint; a user's own taint is left alone.
  for (int attempt = 0;; ++attempt) {  // the controller writes the node too: retry conflicts
    auto n = node.get();
    auto& spec = ensureObject(n, {"spec"});
    spec["unschedulable"] = true;
    if (!spec["taints"].is_array()) spec["taints"].emplace_array();
    spec["taints"].as_array().push_back(boost::json::object{{"key", "example.com/mine"}, {"effect", "NoSchedule"}});
    try {
      env.c().update(client::resources::nodes, "", n);
      break;
    } catch (const ApiError& e) {
      if (e.code() != 409 || attempt > 20) throw;
    }
  }
  ASSERT_TRUE(eventually([&] { return nodeHasTaint(node.get(), "node.kubernetes.io/unschedulable", "NoSchedule"); }, 10s));

  // Healthy again and uncordoned: only the user's taint is left.
  postNodeStatus(env.c(), node.name, "True");
  env.c().patch(client::resources::nodes, "", node.name, client::PatchType::Merge,
                boost::json::object{{"spec", boost::json::object{{"unschedulable", nullptr}}}});
  ASSERT_TRUE(eventually([&] {
    auto cur = node.get();
    auto* taints = arrayAt(cur, {"spec", "taints"});
    return taints && taints->size() == 1 && nodeHasTaint(cur, "example.com/mine", "NoSchedule");
  }, 10s)) << boost::json::serialize(node.get());
}

TEST(NodeLifecycle, MalformedNodeDoesNotStopTheController) {
  ControllerEnv env({"nodelifecycle"}, fastNodeMonitor);
  FakeNode bad(env.c(), "nlc-bad", false);
  // A Ready condition without a status.
  try {  // validation may refuse it; the controller must cope either way
    env.c().patch(client::resources::nodes, "", bad.name, client::PatchType::Merge,
                  boost::json::parse(R"({"status":{"conditions":[{"type":"Ready"}]}})"), "status");
  } catch (const ApiError&) {
  }
  FakeNode good(env.c(), "nlc-good", false);
  EXPECT_TRUE(eventually([&] { return conditionStatus(good.get(), "Ready") == "Unknown"; }, 6s));
}

}  // namespace skiff::controller::testing
