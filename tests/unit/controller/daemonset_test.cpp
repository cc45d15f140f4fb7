#include <set>
#include <thread>

#include "controller/controller_history.h"
#include "controller/daemonset_util.h"
#include "unit/controller/fake_env.h"
#include "unit/controller/test_env.h"

namespace skiff::controller::testing {

namespace json = boost::json;

namespace {

// Generous: the machine running the tests may be heavily loaded; passing runs are fast.
bool soon(const std::function<bool()>& cond,
          std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  return eventually(cond, timeout);
}

// Nodes are cluster-scoped and the test server is shared: every test makes its own,
// labelled so only its DaemonSets select them, and deletes them at the end.
struct NodeSet {
  client::RestClient& c;
  std::vector<std::string> names;
  ~NodeSet() {
    for (auto& n : names) {
      try {
        c.remove(client::resources::nodes, "", n);
      } catch (...) {
      }
    }
  }
  void add(const std::string& name, json::object labels, json::array taints = {}) {
    json::object node{{"apiVersion", "v1"},
                      {"kind", "Node"},
                      {"metadata", json::object{{"name", name}, {"labels", std::move(labels)}}}};
    if (!taints.empty()) node["spec"] = json::object{{"taints", std::move(taints)}};
    c.create(client::resources::nodes, "", node);
    names.push_back(name);
  }
};

json::object daemonSet(const std::string& name, const std::string& selectorValue,
                       const std::string& image, json::object updateStrategy = {}) {
  json::object spec{
      {"selector", json::object{{"matchLabels", json::object{{"app", name}}}}},
      {"template",
       json::object{
           {"metadata", json::object{{"labels", json::object{{"app", name}}}}},
           {"spec", json::object{{"nodeSelector", json::object{{"pool", selectorValue}}},
                                 {"containers",
                                  json::array{json::object{{"name", "c"}, {"image", image}}}}}}}}};
  if (!updateStrategy.empty()) spec["updateStrategy"] = std::move(updateStrategy);
  return json::object{{"apiVersion", "apps/v1"},
                      {"kind", "DaemonSet"},
                      {"metadata", json::object{{"name", name}}},
                      {"spec", std::move(spec)}};
}

std::vector<json::object> activePods(client::RestClient& c, const std::string& ns,
                                     const std::string& app) {
  std::vector<json::object> out;
  for (auto& p : listItems(c, client::resources::pods, ns, "app=" + app))
    if (!isBeingDeleted(p.as_object())) out.push_back(p.as_object());
  return out;
}

std::multiset<std::string> podNodes(const std::vector<json::object>& pods) {
  std::multiset<std::string> out;
  for (auto& p : pods) out.insert(daemonPodTargetNode(p));
  return out;
}

}  // namespace

TEST(DaemonSetUtil, EligibilityBySelectorAffinityAndTaints) {
  auto ds = json::parse(R"({"spec":{"template":{"spec":{
      "nodeSelector":{"pool":"a"},
      "affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[
        {"matchExpressions":[{"key":"zone","operator":"In","values":["z1","z2"]}]}]}}},
      "containers":[{"name":"c","image":"x"}]}}}})")
                .as_object();
  auto node = [](const char* text) { return json::parse(text).as_object(); };
  EXPECT_TRUE(nodeShouldRunDaemonPod(
                  node(R"({"metadata":{"name":"n","labels":{"pool":"a","zone":"z1"}}})"), ds)
                  .shouldRun);
  EXPECT_FALSE(nodeShouldRunDaemonPod(
                   node(R"({"metadata":{"name":"n","labels":{"pool":"b","zone":"z1"}}})"), ds)
                   .shouldRun);
  EXPECT_FALSE(nodeShouldRunDaemonPod(
                   node(R"({"metadata":{"name":"n","labels":{"pool":"a","zone":"z3"}}})"), ds)
                   .shouldRun);
  // A NoSchedule taint keeps new pods away but lets a running one stay; NoExecute evicts.
  auto noSchedule = nodeShouldRunDaemonPod(
      node(
          R"({"metadata":{"name":"n","labels":{"pool":"a","zone":"z1"}},"spec":{"taints":[{"key":"k","effect":"NoSchedule"}]}})"),
      ds);
  EXPECT_FALSE(noSchedule.shouldRun);
  EXPECT_TRUE(noSchedule.shouldContinueRunning);
  auto noExecute = nodeShouldRunDaemonPod(
      node(
          R"({"metadata":{"name":"n","labels":{"pool":"a","zone":"z1"}},"spec":{"taints":[{"key":"k","effect":"NoExecute"}]}})"),
      ds);
  EXPECT_FALSE(noExecute.shouldRun);
  EXPECT_FALSE(noExecute.shouldContinueRunning);
  // The automatic tolerations cover the node-condition taints.
  EXPECT_TRUE(
      nodeShouldRunDaemonPod(
          node(R"({"metadata":{"name":"n","labels":{"pool":"a","zone":"z1"}},"spec":{"taints":[
          {"key":"node.kubernetes.io/unreachable","effect":"NoExecute"},
          {"key":"node.kubernetes.io/unschedulable","effect":"NoSchedule"},
          {"key":"node.kubernetes.io/memory-pressure","effect":"NoSchedule"}]}})"),
          ds)
          .shouldRun);
  // network-unavailable is tolerated only by hostNetwork pods.
  auto netTaint =
      node(R"({"metadata":{"name":"n","labels":{"pool":"a","zone":"z1"}},"spec":{"taints":[
      {"key":"node.kubernetes.io/network-unavailable","effect":"NoSchedule"}]}})");
  EXPECT_FALSE(nodeShouldRunDaemonPod(netTaint, ds).shouldRun);
  ds["spec"].as_object()["template"].as_object()["spec"].as_object()["hostNetwork"] = true;
  EXPECT_TRUE(nodeShouldRunDaemonPod(netTaint, ds).shouldRun);
  // Malformed pieces never match (and never throw).
  auto bad =
      json::parse(R"({"spec":{"template":{"spec":{"nodeSelector":{"pool":7},"tolerations":"x"}}}})")
          .as_object();
  EXPECT_FALSE(
      nodeShouldRunDaemonPod(node(R"({"metadata":{"name":"n","labels":{"pool":"7"}}})"), bad)
          .shouldRun);

  json::object spec;
  pinToNode(spec, "node-9");
  json::object pod{{"spec", spec}};
  EXPECT_EQ(daemonPodTargetNode(pod), "node-9");
}

