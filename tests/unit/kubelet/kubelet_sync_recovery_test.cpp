// KubeletSync, part 2: recovery and the runtime — orphans, adoption after a restart, dead
// sandboxes, spec changes, the pod network, probes, retried failures and image policy.
// The fixture and helpers are in kubelet_sync_fixture.h (the CRI header must come first).
// clang-format off
#include "unit/kubelet/kubelet_sync_fixture.h"
// clang-format on

namespace skiff::kubelet::sync_test {

TEST_F(KubeletSyncTest, RuntimePodUnknownToTheApiIsCleanedUp) {
  // Left behind by an earlier kubelet: the pod was deleted from the API while it was away.
  auto ghost =
      json::parse(
          R"({"metadata": {"name": "ghost", "namespace": ")" + ns_ +
          R"(", "uid": "ghost-uid"}, "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]}})")
          .as_object();
  auto sandboxConfig = makeSandboxConfig(ghost, 0, tmpLogs());
  auto sandbox = runtime_.addSandbox(sandboxConfig);
  auto container = runtime_.addContainer(
      sandbox,
      makeContainerConfig(ghost, ghost["spec"].at("containers").at(0).as_object(), false, {}));
  ASSERT_TRUE(runtime_.sandboxOfPod("ghost-uid"));

  startKubelet();  // no podCIDR needed: cleanup does not wait for the network
  ASSERT_TRUE(waitUntil([&] { return !runtime_.sandboxOfPod("ghost-uid"); }))
      << "orphan sandbox not removed";
  EXPECT_TRUE(runtime_.containers().empty());
  auto stops = runtime_.stopCalls();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].containerId, container);
  EXPECT_GE(runtime_.calls("StopPodSandbox"), 1);
  EXPECT_EQ(runtime_.calls("RunPodSandbox"), 0);
}

TEST_F(KubeletSyncTest, NewPodWithTheNameOfAnOldRuntimePodReplacesIt) {
  auto old =
      json::parse(
          R"({"metadata": {"name": "reused", "namespace": ")" + ns_ +
          R"(", "uid": "old-uid"}, "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]}})")
          .as_object();
  auto oldSandbox = runtime_.addSandbox(makeSandboxConfig(old, 0, tmpLogs()));
  auto oldContainer = runtime_.addContainer(
      oldSandbox,
      makeContainerConfig(old, old["spec"].at("containers").at(0).as_object(), false, {}));
  startReadyKubelet();
  auto uid = at(createSimplePod("reused"), {"metadata", "uid"});
  auto p = waitForRunningReady("reused");
  EXPECT_FALSE(runtime_.sandboxOfPod("old-uid")) << "the old pod's sandbox survived";
  auto app = runtime_.latestContainer("app");
  ASSERT_TRUE(app);
  EXPECT_NE(app->id, oldContainer);
  EXPECT_EQ(app->label(labels::kPodUid), uid);
  EXPECT_EQ(runtime_.containersNamed("app").size(), 1u);
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "restartCount"}), "0");
}

TEST_F(KubeletSyncTest, RestartedKubeletAdoptsRunningContainersWithoutStartingThemAgain) {
  startReadyKubelet();
  createSimplePod("survivor");
  waitForRunningReady("survivor");
  auto id = runtime_.latestContainer("app")->id;
  kubelet_.reset();  // containers keep running

  // Forget what the first kubelet reported, so the second must report it afresh.
  client_->patch(client::resources::pods, ns_, "survivor", client::PatchType::Merge,
                 json::object{{"status", json::object{{"containerStatuses", json::array{}}}}},
                 "status");
  ASSERT_EQ(at(*pod("survivor"), {"status", "containerStatuses", "0", "containerID"}), "");

  startKubelet();
  auto p = waitForPod(
      "survivor",
      [](const json::object& p) {
        return !at(p, {"status", "containerStatuses", "0", "containerID"}).empty();
      },
      "container statuses from the new kubelet");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "containerID"}), "containerd://" + id);
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "restartCount"}), "0");
  EXPECT_FALSE(at(p, {"status", "containerStatuses", "0", "state", "running"}).empty());
  EXPECT_EQ(at(p, {"status", "phase"}), "Running");
  EXPECT_EQ(runtime_.starts("app"), 1);
  EXPECT_EQ(runtime_.calls("CreateContainer"), 1);
  EXPECT_EQ(runtime_.calls("RunPodSandbox"), 1);
  EXPECT_TRUE(runtime_.stopCalls().empty());
  EXPECT_EQ(runtime_.latestContainer("app")->state, cri::v1::CONTAINER_RUNNING);
}

