#include <gtest/gtest.h>

#include "test_util.h"

namespace skiff::scheduler {
namespace {
using namespace test;

TEST(PodInfoTest, RequestsSumContainers) {
  auto p = pod(R"({"metadata":{"name":"p"},"spec":{"containers":[
    {"name":"a","resources":{"requests":{"cpu":"100m","memory":"1Gi"}}},
    {"name":"b","resources":{"requests":{"cpu":"250m","ephemeral-storage":"1G"}}}]}})");
  EXPECT_EQ(p->requests.milliCpu, 350);
  EXPECT_EQ(p->requests.memory, 1LL << 30);
  EXPECT_EQ(p->requests.ephemeralStorage, 1000000000);
  EXPECT_EQ(p->ns, "default");
}

TEST(PodInfoTest, InitContainerBiggerThanSumWins) {
  auto p = pod(R"({"metadata":{"name":"p"},"spec":{
    "initContainers":[{"name":"i","resources":{"requests":{"cpu":"2","memory":"10Mi"}}}],
    "containers":[{"name":"a","resources":{"requests":{"cpu":"500m","memory":"1Gi"}}}]}})");
  EXPECT_EQ(p->requests.milliCpu, 2000);     // init container max beats the sum
  EXPECT_EQ(p->requests.memory, 1LL << 30);  // per resource
}

TEST(PodInfoTest, OverheadIsAddedOnTop) {
  auto p = pod(R"({"metadata":{"name":"p"},"spec":{"overhead":{"cpu":"250m"},
    "initContainers":[{"name":"i","resources":{"requests":{"cpu":"1"}}}],
    "containers":[{"name":"a","resources":{"requests":{"cpu":"500m"}}}]}})");
  EXPECT_EQ(p->requests.milliCpu, 1250);
}

TEST(PodInfoTest, SidecarInitContainersAddToContainers) {
  auto p = pod(R"({"metadata":{"name":"p"},"spec":{
    "initContainers":[{"name":"s","restartPolicy":"Always","resources":{"requests":{"cpu":"200m"}}},
                      {"name":"i","resources":{"requests":{"cpu":"1"}}}],
    "containers":[{"name":"a","resources":{"requests":{"cpu":"500m"}}}]}})");
  EXPECT_EQ(p->requests.milliCpu, 1200);  // the later init container runs beside the sidecar
}

TEST(PodInfoTest, NonZeroRequestsUseSchedulingDefaults) {
  auto p = pod(R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"},
    {"name":"b","resources":{"requests":{"cpu":"1"}}}]}})");
  EXPECT_EQ(p->requests.milliCpu, 1000);
  EXPECT_EQ(p->nonZeroMilliCpu, 1100);
  EXPECT_EQ(p->nonZeroMemory, 2 * kDefaultMemoryRequest);
}

TEST(PodInfoTest, ReadsHostPortsImagesPriorityAndTolerations) {
  auto p = pod(
      R"({"metadata":{"name":"p","namespace":"ns"},"spec":{"priority":7,"preemptionPolicy":"Never",
    "tolerations":[{"key":"k","operator":"Exists","effect":"NoSchedule","tolerationSeconds":5}],
    "containers":[{"name":"a","image":"nginx","ports":[{"containerPort":80,"hostPort":8080},{"containerPort":81}]}]}})");
  EXPECT_EQ(p->priority, 7);
  EXPECT_TRUE(p->preemptionNever);
  ASSERT_EQ(p->hostPorts.size(), 1u);
  EXPECT_EQ(p->hostPorts[0].port, 8080);
  EXPECT_EQ(p->hostPorts[0].protocol, "TCP");
  ASSERT_EQ(p->images.size(), 1u);
  EXPECT_EQ(p->images[0], "nginx:latest");
  ASSERT_EQ(p->tolerations.size(), 1u);
  EXPECT_TRUE(p->tolerations[0].exists);
}

TEST(NodeInfoTest, AddAndRemovePodKeepTotals) {
  NodeInfo n = nodeWith("n1");
  EXPECT_EQ(n.allocatable.milliCpu, 4000);
  EXPECT_EQ(n.allowedPods, 110);
  n.addPod(podWith("a", "1", "1Gi"));
  n.addPod(podWith("b", "", ""));
  EXPECT_EQ(n.requested.milliCpu, 1000);
  EXPECT_EQ(n.nonZeroMilliCpu, 1100);
  EXPECT_TRUE(n.removePod("default/a"));
  EXPECT_FALSE(n.removePod("default/a"));
  EXPECT_EQ(n.requested.milliCpu, 0);
  EXPECT_EQ(n.pods.size(), 1u);
}

TEST(TolerationTest, ExistsWithEmptyKeyToleratesEverything) {
  Toleration t{.key = "", .exists = true, .value = "", .effect = std::nullopt};
  EXPECT_TRUE(t.tolerates({"a", "b", TaintEffect::NoExecute}));
}

TEST(TolerationTest, EqualNeedsSameValueAndEffect) {
  Toleration t{.key = "k", .exists = false, .value = "v", .effect = TaintEffect::NoSchedule};
  EXPECT_TRUE(t.tolerates({"k", "v", TaintEffect::NoSchedule}));
  EXPECT_FALSE(t.tolerates({"k", "w", TaintEffect::NoSchedule}));
  EXPECT_FALSE(t.tolerates({"k", "v", TaintEffect::NoExecute}));
  EXPECT_FALSE(t.tolerates({"other", "v", TaintEffect::NoSchedule}));
}

TEST(ImageNameTest, AddsLatestOnlyWithoutTagOrDigest) {
  EXPECT_EQ(normalizeImageName("nginx"), "nginx:latest");
  EXPECT_EQ(normalizeImageName("nginx:1.2"), "nginx:1.2");
  EXPECT_EQ(normalizeImageName("localhost:5000/app"), "localhost:5000/app:latest");
  EXPECT_EQ(normalizeImageName("app@sha256:abc"), "app@sha256:abc");
}

// The scheduler skips rebuilding a bound pod's PodInfo when sameInfo holds, so it must see
// every change fromJson would read, and only those.
TEST(PodInfoTest, SameInfoIgnoresPhaseButSeesWhatFromJsonReads) {
  auto obj = [](const std::string& text) { return boost::json::parse(text).as_object(); };
  const std::string base = R"({"metadata":{"name":"p","namespace":"d","uid":"u","labels":{"a":"b"}},
    "spec":{"nodeName":"n","containers":[{"name":"c","resources":{"requests":{"cpu":"1"}}}]},
    "status":{"phase":"Pending")";
  auto pending = obj(base + "}}");
  auto running =
      obj(base + R"(,"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}})");
  EXPECT_TRUE(PodInfo::sameInfo(pending, running));
  auto started = obj(base + R"(,"startTime":"2026-12-03T10:00:00Z"}})");
  EXPECT_FALSE(PodInfo::sameInfo(pending, started));
  auto relabelled = pending;
  relabelled["metadata"].as_object()["labels"].as_object()["a"] = "c";
  EXPECT_FALSE(PodInfo::sameInfo(pending, relabelled));
  auto deleting = pending;
  deleting["metadata"].as_object()["deletionTimestamp"] = "2026-12-03T10:00:00Z";
  EXPECT_FALSE(PodInfo::sameInfo(pending, deleting));
  auto resized = pending;
  resized["spec"].as_object()["containers"].as_array()[0].as_object()["resources"] =
      boost::json::object{{"requests", {{"cpu", "2"}}}};
  EXPECT_FALSE(PodInfo::sameInfo(pending, resized));
}

}  // namespace
}  // namespace skiff::scheduler
