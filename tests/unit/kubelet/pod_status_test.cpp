// computePodStatus and qosClassOf: the pod status the kubelet reports, checked against
// upstream's generateAPIPodStatus/getPhase and the condition helpers (pkg/kubelet/status).
#include "kubelet/pod_status.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <initializer_list>
#include <string>
#include <vector>

namespace skiff::kubelet {
namespace {

namespace json = boost::json;

constexpr const char* kNow = "2024-05-01T12:00:00Z";
constexpr const char* kEarlier = "2024-05-01T10:00:00Z";
constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1714557600LL * kSec;  // 2024-05-01T10:00:00Z

json::object parseObject(const char* text) { return json::parse(text).as_object(); }

// A pod with the given containers (by name) and optional init containers.
json::object makePod(std::initializer_list<const char*> containers,
                     const std::string& restartPolicy = "Always",
                     std::initializer_list<const char*> inits = {}) {
  json::array cs, is;
  for (auto* n : containers)
    cs.push_back(json::object{{"name", n}, {"image", std::string("img-") + n}});
  for (auto* n : inits) is.push_back(json::object{{"name", n}, {"image", std::string("img-") + n}});
  json::object spec{{"containers", cs}, {"restartPolicy", restartPolicy}};
  if (!is.empty()) spec["initContainers"] = is;
  return json::object{
      {"metadata", json::object{{"name", "web"}, {"namespace", "default"}, {"uid", "uid-1"}}},
      {"spec", spec}};
}

RuntimeContainer running(const std::string& name, const std::string& id, int restartCount = 0,
                         int64_t startedAt = kT0 + 10 * kSec) {
  RuntimeContainer c;
  c.id = id;
  c.name = name;
  c.sandboxId = "sb1";
  c.state = ContainerRunState::Running;
  c.restartCount = restartCount;
  c.createdAt = startedAt - kSec;
  c.startedAt = startedAt;
  c.imageRef = "sha256:" + name;
  return c;
}

RuntimeContainer exited(const std::string& name, const std::string& id, int exitCode,
                        int restartCount = 0, int64_t startedAt = kT0,
                        int64_t finishedAt = kT0 + 5 * kSec) {
  RuntimeContainer c = running(name, id, restartCount, startedAt);
  c.state = ContainerRunState::Exited;
  c.exitCode = exitCode;
  c.finishedAt = finishedAt;
  c.reason = exitCode == 0 ? "Completed" : "Error";
  return c;
}

// Owns the runtime pod the view points to.
struct Fixture {
  RuntimePod rt;
  PodSyncView view;
  Fixture() {
    rt.uid = "uid-1";
    rt.name = "web";
    rt.ns = "default";
    view.runtime = &rt;
    view.sandboxId = "sb1";
    view.sandboxReady = true;
    view.hostIp = "192.168.1.10";
    view.podIp = "10.88.0.7";
  }
  // Newest first, as inspectPods sorts them.
  void add(RuntimeContainer c) { rt.containers.insert(rt.containers.begin(), std::move(c)); }
  void ready(const std::string& name, bool r = true) {
    view.notes[name].ready = r;
    view.notes[name].started = true;
  }
  void waiting(const std::string& name, const std::string& reason,
               const std::string& message = "") {
    view.notes[name].waitingReason = reason;
    view.notes[name].waitingMessage = message;
  }
};

const json::object& condition(const json::object& status, const std::string& type) {
  for (auto& c : status.at("conditions").as_array())
    if (c.at("type").as_string() == type) return c.as_object();
  static const json::object none;
  ADD_FAILURE() << "no condition " << type << " in " << json::serialize(status);
  return none;
}

int countConditions(const json::object& status, const std::string& type) {
  int n = 0;
  for (auto& c : status.at("conditions").as_array())
    if (c.at("type").as_string() == type) ++n;
  return n;
}

const json::object& containerStatus(const json::object& status, const std::string& name,
                                    const char* field = "containerStatuses") {
  for (auto& c : status.at(field).as_array())
    if (c.at("name").as_string() == name) return c.as_object();
  static const json::object none;
  ADD_FAILURE() << "no status for container " << name << " in " << json::serialize(status);
  return none;
}

std::string str(const json::object& o, std::initializer_list<const char*> path) {
  const json::value* cur = nullptr;
  const json::object* obj = &o;
  for (auto* k : path) {
    if (!obj || !obj->contains(k)) return "<missing>";
    cur = &obj->at(k);
    obj = cur->if_object();
  }
  return cur && cur->is_string() ? std::string(cur->as_string()) : json::serialize(*cur);
}

// ---------------------------------------------------------------- phase

TEST(PodStatus, RunningReadyContainerMakesThePodRunningAndReady) {
  Fixture f;
  f.add(running("app", "c1"));
  f.ready("app");
  auto st = computePodStatus(makePod({"app"}), f.view, kNow);
  EXPECT_EQ(st.at("phase"), "Running");
  EXPECT_EQ(str(condition(st, "Ready"), {"status"}), "True");
  EXPECT_EQ(str(condition(st, "ContainersReady"), {"status"}), "True");
  EXPECT_EQ(str(condition(st, "Initialized"), {"status"}), "True");
  EXPECT_EQ(str(condition(st, "PodReadyToStartContainers"), {"status"}), "True");
  EXPECT_FALSE(condition(st, "Ready").contains("reason"));
  EXPECT_FALSE(condition(st, "Ready").contains("message"));
  auto& cs = containerStatus(st, "app");
  EXPECT_EQ(str(cs, {"state", "running", "startedAt"}), "2024-05-01T10:00:10Z");
  EXPECT_TRUE(cs.at("lastState").as_object().empty());
  EXPECT_EQ(cs.at("ready"), true);
  EXPECT_EQ(cs.at("started"), true);
  EXPECT_EQ(cs.at("restartCount"), 0);
  EXPECT_EQ(cs.at("containerID"), "containerd://c1");
  EXPECT_EQ(cs.at("image"), "img-app");
  EXPECT_EQ(cs.at("imageID"), "sha256:app");
  EXPECT_FALSE(st.contains("initContainerStatuses"));
}

TEST(PodStatus, ContainersNotCreatedYetArePendingAndWaiting) {
  Fixture f;
  auto st = computePodStatus(makePod({"a", "b"}), f.view, kNow);
  EXPECT_EQ(st.at("phase"), "Pending");
  for (auto* n : {"a", "b"}) {
    auto& cs = containerStatus(st, n);
    EXPECT_EQ(str(cs, {"state", "waiting", "reason"}), "ContainerCreating") << n;
    EXPECT_EQ(cs.at("ready"), false);
    EXPECT_EQ(cs.at("restartCount"), 0);
    EXPECT_FALSE(cs.contains("containerID"));
  }
  for (auto* type : {"Ready", "ContainersReady"}) {
    auto& c = condition(st, type);
    EXPECT_EQ(str(c, {"status"}), "False") << type;
    EXPECT_EQ(str(c, {"reason"}), "ContainersNotReady") << type;
    EXPECT_EQ(str(c, {"message"}), "containers with unready status: [a b]") << type;
  }
}

TEST(PodStatus, OneContainerStillWaitingKeepsThePodPending) {
  Fixture f;
  f.add(running("a", "c1"));
  f.ready("a");
  auto st = computePodStatus(makePod({"a", "b"}), f.view, kNow);
  EXPECT_EQ(st.at("phase"), "Pending");
  EXPECT_EQ(str(condition(st, "Ready"), {"message"}), "containers with unready status: [b]");
}

TEST(PodStatus, RunningButNotReadyIsRunningWithReadyFalse) {
  Fixture f;
  f.add(running("a", "c1"));
  f.add(running("b", "c2"));
  f.ready("a", true);
  f.ready("b", false);
  auto st = computePodStatus(makePod({"a", "b"}), f.view, kNow);
  EXPECT_EQ(st.at("phase"), "Running");
  EXPECT_EQ(str(condition(st, "Ready"), {"status"}), "False");
  EXPECT_EQ(str(condition(st, "Ready"), {"message"}), "containers with unready status: [b]");
  EXPECT_EQ(containerStatus(st, "a").at("ready"), true);
  EXPECT_EQ(containerStatus(st, "b").at("ready"), false);
}

TEST(PodStatus, NeverWithAFailedContainerIsFailed) {
  Fixture f;
  f.add(exited("ok", "c1", 0));
  f.add(exited("bad", "c2", 1));
  auto st = computePodStatus(makePod({"ok", "bad"}, "Never"), f.view, kNow);
  EXPECT_EQ(st.at("phase"), "Failed");
  auto& bad = containerStatus(st, "bad");
  EXPECT_EQ(str(bad, {"state", "terminated", "reason"}), "Error");
  EXPECT_EQ(str(bad, {"state", "terminated", "exitCode"}), "1");
  EXPECT_EQ(str(bad, {"state", "terminated", "startedAt"}), "2024-05-01T10:00:00Z");
  EXPECT_EQ(str(bad, {"state", "terminated", "finishedAt"}), "2024-05-01T10:00:05Z");
  EXPECT_EQ(str(bad, {"state", "terminated", "containerID"}), "containerd://c2");
  EXPECT_EQ(str(containerStatus(st, "ok"), {"state", "terminated", "reason"}), "Completed");
  // A finished pod is not ready, with upstream's PodCompleted reason and no message.
  auto& ready = condition(st, "Ready");
  EXPECT_EQ(str(ready, {"status"}), "False");
  EXPECT_EQ(str(ready, {"reason"}), "PodCompleted");
  EXPECT_FALSE(ready.contains("message"));
}

TEST(PodStatus, NeverWithAllContainersSucceededIsSucceeded) {
  Fixture f;
  f.add(exited("a", "c1", 0));
  f.add(exited("b", "c2", 0));
  auto st = computePodStatus(makePod({"a", "b"}, "Never"), f.view, kNow);
  EXPECT_EQ(st.at("phase"), "Succeeded");
  EXPECT_EQ(str(condition(st, "Initialized"), {"status"}), "True");
  EXPECT_EQ(str(condition(st, "Initialized"), {"reason"}), "PodCompleted");
  EXPECT_EQ(str(condition(st, "ContainersReady"), {"reason"}), "PodCompleted");
}

TEST(PodStatus, NeverWithOneContainerStillRunningIsRunning) {
  Fixture f;
  f.add(exited("a", "c1", 1));
  f.add(running("b", "c2"));
  f.ready("b");
  auto st = computePodStatus(makePod({"a", "b"}, "Never"), f.view, kNow);
  EXPECT_EQ(st.at("phase"), "Running");
}

TEST(PodStatus, OnFailureSucceedsOnExitZeroAndKeepsRunningWhileRestartingAFailure) {
  {
    Fixture f;
    f.add(exited("a", "c1", 0));
    EXPECT_EQ(computePodStatus(makePod({"a"}, "OnFailure"), f.view, kNow).at("phase"), "Succeeded");
  }
  {
    // Exit 1 under OnFailure: the container is restarted, the pod stays Running.
    Fixture f;
    f.add(exited("a", "c1", 1));
    f.waiting("a", "CrashLoopBackOff", "back-off 10s restarting failed container=a");
    EXPECT_EQ(computePodStatus(makePod({"a"}, "OnFailure"), f.view, kNow).at("phase"), "Running");
  }
  {
    // Even before the worker decided (no note), a failure under OnFailure is not terminal.
    Fixture f;
    f.add(exited("a", "c1", 1));
    EXPECT_EQ(computePodStatus(makePod({"a"}, "OnFailure"), f.view, kNow).at("phase"), "Running");
  }
}

TEST(PodStatus, AlwaysWithEveryContainerExitedStaysRunning) {
  for (int code : {0, 1}) {
    Fixture f;
    f.add(exited("a", "c1", code));
    EXPECT_EQ(computePodStatus(makePod({"a"}, "Always"), f.view, kNow).at("phase"), "Running")
        << code;
  }
}

TEST(PodStatus, CrashLoopBackOffIsWaitingWithTheLastExitAsLastState) {
  Fixture f;
  f.add(exited("app", "c1", 2, 2, kT0, kT0 + 5 * kSec));
  f.waiting("app", "CrashLoopBackOff",
            "back-off 20s restarting failed container=app pod=web_default(uid-1)");
  auto st = computePodStatus(makePod({"app"}), f.view, kNow);
  EXPECT_EQ(st.at("phase"), "Running");
  auto& cs = containerStatus(st, "app");
  EXPECT_EQ(str(cs, {"state", "waiting", "reason"}), "CrashLoopBackOff");
  EXPECT_EQ(str(cs, {"state", "waiting", "message"}),
            "back-off 20s restarting failed container=app pod=web_default(uid-1)");
  EXPECT_FALSE(cs.at("state").as_object().contains("terminated"));
  EXPECT_EQ(str(cs, {"lastState", "terminated", "exitCode"}), "2");
  EXPECT_EQ(str(cs, {"lastState", "terminated", "reason"}), "Error");
  EXPECT_EQ(str(cs, {"lastState", "terminated", "finishedAt"}), "2024-05-01T10:00:05Z");
  EXPECT_EQ(str(cs, {"lastState", "terminated", "containerID"}), "containerd://c1");
  EXPECT_EQ(cs.at("restartCount"), 2);
  EXPECT_EQ(cs.at("ready"), false);
  EXPECT_EQ(str(condition(st, "Ready"), {"status"}), "False");
}

TEST(PodStatus, RestartedContainerShowsThePreviousExitAsLastState) {
  Fixture f;
  f.add(exited("app", "old", 137, 0, kT0, kT0 + 3 * kSec));
  f.add(running("app", "new", 1, kT0 + 20 * kSec));
  f.ready("app");
  auto st = computePodStatus(makePod({"app"}), f.view, kNow);
  auto& cs = containerStatus(st, "app");
  EXPECT_EQ(cs.at("containerID"), "containerd://new");
  EXPECT_EQ(str(cs, {"state", "running", "startedAt"}), "2024-05-01T10:00:20Z");
  EXPECT_EQ(str(cs, {"lastState", "terminated", "exitCode"}), "137");
  EXPECT_EQ(str(cs, {"lastState", "terminated", "containerID"}), "containerd://old");
  EXPECT_EQ(cs.at("restartCount"), 1);
}

TEST(PodStatus, OomKilledReasonFromTheRuntimeIsKept) {
  Fixture f;
  auto c = exited("app", "c1", 137);
  c.reason = "OOMKilled";
  f.add(c);
  auto st = computePodStatus(makePod({"app"}, "Never"), f.view, kNow);
  EXPECT_EQ(str(containerStatus(st, "app"), {"state", "terminated", "reason"}), "OOMKilled");
}

TEST(PodStatus, WaitingReasonOfTheWorkerWins) {
  Fixture f;
  f.waiting("app", "ErrImageNeverPull",
            "Container image \"x\" is not present with pull policy of Never");
  auto st = computePodStatus(makePod({"app"}), f.view, kNow);
  EXPECT_EQ(st.at("phase"), "Pending");
  auto& cs = containerStatus(st, "app");
  EXPECT_EQ(str(cs, {"state", "waiting", "reason"}), "ErrImageNeverPull");
  EXPECT_EQ(str(cs, {"state", "waiting", "message"}),
            "Container image \"x\" is not present with pull policy of Never");
}

// ---------------------------------------------------------------- init containers

TEST(PodStatus, PendingInitContainersKeepThePodPendingAndNotInitialized) {
  Fixture f;
  f.add(running("init1", "i1"));
  auto st = computePodStatus(makePod({"app"}, "Always", {"init1", "init2"}), f.view, kNow);
  EXPECT_EQ(st.at("phase"), "Pending");
  auto& init = condition(st, "Initialized");
  EXPECT_EQ(str(init, {"status"}), "False");
  EXPECT_EQ(str(init, {"reason"}), "ContainersNotInitialized");
  EXPECT_EQ(str(init, {"message"}), "containers with incomplete status: [init1 init2]");
  auto& ready = condition(st, "Ready");
  EXPECT_EQ(str(ready, {"status"}), "False");
  EXPECT_EQ(str(ready, {"message"}), "containers with unready status: [app]");
  ASSERT_TRUE(st.contains("initContainerStatuses"));
  auto& i1 = containerStatus(st, "init1", "initContainerStatuses");
  EXPECT_TRUE(i1.at("state").as_object().contains("running"));
  EXPECT_EQ(i1.at("started"), true);
  auto& i2 = containerStatus(st, "init2", "initContainerStatuses");
  EXPECT_EQ(str(i2, {"state", "waiting", "reason"}), "PodInitializing");
  EXPECT_EQ(i2.at("started"), false);
  EXPECT_TRUE(containerStatus(st, "app").at("state").as_object().contains("waiting"));
}

TEST(PodStatus, RegularContainersOfAPodWithInitContainersWaitWithPodInitializing) {
  // Upstream's convertToAPIContainerStatuses: the default waiting reason of every container
  // of a pod that has init containers is PodInitializing (ContainerCreating otherwise).
  Fixture f;
  f.add(running("init1", "i1"));
  auto st = computePodStatus(makePod({"app"}, "Always", {"init1"}), f.view, kNow);
  auto reason = str(containerStatus(st, "app"), {"state", "waiting", "reason"});
  EXPECT_EQ(reason, "PodInitializing");
}

TEST(PodStatus, InitContainersThatSucceededMakeThePodInitialized) {
  Fixture f;
  f.add(exited("init1", "i1", 0));
  f.add(running("app", "c1", 0, kT0 + 30 * kSec));
  f.ready("app");
  auto st = computePodStatus(makePod({"app"}, "Always", {"init1"}), f.view, kNow);
  EXPECT_EQ(st.at("phase"), "Running");
  EXPECT_EQ(str(condition(st, "Initialized"), {"status"}), "True");
  EXPECT_FALSE(condition(st, "Initialized").contains("reason"));
  EXPECT_EQ(str(condition(st, "Ready"), {"status"}), "True");
  auto& i1 = containerStatus(st, "init1", "initContainerStatuses");
  EXPECT_EQ(str(i1, {"state", "terminated", "reason"}), "Completed");
  EXPECT_EQ(i1.at("started"), false);
}

TEST(PodStatus, CompletedInitContainerIsReady) {
  // Upstream's prober manager (UpdatePodStatus) marks a non-restartable init container that
  // terminated with exit code 0 as ready.
  Fixture f;
  f.add(exited("init1", "i1", 0));
  f.add(running("app", "c1", 0, kT0 + 30 * kSec));
  f.ready("app");
  auto st = computePodStatus(makePod({"app"}, "Always", {"init1"}), f.view, kNow);
  auto& i1 = containerStatus(st, "init1", "initContainerStatuses");
  EXPECT_EQ(i1.at("ready"), true);
}

TEST(PodStatus, FailedInitContainerFailsANeverPod) {
  Fixture f;
  f.add(exited("init1", "i1", 3));
  auto st = computePodStatus(makePod({"app"}, "Never", {"init1"}), f.view, kNow);
  EXPECT_EQ(st.at("phase"), "Failed");
  EXPECT_EQ(str(condition(st, "Initialized"), {"status"}), "False");
  EXPECT_EQ(str(containerStatus(st, "init1", "initContainerStatuses"),
                {"state", "terminated", "exitCode"}),
            "3");
  EXPECT_EQ(str(condition(st, "Ready"), {"reason"}), "PodCompleted");
}

TEST(PodStatus, FailedInitContainerOfAnAlwaysPodIsRetriedAndThePodStaysPending) {
  Fixture f;
  f.add(exited("init1", "i1", 3, 1));
  f.waiting("init1", "CrashLoopBackOff", "back-off 10s restarting failed container=init1");
  auto st = computePodStatus(makePod({"app"}, "Always", {"init1"}), f.view, kNow);
  EXPECT_EQ(st.at("phase"), "Pending");
  auto& i1 = containerStatus(st, "init1", "initContainerStatuses");
  EXPECT_EQ(str(i1, {"state", "waiting", "reason"}), "CrashLoopBackOff");
  EXPECT_EQ(str(i1, {"lastState", "terminated", "exitCode"}), "3");
  EXPECT_EQ(i1.at("restartCount"), 1);
  EXPECT_EQ(str(condition(st, "Initialized"), {"reason"}), "ContainersNotInitialized");
}

// ---------------------------------------------------------------- conditions

TEST(PodStatus, ConditionsKeepTheirTransitionTimeWhileUnchanged) {
  Fixture f;
  f.add(running("app", "c1"));
  f.ready("app");
  auto pod = makePod({"app"});
  pod["status"] = json::object{
      {"conditions",
       json::array{
           json::object{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", kEarlier}},
           json::object{
               {"type", "Initialized"}, {"status", "True"}, {"lastTransitionTime", kEarlier}},
       }}};
  auto st = computePodStatus(pod, f.view, kNow);
  EXPECT_EQ(str(condition(st, "Ready"), {"lastTransitionTime"}), kEarlier);
  EXPECT_EQ(str(condition(st, "Initialized"), {"lastTransitionTime"}), kEarlier);
  // Not in the old status: it transitions now.
  EXPECT_EQ(str(condition(st, "ContainersReady"), {"lastTransitionTime"}), kNow);
}

TEST(PodStatus, ConditionsMoveTheirTransitionTimeWhenTheStatusFlips) {
  Fixture f;
  f.add(running("app", "c1"));
  f.ready("app", false);
  auto pod = makePod({"app"});
  pod["status"] =
      json::object{{"conditions",
                    json::array{json::object{
                        {"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", kEarlier}}}}};
  auto st = computePodStatus(pod, f.view, kNow);
  EXPECT_EQ(str(condition(st, "Ready"), {"status"}), "False");
  EXPECT_EQ(str(condition(st, "Ready"), {"lastTransitionTime"}), kNow);
}

TEST(PodStatus, ConditionsTheKubeletDoesNotOwnAreCarriedOver) {
  Fixture f;
  f.add(running("app", "c1"));
  f.ready("app");
  auto pod = makePod({"app"});
  pod["status"] = parseObject(R"({"conditions": [
      {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2024-05-01T09:00:00Z"},
      {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
       "message": "Eviction API: evicting", "lastTransitionTime": "2024-05-01T11:00:00Z"},
      {"type": "Ready", "status": "False", "lastTransitionTime": "2024-05-01T09:30:00Z"}]})");
  auto st = computePodStatus(pod, f.view, kNow);
  auto& scheduled = condition(st, "PodScheduled");
  EXPECT_EQ(str(scheduled, {"status"}), "True");
  EXPECT_EQ(str(scheduled, {"lastTransitionTime"}), "2024-05-01T09:00:00Z");
  auto& disruption = condition(st, "DisruptionTarget");
  EXPECT_EQ(str(disruption, {"reason"}), "EvictionByEvictionAPI");
  EXPECT_EQ(str(disruption, {"message"}), "Eviction API: evicting");
  // The kubelet's own conditions are replaced, not duplicated.
  EXPECT_EQ(countConditions(st, "Ready"), 1);
  EXPECT_EQ(countConditions(st, "PodScheduled"), 1);
  EXPECT_EQ(str(condition(st, "Ready"), {"status"}), "True");
  EXPECT_EQ(str(condition(st, "Ready"), {"lastTransitionTime"}), kNow);
  EXPECT_EQ(st.at("conditions").as_array().size(), 6u);
}

TEST(PodStatus, PodReadyToStartContainersFollowsTheSandbox) {
  Fixture f;
  f.view.sandboxId.clear();
  f.view.sandboxReady = false;
  f.view.podIp.clear();
  auto st = computePodStatus(makePod({"app"}), f.view, kNow);
  EXPECT_EQ(str(condition(st, "PodReadyToStartContainers"), {"status"}), "False");
  EXPECT_EQ(st.at("phase"), "Pending");
  EXPECT_FALSE(st.contains("podIP"));
  EXPECT_FALSE(st.contains("podIPs"));
}

// ---------------------------------------------------------------- addresses, times, QoS

TEST(PodStatus, ReportsPodAndHostIps) {
  Fixture f;
  f.view.podIps = {"10.88.0.7", "fd00::7"};
  auto st = computePodStatus(makePod({"app"}), f.view, kNow);
  EXPECT_EQ(st.at("podIP"), "10.88.0.7");
  EXPECT_EQ(json::serialize(st.at("podIPs")), R"([{"ip":"10.88.0.7"},{"ip":"fd00::7"}])");
  EXPECT_EQ(st.at("hostIP"), "192.168.1.10");
  EXPECT_EQ(json::serialize(st.at("hostIPs")), R"([{"ip":"192.168.1.10"}])");
}

TEST(PodStatus, HostNetworkPodReportsTheNodeIpAsItsPodIp) {
  // Upstream's generateAPIPodStatus: a host-network pod's IPs are the host's IPs (the
  // runtime reports none for a sandbox in the node's network namespace).
  Fixture f;
  f.view.podIp.clear();
  auto pod = makePod({"app"});
  pod["spec"].as_object()["hostNetwork"] = true;
  auto st = computePodStatus(pod, f.view, kNow);
  EXPECT_EQ(st.at("podIP"), "192.168.1.10");
  EXPECT_EQ(json::serialize(st.at("podIPs")), R"([{"ip":"192.168.1.10"}])");
}

TEST(PodStatus, PodIpWithoutPodIpsListsItAlone) {
  Fixture f;
  auto st = computePodStatus(makePod({"app"}), f.view, kNow);
  EXPECT_EQ(json::serialize(st.at("podIPs")), R"([{"ip":"10.88.0.7"}])");
}

TEST(PodStatus, KeepsTheLastPodIpOnceTheSandboxIsGone) {
  Fixture f;
  f.view.podIp.clear();
  f.view.sandboxReady = false;
  auto pod = makePod({"app"}, "Never");
  pod["status"] = json::object{{"podIP", "10.88.0.3"},
                               {"podIPs", json::array{json::object{{"ip", "10.88.0.3"}}}}};
  f.add(exited("app", "c1", 0));
  auto st = computePodStatus(pod, f.view, kNow);
  EXPECT_EQ(st.at("podIP"), "10.88.0.3");
  EXPECT_EQ(json::serialize(st.at("podIPs")), R"([{"ip":"10.88.0.3"}])");
}

TEST(PodStatus, StartTimeIsSetOnceAndKept) {
  Fixture f;
  auto pod = makePod({"app"});
  EXPECT_EQ(computePodStatus(pod, f.view, kNow).at("startTime"), kNow);
  pod["status"] = json::object{{"startTime", kEarlier}};
  EXPECT_EQ(computePodStatus(pod, f.view, kNow).at("startTime"), kEarlier);
}

TEST(PodStatus, TerminalPodKeepsItsPhase) {
  Fixture f;
  f.view.terminal = true;
  f.add(running("app", "c1"));  // e.g. a container that survived; the phase must not go back
  auto pod = makePod({"app"}, "Never");
  pod["status"] = json::object{{"phase", "Failed"}};
  EXPECT_EQ(computePodStatus(pod, f.view, kNow).at("phase"), "Failed");
}

TEST(PodStatus, PodReasonAndMessageOfTheView) {
  Fixture f;
  f.view.podReason = "UnexpectedAdmissionError";
  f.view.podMessage = "cannot admit";
  auto st = computePodStatus(makePod({"app"}), f.view, kNow);
  EXPECT_EQ(st.at("reason"), "UnexpectedAdmissionError");
  EXPECT_EQ(st.at("message"), "cannot admit");
  Fixture g;
  auto st2 = computePodStatus(makePod({"app"}), g.view, kNow);
  EXPECT_FALSE(st2.contains("reason"));
  EXPECT_FALSE(st2.contains("message"));
}

TEST(PodStatus, TimeFromNanosIsRfc3339Seconds) {
  EXPECT_EQ(timeFromNanos(kT0), "2024-05-01T10:00:00Z");
  EXPECT_EQ(timeFromNanos(kT0 + 1500 * 1'000'000LL), "2024-05-01T10:00:01Z");
}

json::object podWithResources(std::initializer_list<const char*> resources) {
  json::array cs;
  int i = 0;
  for (auto* r : resources)
    cs.push_back(json::object{
        {"name", "c" + std::to_string(i++)}, {"image", "x"}, {"resources", json::parse(r)}});
  return json::object{{"spec", json::object{{"containers", cs}}}};
}

TEST(PodStatus, QosClassOfRequestsAndLimits) {
  EXPECT_EQ(qosClassOf(podWithResources({"{}"})), "BestEffort");
  EXPECT_EQ(qosClassOf(podWithResources({"{}", "{}"})), "BestEffort");
  EXPECT_EQ(
      qosClassOf(podWithResources(
          {R"({"requests":{"cpu":"500m","memory":"64Mi"},"limits":{"cpu":"500m","memory":"64Mi"}})"})),
      "Guaranteed");
  // Equal quantities in different notation are equal.
  EXPECT_EQ(
      qosClassOf(podWithResources(
          {R"({"requests":{"cpu":"1","memory":"1Gi"},"limits":{"cpu":"1000m","memory":"1073741824"}})"})),
      "Guaranteed");
  // Limits alone: requests default to the limits.
  EXPECT_EQ(qosClassOf(podWithResources({R"({"limits":{"cpu":"1","memory":"128Mi"}})"})),
            "Guaranteed");
  EXPECT_EQ(qosClassOf(podWithResources({R"({"requests":{"cpu":"100m"}})"})), "Burstable");
  EXPECT_EQ(qosClassOf(podWithResources({R"({"limits":{"memory":"128Mi"}})"})), "Burstable");
  EXPECT_EQ(
      qosClassOf(podWithResources(
          {R"({"requests":{"cpu":"250m","memory":"64Mi"},"limits":{"cpu":"500m","memory":"64Mi"}})"})),
      "Burstable");
  // One guaranteed container and one without resources: Burstable.
  EXPECT_EQ(qosClassOf(podWithResources({R"({"limits":{"cpu":"1","memory":"128Mi"}})", "{}"})),
            "Burstable");
}

TEST(PodStatus, QosClassCountsInitContainers) {
  auto pod = podWithResources({R"({"limits":{"cpu":"1","memory":"128Mi"}})"});
  pod["spec"].as_object()["initContainers"] =
      json::array{json::object{{"name", "i"}, {"image", "x"}, {"resources", json::object{}}}};
  EXPECT_EQ(qosClassOf(pod), "Burstable");
  auto best = podWithResources({"{}"});
  best["spec"].as_object()["initContainers"] = json::array{json::object{
      {"name", "i"}, {"image", "x"}, {"resources", json::parse(R"({"requests":{"cpu":"1"}})")}}};
  EXPECT_EQ(qosClassOf(best), "Burstable");
}

TEST(PodStatus, QosClassIgnoresResourcesOtherThanCpuAndMemory) {
  // Upstream's ComputePodQOS only looks at cpu and memory (isSupportedQoSComputeResource) and
  // skips zero quantities.
  auto storageOnly = qosClassOf(podWithResources({R"({"requests":{"ephemeral-storage":"1Gi"}})"}));
  auto zeroCpu = qosClassOf(podWithResources({R"({"requests":{"cpu":"0"}})"}));
  EXPECT_EQ(storageOnly, "BestEffort");
  EXPECT_EQ(zeroCpu, "BestEffort");
}

TEST(PodStatus, QosClassIsComputedOnceAndKept) {
  Fixture f;
  auto pod = makePod({"app"});
  EXPECT_EQ(computePodStatus(pod, f.view, kNow).at("qosClass"), "BestEffort");
  pod["status"] =
      json::object{{"qosClass", "Burstable"}};  // resources cannot change; the first answer stays
  EXPECT_EQ(computePodStatus(pod, f.view, kNow).at("qosClass"), "Burstable");
}

}  // namespace
}  // namespace skiff::kubelet
