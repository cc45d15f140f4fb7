#include "scheduler/scheduler_cache.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace skiff::scheduler {
namespace {
using namespace test;
using namespace std::chrono_literals;

PodInfoPtr boundPod(const std::string& name, const std::string& node, const std::string& cpu) {
  auto p = std::make_shared<PodInfo>(*podWith(name, cpu, ""));
  p->nodeName = node;
  return p;
}

TEST(SchedulerCacheTest, AssumedPodCountsInNextSnapshot) {
  SchedulerCache cache;
  cache.addOrUpdateNode(nodeWith("n1"));
  auto before = cache.snapshot();
  EXPECT_TRUE(cache.assumePod(boundPod("p", "n1", "1")));
  auto after = cache.snapshot();
  EXPECT_EQ(before->get("n1")->requested.milliCpu, 0);  // old snapshots do not change
  EXPECT_EQ(after->get("n1")->requested.milliCpu, 1000);
  EXPECT_TRUE(cache.isAssumed("default/p"));
}

TEST(SchedulerCacheTest, SnapshotIsSharedUntilSomethingChanges) {
  SchedulerCache cache;
  cache.addOrUpdateNode(nodeWith("n1"));
  auto a = cache.snapshot();
  EXPECT_EQ(a, cache.snapshot());
  cache.addOrUpdateNode(nodeWith("n2"));
  EXPECT_NE(a, cache.snapshot());
  EXPECT_EQ(cache.snapshot()->nodes().size(), 2u);
}

// With no cycle to take a new snapshot (every pod scheduled, status updates still coming),
// the cache does not keep the old snapshot's copy of every changed node and its pods: past a
// quarter of the nodes it lets the snapshot go and the next one is rebuilt, right.
TEST(SchedulerCacheTest, IdleSnapshotDoesNotPinReplacedPods) {
  SchedulerCache cache;
  const int nodes = 200;
  for (int i = 0; i < nodes; ++i) cache.addOrUpdateNode(nodeWith("n" + std::to_string(i)));
  std::vector<std::weak_ptr<const PodInfo>> first;
  for (int i = 0; i < nodes; ++i) {
    auto p = boundPod("p" + std::to_string(i), "n" + std::to_string(i), "1");
    first.push_back(p);
    cache.addPod(p);
  }
  cache.snapshot();  // the last cycle's snapshot holds every node with its first pod
  for (int i = 0; i < nodes; ++i)
    cache.updatePod(boundPod("p" + std::to_string(i), "n" + std::to_string(i), "2"));
  int pinned = 0;
  for (const auto& w : first) pinned += !w.expired();
  EXPECT_LE(pinned, nodes / 4 + 1);
  auto next = cache.snapshot();
  ASSERT_EQ(next->nodes().size(), static_cast<size_t>(nodes));
  for (int i = 0; i < nodes; ++i)
    EXPECT_EQ(next->get("n" + std::to_string(i))->requested.milliCpu, 2000) << i;
}

// The InterPodAffinity pre-passes walk only the nodes the snapshot lists; the incremental
// update must keep those lists right when a node gains or loses its only affinity pod.
TEST(SchedulerCacheTest, IncrementalSnapshotTracksNodesWithAffinityPods) {
  SchedulerCache cache;
  for (const char* n : {"n1", "n2", "n3"}) cache.addOrUpdateNode(nodeWith(n));
  auto names = [](const Snapshot& s, const std::vector<size_t>& idx) {
    std::vector<std::string> out;
    for (size_t i : idx) out.push_back(s.nodes()[i]->name);
    return out;
  };
  EXPECT_TRUE(cache.snapshot()->nodesWithPodAffinity().empty());
  auto anti = std::make_shared<PodInfo>(
      *pod(R"({"metadata":{"name":"a","namespace":"default","labels":{"app":"x"}},
    "spec":{"containers":[],"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[
    {"topologyKey":"kubernetes.io/hostname","labelSelector":{"matchLabels":{"app":"x"}}}]}}}})"));
  anti->nodeName = "n2";
  cache.addPod(anti);
  cache.addPod(boundPod("plain", "n3", "1"));
  auto s = cache.snapshot();
  EXPECT_EQ(names(*s, s->nodesWithPodAffinity()), std::vector<std::string>{"n2"});
  EXPECT_EQ(names(*s, s->nodesWithRequiredAntiAffinity()), std::vector<std::string>{"n2"});
  cache.removePod("default/a");
  s = cache.snapshot();
  EXPECT_TRUE(s->nodesWithPodAffinity().empty());
  EXPECT_TRUE(s->nodesWithRequiredAntiAffinity().empty());
}

