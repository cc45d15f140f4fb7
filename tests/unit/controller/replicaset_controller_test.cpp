#include <atomic>
#include <mutex>
#include <set>

#include "common/thread_name.h"
#include "controller/workload_utils.h"
#include "unit/controller/fake_env.h"
#include "unit/controller/workload_test_util.h"

namespace skiff::controller::testing {

namespace json = boost::json;
using client::resources::pods;
using client::resources::replicaSets;

namespace {
json::object rsStatusOf(client::RestClient& c, const std::string& ns, const std::string& name) {
  auto rs = c.get(replicaSets, ns, name);
  return objectAt(rs, {"status"}) ? *objectAt(rs, {"status"}) : json::object{};
}
}  // namespace

TEST(ReplicaSetController, ScalesUpAndDownWithStatusAndEvents) {
  ControllerEnv env({"replicaset"});
  auto ns = freshNamespace(env.c(), "rs");
  env.c().create(replicaSets, ns, replicaSetObject("web", 3));
  ASSERT_TRUE(eventually([&] { return activePods(env.c(), ns).size() == 3; }));
  auto rs = env.c().get(replicaSets, ns, "web");
  for (auto& p : activePods(env.c(), ns)) {
    EXPECT_TRUE(isControlledBy(p, uidOf(rs)));
    EXPECT_EQ(nameOf(p).rfind("web-", 0), 0u);
    EXPECT_EQ(stringAt(*controllerRefOf(p), {"kind"}), "ReplicaSet");
  }
  ASSERT_TRUE(eventually([&] {
    auto st = rsStatusOf(env.c(), ns, "web");
    return intAt(st, {"replicas"}) == 3 && intAt(st, {"fullyLabeledReplicas"}) == 3 &&
           intAt(st, {"observedGeneration"}) == 1;
  }));
  for (auto& p : activePods(env.c(), ns)) markPodRunning(env.c(), ns, nameOf(p));
  ASSERT_TRUE(eventually([&] {
    auto st = rsStatusOf(env.c(), ns, "web");
    return intAt(st, {"readyReplicas"}) == 3 && intAt(st, {"availableReplicas"}) == 3;
  })) << json::serialize(env.c().get(replicaSets, ns, "web"))
      << json::serialize(listItems(env.c(), pods, ns));
  ASSERT_TRUE(
      eventually([&] { return hasEvent(env.c(), ns, "SuccessfulCreate", "Created pod: web-"); }));

  env.c().patch(replicaSets, ns, "web", client::PatchType::Merge,
                json::parse(R"({"spec":{"replicas":1}})"));
  ASSERT_TRUE(eventually([&] { return activePods(env.c(), ns).size() == 1; }));
  ASSERT_TRUE(eventually([&] {
    auto st = rsStatusOf(env.c(), ns, "web");
    return intAt(st, {"replicas"}) == 1 && intAt(st, {"observedGeneration"}) == 2;
  })) << json::serialize(env.c().get(replicaSets, ns, "web"));
  ASSERT_TRUE(
      eventually([&] { return hasEvent(env.c(), ns, "SuccessfulDelete", "Deleted pod: web-"); }));

  // A deleted pod is replaced; a finished (Failed) pod no longer counts and is replaced too.
  auto survivor = nameOf(activePods(env.c(), ns).at(0));
  markPodPhase(env.c(), ns, survivor, "Failed");
  ASSERT_TRUE(eventually([&] {
    auto active = activePods(env.c(), ns);
    return active.size() == 1 && nameOf(active[0]) != survivor;
  }));
  ASSERT_TRUE(eventually([&] { return intAt(rsStatusOf(env.c(), ns, "web"), {"replicas"}) == 1; }));
}

TEST(ReplicaSetController, RankingOrder) {
  auto now = std::chrono::system_clock::now();
  auto pod = [](const char* js) { return json::parse(js).as_object(); };
  auto unassigned = pod(R"({"metadata":{"uid":"a"},"status":{"phase":"Pending"}})");
  auto assigned =
      pod(R"({"metadata":{"uid":"b"},"spec":{"nodeName":"n"},"status":{"phase":"Pending"}})");
  EXPECT_TRUE(podDeleteBefore(unassigned, 0, assigned, 0, now));
  EXPECT_FALSE(podDeleteBefore(assigned, 0, unassigned, 0, now));

  auto running =
      pod(R"({"metadata":{"uid":"c"},"spec":{"nodeName":"n"},"status":{"phase":"Running"}})");
  auto unknown =
      pod(R"({"metadata":{"uid":"d"},"spec":{"nodeName":"n"},"status":{"phase":"Unknown"}})");
  EXPECT_TRUE(podDeleteBefore(assigned, 0, unknown, 0, now));
  EXPECT_TRUE(podDeleteBefore(unknown, 0, running, 0, now));

  auto ready = pod(R"({"metadata":{"uid":"e"},"spec":{"nodeName":"n"},"status":{"phase":"Running",
      "conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2020-01-01T00:00:00Z"}]}})");
  EXPECT_TRUE(podDeleteBefore(running, 0, ready, 0, now));
  EXPECT_FALSE(podDeleteBefore(ready, 0, running, 0, now));

  // Doubled-up pods (more related pods on the node) go first.
  EXPECT_TRUE(podDeleteBefore(running, 3, running, 1, now));

  auto restarts =
      pod(R"({"metadata":{"uid":"f"},"spec":{"nodeName":"n"},"status":{"phase":"Running",
      "containerStatuses":[{"name":"c","restartCount":5}]}})");
  EXPECT_TRUE(podDeleteBefore(restarts, 0, running, 0, now));
  EXPECT_FALSE(podDeleteBefore(running, 0, restarts, 0, now));

  auto older = pod(R"({"metadata":{"uid":"g","creationTimestamp":"2020-01-01T00:00:00Z"},
      "spec":{"nodeName":"n"},"status":{"phase":"Running"}})");
  auto newer = pod(R"({"metadata":{"uid":"h","creationTimestamp":"2030-01-01T00:00:00Z"},
      "spec":{"nodeName":"n"},"status":{"phase":"Running"}})");
  auto newerNow = pod((std::string(R"({"metadata":{"uid":"i","creationTimestamp":")") + nowTime() +
                       R"("},"spec":{"nodeName":"n"},"status":{"phase":"Running"}})")
                          .c_str());
  EXPECT_TRUE(podDeleteBefore(newerNow, 0, older, 0, now));
  EXPECT_FALSE(podDeleteBefore(older, 0, newerNow, 0, now));
  (void)newer;

  auto cheap = pod(
      R"({"metadata":{"uid":"j","annotations":{"controller.kubernetes.io/pod-deletion-cost":"-5"}},
      "spec":{"nodeName":"n"},"status":{"phase":"Running"}})");
  EXPECT_TRUE(podDeleteBefore(cheap, 0, running, 0, now));
}

