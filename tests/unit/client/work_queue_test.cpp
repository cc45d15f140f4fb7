// WorkQueue semantics: de-duplication, exclusive processing, backoff, delays, shutdown.
#include "client/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace skiff::client {
namespace {

using namespace std::chrono_literals;

TEST(WorkQueue, DeduplicatesKeysWhileQueued) {
  WorkQueue q;
  q.add("a");
  q.add("b");
  q.add("a");
  EXPECT_EQ(q.len(), 2u);
  EXPECT_EQ(q.get(), "a");
  EXPECT_EQ(q.get(), "b");
}

TEST(WorkQueue, KeyAddedWhileProcessingIsRequeuedOnlyAfterDone) {
  WorkQueue q;
  q.add("a");
  auto key = q.get();
  ASSERT_EQ(key, "a");
  q.add("a");
  EXPECT_EQ(q.len(), 0u);  // not handed to a second worker meanwhile
  q.done("a");
  EXPECT_EQ(q.len(), 1u);
  EXPECT_EQ(q.get(), "a");
}

TEST(WorkQueue, NeverProcessesTheSameKeyConcurrently) {
  WorkQueue q;
  std::atomic<int> inFlight{0}, maxInFlight{0}, processed{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i)
    workers.emplace_back([&] {
      while (auto key = q.get()) {
        int now = ++inFlight;
        maxInFlight = std::max(maxInFlight.load(), now);
        std::this_thread::sleep_for(1ms);
        --inFlight;
        ++processed;
        q.done(*key);
      }
    });
  for (int i = 0; i < 50; ++i) {
    q.add("same");
    std::this_thread::sleep_for(200us);
  }
  std::this_thread::sleep_for(20ms);
  q.shutDown();
  for (auto& w : workers) w.join();
  EXPECT_EQ(maxInFlight.load(), 1);
  EXPECT_GE(processed.load(), 1);
  EXPECT_LT(processed.load(), 50);  // adds while queued were merged
}

TEST(RateLimiter, PerItemBackoffGrowsExponentiallyAndForgetResets) {
  RateLimiter r(RateLimiterOptions{.baseDelay = 5ms, .maxDelay = 1000s, .qps = 0, .burst = 0});
  EXPECT_EQ(r.when("a"), 5ms);
  EXPECT_EQ(r.when("a"), 10ms);
  EXPECT_EQ(r.when("a"), 20ms);
  EXPECT_EQ(r.when("b"), 5ms);
  EXPECT_EQ(r.numRequeues("a"), 3);
  r.forget("a");
  EXPECT_EQ(r.numRequeues("a"), 0);
  EXPECT_EQ(r.when("a"), 5ms);
  for (int i = 0; i < 40; ++i) r.when("c");
  EXPECT_EQ(r.when("c"), std::chrono::milliseconds(1000s));  // capped
}

TEST(RateLimiter, OverallBucketDelaysBeyondBurst) {
  RateLimiter r(RateLimiterOptions{.baseDelay = 1ms, .maxDelay = 1s, .qps = 10, .burst = 2});
  EXPECT_LE(r.when("a"), 1ms);
  EXPECT_LE(r.when("b"), 1ms);
  EXPECT_GE(r.when("c"), 90ms);  // third token is ~100 ms away at 10 qps
}

TEST(WorkQueue, AddRateLimitedAndAddAfterDelayTheKey) {
  WorkQueue q("test", RateLimiterOptions{.baseDelay = 30ms, .maxDelay = 1s, .qps = 0, .burst = 0});
  auto start = std::chrono::steady_clock::now();
  q.addRateLimited("a");
  EXPECT_EQ(q.len(), 0u);
  EXPECT_EQ(q.get(), "a");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
  q.done("a");

  start = std::chrono::steady_clock::now();
  q.addAfter("b", 200ms);
  q.addAfter("b", 20ms);  // the earlier time wins
  EXPECT_EQ(q.get(), "b");
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 20ms);
  EXPECT_LT(waited, 150ms);
  q.done("b");
  std::this_thread::sleep_for(250ms);
  EXPECT_EQ(q.len(), 0u);  // the superseded 200 ms add did not fire again
}

TEST(WorkQueue, ShutDownWakesWaitersAndDrains) {
  WorkQueue q;
  q.add("left");
  q.shutDown();
  q.add("ignored");
  EXPECT_TRUE(q.shuttingDown());
  EXPECT_EQ(q.get(), "left");
  EXPECT_EQ(q.get(), std::nullopt);

  WorkQueue q2;
  std::thread waiter([&] { EXPECT_EQ(q2.get(), std::nullopt); });
  std::this_thread::sleep_for(10ms);
  q2.shutDown();
  waiter.join();
}

}  // namespace
}  // namespace skiff::client

// client-go's workqueue metrics for a named queue: adds, depth, retries and the two
// histograms with upstream's 10 ns … 10 s buckets.
#include "../common/metrics_test_util.h"
#include "common/metrics.h"

