// KubeletSync, part 1: pod lifecycle — start, node registration, init containers, restart
// policies and back-off, deletion and grace periods.
// The fixture and helpers are in kubelet_sync_fixture.h (the CRI header must come first).
// clang-format off
#include "unit/kubelet/kubelet_sync_fixture.h"
// clang-format on

namespace skiff::kubelet::sync_test {

TEST_F(KubeletSyncTest, BoundPodGetsASandboxAndRunningReadyContainers) {
  startReadyKubelet();
  auto created = createPod("web", R"([{"name": "app", "image": "busybox:1.36"},
                                      {"name": "sidecar", "image": "busybox:1.36"}])");
  auto uid = at(created, {"metadata", "uid"});
  auto p = waitForRunningReady("web");

  auto sandbox = runtime_.sandboxOfPod(uid);
  ASSERT_TRUE(sandbox);
  EXPECT_EQ(sandbox->state, cri::v1::SANDBOX_READY);
  EXPECT_EQ(sandbox->config.metadata().name(), "web");
  EXPECT_EQ(sandbox->config.metadata().namespace_(), ns_);
  EXPECT_EQ(sandbox->config.metadata().attempt(), 0u);
  EXPECT_EQ(sandbox->config.log_directory(), kubelet_->podLogsDir() + "/" + ns_ + "_web_" + uid);
  EXPECT_TRUE(fs::is_directory(sandbox->config.log_directory()));
  EXPECT_EQ(at(p, {"status", "podIP"}), sandbox->ip);
  EXPECT_EQ(at(p, {"status", "podIPs", "0", "ip"}), sandbox->ip);
  EXPECT_EQ(sandbox->ip.rfind("10.88.", 0), 0u);
  EXPECT_EQ(at(p, {"status", "hostIP"}), "127.0.0.1");
  EXPECT_EQ(conditionOf(p, "ContainersReady"), "True");
  EXPECT_EQ(conditionOf(p, "Initialized"), "True");
  EXPECT_EQ(conditionOf(p, "PodReadyToStartContainers"), "True");
  EXPECT_EQ(at(p, {"status", "qosClass"}), "BestEffort");
  EXPECT_FALSE(at(p, {"status", "startTime"}).empty());

  for (auto* name : {"app", "sidecar"}) {
    EXPECT_EQ(runtime_.starts(name), 1) << name;
    auto c = runtime_.latestContainer(name);
    ASSERT_TRUE(c) << name;
    EXPECT_EQ(c->sandboxId, sandbox->id);
    EXPECT_EQ(c->state, cri::v1::CONTAINER_RUNNING);
    EXPECT_EQ(c->label(labels::kPodUid), uid);
    EXPECT_EQ(c->annotation(labels::kRestartCount), "0");
    EXPECT_EQ(c->config.log_path(), std::string(name) + "/0.log");
  }
  auto statuses = p.at("status").at("containerStatuses");
  ASSERT_EQ(statuses.as_array().size(), 2u);
  EXPECT_EQ(at(statuses, {"0", "name"}), "app");
  EXPECT_EQ(at(statuses, {"0", "containerID"}),
            "containerd://" + runtime_.latestContainer("app")->id);
  EXPECT_EQ(at(statuses, {"0", "ready"}), "true");
  EXPECT_EQ(at(statuses, {"0", "restartCount"}), "0");
  EXPECT_FALSE(at(statuses, {"0", "state", "running", "startedAt"}).empty());
  EXPECT_EQ(runtime_.calls("RunPodSandbox"), 1);
  EXPECT_EQ(images_.pulls(kImage), 0);  // IfNotPresent and present
  EXPECT_TRUE(waitForEvent("Started", "web")) << "no Started event";
}