TEST(ReplicaSetController, SlowStartBatchesStopAtFirstFailingBatch) {
  std::atomic<int> calls{0};
  // 1 + 2 + 4 succeed, the batch of 8 has failures: no more batches after it.
  int ok = slowStartBatch(100, 1, [&](int i) {
    ++calls;
    return i < 9;
  });
  EXPECT_EQ(calls.load(), 15);
  EXPECT_EQ(ok, 9);
  calls = 0;
  EXPECT_EQ(slowStartBatch(5, 1,
                           [&](int) {
                             ++calls;
                             return true;
                           }),
            5);
  EXPECT_EQ(calls.load(), 5);
}

TEST(ReplicaSetController, AdoptsOrphansAndReleasesNonMatching) {
  ControllerEnv env({"replicaset"});
  auto ns = freshNamespace(env.c(), "rsadopt");
  json::object orphan{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", json::object{{"name", "orphan"}, {"labels", json::object{{"app", "adopt"}}}}},
      {"spec", json::parse(R"({"containers":[{"name":"c","image":"nginx"}]})")}};
  env.c().create(pods, ns, orphan);
  env.c().create(replicaSets, ns, replicaSetObject("adopt", 2));
  auto rs = env.c().get(replicaSets, ns, "adopt");
  ASSERT_TRUE(
      eventually([&] { return isControlledBy(env.c().get(pods, ns, "orphan"), uidOf(rs)); }));
  ASSERT_TRUE(eventually([&] { return activePods(env.c(), ns).size() == 2; }));

  // Relabelled out of the selector: released, and replaced.
  env.c().patch(pods, ns, "orphan", client::PatchType::Merge,
                json::parse(R"({"metadata":{"labels":{"app":"other"}}})"));
  ASSERT_TRUE(
      eventually([&] { return controllerRefOf(env.c().get(pods, ns, "orphan")) == nullptr; }));
  ASSERT_TRUE(eventually([&] { return activePods(env.c(), ns, "app=adopt").size() == 2; }));
  EXPECT_EQ(activePods(env.c(), ns).size(), 3u);
}