TEST(DaemonSetController, OnePodPerEligibleNodeFollowingNodeChanges) {
  ControllerEnv env({"daemonset"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "apps-ds");
  NodeSet nodes{c, {}};
  auto pool = ns;
  nodes.add(ns + "-n1", {{"pool", pool}});
  nodes.add(ns + "-n2", {{"pool", pool}});
  nodes.add(ns + "-n3", {{"pool", pool}});
  nodes.add(ns + "-n4", {{"pool", "other"}});
  c.create(client::resources::daemonSets, ns, daemonSet("agent", pool, "agent:1"));

  std::multiset<std::string> want{ns + "-n1", ns + "-n2", ns + "-n3"};
  ASSERT_TRUE(soon([&] { return podNodes(activePods(c, ns, "agent")) == want; }));
  auto pods = activePods(c, ns, "agent");
  for (auto& p : pods) {
    EXPECT_EQ(nameOf(p).rfind("agent-", 0), 0u);
    EXPECT_FALSE(stringAt(p, {"metadata", "labels", "controller-revision-hash"}).empty());
    EXPECT_EQ(stringAt(p, {"metadata", "labels", "pod-template-generation"}), "1");
    bool notReady = false;
    for (auto& t : *arrayAt(p, {"spec", "tolerations"}))
      if (stringAt(t.as_object(), {"key"}) == "node.kubernetes.io/not-ready" &&
          stringAt(t.as_object(), {"effect"}) == "NoExecute" &&
          !t.as_object().contains("tolerationSeconds"))
        notReady = true;
    EXPECT_TRUE(notReady);
  }

  // A node added later gets a pod; a tainted one does not.
  nodes.add(ns + "-n5", {{"pool", pool}});
  nodes.add(
      ns + "-n6", {{"pool", pool}},
      json::array{json::object{{"key", "dedicated"}, {"value", "db"}, {"effect", "NoSchedule"}}});
  want.insert(ns + "-n5");
  ASSERT_TRUE(soon([&] { return podNodes(activePods(c, ns, "agent")) == want; }));

  // A node that stops matching loses its pod.
  c.patch(client::resources::nodes, "", ns + "-n1", client::PatchType::Merge,
          json::object{{"metadata", json::object{{"labels", json::object{{"pool", "gone"}}}}}});
  want.erase(ns + "-n1");
  ASSERT_TRUE(soon([&] { return podNodes(activePods(c, ns, "agent")) == want; }));

  for (auto& p : activePods(c, ns, "agent")) markPodRunning(c, ns, nameOf(p));
  ASSERT_TRUE(soon([&] {
    auto ds = c.get(client::resources::daemonSets, ns, "agent");
    return intAt(ds, {"status", "desiredNumberScheduled"}) == 3 &&
           intAt(ds, {"status", "currentNumberScheduled"}) == 3 &&
           intAt(ds, {"status", "numberReady"}) == 3 &&
           intAt(ds, {"status", "numberAvailable"}) == 3 &&
           intAt(ds, {"status", "updatedNumberScheduled"}) == 3 &&
           intAt(ds, {"status", "numberUnavailable"}, -1) == 0 &&
           intAt(ds, {"status", "observedGeneration"}) == 1;
  }));

  bool created = false, deleted = false;
  ASSERT_TRUE(soon([&] {
    for (auto& e : listItems(c, client::resources::events, ns)) {
      auto reason = stringAt(e.as_object(), {"reason"});
      auto source = stringAt(e.as_object(), {"source", "component"});
      if (source != "daemonset-controller") continue;
      if (reason == "SuccessfulCreate" &&
          stringAt(e.as_object(), {"message"}).rfind("Created pod: agent-", 0) == 0)
        created = true;
      if (reason == "SuccessfulDelete") deleted = true;
    }
    return created && deleted;
  }));
  c.remove(client::resources::daemonSets, ns, "agent");
}

TEST(DaemonSetController, FailedPodIsReplaced) {
  ControllerEnv env({"daemonset"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "apps-dsf");
  NodeSet nodes{c, {}};
  nodes.add(ns + "-n1", {{"pool", ns}});
  c.create(client::resources::daemonSets, ns, daemonSet("fail", ns, "x:1"));
  ASSERT_TRUE(soon([&] { return activePods(c, ns, "fail").size() == 1; }));
  auto first = nameOf(activePods(c, ns, "fail")[0]);
  markPodPhase(c, ns, first, "Failed");
  ASSERT_TRUE(soon([&] {
    auto pods = activePods(c, ns, "fail");
    return pods.size() == 1 && nameOf(pods[0]) != first && podPhase(pods[0]) != "Failed";
  }));
  bool warned = false;
  ASSERT_TRUE(soon([&] {
    for (auto& e : listItems(c, client::resources::events, ns))
      if (stringAt(e.as_object(), {"reason"}) == "FailedDaemonPod") warned = true;
    return warned;
  }));
}

TEST(DaemonSetController, RollingUpdateRespectsMaxUnavailable) {
  ControllerEnv env({"daemonset"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "apps-dsru");
  NodeSet nodes{c, {}};
  for (int i = 1; i <= 3; ++i) nodes.add(ns + "-n" + std::to_string(i), {{"pool", ns}});
  json::object strategy{{"type", "RollingUpdate"},
                        {"rollingUpdate", json::object{{"maxUnavailable", 1}}}};
  c.create(client::resources::daemonSets, ns, daemonSet("roll", ns, "img:1", strategy));
  ASSERT_TRUE(soon([&] { return activePods(c, ns, "roll").size() == 3; }));
  for (auto& p : activePods(c, ns, "roll")) markPodRunning(c, ns, nameOf(p));
  ASSERT_TRUE(soon([&] {
    return intAt(c.get(client::resources::daemonSets, ns, "roll"), {"status", "numberAvailable"}) ==
           3;
  }));
  auto oldHash =
      stringAt(activePods(c, ns, "roll")[0], {"metadata", "labels", "controller-revision-hash"});

  c.patch(client::resources::daemonSets, ns, "roll", client::PatchType::Merge,
          json::parse(
              R"({"spec":{"template":{"spec":{"containers":[{"name":"c","image":"img:2"}]}}}})"));
  // Play the kubelet: new pods become ready; meanwhile at most one node may lack an
  // available daemon pod.
  // Generous: under load (a busy CI machine) the controller's round trips slow down.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  int minAvailable = 3;
  bool done = false;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    auto pods = activePods(c, ns, "roll");
    int available = 0, updated = 0;
    for (auto& p : pods) {
      if (isPodReady(p)) ++available;
      if (stringAt(p, {"metadata", "labels", "controller-revision-hash"}) != oldHash) ++updated;
    }
    minAvailable = std::min(minAvailable, available);
    done = updated == 3 && available == 3 && pods.size() == 3;
    for (auto& p : pods)
      if (!isPodReady(p)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        markPodRunning(c, ns, nameOf(p));
      }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(done);
  EXPECT_GE(minAvailable, 2);
  for (auto& p : activePods(c, ns, "roll"))
    EXPECT_EQ(stringAt(*arrayAt(p, {"spec", "containers"})->at(0).if_object(), {"image"}), "img:2");

  // Two revisions, the newest numbered 2, and the status tells kubectl the rollout is done.
  ASSERT_TRUE(soon([&] {
    auto revs = listItems(c, kControllerRevisions, ns, "app=roll");
    int64_t maxRev = 0;
    for (auto& r : revs) maxRev = std::max(maxRev, intAt(r.as_object(), {"revision"}));
    auto ds = c.get(client::resources::daemonSets, ns, "roll");
    return revs.size() == 2 && maxRev == 2 &&
           intAt(ds, {"status", "updatedNumberScheduled"}) == 3 &&
           intAt(ds, {"status", "numberAvailable"}) == 3 &&
           intAt(ds, {"status", "observedGeneration"}) == 2;
  }));
}

TEST(DaemonSetController, OnDeleteLeavesPodsUntilDeleted) {
  ControllerEnv env({"daemonset"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "apps-dsod");
  NodeSet nodes{c, {}};
  nodes.add(ns + "-n1", {{"pool", ns}});
  c.create(client::resources::daemonSets, ns,
           daemonSet("od", ns, "img:1", json::object{{"type", "OnDelete"}}));
  ASSERT_TRUE(soon([&] { return activePods(c, ns, "od").size() == 1; }));
  auto first = activePods(c, ns, "od")[0];
  c.patch(client::resources::daemonSets, ns, "od", client::PatchType::Merge,
          json::parse(
              R"({"spec":{"template":{"spec":{"containers":[{"name":"c","image":"img:2"}]}}}})"));
  ASSERT_TRUE(soon([&] {
    return intAt(c.get(client::resources::daemonSets, ns, "od"),
                 {"status", "observedGeneration"}) == 2;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto pods = activePods(c, ns, "od");
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(nameOf(pods[0]), nameOf(first));
  EXPECT_EQ(
      intAt(c.get(client::resources::daemonSets, ns, "od"), {"status", "updatedNumberScheduled"}),
      0);
  c.remove(client::resources::pods, ns, nameOf(first));
  ASSERT_TRUE(soon([&] {
    auto p = activePods(c, ns, "od");
    return p.size() == 1 &&
           stringAt(p[0], {"metadata", "labels", "pod-template-generation"}) == "2";
  }));
}

// Over fakes: a failed daemon pod is replaced after the per-node backoff (1 s doubling),
// passed with a FakeClock.
TEST(DaemonSetControllerFake, FailedPodsAreReplacedAfterBackoff) {
  ControllerTestEnv env("daemonset");
  env.reflectWrites();
  env.add(client::resources::nodes,
          json::object{{"apiVersion", "v1"},
                       {"kind", "Node"},
                       {"metadata", {{"name", "n1"}, {"labels", {{"pool", "x"}}}}}});
  auto ds = daemonSet("d", "x", "x:1");
  ds["metadata"].as_object()["namespace"] = "ns";
  env.add(client::resources::daemonSets, ds);
  env.sync();
  auto live = [&] {
    std::vector<json::object> out;
    for (auto& p : env.api->objects("pods", "ns"))
      if (!isBeingDeleted(p) && podPhase(p) != "Failed") out.push_back(p);
    return out;
  };
  auto fail = [&] {
    auto p = live().at(0);
    p["status"] = json::object{{"phase", "Failed"}};
    env.update(client::resources::pods, p);
  };
  ASSERT_EQ(live().size(), 1u);

  fail();  // the first failure is replaced at once
  env.sync();
  EXPECT_TRUE(env.hasEvent("FailedDaemonPod", "will try to kill it"));
  ASSERT_EQ(live().size(), 1u);

  fail();  // within the 1 s backoff: the failed pod stays for now
  env.sync();
  EXPECT_EQ(live().size(), 0u);
  env.step(std::chrono::milliseconds(1010));
  env.sync();
  EXPECT_EQ(live().size(), 1u);

  fail();  // now 2 s
  env.sync();
  env.step(std::chrono::milliseconds(1500));
  env.sync();
  EXPECT_EQ(live().size(), 0u);
  env.step(std::chrono::milliseconds(520));
  env.sync();
  EXPECT_EQ(live().size(), 1u);
}

}  // namespace skiff::controller::testing