TEST_F(KubeletSyncTest, SandboxThatDiedIsRecreatedAndItsContainersStartedAgain) {
  startReadyKubelet();
  auto uid = at(createSimplePod("phoenix"), {"metadata", "uid"});
  auto p = waitForRunningReady("phoenix");
  auto first = *runtime_.sandboxOfPod(uid);
  EXPECT_EQ(at(p, {"status", "podIP"}), first.ip);

  runtime_.stopPodSandbox(first.id);  // e.g. the pause process died
  p = waitForPod(
      "phoenix",
      [&](const json::object& p) {
        return !at(p, {"status", "podIP"}).empty() && at(p, {"status", "podIP"}) != first.ip &&
               conditionOf(p, "Ready") == "True";
      },
      "a new pod IP and Ready");
  auto second = *runtime_.sandboxOfPod(uid);
  EXPECT_NE(second.id, first.id);
  EXPECT_EQ(second.config.metadata().attempt(), 1u);
  EXPECT_EQ(at(p, {"status", "podIP"}), second.ip);
  EXPECT_EQ(runtime_.starts("app"), 2);
  EXPECT_EQ(runtime_.latestContainer("app")->sandboxId, second.id);
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "restartCount"}), "1");
  EXPECT_TRUE(waitForEvent("SandboxChanged", "phoenix")) << "no SandboxChanged event";
}

TEST_F(KubeletSyncTest, ImageChangeRestartsTheContainerWithTheNewImage) {
  images_.addImage("busybox:1.37");
  startReadyKubelet();
  createSimplePod("upgrade", "Always", R"(, "terminationGracePeriodSeconds": 4)");
  waitForRunningReady("upgrade");
  auto old = *runtime_.latestContainer("app");
  client_->patch(
      client::resources::pods, ns_, "upgrade", client::PatchType::Json,
      json::parse(
          R"([{"op": "replace", "path": "/spec/containers/0/image", "value": "busybox:1.37"}])"));
  ASSERT_TRUE(waitUntil([&] { return runtime_.starts("app") == 2; }))
      << "not restarted for the new image";
  auto stops = runtime_.stopCalls();
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].containerId, old.id);
  EXPECT_EQ(stops[0].timeoutSeconds, 4);
  auto fresh = *runtime_.latestContainer("app");
  EXPECT_EQ(fresh.config.image().user_specified_image(), "busybox:1.37");
  EXPECT_NE(fresh.annotation(labels::kContainerHash), old.annotation(labels::kContainerHash));
  auto p = waitForPod(
      "upgrade",
      [&](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "containerID"}) ==
                   "containerd://" + fresh.id &&
               conditionOf(p, "Ready") == "True";
      },
      "the new container running and ready");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "image"}), "busybox:1.37");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "restartCount"}), "1");
}

TEST_F(KubeletSyncTest, HostNetworkPodRunsBeforeThePodNetworkIsReady) {
  startKubelet();  // no podCIDR: the node is NotReady, but host-network pods need no CNI
  ASSERT_TRUE(waitUntil([&] { return node().has_value(); }));
  auto uid =
      at(createSimplePod("hostnet", "Always", R"(, "hostNetwork": true)"), {"metadata", "uid"});
  waitForRunningReady("hostnet");
  auto sandbox = runtime_.sandboxOfPod(uid);
  ASSERT_TRUE(sandbox);
  EXPECT_EQ(sandbox->config.linux().security_context().namespace_options().network(),
            cri::v1::NODE);
  EXPECT_EQ(runtime_.starts("app"), 1);
  EXPECT_FALSE(fs::exists(fs::path(options().cniConfDir) / "10-skiff.conflist"));
  EXPECT_EQ(conditionOf(*node(), "Ready"), "False");
}

TEST_F(KubeletSyncTest, PodNetworkPodWaitsForThePodCidr) {
  startKubelet();
  ASSERT_TRUE(waitUntil([&] { return node().has_value(); }));
  createSimplePod("patient");
  auto p = waitForPod(
      "patient",
      [](const json::object& p) { return !conditionOf(p, "PodReadyToStartContainers").empty(); },
      "a status from the kubelet");
  EXPECT_EQ(at(p, {"status", "phase"}), "Pending");
  EXPECT_EQ(conditionOf(p, "PodReadyToStartContainers"), "False");
  EXPECT_EQ(runtime_.calls("RunPodSandbox"), 0);
  giveNodePodCidr();
  waitForRunningReady("patient");
  EXPECT_EQ(runtime_.calls("RunPodSandbox"), 1);
}

