#include <set>
#include <thread>

#include "controller/controller_history.h"
#include "unit/controller/test_env.h"

namespace skiff::controller::testing {

namespace json = boost::json;

namespace {

// Generous: the machine running the tests may be heavily loaded; passing runs are fast.
bool soon(const std::function<bool()>& cond,
          std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  return eventually(cond, timeout);
}

json::object statefulSet(const std::string& name, int replicas, const std::string& image,
                         const std::string& policy = "OrderedReady", json::object extraSpec = {}) {
  json::object spec{
      {"replicas", replicas},
      {"serviceName", name},
      {"podManagementPolicy", policy},
      {"selector", json::object{{"matchLabels", json::object{{"app", name}}}}},
      {"template",
       json::object{
           {"metadata", json::object{{"labels", json::object{{"app", name}}}}},
           {"spec", json::object{{"containers",
                                  json::array{json::object{{"name", "c"}, {"image", image}}}}}}}}};
  for (auto& [k, v] : extraSpec) spec[k] = v;
  return json::object{{"apiVersion", "apps/v1"},
                      {"kind", "StatefulSet"},
                      {"metadata", json::object{{"name", name}}},
                      {"spec", std::move(spec)}};
}

// Pod name → pod, for pods not being deleted.
std::map<std::string, json::object> podsOf(client::RestClient& c, const std::string& ns,
                                           const std::string& app) {
  std::map<std::string, json::object> out;
  for (auto& p : listItems(c, client::resources::pods, ns, "app=" + app))
    if (!isBeingDeleted(p.as_object())) out[nameOf(p.as_object())] = p.as_object();
  return out;
}

std::set<std::string> names(const std::map<std::string, json::object>& pods) {
  std::set<std::string> out;
  for (auto& [n, _] : pods) out.insert(n);
  return out;
}

std::string imageOf(const json::object& pod) {
  return stringAt(*arrayAt(pod, {"spec", "containers"})->at(0).if_object(), {"image"});
}

}  // namespace

TEST(StatefulSetController, OrderedReadyCreatesOneOrdinalAtATime) {
  ControllerEnv env({"statefulset"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "apps-sts");
  auto claims = json::parse(R"([{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],
      "resources":{"requests":{"storage":"1Gi"}}}}])")
                    .as_array();
  c.create(client::resources::statefulSets, ns,
           statefulSet("web", 3, "nginx:1", "OrderedReady", {{"volumeClaimTemplates", claims}}));

  ASSERT_TRUE(soon([&] { return names(podsOf(c, ns, "web")) == std::set<std::string>{"web-0"}; }));
  auto web0 = podsOf(c, ns, "web")["web-0"];
  EXPECT_EQ(stringAt(web0, {"metadata", "labels", "statefulset.kubernetes.io/pod-name"}), "web-0");
  EXPECT_EQ(stringAt(web0, {"metadata", "labels", "apps.kubernetes.io/pod-index"}), "0");
  EXPECT_FALSE(stringAt(web0, {"metadata", "labels", "controller-revision-hash"}).empty());
  EXPECT_EQ(stringAt(web0, {"spec", "hostname"}), "web-0");
  EXPECT_EQ(stringAt(web0, {"spec", "subdomain"}), "web");
  bool hasClaimVolume = false;
  for (auto& v : *arrayAt(web0, {"spec", "volumes"}))
    if (stringAt(v.as_object(), {"persistentVolumeClaim", "claimName"}) == "data-web-0")
      hasClaimVolume = true;
  EXPECT_TRUE(hasClaimVolume);
  auto pvc = c.get(client::resources::persistentVolumeClaims, ns, "data-web-0");
  EXPECT_EQ(stringAt(pvc, {"metadata", "labels", "app"}), "web");
  EXPECT_EQ(arrayAt(pvc, {"metadata", "ownerReferences"}), nullptr);  // Retain by default

  // Nothing more until web-0 is Running and Ready.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(names(podsOf(c, ns, "web")), std::set<std::string>{"web-0"});
  markPodRunning(c, ns, "web-0", false);  // running but not ready is not enough
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(names(podsOf(c, ns, "web")), std::set<std::string>{"web-0"});
  markPodRunning(c, ns, "web-0");
  ASSERT_TRUE(soon([&] {
    return names(podsOf(c, ns, "web")) == std::set<std::string>{"web-0", "web-1"};
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(names(podsOf(c, ns, "web")).size(), 2u);
  markPodRunning(c, ns, "web-1");
  ASSERT_TRUE(soon([&] { return names(podsOf(c, ns, "web")).size() == 3; }));
  c.get(client::resources::persistentVolumeClaims, ns, "data-web-2");
  markPodRunning(c, ns, "web-2");

  ASSERT_TRUE(soon([&] {
    auto s = c.get(client::resources::statefulSets, ns, "web");
    return intAt(s, {"status", "replicas"}) == 3 && intAt(s, {"status", "readyReplicas"}) == 3 &&
           intAt(s, {"status", "availableReplicas"}) == 3 &&
           intAt(s, {"status", "updatedReplicas"}) == 3 &&
           intAt(s, {"status", "currentReplicas"}) == 3 &&
           intAt(s, {"status", "observedGeneration"}) == 1 &&
           !stringAt(s, {"status", "currentRevision"}).empty() &&
           stringAt(s, {"status", "currentRevision"}) == stringAt(s, {"status", "updateRevision"});
  }));
  bool event = false;
  ASSERT_TRUE(soon([&] {
    for (auto& e : listItems(c, client::resources::events, ns))
      if (stringAt(e.as_object(), {"reason"}) == "SuccessfulCreate" &&
          stringAt(e.as_object(), {"message"}) ==
              "create Pod web-0 in StatefulSet web successful" &&
          stringAt(e.as_object(), {"source", "component"}) == "statefulset-controller")
        event = true;
    return event;
  }));
}

TEST(StatefulSetController, ParallelCreatesAllAtOnceFromStartOrdinal) {
  ControllerEnv env({"statefulset"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "apps-stsp");
  json::object extra{
      {"ordinals", json::object{{"start", 5}}},
      {"persistentVolumeClaimRetentionPolicy",
       json::object{{"whenDeleted", "Delete"}, {"whenScaled", "Retain"}}},
      {"volumeClaimTemplates",
       json::parse(R"([{"metadata":{"name":"d"},"spec":{"accessModes":["ReadWriteOnce"],
                         "resources":{"requests":{"storage":"1Gi"}}}}])")}};
  c.create(client::resources::statefulSets, ns, statefulSet("par", 3, "x:1", "Parallel", extra));
  ASSERT_TRUE(soon([&] {
    return names(podsOf(c, ns, "par")) == std::set<std::string>{"par-5", "par-6", "par-7"};
  }));
  auto pvc = c.get(client::resources::persistentVolumeClaims, ns, "d-par-6");
  auto* refs = arrayAt(pvc, {"metadata", "ownerReferences"});
  ASSERT_NE(refs, nullptr);
  EXPECT_EQ(stringAt(refs->at(0).as_object(), {"kind"}), "StatefulSet");
  EXPECT_EQ(stringAt(refs->at(0).as_object(), {"name"}), "par");

  // A failed pod is recreated under the same name.
  auto uid = uidOf(podsOf(c, ns, "par")["par-6"]);
  markPodPhase(c, ns, "par-6", "Failed");
  ASSERT_TRUE(soon([&] {
    auto pods = podsOf(c, ns, "par");
    return pods.count("par-6") && uidOf(pods["par-6"]) != uid;
  }));
}

TEST(StatefulSetController, ScaleDownRemovesHighestOrdinalFirst) {
  ControllerEnv env({"statefulset"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "apps-stsd");
  c.create(client::resources::statefulSets, ns, statefulSet("db", 3, "x:1", "Parallel"));
  ASSERT_TRUE(soon([&] { return podsOf(c, ns, "db").size() == 3; }));
  for (auto& [n, _] : podsOf(c, ns, "db")) markPodRunning(c, ns, n);
  // Condemned pods go highest ordinal first.
  c.patch(client::resources::statefulSets, ns, "db", client::PatchType::Merge,
          json::parse(R"({"spec":{"replicas":1}})"));
  bool sawOrderViolation = false;
  ASSERT_TRUE(soon(
      [&] {
        auto pods = names(podsOf(c, ns, "db"));
        if (pods.count("db-2") && !pods.count("db-1")) sawOrderViolation = true;
        return pods == std::set<std::string>{"db-0"};
      },
      std::chrono::seconds(20)));
  EXPECT_FALSE(sawOrderViolation);
  bool deleted = false;
  ASSERT_TRUE(soon([&] {
    for (auto& e : listItems(c, client::resources::events, ns))
      if (stringAt(e.as_object(), {"message"}) == "delete Pod db-2 in StatefulSet db successful")
        deleted = true;
    return deleted;
  }));
}

TEST(StatefulSetController, OrderedScaleDownWaitsForEachPod) {
  ControllerEnv env({"statefulset"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "apps-stso");
  c.create(client::resources::statefulSets, ns, statefulSet("q", 3, "x:1"));
  for (int i = 0; i < 3; ++i) {
    auto name = "q-" + std::to_string(i);
    ASSERT_TRUE(soon([&] { return podsOf(c, ns, "q").count(name) == 1; }));
    markPodRunning(c, ns, name);
  }
  ASSERT_TRUE(soon([&] {
    return intAt(c.get(client::resources::statefulSets, ns, "q"), {"status", "readyReplicas"}) == 3;
  }));
  // q-1 is not ready: OrderedReady must not scale down past an unhealthy pod.
  markPodRunning(c, ns, "q-1", false);
  // Scale down only once the controller has seen q-1 become unready.
  ASSERT_TRUE(soon([&] {
    return intAt(c.get(client::resources::statefulSets, ns, "q"), {"status", "readyReplicas"}) == 2;
  }));
  c.patch(client::resources::statefulSets, ns, "q", client::PatchType::Merge,
          json::parse(R"({"spec":{"replicas":1}})"));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(names(podsOf(c, ns, "q")), (std::set<std::string>{"q-0", "q-1", "q-2"}));
  markPodRunning(c, ns, "q-1");
  ASSERT_TRUE(soon([&] { return names(podsOf(c, ns, "q")) == std::set<std::string>{"q-0"}; }));
}

TEST(StatefulSetController, RollingUpdateWithPartition) {
  ControllerEnv env({"statefulset"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "apps-stsu");
  json::object extra{
      {"updateStrategy",
       json::object{{"type", "RollingUpdate"}, {"rollingUpdate", json::object{{"partition", 1}}}}}};
  c.create(client::resources::statefulSets, ns,
           statefulSet("r", 3, "img:1", "OrderedReady", extra));
  for (int i = 0; i < 3; ++i) {
    auto name = "r-" + std::to_string(i);
    ASSERT_TRUE(soon([&] { return podsOf(c, ns, "r").count(name) == 1; }));
    markPodRunning(c, ns, name);
  }
  ASSERT_TRUE(soon([&] {
    return intAt(c.get(client::resources::statefulSets, ns, "r"), {"status", "readyReplicas"}) == 3;
  }));
  auto oldRevision =
      stringAt(c.get(client::resources::statefulSets, ns, "r"), {"status", "currentRevision"});

  c.patch(client::resources::statefulSets, ns, "r", client::PatchType::Merge,
          json::parse(
              R"({"spec":{"template":{"spec":{"containers":[{"name":"c","image":"img:2"}]}}}})"));
  // r-2 is replaced first; r-1 only once r-2 is ready again.
  ASSERT_TRUE(soon([&] {
    auto pods = podsOf(c, ns, "r");
    return pods.count("r-2") && imageOf(pods["r-2"]) == "img:2";
  }));
  EXPECT_EQ(imageOf(podsOf(c, ns, "r")["r-1"]), "img:1");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(imageOf(podsOf(c, ns, "r")["r-1"]), "img:1");
  markPodRunning(c, ns, "r-2");
  ASSERT_TRUE(soon([&] {
    auto pods = podsOf(c, ns, "r");
    return pods.count("r-1") && imageOf(pods["r-1"]) == "img:2";
  }));
  markPodRunning(c, ns, "r-1");
  ASSERT_TRUE(soon([&] {
    auto s = c.get(client::resources::statefulSets, ns, "r");
    return intAt(s, {"status", "updatedReplicas"}) == 2 &&
           intAt(s, {"status", "readyReplicas"}) == 3 &&
           intAt(s, {"status", "currentReplicas"}) == 1 &&
           stringAt(s, {"status", "currentRevision"}) == oldRevision &&
           stringAt(s, {"status", "updateRevision"}) != oldRevision;
  })) << json::serialize(c.get(client::resources::statefulSets, ns, "r")["status"])
      << " pods: " << [&] {
           std::string out;
           for (auto& [n, p] : podsOf(c, ns, "r"))
             out += n + "=" + imageOf(p) + "/" + stringAt(p, {"status", "phase"}) + " ";
           return out;
         }();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto pods = podsOf(c, ns, "r");
  EXPECT_EQ(imageOf(pods["r-0"]), "img:1");  // below the partition
  EXPECT_EQ(stringAt(pods["r-0"], {"metadata", "labels", "controller-revision-hash"}), oldRevision);

  // Deleting a pod below the partition brings it back at the current revision.
  c.remove(client::resources::pods, ns, "r-0");
  ASSERT_TRUE(soon([&] {
    auto p = podsOf(c, ns, "r");
    return p.count("r-0") && imageOf(p["r-0"]) == "img:1";
  }));

  // Partition 0 finishes the rollout: the update revision becomes current.
  markPodRunning(c, ns, "r-0");
  c.patch(client::resources::statefulSets, ns, "r", client::PatchType::Merge,
          json::parse(R"({"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}})"));
  ASSERT_TRUE(soon([&] {
    auto p = podsOf(c, ns, "r");
    if (p.count("r-0") && !isPodReady(p["r-0"])) markPodRunning(c, ns, "r-0");
    auto s = c.get(client::resources::statefulSets, ns, "r");
    return p.count("r-0") && imageOf(p["r-0"]) == "img:2" &&
           intAt(s, {"status", "updatedReplicas"}) == 3 &&
           stringAt(s, {"status", "currentRevision"}) == stringAt(s, {"status", "updateRevision"});
  }));
  EXPECT_EQ(listItems(c, kControllerRevisions, ns, "app=r").size(), 2u);
}

}  // namespace skiff::controller::testing