TEST(SchedulerCacheTest, ForgetUndoesAssumption) {
  SchedulerCache cache;
  cache.addOrUpdateNode(nodeWith("n1"));
  cache.assumePod(boundPod("p", "n1", "1"));
  cache.forgetPod("default/p");
  EXPECT_EQ(cache.snapshot()->get("n1")->pods.size(), 0u);
  EXPECT_EQ(cache.podCount(), 0u);
}

TEST(SchedulerCacheTest, WatchConfirmsAssumedPod) {
  SchedulerCache cache;
  cache.addOrUpdateNode(nodeWith("n1"));
  cache.assumePod(boundPod("p", "n1", "1"));
  cache.finishBinding("default/p");
  cache.addPod(boundPod("p", "n1", "1"));
  EXPECT_FALSE(cache.isAssumed("default/p"));
  EXPECT_EQ(cache.snapshot()->get("n1")->requested.milliCpu, 1000);  // counted once
}

// The confirmation carries the truth: what the watch reports replaces what was assumed, on
// the same node (changed requests) or on another one (bound elsewhere).
TEST(SchedulerCacheTest, ConfirmationReplacesTheAssumedPod) {
  SchedulerCache cache;
  cache.addOrUpdateNode(nodeWith("n1"));
  cache.addOrUpdateNode(nodeWith("n2"));
  cache.assumePod(boundPod("p", "n1", "1"));
  cache.assumePod(boundPod("q", "n1", "1"));
  auto before = cache.snapshot();
  cache.addPod(boundPod("p", "n1", "2"));
  cache.addPod(boundPod("q", "n2", "1"));
  auto s = cache.snapshot();
  EXPECT_EQ(s->get("n1")->requested.milliCpu, 2000);  // p's truth, q gone
  EXPECT_EQ(s->get("n1")->pods.size(), 1u);
  EXPECT_EQ(s->get("n2")->requested.milliCpu, 1000);
  EXPECT_EQ(before->get("n1")->requested.milliCpu, 2000);  // the old snapshot is untouched
  EXPECT_FALSE(cache.isAssumed("default/p"));
  EXPECT_FALSE(cache.isAssumed("default/q"));
}

TEST(SchedulerCacheTest, AssumedPodExpiresAfterTtlOnlyOnceBindingFinished) {
  TimePoint now{};
  SchedulerCache cache(30s, [&] { return now; });
  cache.addOrUpdateNode(nodeWith("n1"));
  cache.assumePod(boundPod("p", "n1", "1"));
  now += 1h;
  cache.cleanupExpiredAssumedPods();
  EXPECT_TRUE(cache.isAssumed("default/p"));  // binding still in flight
  cache.finishBinding("default/p");
  now += 29s;
  cache.cleanupExpiredAssumedPods();
  EXPECT_TRUE(cache.isAssumed("default/p"));
  now += 2s;
  cache.cleanupExpiredAssumedPods();
  EXPECT_FALSE(cache.isAssumed("default/p"));
  EXPECT_EQ(cache.snapshot()->get("n1")->pods.size(), 0u);
}

TEST(SchedulerCacheTest, NodeUpdateKeepsPodsAndPodBeforeNodeIsHidden) {
  SchedulerCache cache;
  cache.addPod(boundPod("p", "n1", "1"));
  EXPECT_EQ(cache.snapshot()->nodes().size(), 0u);  // no Node object yet
  cache.addOrUpdateNode(nodeWith("n1"));
  cache.addOrUpdateNode(nodeWith("n1", "8"));
  auto n = cache.snapshot()->get("n1");
  EXPECT_EQ(n->allocatable.milliCpu, 8000);
  EXPECT_EQ(n->requested.milliCpu, 1000);
  cache.removePod("default/p");
  EXPECT_EQ(cache.snapshot()->get("n1")->pods.size(), 0u);
}

}  // namespace
}  // namespace skiff::scheduler
