#include "scheduler/scheduling_queue.h"

#include <gtest/gtest.h>

#include <thread>

#include "test_util.h"

namespace skiff::scheduler {
namespace {
using namespace test;
using namespace std::chrono_literals;

struct FakeClock {
  TimePoint now = TimePoint{} + 1000h;
  SchedulingQueue::Clock fn() {
    return [this] { return now; };
  }
};

TEST(SchedulingQueueTest, PopsHigherPriorityFirstThenOlder) {
  FakeClock clock;
  SchedulingQueue q(clock.fn());
  q.add(podWith("low", "", "", 1));
  clock.now += 1s;
  q.add(podWith("high", "", "", 10));
  clock.now += 1s;
  q.add(podWith("low2", "", "", 1));
  EXPECT_EQ(q.pop()->pod->name, "high");
  EXPECT_EQ(q.pop()->pod->name, "low");
  EXPECT_EQ(q.pop()->pod->name, "low2");
}

TEST(SchedulingQueueTest, BackoffDoublesFromOneToTenSeconds) {
  SchedulingQueue q;
  QueuedPodInfo info{podWith("p", "", ""), {}, {}, 1, {}};
  EXPECT_EQ(q.backoffDuration(info), 1s);
  info.attempts = 2;
  EXPECT_EQ(q.backoffDuration(info), 2s);
  info.attempts = 4;
  EXPECT_EQ(q.backoffDuration(info), 8s);
  info.attempts = 9;
  EXPECT_EQ(q.backoffDuration(info), 10s);
}

TEST(SchedulingQueueTest, FailedPodIsParkedUntilAHelpfulEvent) {
  FakeClock clock;
  SchedulingQueue q(clock.fn());
  q.add(podWith("p", "", ""));
  auto info = *q.pop();
  info.unschedulablePlugins = {"NodeResourcesFit"};
  q.addUnschedulableIfNotPresent(info, q.schedulingCycle());
  EXPECT_EQ(q.unschedulableSize(), 1u);
  clock.now += 30s;                                          // long past its backoff
  q.moveAllToActiveOrBackoff(ClusterEvent::AssignedPodAdd);  // cannot free cpu
  EXPECT_EQ(q.unschedulableSize(), 1u);
  q.moveAllToActiveOrBackoff(ClusterEvent::PodDelete);
  EXPECT_EQ(q.activeSize(), 1u);
  EXPECT_EQ(q.pop()->attempts, 2);
}

TEST(SchedulingQueueTest, EventGoesToBackoffWhileStillBackingOff) {
  FakeClock clock;
  SchedulingQueue q(clock.fn());
  q.add(podWith("p", "", ""));
  auto info = *q.pop();
  q.addUnschedulableIfNotPresent(info, q.schedulingCycle());
  q.moveAllToActiveOrBackoff(ClusterEvent::NodeAdd);
  EXPECT_EQ(q.backoffSize(), 1u);
  clock.now += 500ms;
  q.flushBackoffCompleted();
  EXPECT_EQ(q.backoffSize(), 1u);
  clock.now += 600ms;
  q.flushBackoffCompleted();
  EXPECT_EQ(q.activeSize(), 1u);
}

TEST(SchedulingQueueTest, EventDuringSchedulingSendsFailureToBackoff) {
  FakeClock clock;
  SchedulingQueue q(clock.fn());
  q.add(podWith("p", "", ""));
  auto info = *q.pop();
  int64_t cycle = q.schedulingCycle();
  q.moveAllToActiveOrBackoff(ClusterEvent::NodeAdd);  // a node appeared mid-cycle
  q.addUnschedulableIfNotPresent(info, cycle);
  EXPECT_EQ(q.backoffSize(), 1u);
  EXPECT_EQ(q.unschedulableSize(), 0u);
}

TEST(SchedulingQueueTest, UnschedulableLeftoversFlushAfterFiveMinutes) {
  FakeClock clock;
  SchedulingQueue q(clock.fn());
  q.add(podWith("p", "", ""));
  q.addUnschedulableIfNotPresent(*q.pop(), q.schedulingCycle());
  clock.now += 4min;
  q.flushUnschedulableLeftover();
  EXPECT_EQ(q.unschedulableSize(), 1u);
  clock.now += 2min;
  q.flushUnschedulableLeftover();
  EXPECT_EQ(q.activeSize(), 1u);
}

TEST(SchedulingQueueTest, PopBlocksUntilAddAndCloseUnblocks) {
  SchedulingQueue q;
  std::optional<QueuedPodInfo> got;
  std::thread t([&] { got = q.pop(); });
  std::this_thread::sleep_for(20ms);
  q.add(podWith("p", "", ""));
  t.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->pod->name, "p");
  std::thread t2([&] { got = q.pop(); });
  q.close();
  t2.join();
  EXPECT_FALSE(got);
}

TEST(SchedulingQueueTest, RemoveDropsPodEverywhere) {
  SchedulingQueue q;
  q.add(podWith("p", "", ""));
  q.remove("default/p");
  EXPECT_EQ(q.activeSize(), 0u);
}

}  // namespace
}  // namespace skiff::scheduler