TEST_F(KubeletSyncTest, NodeRegistersWithCapacityAddressesNodeInfoAndALease) {
  startKubelet();
  std::optional<json::object> n;
  ASSERT_TRUE(waitUntil([&] {
    n = node();
    return n && !at(*n, {"status", "nodeInfo", "kubeletVersion"}).empty();
  })) << "node never posted its status";
  EXPECT_EQ(at(*n, {"metadata", "labels", "kubernetes.io/hostname"}), node_);
  EXPECT_EQ(at(*n, {"metadata", "labels", "kubernetes.io/os"}), "linux");
  EXPECT_EQ(at(*n, {"metadata", "labels", "skiff.test/pool"}), "unit");
  for (auto* res : {"cpu", "memory", "pods", "ephemeral-storage"}) {
    EXPECT_FALSE(at(*n, {"status", "capacity", res}).empty()) << res;
    EXPECT_FALSE(at(*n, {"status", "allocatable", res}).empty()) << res;
  }
  EXPECT_EQ(at(*n, {"status", "capacity", "pods"}), "50");
  EXPECT_NE(at(*n, {"status", "capacity", "memory"}), at(*n, {"status", "allocatable", "memory"}))
      << "eviction reserve is not subtracted";
  EXPECT_EQ(at(*n, {"status", "addresses", "0", "type"}), "InternalIP");
  EXPECT_EQ(at(*n, {"status", "addresses", "0", "address"}), "127.0.0.1");
  EXPECT_EQ(at(*n, {"status", "addresses", "1", "type"}), "Hostname");
  EXPECT_EQ(at(*n, {"status", "addresses", "1", "address"}), node_);
  EXPECT_EQ(at(*n, {"status", "nodeInfo", "containerRuntimeVersion"}), "fake://1.2.3");
  EXPECT_EQ(at(*n, {"status", "nodeInfo", "operatingSystem"}), "linux");
  EXPECT_NE(kubelet_->serverPort(), 0);
  EXPECT_EQ(at(*n, {"status", "daemonEndpoints", "kubeletEndpoint", "Port"}),
            std::to_string(kubelet_->serverPort()));
  EXPECT_EQ(at(*n, {"status", "images", "0", "names", "1"}), kImage);
  // Without a podCIDR the pod network is not ready, and neither is the node.
  EXPECT_EQ(conditionOf(*n, "Ready"), "False");
  EXPECT_NE(conditionOf(*n, "Ready", "message").find("cni plugin not initialized"),
            std::string::npos);
  EXPECT_EQ(conditionOf(*n, "MemoryPressure"), "False");

  std::optional<json::object> lease;
  ASSERT_TRUE(waitUntil([&] {
    try {
      lease = client_->get(client::resources::leases, "kube-node-lease", node_);
      return true;
    } catch (const ApiError&) {
      return false;
    }
  })) << "no Lease";
  EXPECT_EQ(at(*lease, {"spec", "holderIdentity"}), node_);
  EXPECT_EQ(at(*lease, {"spec", "leaseDurationSeconds"}), "40");
  EXPECT_FALSE(at(*lease, {"spec", "renewTime"}).empty());
  EXPECT_EQ(at(*lease, {"metadata", "ownerReferences", "0", "kind"}), "Node");
  EXPECT_EQ(at(*lease, {"metadata", "ownerReferences", "0", "uid"}), at(*n, {"metadata", "uid"}));

  giveNodePodCidr();
  auto conflist = fs::path(options().cniConfDir) / "10-skiff.conflist";
  ASSERT_TRUE(fs::exists(conflist));
  std::ifstream in(conflist);
  auto conf = json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
  EXPECT_EQ(at(conf, {"plugins", "0", "ipam", "ranges", "0", "0", "subnet"}), kPodCidr);
  EXPECT_EQ(conditionOf(*node(), "Ready", "reason"), "KubeletReady");
}

