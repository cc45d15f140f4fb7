// Taint eviction controller: NoExecute taints evict pods that do not tolerate them at once,
// pods tolerating them for N seconds after N seconds, and never pods tolerating them forever.
#include "unit/controller/node_test_util.h"

namespace skiff::controller::testing {

using namespace std::chrono_literals;

namespace {

boost::json::object toleration(const std::string& key, std::optional<int64_t> seconds) {
  boost::json::object t{{"operator", "Exists"}, {"effect", "NoExecute"}};
  if (!key.empty()) t["key"] = key;
  if (seconds) t["tolerationSeconds"] = *seconds;
  return t;
}

void setTaints(client::RestClient& c, const std::string& node, boost::json::array taints) {
  c.patch(client::resources::nodes, "", node, client::PatchType::Merge,
          boost::json::object{{"spec", boost::json::object{{"taints", std::move(taints)}}}});
}

boost::json::object unreachableTaint() {
  return {{"key", "node.kubernetes.io/unreachable"}, {"effect", "NoExecute"}, {"timeAdded", nowTime()}};
}

// Deleted, or marked for deletion (pods on a node keep a grace period).
bool evicted(client::RestClient& c, const std::string& ns, const std::string& name) {
  try {
    return isBeingDeleted(c.get(client::resources::pods, ns, name));
  } catch (const ApiError& e) {
    return e.code() == 404;
  }
}

}  // namespace

TEST(TaintEviction, TolerationSecondsDecideWhenPodsGo) {
  ControllerEnv env({"taint-eviction"});
  auto ns = freshNamespace(env.c(), "te");
  FakeNode node(env.c(), "te-node");
  auto& c = env.c();
  c.create(client::resources::pods, ns,
           boundPod("two-seconds", node.name, {toleration("node.kubernetes.io/unreachable", 2)}));
  c.create(client::resources::pods, ns, boundPod("forever", node.name, {toleration("", std::nullopt)}));
  c.create(client::resources::pods, ns, boundPod("defaults", node.name));  // 300 s from admission

  auto start = std::chrono::steady_clock::now();
  setTaints(c, node.name, {unreachableTaint()});
  std::this_thread::sleep_for(700ms);
  EXPECT_FALSE(evicted(c, ns, "two-seconds"));
  ASSERT_TRUE(eventually([&] { return evicted(c, ns, "two-seconds"); }, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1s);  // timeAdded has second precision
  auto pod = c.get(client::resources::pods, ns, "two-seconds");
  auto* cond = findCondition(pod, "DisruptionTarget");
  ASSERT_TRUE(cond);
  EXPECT_EQ(stringAt(*cond, {"reason"}), "DeletionByTaintManager");
  ASSERT_TRUE(eventually([&] { return !eventsFor(c, ns, "two-seconds", "TaintManagerEviction").empty(); }));
  auto ev = eventsFor(c, ns, "two-seconds", "TaintManagerEviction")[0];
  EXPECT_EQ(stringAt(ev, {"message"}), "Marking for deletion Pod " + ns + "/two-seconds");
  EXPECT_EQ(stringAt(ev, {"source", "component"}), "taint-eviction-controller");

  EXPECT_FALSE(evicted(c, ns, "forever"));
  EXPECT_FALSE(evicted(c, ns, "defaults"));

  // A taint nobody tolerates except "forever": the default-toleration pod goes at once.
  setTaints(c, node.name,
            {unreachableTaint(), boost::json::object{{"key", "example.com/broken"}, {"effect", "NoExecute"}}});
  ASSERT_TRUE(eventually([&] { return evicted(c, ns, "defaults"); }, 3s));
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(evicted(c, ns, "forever"));
}

TEST(TaintEviction, RemovedTaintCancelsScheduledEviction) {
  ControllerEnv env({"taint-eviction"});
  auto ns = freshNamespace(env.c(), "te");
  FakeNode node(env.c(), "te-cancel");
  auto& c = env.c();
  c.create(client::resources::pods, ns, boundPod("stays", node.name, {toleration("node.kubernetes.io/unreachable", 3)}));
  setTaints(c, node.name, {unreachableTaint()});
  // Long enough for the controller to have scheduled the eviction even on a loaded machine,
  // short of the deadline (at least 2 s away: timeAdded has second precision).
  std::this_thread::sleep_for(1500ms);
  setTaints(c, node.name, {});
  std::this_thread::sleep_for(2500ms);
  EXPECT_FALSE(evicted(c, ns, "stays"));
  ASSERT_TRUE(eventually([&] { return !eventsFor(c, ns, "stays", "TaintManagerEviction").empty(); }))
      << boost::json::serialize(listItems(c, client::resources::events, ns));
  EXPECT_EQ(stringAt(eventsFor(c, ns, "stays", "TaintManagerEviction")[0], {"message"}),
            "Cancelling deletion of Pod " + ns + "/stays");
}

TEST(TaintEviction, PodsOnUntaintedNodesStay) {
  ControllerEnv env({"taint-eviction"});
  auto ns = freshNamespace(env.c(), "te");
  FakeNode node(env.c(), "te-clean");
  auto& c = env.c();
  c.create(client::resources::pods, ns, boundPod("fine", node.name));
  // NoSchedule taints never evict.
  setTaints(c, node.name, {boost::json::object{{"key", "example.com/x"}, {"effect", "NoSchedule"}}});
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(evicted(c, ns, "fine"));
}

}  // namespace skiff::controller::testing