TEST(ReplicaSetController, TerminatingNamespaceIsNotAFailure) {
  ControllerEnv env({"replicaset"});
  auto ns = freshNamespace(env.c(), "rsterm");
  env.c().create(replicaSets, ns, replicaSetObject("doomed", 0));
  ASSERT_TRUE(eventually([&] {
    return valueAt(env.c().get(replicaSets, ns, "doomed"), {"status", "replicas"});
  }));
  // No namespace controller here: the namespace stays Terminating and refuses new pods.
  env.c().remove(client::resources::namespaces, "", ns);
  env.c().patch(replicaSets, ns, "doomed", client::PatchType::Merge,
                json::parse(R"({"spec":{"replicas":3}})"));
  ASSERT_TRUE(eventually([&] {
    return intAt(env.c().get(replicaSets, ns, "doomed"), {"status", "observedGeneration"}) == 2;
  }));
  auto rs = env.c().get(replicaSets, ns, "doomed");
  EXPECT_EQ(findCondition(rs, "ReplicaFailure"), nullptr)
      << "upstream ignores NamespaceTerminating";
  EXPECT_TRUE(activePods(env.c(), ns).empty());
}

TEST(ReplicationController, KeepsReplicas) {
  ControllerEnv env({"replicationcontroller"});
  auto ns = freshNamespace(env.c(), "rc");
  client::Resource rcs{"", "v1", "replicationcontrollers"};
  json::object rc{{"apiVersion", "v1"},
                  {"kind", "ReplicationController"},
                  {"metadata", json::object{{"name", "old"}}},
                  {"spec", json::object{{"replicas", 2},
                                        {"selector", json::object{{"app", "old"}}},
                                        {"template", podTemplate("old", "nginx")}}}};
  env.c().create(rcs, ns, rc);
  ASSERT_TRUE(eventually([&] { return activePods(env.c(), ns).size() == 2; }));
  EXPECT_EQ(stringAt(*controllerRefOf(activePods(env.c(), ns)[0]), {"kind"}),
            "ReplicationController");
  ASSERT_TRUE(eventually([&] {
    return intAt(env.c().get(rcs, ns, "old"), {"status", "replicas"}) == 2;
  }));
}

// In `skiff server` a controller's creates run the API write path on parallelFor's helper
// threads; they carry the caller's name so a profile charges that work to the controller.
TEST(WorkloadUtils, ParallelForHelpersCarryTheCallersName) {
  std::mutex mu;
  std::set<std::string> names;
  auto caller = namedThread("c/test-fanout", [&] {
    parallelFor(4, [&](int) {
      std::lock_guard lock(mu);
      names.insert(currentThreadName());
    });
  });
  caller.join();
  EXPECT_EQ(names, std::set<std::string>{"c/test-fanout"});
}

// --- over fakes (no server): informers filled directly, writes recorded, a FakeClock.