TEST_F(KubeletSyncTest, InitContainersRunInOrderBeforeTheMainContainer) {
  startReadyKubelet();
  createPod("init", R"([{"name": "app", "image": "busybox:1.36"}])",
            R"(, "initContainers": [{"name": "init1", "image": "busybox:1.36"},
                                    {"name": "init2", "image": "busybox:1.36"}])");
  // init1 runs; the pod reports it, and nothing else has started.
  waitForPod(
      "init",
      [](const json::object& p) {
        return !at(p, {"status", "initContainerStatuses", "0", "state", "running"}).empty();
      },
      "init1 running");
  EXPECT_EQ(runtime_.starts("init1"), 1);
  EXPECT_EQ(runtime_.starts("init2"), 0);
  EXPECT_EQ(runtime_.starts("app"), 0);
  auto p = *pod("init");
  EXPECT_EQ(at(p, {"status", "phase"}), "Pending");
  EXPECT_EQ(conditionOf(p, "Initialized"), "False");
  EXPECT_EQ(conditionOf(p, "Initialized", "message"),
            "containers with incomplete status: [init1 init2]");

  ASSERT_TRUE(runtime_.exitContainer(runtime_.latestContainer("init1")->id, 0));
  ASSERT_TRUE(waitUntil([&] { return runtime_.starts("init2") == 1; })) << "init2 never started";
  EXPECT_EQ(runtime_.starts("app"), 0);
  waitForPod(
      "init",
      [](const json::object& p) {
        return !at(p, {"status", "initContainerStatuses", "1", "state", "running"}).empty();
      },
      "init2 running");
  EXPECT_EQ(runtime_.starts("app"), 0);

  ASSERT_TRUE(runtime_.exitContainer(runtime_.latestContainer("init2")->id, 0));
  p = waitForRunningReady("init");
  EXPECT_EQ(conditionOf(p, "Initialized"), "True");
  EXPECT_EQ(at(p, {"status", "initContainerStatuses", "0", "state", "terminated", "reason"}),
            "Completed");
  EXPECT_EQ(at(p, {"status", "initContainerStatuses", "1", "state", "terminated", "exitCode"}),
            "0");
  EXPECT_EQ(runtime_.starts("init1"), 1);
  EXPECT_EQ(runtime_.starts("init2"), 1);
  EXPECT_EQ(runtime_.starts("app"), 1);
  auto i1 = runtime_.latestContainer("init1"), i2 = runtime_.latestContainer("init2"),
       app = runtime_.latestContainer("app");
  EXPECT_LT(i1->createdAt, i2->createdAt);
  EXPECT_LT(i2->finishedAt, app->startedAt);
  EXPECT_EQ(i1->annotation(labels::kInitContainer), "true");
  EXPECT_EQ(app->annotation(labels::kInitContainer), "");
}

TEST_F(KubeletSyncTest, FailedInitContainerOfANeverPodFailsThePodWithoutRunningTheApp) {
  startReadyKubelet();
  runtime_.exitOnStart("init1", 4);
  createPod(
      "initfail", R"([{"name": "app", "image": "busybox:1.36"}])",
      R"(, "restartPolicy": "Never", "initContainers": [{"name": "init1", "image": "busybox:1.36"}])");
  auto p = waitForPod(
      "initfail",
      [](const json::object& p) {
        return at(p, {"status", "phase"}) == "Failed";
      },
      "phase Failed");
  EXPECT_EQ(at(p, {"status", "initContainerStatuses", "0", "state", "terminated", "exitCode"}),
            "4");
  EXPECT_EQ(runtime_.starts("init1"), 1);
  EXPECT_EQ(runtime_.starts("app"), 0);
}

TEST_F(KubeletSyncTest, NeverPodWhoseContainerExitsOneFailsAndIsNotRestarted) {
  startReadyKubelet();
  runtime_.exitOnStart("app", 1);
  auto uid = at(createSimplePod("never", "Never"), {"metadata", "uid"});
  auto p = waitForPod(
      "never",
      [](const json::object& p) {
        return at(p, {"status", "phase"}) == "Failed";
      },
      "phase Failed");
  auto cs = p.at("status").at("containerStatuses");
  EXPECT_EQ(at(cs, {"0", "state", "terminated", "exitCode"}), "1");
  EXPECT_EQ(at(cs, {"0", "state", "terminated", "reason"}), "Error");
  EXPECT_EQ(at(cs, {"0", "restartCount"}), "0");
  EXPECT_EQ(conditionOf(p, "Ready", "reason"), "PodCompleted");
  // The finished pod releases its sandbox (and IP) but keeps its container for logs; no
  // sync after that starts anything.
  ASSERT_TRUE(waitUntil([&] {
    auto s = runtime_.sandboxOfPod(uid);
    return s && s->state == cri::v1::SANDBOX_NOTREADY;
  })) << "sandbox of the failed pod is still ready";
  settle();
  EXPECT_EQ(runtime_.starts("app"), 1);
  EXPECT_EQ(runtime_.calls("RunPodSandbox"), 1);
  EXPECT_EQ(runtime_.containersNamed("app").size(), 1u);
  EXPECT_EQ(at(*pod("never"), {"status", "phase"}), "Failed");
}

