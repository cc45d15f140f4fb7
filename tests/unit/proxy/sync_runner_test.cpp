// SyncRunner: the coalescing loop the proxy and the policy controller share (real time,
// short periods).
#include "proxy/sync_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace skiff::proxy {
namespace {

using namespace std::chrono_literals;

TEST(SyncRunner, ABurstOfChangesIsOneSyncPerMinSyncPeriod) {
  std::atomic<int> syncs{0}, periodic{0};
  SyncRunner runner(
      {"test-sync", 200ms, 60s, 1s}, [] { return true; },
      [&](bool p) {
        ++syncs;
        if (p) ++periodic;
        return true;
      });
  runner.start();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(syncs.load(), 1);     // the initial sync
  for (int i = 0; i < 20; ++i) {  // ~20-60 ms of changes, inside one minSyncPeriod
    runner.markDirty();
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(syncs.load(), 2);  // the whole burst in one
  EXPECT_EQ(periodic.load(), 0);
  EXPECT_FALSE(runner.pendingSince().has_value());
  runner.stop();
}

TEST(SyncRunner, FailuresAreRetriedWithBackoffAndStayPending) {
  std::atomic<int> syncs{0};
  std::atomic<bool> fail{true};
  SyncRunner runner(
      {"test-sync", 10ms, 60s, 60s}, [] { return true; },
      [&](bool) {
        ++syncs;
        return !fail.load();
      });
  runner.start();
  std::this_thread::sleep_for(1500ms);
  // First try at once, the retry 1 s later (not every 10 ms); the next one waits 2 s.
  EXPECT_EQ(syncs.load(), 2);
  EXPECT_TRUE(runner.pendingSince().has_value());
  fail = false;
  std::this_thread::sleep_for(1700ms);
  EXPECT_EQ(syncs.load(), 3);
  EXPECT_FALSE(runner.pendingSince().has_value());
  runner.stop();
}

TEST(SyncRunner, WaitsUntilReady) {
  std::atomic<bool> ready{false};
  std::atomic<int> syncs{0};
  SyncRunner runner(
      {"test-sync", 10ms, 60s, 1s}, [&] { return ready.load(); },
      [&](bool) {
        ++syncs;
        return true;
      });
  runner.start();
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(syncs.load(), 0);
  ready = true;
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(syncs.load(), 1);
  runner.stop();
}

}  // namespace
}  // namespace skiff::proxy
