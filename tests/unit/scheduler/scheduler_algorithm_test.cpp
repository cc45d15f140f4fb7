#include "scheduler/scheduler_algorithm.h"

#include <gtest/gtest.h>

#include <set>

#include "test_util.h"

namespace skiff::scheduler {
namespace {
using namespace test;

TEST(NumFeasibleNodesToFindTest, SmallClustersEvaluateEveryNode) {
  EXPECT_EQ(numFeasibleNodesToFind(0, 50), 50);
  EXPECT_EQ(numFeasibleNodesToFind(10, 99), 99);
}

TEST(NumFeasibleNodesToFindTest, AdaptivePercentageShrinksWithClusterSize) {
  EXPECT_EQ(numFeasibleNodesToFind(0, 1000), 420);  // 50 - 8 = 42%
  EXPECT_EQ(numFeasibleNodesToFind(0, 5000), 500);  // 50 - 40 = 10%
  EXPECT_EQ(numFeasibleNodesToFind(0, 6000), 300);  // floor of 5%
  EXPECT_EQ(numFeasibleNodesToFind(0, 200), 100);   // 48% = 96, raised to the floor of 100
}

TEST(NumFeasibleNodesToFindTest, ConfiguredPercentageWithFloorOf100) {
  EXPECT_EQ(numFeasibleNodesToFind(10, 500), 100);
  EXPECT_EQ(numFeasibleNodesToFind(30, 1000), 300);
  EXPECT_EQ(numFeasibleNodesToFind(100, 1000), 1000);
}

TEST(FitErrorMessageTest, CountsReasonsAndSortsAsStrings) {
  NodeToStatus st;
  st["a"] = Status::unschedulable("Insufficient cpu");
  st["b"] = Status::unschedulable("Insufficient cpu");
  st["c"] = Status::unschedulable("Insufficient cpu");
  st["d"] =
      Status::unresolvable("node(s) had untolerated taint {node.kubernetes.io/unreachable: }");
  st["e"] =
      Status::unresolvable("node(s) had untolerated taint {node.kubernetes.io/unreachable: }");
  EXPECT_EQ(fitErrorMessage(5, st),
            "0/5 nodes are available: 2 node(s) had untolerated taint "
            "{node.kubernetes.io/unreachable: }, "
            "3 Insufficient cpu.");
}

TEST(FitErrorMessageTest, NodeWithSeveralReasonsCountsEach) {
  NodeToStatus st;
  st["a"] = Status(Status::Code::Unschedulable, {"Insufficient cpu", "Insufficient memory"});
  st["b"] = Status::unschedulable("Insufficient memory");
  EXPECT_EQ(fitErrorMessage(2, st),
            "0/2 nodes are available: 1 Insufficient cpu, 2 Insufficient memory.");
}

TEST(FitErrorMessageTest, PreFilterAndPostFilterMessages) {
  EXPECT_EQ(fitErrorMessage(3, {}, "boom"), "0/3 nodes are available: boom.");
  NodeToStatus st;
  st["a"] = Status::unschedulable("Insufficient cpu");
  EXPECT_EQ(fitErrorMessage(1, st, "", "preemption: x."),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: x.");
}

TEST(SchedulePodTest, PicksNodeWithMostFreeResources) {
  auto busy = withPods(nodeWith("busy"), {podWith("x", "3", "6Gi")});
  auto idle = share(nodeWith("idle"));
  SchedulingAlgorithm alg(defaultProfile(), {}, 1);
  auto r = alg.schedulePod(*podWith("p", "500m", "512Mi"), Snapshot({busy, idle}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.suggestedHost, "idle");
  EXPECT_EQ(r.feasibleNodes, 2);
}

TEST(SchedulePodTest, FailureBuildsFailedSchedulingMessage) {
  std::vector<NodeInfoPtr> nodes;
  for (int i = 0; i < 3; ++i) nodes.push_back(share(nodeWith("small" + std::to_string(i), "1")));
  for (int i = 0; i < 2; ++i) {
    nodes.push_back(
        share(nodeWith("tainted" + std::to_string(i), "8", "8Gi", "",
                       R"("taints":[{"key":"dedicated","value":"db","effect":"NoSchedule"}])")));
  }
  SchedulingAlgorithm alg(defaultProfile(), {}, 1);
  auto r = alg.schedulePod(*podWith("p", "2", ""), Snapshot(nodes));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.message,
            "0/5 nodes are available: 2 node(s) had untolerated taint {dedicated: db}, 3 "
            "Insufficient cpu. "
            "preemption: 0/5 nodes are available: 2 Preemption is not helpful for scheduling, "
            "3 No preemption victims found for incoming pod.");
}

TEST(SchedulePodTest, NoNodesAtAll) {
  SchedulingAlgorithm alg(defaultProfile());
  auto r = alg.schedulePod(*podWith("p", "", ""), Snapshot());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.message, "no nodes available to schedule pods");
}

TEST(SchedulePodTest, LargeClusterStopsAfterEnoughFeasibleNodesAndRotatesStart) {
  std::vector<NodeInfoPtr> nodes;
  for (int i = 0; i < 1000; ++i) nodes.push_back(share(nodeWith("n" + std::to_string(i))));
  Snapshot snap(nodes);
  SchedulingAlgorithm alg(defaultProfile(), {.percentageOfNodesToScore = 10, .parallelism = 4}, 1);
  auto r1 = alg.schedulePod(*podWith("p", "100m", ""), snap);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1.feasibleNodes, 100);
  EXPECT_EQ(r1.evaluatedNodes, 100);
  // The next cycle starts where this one stopped, so it sees other nodes.
  auto r2 = alg.schedulePod(*podWith("q", "100m", ""), snap);
  int i1 = std::stoi(r1.suggestedHost.substr(1)), i2 = std::stoi(r2.suggestedHost.substr(1));
  EXPECT_LT(i1, 100);
  EXPECT_GE(i2, 100);
  EXPECT_LT(i2, 200);
}

TEST(SchedulePodTest, TiesAreBrokenRandomly) {
  std::vector<NodeInfoPtr> nodes;
  for (int i = 0; i < 4; ++i) nodes.push_back(share(nodeWith("n" + std::to_string(i))));
  Snapshot snap(nodes);
  SchedulingAlgorithm alg(defaultProfile(), {}, 42);
  std::set<std::string> chosen;
  for (int i = 0; i < 40; ++i)
    chosen.insert(alg.schedulePod(*podWith("p", "100m", ""), snap).suggestedHost);
  EXPECT_GT(chosen.size(), 1u);
}

}  // namespace
}  // namespace skiff::scheduler