TEST_F(KubeletSyncTest, OnFailurePodWhoseContainerExitsZeroSucceeds) {
  startReadyKubelet();
  runtime_.exitOnStart("app", 0);
  auto uid = at(createSimplePod("onfailure", "OnFailure"), {"metadata", "uid"});
  auto p = waitForPod(
      "onfailure",
      [](const json::object& p) {
        return at(p, {"status", "phase"}) == "Succeeded";
      },
      "phase Succeeded");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "state", "terminated", "reason"}),
            "Completed");
  EXPECT_EQ(conditionOf(p, "Ready"), "False");
  EXPECT_EQ(conditionOf(p, "Ready", "reason"), "PodCompleted");
  ASSERT_TRUE(waitUntil([&] {
    auto s = runtime_.sandboxOfPod(uid);
    return s && s->state == cri::v1::SANDBOX_NOTREADY;
  }));
  EXPECT_EQ(runtime_.starts("app"), 1);
}

TEST_F(KubeletSyncTest, OnFailurePodRestartsAFailedContainer) {
  startReadyKubelet();
  createSimplePod("retry", "OnFailure");
  waitForRunningReady("retry");
  ASSERT_TRUE(runtime_.exitContainer(runtime_.latestContainer("app")->id, 1));
  ASSERT_TRUE(waitUntil([&] { return runtime_.starts("app") == 2; }))
      << "failed container not restarted";
  auto p = waitForPod(
      "retry",
      [](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "restartCount"}) == "1" &&
               !at(p, {"status", "containerStatuses", "0", "state", "running"}).empty();
      },
      "restartCount 1 and running");
  EXPECT_EQ(at(p, {"status", "phase"}), "Running");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "lastState", "terminated", "exitCode"}),
            "1");
}

TEST_F(KubeletSyncTest, AlwaysPodCrashRestartsAtOnceThenBacksOffWithCrashLoopBackOff) {
  startReadyKubelet();
  createSimplePod("crashy", "Always");
  waitForRunningReady("crashy");
  auto first = runtime_.latestContainer("app")->id;

  auto crashed = std::chrono::steady_clock::now();
  ASSERT_TRUE(runtime_.exitContainer(first, 2));
  ASSERT_TRUE(waitUntil([&] { return runtime_.starts("app") == 2; }))
      << "no restart after the first crash";
  // Immediate: well before the 10 s back-off.
  EXPECT_LT(std::chrono::steady_clock::now() - crashed, 5s);
  auto p = waitForPod(
      "crashy",
      [](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "restartCount"}) == "1" &&
               conditionOf(p, "Ready") == "True";
      },
      "running again with restartCount 1");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "lastState", "terminated", "exitCode"}),
            "2");
  auto second = runtime_.latestContainer("app");
  EXPECT_NE(second->id, first);
  EXPECT_EQ(second->annotation(labels::kRestartCount), "1");
  EXPECT_EQ(second->config.log_path(), "app/1.log");

  ASSERT_TRUE(runtime_.exitContainer(second->id, 3));
  p = waitForPod(
      "crashy",
      [](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "state", "waiting", "reason"}) ==
               "CrashLoopBackOff";
      },
      "CrashLoopBackOff");
  auto cs = p.at("status").at("containerStatuses");
  EXPECT_NE(at(cs, {"0", "state", "waiting", "message"})
                .find("back-off 10s restarting failed container=app"),
            std::string::npos)
      << at(cs, {"0", "state", "waiting", "message"});
  EXPECT_EQ(at(cs, {"0", "lastState", "terminated", "exitCode"}), "3");
  EXPECT_EQ(at(cs, {"0", "lastState", "terminated", "containerID"}), "containerd://" + second->id);
  EXPECT_EQ(at(cs, {"0", "restartCount"}), "1");
  EXPECT_EQ(at(cs, {"0", "ready"}), "false");
  EXPECT_EQ(at(p, {"status", "phase"}), "Running");
  EXPECT_EQ(conditionOf(p, "Ready"), "False");
  EXPECT_EQ(runtime_.starts("app"), 2);
  EXPECT_TRUE(waitForEvent("BackOff", "crashy")) << "no BackOff event";
  EXPECT_EQ(runtime_.starts("app"), 2);  // still waiting out the back-off
}

