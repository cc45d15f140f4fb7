#include <gtest/gtest.h>

#include "scheduler/plugins/inter_pod_affinity.h"
#include "scheduler/plugins/pod_topology_spread.h"
#include "test_util.h"

namespace skiff::scheduler {
namespace {
using namespace test;

Status filterOn(const PreFilterPlugin& plugin, const PodInfo& p, const Snapshot& snap,
                const std::string& node) {
  CycleState st;
  Status s = plugin.preFilter(st, p, snap);
  if (s.isSkip()) return Status::success();
  return dynamic_cast<const FilterPlugin&>(plugin).filter(st, p, *snap.get(node));
}

PodInfoPtr spreadPod(int maxSkew, const std::string& key, int minDomains = 1) {
  return pod(R"({"metadata":{"name":"new","labels":{"app":"web"}},"spec":{"containers":[],
    "topologySpreadConstraints":[{"maxSkew":)" +
             std::to_string(maxSkew) + R"(,"topologyKey":")" + key +
             R"(","whenUnsatisfiable":"DoNotSchedule","minDomains":)" + std::to_string(minDomains) +
             R"(,"labelSelector":{"matchLabels":{"app":"web"}}}]}})");
}

Snapshot zones() {
  // zone a: 2 web pods; zone b: 0.
  return Snapshot({withPods(nodeWith("a1", "4", "8Gi", R"("zone":"a")"),
                            {podWith("w1", "", "", 0, R"({"app":"web"})"),
                             podWith("w2", "", "", 0, R"({"app":"web"})")}),
                   share(nodeWith("b1", "4", "8Gi", R"("zone":"b")"))});
}

TEST(PodTopologySpreadTest, SkewAboveMaxSkewIsRejected) {
  auto snap = zones();
  Status s = filterOn(PodTopologySpread(), *spreadPod(1, "zone"), snap, "a1");
  EXPECT_EQ(s.code(), Status::Code::Unschedulable);
  EXPECT_EQ(s.message(), "node(s) didn't match pod topology spread constraints");
  EXPECT_TRUE(filterOn(PodTopologySpread(), *spreadPod(1, "zone"), snap, "b1").isSuccess());
}

TEST(PodTopologySpreadTest, LargerMaxSkewTolerates) {
  EXPECT_TRUE(filterOn(PodTopologySpread(), *spreadPod(3, "zone"), zones(), "a1").isSuccess());
}

TEST(PodTopologySpreadTest, NodeWithoutTopologyKeyIsUnresolvable) {
  Snapshot snap({share(nodeWith("x"))});
  Status s = filterOn(PodTopologySpread(), *spreadPod(1, "zone"), snap, "x");
  EXPECT_EQ(s.code(), Status::Code::UnschedulableAndUnresolvable);
}

TEST(PodTopologySpreadTest, MinDomainsTreatsMissingDomainsAsEmpty) {
  // Only zone a exists with 0 pods elsewhere unknown: minDomains 3 makes the global min 0.
  Snapshot snap({withPods(nodeWith("a1", "4", "8Gi", R"("zone":"a")"),
                          {podWith("w1", "", "", 0, R"({"app":"web"})")})});
  EXPECT_TRUE(filterOn(PodTopologySpread(), *spreadPod(2, "zone", 1), snap, "a1").isSuccess());
  EXPECT_FALSE(filterOn(PodTopologySpread(), *spreadPod(1, "zone", 3), snap, "a1").isSuccess());
}

PodInfoPtr antiPod(const std::string& name, const std::string& labels) {
  return pod(R"({"metadata":{"name":")" + name + R"(","labels":)" + labels +
             R"(},"spec":{"containers":[],"affinity":{"podAntiAffinity":{
    "requiredDuringSchedulingIgnoredDuringExecution":[{"topologyKey":"kubernetes.io/hostname",
    "labelSelector":{"matchLabels":{"app":"db"}}}]}}}})");
}

TEST(InterPodAffinityTest, AntiAffinityByHostnameKeepsReplicasApart) {
  Snapshot snap({withPods(nodeWith("n1"), {podWith("db0", "", "", 0, R"({"app":"db"})")}),
                 share(nodeWith("n2"))});
  auto p = antiPod("db1", R"({"app":"db"})");
  Status s = filterOn(InterPodAffinity(), *p, snap, "n1");
  EXPECT_EQ(s.message(), "node(s) didn't match pod anti-affinity rules");
  EXPECT_TRUE(filterOn(InterPodAffinity(), *p, snap, "n2").isSuccess());
}

TEST(InterPodAffinityTest, ExistingPodsAntiAffinityRepelsIncomingPod) {
  Snapshot snap({withPods(nodeWith("n1"), {antiPod("guard", "{}")}), share(nodeWith("n2"))});
  auto p = podWith("db", "", "", 0, R"({"app":"db"})");
  EXPECT_EQ(filterOn(InterPodAffinity(), *p, snap, "n1").message(),
            "node(s) didn't satisfy existing pods anti-affinity rules");
  EXPECT_TRUE(filterOn(InterPodAffinity(), *p, snap, "n2").isSuccess());
}

PodInfoPtr affinityPod(const std::string& labels) {
  return pod(R"({"metadata":{"name":"web","labels":)" + labels +
             R"(},"spec":{"containers":[],"affinity":{"podAffinity":{
    "requiredDuringSchedulingIgnoredDuringExecution":[{"topologyKey":"zone",
    "labelSelector":{"matchLabels":{"app":"cache"}}}]}}}})");
}

TEST(InterPodAffinityTest, RequiredAffinityNeedsMatchingPodInSameZone) {
  Snapshot snap({withPods(nodeWith("a1", "4", "8Gi", R"("zone":"a")"),
                          {podWith("c", "", "", 0, R"({"app":"cache"})")}),
                 share(nodeWith("a2", "4", "8Gi", R"("zone":"a")")),
                 share(nodeWith("b1", "4", "8Gi", R"("zone":"b")"))});
  auto p = affinityPod("{}");
  EXPECT_TRUE(filterOn(InterPodAffinity(), *p, snap, "a2").isSuccess());
  Status s = filterOn(InterPodAffinity(), *p, snap, "b1");
  EXPECT_EQ(s.code(), Status::Code::UnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "node(s) didn't match pod affinity rules");
}

TEST(InterPodAffinityTest, FirstPodOfSelfAffineGroupMayGoAnywhere) {
  Snapshot snap({share(nodeWith("b1", "4", "8Gi", R"("zone":"b")"))});
  EXPECT_TRUE(
      filterOn(InterPodAffinity(), *affinityPod(R"({"app":"cache"})"), snap, "b1").isSuccess());
  EXPECT_FALSE(filterOn(InterPodAffinity(), *affinityPod("{}"), snap, "b1").isSuccess());
}

}  // namespace
}  // namespace skiff::scheduler
