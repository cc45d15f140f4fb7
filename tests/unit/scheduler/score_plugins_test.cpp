#include <gtest/gtest.h>

#include "scheduler/plugins/balanced_allocation.h"
#include "scheduler/plugins/default_preemption.h"
#include "scheduler/plugins/image_locality.h"
#include "scheduler/plugins/least_allocated.h"
#include "scheduler/plugins/node_affinity.h"
#include "scheduler/plugins/taint_toleration.h"
#include "scheduler/scheduler_algorithm.h"
#include "test_util.h"

namespace skiff::scheduler {
namespace {
using namespace test;

std::vector<int64_t> scoreAll(const ScorePlugin& plugin, const PodInfo& p, const Snapshot& snap) {
  CycleState st;
  plugin.preScore(st, p, snap, snap.nodes());
  std::vector<NodeScore> scores;
  for (const auto& n : snap.nodes()) scores.push_back({n->name, plugin.score(st, p, *n)});
  plugin.normalizeScore(st, p, scores);
  std::vector<int64_t> out;
  for (const auto& s : scores) out.push_back(s.score);
  return out;
}

TEST(LeastAllocatedTest, ScoresFreeShareOfCpuAndMemory) {
  EXPECT_EQ(leastRequestedScore(1000, 4000), 75);
  EXPECT_EQ(leastRequestedScore(5000, 4000), 0);
  NodeInfo n = nodeWith("n", "4", "8Gi");
  // cpu (4000-1000)/4000 = 75, memory (8-2)/8 = 75
  EXPECT_EQ(leastAllocatedScore(*podWith("p", "1", "2Gi"), n), 75);
}

TEST(BalancedAllocationTest, EqualFractionsScoreFull) {
  BalancedAllocation b;
  Snapshot snap({share(nodeWith("n", "4", "8Gi"))});
  EXPECT_EQ(scoreAll(b, *podWith("p", "2", "4Gi"), snap)[0], 100);
  // cpu 0.5, memory 0.125: stddev 0.1875 -> 81
  EXPECT_EQ(scoreAll(b, *podWith("p", "2", "1Gi"), snap)[0], 81);
}

TEST(NodeAffinityScoreTest, PreferredWeightsNormalizeToMax) {
  auto p = pod(R"({"metadata":{"name":"p"},"spec":{"containers":[],"affinity":{"nodeAffinity":{
    "preferredDuringSchedulingIgnoredDuringExecution":[
      {"weight":80,"preference":{"matchExpressions":[{"key":"disk","operator":"In","values":["ssd"]}]}},
      {"weight":20,"preference":{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}}]}}}})");
  Snapshot snap({share(nodeWith("both", "4", "8Gi", R"("disk":"ssd","zone":"a")")),
                 share(nodeWith("ssd", "4", "8Gi", R"("disk":"ssd")")), share(nodeWith("none"))});
  EXPECT_EQ(scoreAll(NodeAffinity(), *p, snap), (std::vector<int64_t>{100, 80, 0}));
}

TEST(TaintTolerationScoreTest, FewerPreferNoScheduleTaintsScoreHigher) {
  auto taints = [](int n) {
    std::string t = R"("taints":[)";
    for (int i = 0; i < n; ++i)
      t += std::string(i ? "," : "") + R"({"key":"k)" + std::to_string(i) +
           R"(","effect":"PreferNoSchedule"})";
    return t + "]";
  };
  Snapshot snap({share(nodeWith("zero")), share(nodeWith("one", "4", "8Gi", "", taints(1))),
                 share(nodeWith("two", "4", "8Gi", "", taints(2)))});
  EXPECT_EQ(scoreAll(TaintToleration(), *podWith("p", "", ""), snap),
            (std::vector<int64_t>{100, 50, 0}));
}

TEST(ImageLocalityTest, NodeWithLargeImagePreferred) {
  auto withImage =
      node(R"({"metadata":{"name":"img"},"status":{"allocatable":{"cpu":"1","pods":"10"},
    "images":[{"names":["docker.io/library/busybox:latest","busybox:latest"],"sizeBytes":524288000}]}})");
  Snapshot snap({share(withImage), share(nodeWith("plain"))});
  auto scores = scoreAll(ImageLocality(), *podWith("p", "", ""), snap);
  // 500Mi * (1 of 2 nodes) = 250Mi, scaled between 23Mi and 1000Mi.
  EXPECT_EQ(scores[0], 100 * (250 - 23) / (1000 - 23));
  EXPECT_EQ(scores[1], 0);
}

TEST(PreemptionTest, EvictsLowestPriorityVictimsThatMakeRoom) {
  auto n1 =
      withPods(nodeWith("n1", "2"), {podWith("mid", "1", "", 50), podWith("low", "1", "", 10)});
  auto n2 = withPods(nodeWith("n2", "2"), {podWith("high", "2", "", 90)});
  SchedulingAlgorithm alg(defaultProfile(), {}, 1);
  auto r = alg.schedulePod(*podWith("p", "1", "", 100), Snapshot({n1, n2}));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.preemption.nominatedNode, "n1");
  ASSERT_EQ(r.preemption.victims.size(), 1u);
  EXPECT_EQ(r.preemption.victims[0]->name, "low");
}

TEST(PreemptionTest, NeverPreemptsEqualOrHigherPriority) {
  auto n1 = withPods(nodeWith("n1", "1"), {podWith("same", "1", "", 100)});
  SchedulingAlgorithm alg(defaultProfile(), {}, 1);
  auto r = alg.schedulePod(*podWith("p", "1", "", 100), Snapshot({n1}));
  EXPECT_TRUE(r.preemption.nominatedNode.empty());
  EXPECT_EQ(r.message,
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
            "1 No preemption victims found for incoming pod.");
}

TEST(PreemptionTest, PreemptionPolicyNeverIsNotEligible) {
  auto n1 = withPods(nodeWith("n1", "1"), {podWith("low", "1", "", 1)});
  auto p = pod(R"({"metadata":{"name":"p"},"spec":{"priority":100,"preemptionPolicy":"Never",
    "containers":[{"name":"a","resources":{"requests":{"cpu":"1"}}}]}})");
  SchedulingAlgorithm alg(defaultProfile(), {}, 1);
  auto r = alg.schedulePod(*p, Snapshot({n1}));
  EXPECT_TRUE(r.preemption.nominatedNode.empty());
  EXPECT_NE(r.message.find("preemptionPolicy=Never"), std::string::npos);
}

TEST(PreemptionTest, PrefersNodeWhoseHighestVictimIsLowest) {
  auto a = withPods(nodeWith("a", "1"), {podWith("v50", "1", "", 50)});
  auto b = withPods(nodeWith("b", "1"), {podWith("v10", "1", "", 10)});
  SchedulingAlgorithm alg(defaultProfile(), {}, 1);
  auto r = alg.schedulePod(*podWith("p", "1", "", 100), Snapshot({a, b}));
  EXPECT_EQ(r.preemption.nominatedNode, "b");
}

}  // namespace
}  // namespace skiff::scheduler
