// Taint eviction controller over fakes: NoExecute taints evict pods that do not tolerate
// them at once, pods tolerating them for N seconds after N seconds (a FakeClock is stepped),
// and never pods tolerating them forever.
#include "unit/controller/fake_env.h"
#include "unit/controller/node_test_util.h"

namespace skiff::controller::testing {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::nodes;
using client::resources::pods;

namespace {

json::object toleration(const std::string& key, std::optional<int64_t> seconds) {
  json::object t{{"operator", "Exists"}, {"effect", "NoExecute"}};
  if (!key.empty()) t["key"] = key;
  if (seconds) t["tolerationSeconds"] = *seconds;
  return t;
}

struct TaintEnv : ControllerTestEnv {
  TaintEnv() : ControllerTestEnv("taint-eviction") {
    reflectWrites();
    add(nodes, json::object{{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "n"}}}});
  }
  void addPod(const std::string& name, json::array tolerations = {}) {
    auto p = boundPod(name, "n", std::move(tolerations));
    p["metadata"].as_object()["namespace"] = "ns";
    add(pods, p);
  }
  void setTaints(json::array taints) {
    auto n = *api->object("nodes", "", "n");
    ensureObject(n, {"spec"})["taints"] = std::move(taints);
    update(nodes, n);
  }
  json::object unreachableTaint() {
    return {{"key", "node.kubernetes.io/unreachable"},
            {"effect", "NoExecute"},
            {"timeAdded", formatTime(clock.now())}};
  }
  // Deleted, or marked for deletion.
  bool evicted(const std::string& name) {
    auto p = api->object("pods", "ns", name);
    return !p || isBeingDeleted(*p);
  }
};

}  // namespace

TEST(TaintEviction, TolerationSecondsDecideWhenPodsGo) {
  TaintEnv env;
  env.addPod("two-seconds", {toleration("node.kubernetes.io/unreachable", 2)});
  env.addPod("forever", {toleration("", std::nullopt)});
  // What admission adds to every pod: 300 s for not-ready and unreachable.
  env.addPod("defaults", {toleration("node.kubernetes.io/not-ready", 300),
                          toleration("node.kubernetes.io/unreachable", 300)});
  env.setTaints({env.unreachableTaint()});
  env.sync();
  env.step(1999ms);
  env.sync();
  EXPECT_TRUE(env.writes().empty());
  env.step(2ms);  // the eviction the controller scheduled for the deadline
  env.sync();
  EXPECT_EQ(env.writes(), (std::vector<std::string>{"patch pods/status", "delete pods"}));
  EXPECT_EQ(env.api->writes()[1].name, "two-seconds");
  EXPECT_TRUE(env.evicted("two-seconds"));
  auto patch = env.api->writes()[0].object();
  auto& cond = patch["status"].as_object()["conditions"].as_array()[0].as_object();
  EXPECT_EQ(stringAt(cond, {"type"}), "DisruptionTarget");
  EXPECT_EQ(stringAt(cond, {"reason"}), "DeletionByTaintManager");
  EXPECT_TRUE(env.hasEvent("TaintManagerEviction", "Marking for deletion Pod ns/two-seconds"));
  EXPECT_FALSE(env.evicted("forever"));
  EXPECT_FALSE(env.evicted("defaults"));

  // A taint nobody tolerates except "forever": the default-toleration pod goes at once.
  env.setTaints({env.unreachableTaint(),
                 json::object{{"key", "example.com/broken"}, {"effect", "NoExecute"}}});
  env.sync();
  EXPECT_TRUE(env.evicted("defaults"));
  env.step(10min);
  env.sync();
  EXPECT_FALSE(env.evicted("forever"));
}

TEST(TaintEviction, TaintWithoutTimeAddedCountsFromFirstSight) {
  TaintEnv env;
  env.addPod("p", {toleration("example.com/t", 60)});
  env.setTaints({json::object{{"key", "example.com/t"}, {"effect", "NoExecute"}}});
  env.sync();
  env.step(59s);
  env.sync();
  EXPECT_FALSE(env.evicted("p"));
  env.step(1001ms);  // the re-queue comes 1 ms after the deadline
  env.sync();
  EXPECT_TRUE(env.evicted("p"));
}

TEST(TaintEviction, RemovedTaintCancelsScheduledEviction) {
  TaintEnv env;
  env.addPod("stays", {toleration("node.kubernetes.io/unreachable", 3)});
  env.setTaints({env.unreachableTaint()});
  env.sync();
  env.step(1500ms);
  env.setTaints({});
  env.sync();
  env.step(10s);
  env.sync();
  EXPECT_FALSE(env.evicted("stays"));
  EXPECT_TRUE(env.writes().empty());
  EXPECT_TRUE(env.hasEvent("TaintManagerEviction", "Cancelling deletion of Pod ns/stays"));
}

TEST(TaintEviction, PodsOnUntaintedNodesStay) {
  TaintEnv env;
  env.addPod("fine");
  // NoSchedule taints never evict.
  env.setTaints({json::object{{"key", "example.com/x"}, {"effect", "NoSchedule"}}});
  env.sync();
  env.step(1h);
  env.sync();
  EXPECT_FALSE(env.evicted("fine"));
  EXPECT_TRUE(env.writes().empty());
}

}  // namespace skiff::controller::testing