TEST_F(KubeletSyncTest, ReadinessProbeGatesTheReadyCondition) {
  const std::vector<std::string> probe{"cat", "/tmp/ready"};
  runtime_.scriptExec(probe, {"", "cat: /tmp/ready: No such file", 1});
  startReadyKubelet();
  createPod("probed", R"([{"name": "app", "image": "busybox:1.36", "readinessProbe":
                           {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1}}])");
  auto p = waitForPod(
      "probed",
      [](const json::object& p) {
        return at(p, {"status", "phase"}) == "Running" && conditionOf(p, "Ready") == "False";
      },
      "Running but not Ready");
  ASSERT_TRUE(waitUntil([&] { return !runtime_.execCalls().empty(); })) << "the probe never ran";
  EXPECT_EQ(runtime_.execCalls()[0], probe);
  p = *pod("probed");
  EXPECT_EQ(conditionOf(p, "Ready"), "False");
  EXPECT_EQ(conditionOf(p, "Ready", "message"), "containers with unready status: [app]");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "ready"}), "false");

  runtime_.scriptExec(probe, {"ok", "", 0});
  p = waitForRunningReady("probed");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "ready"}), "true");
  EXPECT_EQ(runtime_.starts("app"), 1);
}

TEST_F(KubeletSyncTest, FailingLivenessProbeRestartsTheContainer) {
  const std::vector<std::string> probe{"/bin/healthy"};
  runtime_.scriptExec(probe, {"", "sick", 1});
  startReadyKubelet();
  createPod("live", R"([{"name": "app", "image": "busybox:1.36", "livenessProbe":
                         {"exec": {"command": ["/bin/healthy"]}, "initialDelaySeconds": 1,
                          "periodSeconds": 1, "failureThreshold": 1}}])",
            R"(, "terminationGracePeriodSeconds": 9)");
  waitForRunningReady("live");
  auto first = runtime_.latestContainer("app")->id;
  ASSERT_TRUE(waitUntil([&] { return runtime_.starts("app") == 2; })) << "container not restarted";
  runtime_.scriptExec(probe, {"", "", 0});  // the new instance is healthy
  auto stops = runtime_.stopCalls();
  ASSERT_GE(stops.size(), 1u);
  EXPECT_EQ(stops[0].containerId, first);
  EXPECT_EQ(stops[0].timeoutSeconds, 9);
  auto p = waitForPod(
      "live",
      [](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "restartCount"}) == "1" &&
               !at(p, {"status", "containerStatuses", "0", "state", "running"}).empty();
      },
      "restarted and running");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "lastState", "terminated", "exitCode"}),
            "143");
  auto unhealthy = waitForEvent("Unhealthy", "live");
  ASSERT_TRUE(unhealthy) << "no Unhealthy event";
  EXPECT_EQ(at(*unhealthy, {"involvedObject", "fieldPath"}), "spec.containers{app}");
  EXPECT_TRUE(waitForEvent("Killing", "live")) << "no Killing event";
}

TEST_F(KubeletSyncTest, CreateContainerFailureIsRetried) {
  runtime_.failNext("CreateContainer", 1000, cri::CriError::Unknown, "no space left on device");
  startReadyKubelet();
  createSimplePod("retried");
  auto p = waitForPod(
      "retried",
      [](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "state", "waiting", "reason"}) ==
               "CreateContainerError";
      },
      "CreateContainerError");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "state", "waiting", "message"}),
            "no space left on device");
  auto e = waitForEvent("Failed", "retried");
  ASSERT_TRUE(e) << "no Failed event";
  EXPECT_EQ(at(*e, {"message"}), "Error: no space left on device");
  settle();
  int failedCalls = runtime_.calls("CreateContainer");
  runtime_.clearFailures("CreateContainer");
  ASSERT_TRUE(waitUntil([&] { return runtime_.starts("app") == 1; }, 4s))
      << "not retried after the failure";
  EXPECT_EQ(runtime_.calls("CreateContainer"), failedCalls + 1);
  waitForRunningReady("retried");
}

TEST_F(KubeletSyncTest, CreateContainerFailureOfAnInitContainerIsRetried) {
  runtime_.failNext("CreateContainer", 1000, cri::CriError::Unknown, "no space left on device");
  startReadyKubelet();
  createPod("initretry", R"([{"name": "app", "image": "busybox:1.36"}])",
            R"(, "initContainers": [{"name": "init1", "image": "busybox:1.36"}])");
  waitForPod(
      "initretry",
      [](const json::object& p) {
        return at(p, {"status", "initContainerStatuses", "0", "state", "waiting", "reason"}) ==
               "CreateContainerError";
      },
      "CreateContainerError");
  settle();
  runtime_.clearFailures("CreateContainer");
  // Regular containers are retried 2 s after such a failure; give the init container a second more.
  EXPECT_TRUE(waitUntil([&] { return runtime_.starts("init1") == 1; }, 3s))
      << "the init container was not retried within 3 s of a CreateContainer failure";
  EXPECT_EQ(runtime_.starts("init1"), 1);
}