namespace {

struct RsEnv : ControllerTestEnv {
  RsEnv() : ControllerTestEnv("replicaset") {}
  json::object addSet(const std::string& name, int64_t replicas, int64_t minReady = 0) {
    auto rs = replicaSetObject(name, replicas);
    rs["metadata"].as_object()["namespace"] = "ns";
    if (minReady) rs["spec"].as_object()["minReadySeconds"] = minReady;
    return add(replicaSets, rs);
  }
  json::object rs(const std::string& name) { return *api->object("replicasets", "ns", name); }
  std::vector<json::object> podsNow() { return api->objects("pods", "ns"); }
  // The kubelet's report: Running, and Ready since now when `ready`.
  void markRunning(const json::object& pod, bool ready = true) {
    auto p = *api->object("pods", "ns", nameOf(pod));
    auto status = ready ? "True" : "False";
    p["status"] = json::object{
        {"phase", "Running"},
        {"conditions", json::array{json::object{{"type", "Ready"},
                                                {"status", status},
                                                {"lastTransitionTime", formatTime(clock.now())}}}}};
    update(pods, p);
  }
};

}  // namespace

TEST(ReplicaSetControllerFake, CreatesOnceUntilItsCacheSeesThePods) {
  RsEnv env;
  env.addSet("web", 3);
  env.sync();
  EXPECT_EQ(env.writes(), (std::vector<std::string>{"create pods", "create pods", "create pods",
                                                    "update replicasets/status"}));
  for (auto& p : env.podsNow()) EXPECT_EQ(nameOf(p).rfind("web-", 0), 0u);
  // The informer has not seen the pods: expectations hold back a second round of creates.
  env.api->clearActions();
  env.syncKey("ns/web");
  auto creates = [&] {
    auto w = env.writes();
    return std::count(w.begin(), w.end(), "create pods");
  };
  EXPECT_EQ(creates(), 0);
  // Now it sees them: status counts them, nothing more is created.
  for (auto& p : env.podsNow()) env.add(pods, p);
  env.sync();
  EXPECT_EQ(creates(), 0);
  EXPECT_EQ(intAt(env.rs("web"), {"status", "replicas"}), 3);
}

TEST(ReplicaSetControllerFake, DeletesLeastValuablePodsFirst) {
  RsEnv env;
  env.reflectWrites();
  env.addSet("rank", 3);
  env.sync();
  auto all = env.podsNow();
  ASSERT_EQ(all.size(), 3u);
  env.markRunning(all[0]);
  env.markRunning(all[1], /*ready=*/false);
  std::string pending = nameOf(all[2]);
  env.sync();
  auto rs = env.rs("rank");
  rs["spec"].as_object()["replicas"] = 2;
  env.update(replicaSets, rs);
  env.sync();
  auto deleted = env.api->writes();
  ASSERT_EQ(env.podsNow().size(), 2u);
  for (auto& p : env.podsNow()) EXPECT_NE(nameOf(p), pending) << "the Pending pod goes first";
  rs = env.rs("rank");
  rs["spec"].as_object()["replicas"] = 1;
  env.update(replicaSets, rs);
  env.sync();
  ASSERT_EQ(env.podsNow().size(), 1u);
  EXPECT_EQ(nameOf(env.podsNow()[0]), nameOf(all[0])) << "the ready pod stays";
  EXPECT_TRUE(env.hasEvent("SuccessfulDelete", "Deleted pod: " + pending));
}

// A pod update queues its set only when it changes what the set's sync reads: its binding,
// IP or container statuses do not (every sync walks all of the set's pods). A sync may come
// back once more when its own status write returns through the informer.
TEST(ReplicaSetControllerFake, SyncsOnlyForPodChangesItsStatusReads) {
  RsEnv env;
  env.reflectWrites();
  env.addSet("web", 1);
  env.sync();
  env.sync();  // the created pod's own event
  auto pod = env.podsNow().at(0);
  pod["spec"].as_object()["nodeName"] = "node-1";
  pod = env.update(pods, pod);
  EXPECT_EQ(env.sync(), 0) << "a binding changes nothing a set counts";
  pod["status"] = json::object{{"phase", "Pending"}};
  pod = env.update(pods, pod);
  EXPECT_GE(env.sync(), 1) << "a phase appears";
  pod["status"].as_object()["podIP"] = "10.0.0.7";
  pod = env.update(pods, pod);
  EXPECT_EQ(env.sync(), 0);
  env.markRunning(pod, /*ready=*/false);
  EXPECT_GE(env.sync(), 1) << "phase Running";
  env.markRunning(env.podsNow().at(0));
  EXPECT_GE(env.sync(), 1) << "Ready";
  EXPECT_EQ(intAt(env.rs("web"), {"status", "readyReplicas"}), 1);
  pod = env.podsNow().at(0);
  pod["metadata"].as_object()["labels"].as_object()["extra"] = "x";
  env.update(pods, pod);
  EXPECT_GE(env.sync(), 1) << "labels";
}