namespace skiff::client {
namespace {

TEST(WorkQueueMetrics, NamedQueueReportsAddsDepthDurationsAndRetries) {
  using skiff::testing::sampleValue;
  const std::string name = "metrics-test-queue";
  const std::string sel = "{name=\"" + name + "\"}";
  WorkQueue q(name);
  q.add("a");
  q.add("b");
  q.add("a");  // de-duplicated: not an add
  std::string text = Metrics::global().render();
  EXPECT_EQ(sampleValue(text, "workqueue_adds_total" + sel), 2);
  EXPECT_EQ(sampleValue(text, "workqueue_depth" + sel), 2);
  auto key = q.get();
  ASSERT_EQ(key, "a");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  text = Metrics::global().render();
  EXPECT_EQ(sampleValue(text, "workqueue_depth" + sel), 1);
  EXPECT_GE(sampleValue(text, "workqueue_longest_running_processor_seconds" + sel).value_or(-1),
            0.015);
  EXPECT_GE(sampleValue(text, "workqueue_unfinished_work_seconds" + sel).value_or(-1), 0.015);
  q.addRateLimited("a");
  q.done("a");
  text = Metrics::global().render();
  EXPECT_EQ(sampleValue(text, "workqueue_retries_total" + sel), 1);
  EXPECT_EQ(sampleValue(text, "workqueue_queue_duration_seconds_count" + sel), 1);
  EXPECT_EQ(sampleValue(text, "workqueue_work_duration_seconds_count" + sel), 1);
  EXPECT_GE(sampleValue(text, "workqueue_work_duration_seconds_sum" + sel).value_or(-1), 0.015);
  // The work took ≥ 20 ms: not in the 10 ms bucket, in the 100 ms one.
  EXPECT_EQ(sampleValue(
                text, "workqueue_work_duration_seconds_bucket{name=\"" + name + "\",le=\"0.01\"}"),
            0);
  EXPECT_EQ(
      sampleValue(text, "workqueue_work_duration_seconds_bucket{name=\"" + name + "\",le=\"0.1\"}"),
      1);
  EXPECT_EQ(sampleValue(
                text, "workqueue_work_duration_seconds_bucket{name=\"" + name + "\",le=\"1e-08\"}"),
            0);
  EXPECT_EQ(sampleValue(text, "workqueue_longest_running_processor_seconds" + sel), 0);
  EXPECT_NE(text.find("# TYPE workqueue_adds_total counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE workqueue_depth gauge"), std::string::npos);
}

TEST(WorkQueueMetrics, UnnamedQueuesAreNotReported) {
  WorkQueue q;
  q.add("x");
  EXPECT_EQ(Metrics::global().render().find("name=\"\""), std::string::npos);
}

// With a FakeClock, delays pass only when the test steps the clock, and what became due is
// queued before step() returns: no sleeping, no timer-thread race.
TEST(WorkQueue, FakeClockDelaysAndBackoff) {
  FakeClock clock;
  WorkQueue q("", RateLimiterOptions{.baseDelay = 5ms, .maxDelay = 1000s, .qps = 0, .burst = 100},
              clock);
  q.addAfter("later", 10s);
  q.addAfter("sooner", 3s);
  q.addAfter("later", 20s);  // a later add of a pending key changes nothing
  EXPECT_EQ(q.tryGet(), std::nullopt);
  clock.step(3s);
  EXPECT_EQ(q.len(), 1u);
  EXPECT_EQ(q.tryGet(), "sooner");
  q.done("sooner");
  clock.step(6999ms);
  EXPECT_EQ(q.len(), 0u);
  clock.step(1ms);
  EXPECT_EQ(q.tryGet(), "later");
  q.done("later");

  // Rate-limited re-adds: 5 ms, 10 ms, 20 ms of fake time.
  for (auto wait : {5ms, 10ms, 20ms}) {
    q.addRateLimited("k");
    clock.step(wait - 1ms);
    EXPECT_EQ(q.len(), 0u) << wait.count();
    clock.step(1ms);
    EXPECT_EQ(q.tryGet(), "k") << wait.count();
    q.done("k");
  }
  EXPECT_EQ(q.numRequeues("k"), 3);
  q.forget("k");
  EXPECT_EQ(q.numRequeues("k"), 0);
}

TEST(RateLimiter, TokenBucketRefillsWithTheClock) {
  FakeClock clock;
  RateLimiter limiter(RateLimiterOptions{.baseDelay = 1ms, .maxDelay = 1ms, .qps = 10, .burst = 1},
                      clock);
  EXPECT_EQ(limiter.when("a"), 1ms);    // the one token of the bucket
  EXPECT_EQ(limiter.when("b"), 100ms);  // in debt: one token per 100 ms
  clock.step(1s);
  EXPECT_EQ(limiter.when("c"), 1ms);  // refilled
}

}  // namespace
}  // namespace skiff::client