TEST_F(KubeletSyncTest, ImageEventsOfAnInitContainerNameItsInitContainerField) {
  startReadyKubelet();
  createPod("initpull", R"([{"name": "app", "image": "busybox:1.36"}])",
            R"(, "initContainers": [{"name": "init1", "image": "alpine:3.19"}])");
  auto pulled = waitForEvent("Pulled", "initpull");
  ASSERT_TRUE(pulled) << "no Pulled event";
  auto started = waitForEvent("Started", "initpull");
  ASSERT_TRUE(started);
  EXPECT_EQ(images_.pulls("alpine:3.19"), 1);
  auto fieldPath = at(*pulled, {"involvedObject", "fieldPath"});
  EXPECT_EQ(fieldPath, "spec.initContainers{init1}");
}

TEST_F(KubeletSyncTest, PullPolicyNeverWithAMissingImageWaitsWithErrImageNeverPull) {
  startReadyKubelet();
  createPod("nopull", R"([{"name": "app", "image": "missing:1.0", "imagePullPolicy": "Never"}])");
  auto p = waitForPod(
      "nopull",
      [](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "state", "waiting", "reason"}) ==
               "ErrImageNeverPull";
      },
      "ErrImageNeverPull");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "state", "waiting", "message"}),
            "Container image \"missing:1.0\" is not present with pull policy of Never");
  EXPECT_EQ(at(p, {"status", "phase"}), "Pending");
  EXPECT_EQ(conditionOf(p, "PodReadyToStartContainers"), "True");  // the sandbox is there
  EXPECT_EQ(images_.calls("PullImage"), 0);
  EXPECT_EQ(runtime_.calls("CreateContainer"), 0);
  EXPECT_TRUE(waitForEvent("ErrImageNeverPull", "nopull")) << "no ErrImageNeverPull event";
}

TEST_F(KubeletSyncTest, MissingImageIsPulledOnceThenUsed) {
  startReadyKubelet();
  createPod("puller", R"([{"name": "app", "image": "nginx:1.25"}])");
  waitForRunningReady("puller");
  EXPECT_EQ(images_.pulls("nginx:1.25"), 1);
  EXPECT_TRUE(images_.has("nginx:1.25"));
  EXPECT_TRUE(waitForEvent("Pulled", "puller")) << "no Pulled event";
}

TEST_F(KubeletSyncTest, FailedPullBacksOffWithImagePullBackOff) {
  images_.failPull("private:1.0", "pull access denied");
  startReadyKubelet();
  createPod("badpull", R"([{"name": "app", "image": "private:1.0"}])");
  auto p = waitForPod(
      "badpull",
      [](const json::object& p) {
        return at(p, {"status", "containerStatuses", "0", "state", "waiting", "reason"}) ==
               "ImagePullBackOff";
      },
      "ImagePullBackOff");
  EXPECT_EQ(at(p, {"status", "containerStatuses", "0", "state", "waiting", "message"}),
            "Back-off pulling image \"private:1.0\"");
  auto failed = waitForEvent("Failed", "badpull");
  ASSERT_TRUE(failed) << "no Failed event";
  EXPECT_NE(at(*failed, {"message"}).find("pull access denied"), std::string::npos)
      << at(*failed, {"message"});
  EXPECT_EQ(images_.pulls("private:1.0"), 1);  // the back-off holds the next pull
  EXPECT_EQ(runtime_.calls("CreateContainer"), 0);
}

TEST_F(KubeletSyncTest, RunPodSandboxFailureIsRetriedAndReported) {
  runtime_.failNext("RunPodSandbox", 1, cri::CriError::Unknown,
                    "failed to setup network for sandbox: boom");
  startReadyKubelet();
  auto uid = at(createSimplePod("flaky"), {"metadata", "uid"});
  auto p = waitForRunningReady("flaky");
  EXPECT_EQ(runtime_.calls("RunPodSandbox"), 2);
  EXPECT_EQ(at(p, {"status", "podIP"}), runtime_.sandboxOfPod(uid)->ip);
  auto e = waitForEvent("FailedCreatePodSandBox", "flaky");
  ASSERT_TRUE(e) << "no FailedCreatePodSandBox event";
  EXPECT_EQ(at(*e, {"type"}), "Warning");
  EXPECT_EQ(at(*e, {"message"}),
            "Failed to create pod sandbox: failed to setup network for sandbox: boom");
  EXPECT_EQ(at(*e, {"involvedObject", "uid"}), uid);
}

}  // namespace skiff::kubelet::sync_test