// A big set's pods turning Ready one after another do not each cost a sync of the whole set:
// counter-only events wait half a millisecond per replica (here 50 ms) and are taken together,
// while a pod that stops being active (it needs a replacement) is acted on at once.
TEST(ReplicaSetControllerFake, BatchesCounterOnlyPodEventsOfBigSets) {
  RsEnv env;
  env.reflectWrites();
  env.addSet("big", 100);
  env.sync();
  env.sync();  // the created pods' own events, and the status write's
  ASSERT_EQ(env.podsNow().size(), 100u);
  env.api->clearActions();
  for (auto& p : env.podsNow()) env.markRunning(p);
  EXPECT_EQ(env.sync(), 0) << "100 Ready pods wait for the batch";
  env.step(std::chrono::milliseconds(49));
  EXPECT_EQ(env.sync(), 0) << "a later event does not postpone, an earlier one is not early";
  env.step(std::chrono::milliseconds(1));
  EXPECT_GE(env.sync(), 1);
  EXPECT_EQ(intAt(env.rs("big"), {"status", "readyReplicas"}), 100);
  auto w = env.writes();
  EXPECT_EQ(std::count(w.begin(), w.end(), "update replicasets/status"), 1)
      << "one status write for the 100 events";

  env.api->clearActions();
  auto failed = env.podsNow().at(0);
  failed["status"].as_object()["phase"] = "Failed";
  env.update(pods, failed);
  EXPECT_GE(env.sync(), 1) << "an inactive pod is replaced without waiting";
  w = env.writes();
  EXPECT_EQ(std::count(w.begin(), w.end(), "create pods"), 1);
}

TEST(ReplicaSetControllerFake, MinReadySecondsDelaysAvailability) {
  RsEnv env;
  env.reflectWrites();
  env.addSet("slow", 1, /*minReady=*/10);
  env.sync();
  env.markRunning(env.podsNow().at(0));
  env.sync();
  EXPECT_EQ(intAt(env.rs("slow"), {"status", "readyReplicas"}), 1);
  EXPECT_EQ(intAt(env.rs("slow"), {"status", "availableReplicas"}), 0);
  // Available once minReadySeconds passed: a delayed re-queue, no pod event.
  env.step(std::chrono::seconds(10));
  env.sync();
  EXPECT_EQ(intAt(env.rs("slow"), {"status", "availableReplicas"}), 1);
}

TEST(ReplicaSetControllerFake, FailedCreateSetsReplicaFailureUntilACreateWorks) {
  RsEnv env;
  env.api->fail("create", "pods", 500, "InternalError");
  env.addSet("f", 1);
  env.sync();
  // The status written after the failure carries it; the sync threw, so the key is retried.
  auto w = env.api->writes();
  ASSERT_EQ(env.writes(), (std::vector<std::string>{"create pods", "update replicasets/status"}));
  auto* cond = findCondition(w[1].object(), "ReplicaFailure");
  ASSERT_TRUE(cond);
  EXPECT_EQ(stringAt(*cond, {"reason"}), "FailedCreate");
  EXPECT_TRUE(env.podsNow().empty());
  EXPECT_TRUE(env.hasEvent("FailedCreate"));
  // After the queue's backoff (5 ms of fake time) the retry creates the pod and clears the
  // condition.
  env.update(client::resources::replicaSets, env.rs("f"));  // the informer sees our status
  env.api->clearActions();
  env.step(std::chrono::milliseconds(5));
  env.sync();
  ASSERT_EQ(env.podsNow().size(), 1u);
  auto rs = env.rs("f");
  EXPECT_FALSE(findCondition(rs, "ReplicaFailure"));
}

}  // namespace skiff::controller::testing
