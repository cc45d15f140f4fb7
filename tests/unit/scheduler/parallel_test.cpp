#include "scheduler/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace skiff::scheduler {
namespace {

// Every index runs exactly once, job after job: a helper that wakes late for a finished job
// must neither run its chunks again nor be waited for.
TEST(ParallelFor, RunsEveryIndexExactlyOnceAcrossManyJobs) {
  for (int job = 0; job < 300; ++job) {
    const size_t n = 1 + static_cast<size_t>(job) * 7 % 2000;
    std::vector<std::atomic<int>> hits(n);
    parallelFor(n, 16, [&](size_t i) { hits[i].fetch_add(1, std::memory_order_relaxed); });
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "job " << job << " index " << i;
  }
}

// Callers from several threads are serialized; none loses or repeats work of another.
TEST(ParallelFor, ConcurrentCallersEachCompleteTheirOwnJob) {
  std::vector<std::thread> callers;
  std::atomic<long> total{0};
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int job = 0; job < 50; ++job) {
        std::atomic<long> sum{0};
        parallelFor(500, 4, [&](size_t i) { sum.fetch_add(static_cast<long>(i)); });
        EXPECT_EQ(sum.load(), 500L * 499 / 2);
        total.fetch_add(sum.load());
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(total.load(), 4L * 50 * (500L * 499 / 2));
}

TEST(ParallelFor, ZeroAndSerialSizes) {
  int calls = 0;
  parallelFor(0, 16, [&](size_t) { ++calls; });
  EXPECT_EQ(calls, 0);
  parallelFor(5, 1, [&](size_t) { ++calls; });  // parallelism 1: the caller alone
  EXPECT_EQ(calls, 5);
}

// A job expected to do little work (the filter stops early) stays on the caller's thread
// even when n alone would be split; every index still runs.
TEST(ParallelFor, SmallExpectedWorkRunsOnTheCaller) {
  const size_t n = 100000;
  const auto caller = std::this_thread::get_id();
  std::atomic<size_t> elsewhere{0}, ran{0};
  parallelForUntil(
      n, 16,
      [&](size_t) {
        ran.fetch_add(1, std::memory_order_relaxed);
        if (std::this_thread::get_id() != caller) elsewhere.fetch_add(1, std::memory_order_relaxed);
        return false;
      },
      /*expectedWork=*/500);
  EXPECT_EQ(ran.load(), n);
  EXPECT_EQ(elsewhere.load(), 0u);
}

// A call returning true ends the job: on the caller alone nothing runs after it; with helpers
// only indexes already started may still finish, and none runs twice.
TEST(ParallelFor, UntilStopsStartingIndexesOnceDone) {
  std::atomic<size_t> ran{0};
  parallelForUntil(100000, 1, [&](size_t i) {
    ran.fetch_add(1);
    return i == 99;
  });
  EXPECT_EQ(ran.load(), 100u);

  const size_t n = 1000000;
  std::vector<std::atomic<int>> hits(n);
  std::atomic<size_t> successes{0};
  parallelForUntil(n, 16, [&](size_t i) {
    hits[i].fetch_add(1, std::memory_order_relaxed);
    return i % 10 == 0 && successes.fetch_add(1) + 1 >= 500;
  });
  size_t total = 0;
  for (auto& h : hits) {
    ASSERT_LE(h.load(), 1);
    total += h.load();
  }
  EXPECT_GE(successes.load(), 500u);
  EXPECT_LT(total, n / 2);  // ~5,000 ran, plus whatever other threads had started
}

}  // namespace
}  // namespace skiff::scheduler