TEST_F(KubeletSyncTest, DeletingThePodStopsItsContainersAndRemovesTheSandbox) {
  runtime_.scriptExec({"/bin/sh", "-c", "sleep 1; echo bye"}, {"bye\n", "", 0});
  startReadyKubelet();
  auto created = createPod("doomed", R"([{"name": "app", "image": "busybox:1.36", "lifecycle":
                                {"preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 1; echo bye"]}}}}])",
                           R"(, "terminationGracePeriodSeconds": 7)");
  auto uid = at(created, {"metadata", "uid"});
  waitForRunningReady("doomed");
  auto id = runtime_.latestContainer("app")->id;

  client_->remove(client::resources::pods, ns_, "doomed");
  auto deleting = pod("doomed");
  ASSERT_TRUE(deleting) << "graceful deletion removed the pod at once";
  EXPECT_EQ(at(*deleting, {"metadata", "deletionGracePeriodSeconds"}), "7");
  ASSERT_TRUE(waitUntil([&] { return !pod("doomed").has_value(); })) << "pod never left the API";

  auto stops = runtime_.stopCalls();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].containerId, id);
  EXPECT_GE(stops[0].timeoutSeconds,
            6);  // the grace period (see StopContainerGetsTheWholeGracePeriod)
  EXPECT_LE(stops[0].timeoutSeconds, 7);
  auto execs = runtime_.execCalls();
  ASSERT_EQ(execs.size(), 1u);
  EXPECT_EQ(execs[0], (std::vector<std::string>{"/bin/sh", "-c", "sleep 1; echo bye"}));
  EXPECT_GE(runtime_.calls("StopPodSandbox"), 1);
  EXPECT_FALSE(runtime_.sandboxOfPod(uid)) << "sandbox not removed";
  EXPECT_TRUE(runtime_.containersNamed("app").empty()) << "container not removed";
  EXPECT_TRUE(waitForEvent("Killing", "doomed")) << "no Killing event for the preStop hook";
}

TEST_F(KubeletSyncTest, StopContainerGetsTheWholeGracePeriod) {
  startReadyKubelet();
  createSimplePod("graceful", "Always", R"(, "terminationGracePeriodSeconds": 7)");
  waitForRunningReady("graceful");
  client_->remove(client::resources::pods, ns_, "graceful");
  ASSERT_TRUE(waitUntil([&] { return !pod("graceful").has_value(); })) << "pod never left the API";
  auto stops = runtime_.stopCalls();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].timeoutSeconds, 7);
}

TEST_F(KubeletSyncTest, ForceDeletedPodIsKilledAndRemovedFromTheRuntime) {
  startReadyKubelet();
  auto uid = at(createSimplePod("forced"), {"metadata", "uid"});
  waitForRunningReady("forced");
  auto id = runtime_.latestContainer("app")->id;
  client_->remove(client::resources::pods, ns_, "forced", json::object{{"gracePeriodSeconds", 0}});
  EXPECT_FALSE(pod("forced")) << "a zero grace period deletes at once";
  ASSERT_TRUE(waitUntil([&] { return !runtime_.sandboxOfPod(uid); }))
      << "sandbox of the deleted pod survived";
  auto stops = runtime_.stopCalls();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].containerId, id);
  EXPECT_TRUE(runtime_.containers().empty());
}

}  // namespace skiff::kubelet::sync_test
