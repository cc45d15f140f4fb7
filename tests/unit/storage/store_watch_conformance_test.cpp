// Watch and concurrency behaviour every Store backend must share (instantiated for each
// backend in store_kv_conformance_test.cpp).
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "store_conformance.h"

namespace skiff::storage::testing {
namespace {

using Type = Event::Type;

TEST_P(StoreConformance, WatchReplaysHistoryWithPreviousValues) {
  store->create("/p/a", "a1");     // 1
  store->create("/q/x", "x");      // 2 (outside the range)
  store->update("/p/a", "a2", 1);  // 3
  store->remove("/p/a");           // 4
  store->create("/p/a", "a3");     // 5
  EventSink sink;
  auto w = store->watch("/p/", prefixEnd("/p/"), 1, sink.callback());
  auto ev = sink.waitFor(4);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].type, Type::Put);
  EXPECT_EQ(ev[0].kv, (KeyValue{"/p/a", "a1", 1, 1}));
  EXPECT_FALSE(ev[0].prev);
  EXPECT_EQ(ev[1].kv, (KeyValue{"/p/a", "a2", 1, 3}));
  EXPECT_EQ(ev[1].prev, (KeyValue{"/p/a", "a1", 1, 1}));
  EXPECT_EQ(ev[2].type, Type::Delete);
  EXPECT_EQ(ev[2].kv.key, "/p/a");
  EXPECT_EQ(ev[2].kv.value, "");
  EXPECT_EQ(ev[2].kv.modRevision, 4);
  EXPECT_EQ(ev[2].prev, (KeyValue{"/p/a", "a2", 1, 3}));
  EXPECT_EQ(ev[3].type, Type::Put);
  EXPECT_EQ(ev[3].kv, (KeyValue{"/p/a", "a3", 5, 5}));
  EXPECT_FALSE(ev[3].prev);  // re-created after a delete
}

TEST_P(StoreConformance, WatchFromMiddleRevisionThenLive) {
  store->create("/a", "1");  // 1
  store->create("/b", "1");  // 2
  store->create("/c", "1");  // 3
  EventSink sink;
  auto w = store->watch("/", prefixEnd("/"), 2, sink.callback());
  store->update("/a", "2", 1);  // 4
  auto ev = sink.waitFor(3);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].kv.modRevision, 2);
  EXPECT_EQ(ev[1].kv.modRevision, 3);
  EXPECT_EQ(ev[2].kv.modRevision, 4);
  EXPECT_EQ(ev[2].prev, (KeyValue{"/a", "1", 1, 1}));
}

TEST_P(StoreConformance, WatchFromZeroSeesOnlyLaterChangesInRange) {
  store->create("/p/old", "v");
  EventSink sink;
  auto w = store->watch("/p/", prefixEnd("/p/"), 0, sink.callback());
  store->create("/q/other", "v");
  store->create("/p/new", "v");
  auto ev = sink.waitFor(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // nothing else may arrive
  ev = sink.events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kv, (KeyValue{"/p/new", "v", 3, 3}));
}

TEST_P(StoreConformance, WatchOfSingleKey) {
  EventSink sink;
  auto w = store->watch("/a", "", 0, sink.callback());
  store->create("/a/child", "v");
  store->create("/a", "v");
  auto ev = sink.waitFor(1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kv.key, "/a");
}

TEST_P(StoreConformance, WatchAtOrBelowCompactedRevisionThrows) {
  store->create("/a", "1");
  store->update("/a", "2", 1);
  store->update("/a", "3", 2);
  store->compact(2);
  EXPECT_THROW(store->watch("/", prefixEnd("/"), 2, [](const std::vector<Event>&) {}),
               CompactedError);
  // Just above the compacted revision works, and prev values survive compaction.
  EventSink sink;
  auto w = store->watch("/", prefixEnd("/"), 3, sink.callback());
  auto ev = sink.waitFor(1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kv, (KeyValue{"/a", "3", 1, 3}));
  EXPECT_EQ(ev[0].prev, (KeyValue{"/a", "2", 1, 2}));
}

TEST_P(StoreConformance, WatchSeesConcurrentWritersInRevisionOrder) {
  EventSink sink;
  auto w = store->watch("/", prefixEnd("/"), 0, sink.callback());
  constexpr int kThreads = 8, kPerThread = 50;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        store->create("/w/" + std::to_string(t) + "/" + std::to_string(i), "v");
      }
    });
  }
  for (auto& th : writers) th.join();
  auto ev = sink.waitFor(kThreads * kPerThread);
  ASSERT_EQ(ev.size(), size_t{kThreads * kPerThread});
  for (size_t i = 0; i < ev.size(); ++i) EXPECT_EQ(ev[i].kv.modRevision, int64_t(i) + 1);
}

TEST_P(StoreConformance, WatchStartedDuringWritesHasNoGapOrDuplicate) {
  for (int i = 0; i < 20; ++i) store->create("/pre/" + std::to_string(i), "v");
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; !stop; ++i)
        store->create("/w/" + std::to_string(t) + "/" + std::to_string(i), "v");
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EventSink sink;
  auto w = store->watch("/", prefixEnd("/"), 5, sink.callback());  // replay meets live writes
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  for (auto& th : writers) th.join();
  int64_t last = store->currentRevision();
  auto ev = sink.waitFor(size_t(last - 4));
  ASSERT_EQ(ev.size(), size_t(last - 4));
  for (size_t i = 0; i < ev.size(); ++i) ASSERT_EQ(ev[i].kv.modRevision, int64_t(i) + 5);
}

TEST_P(StoreConformance, DestroyedWatchNeverCallsBackAgain) {
  std::atomic<bool> destroyed{false};
  std::atomic<int> callsAfterDestroy{0};
  std::atomic<bool> inCallback{false};
  auto w = store->watch("/", prefixEnd("/"), 0, [&](const std::vector<Event>&) {
    inCallback = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // be in flight at destroy
    if (destroyed) ++callsAfterDestroy;
  });
  store->create("/a", "v");
  while (!inCallback) std::this_thread::yield();
  w.reset();  // must wait for the in-flight callback
  destroyed = true;
  for (int i = 0; i < 20; ++i) store->create("/b" + std::to_string(i), "v");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(callsAfterDestroy, 0);
}

TEST_P(StoreConformance, WatchMayBeDestroyedFromItsOwnCallback) {
  WatchPtr w;
  std::mutex mu;
  std::atomic<int> calls{0};
  w = store->watch("/", prefixEnd("/"), 0, [&](const std::vector<Event>&) {
    ++calls;
    std::lock_guard lock(mu);
    w.reset();
  });
  store->create("/a", "v");
  for (int i = 0; i < 200 && calls == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  store->create("/b", "v");
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(calls, 1);
  std::lock_guard lock(mu);
  EXPECT_FALSE(w);
}

TEST_P(StoreConformance, SlowWatcherDoesNotBlockWriters) {
  std::mutex gate;
  std::unique_lock closed(gate);
  std::atomic<int> events{0};
  auto w = store->watch("/", prefixEnd("/"), 0, [&](const std::vector<Event>& batch) {
    std::lock_guard wait(gate);  // blocks until the test opens the gate
    events += int(batch.size());
  });
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(store->create("/k" + std::to_string(i), "v").succeeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  closed.unlock();
  for (int i = 0; i < 500 && events < 100; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(events, 100);
}

TEST_P(StoreConformance, EightConcurrentWritersLoseNothing) {
  constexpr int kThreads = 8, kPerThread = 150;
  std::vector<std::vector<int64_t>> revs(kThreads);
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto res = store->create("/c/" + std::to_string(t) + "/" + std::to_string(i), "v");
        if (res.succeeded) revs[t].push_back(res.revision);
      }
    });
  }
  for (auto& th : writers) th.join();
  std::set<int64_t> all;
  for (auto& v : revs) {
    EXPECT_EQ(v.size(), size_t{kPerThread});
    all.insert(v.begin(), v.end());
  }
  ASSERT_EQ(all.size(), size_t{kThreads * kPerThread});  // unique
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kPerThread);  // dense
  EXPECT_EQ(store->currentRevision(), kThreads * kPerThread);
  EXPECT_EQ(store->range("/c/", prefixEnd("/c/")).kvs.size(), size_t{kThreads * kPerThread});
}

TEST_P(StoreConformance, ConcurrentCasIncrementsAreNotLost) {
  store->create("/counter", "0");
  constexpr int kThreads = 8, kIncrements = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements;) {
        auto cur = store->get("/counter");
        auto res =
            store->update("/counter", std::to_string(std::stoi(cur->value) + 1), cur->modRevision);
        if (res.succeeded) ++i;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store->get("/counter")->value, std::to_string(kThreads * kIncrements));
  EXPECT_EQ(store->currentRevision(), 1 + kThreads * kIncrements);
}

// A write's hint learns the revision before any watcher sees the event, and travels with
// the live event only; a failed write never commits its hint.
TEST_P(StoreConformance, WriteHintIsCommittedAndHandedToLiveWatchers) {
  struct Recorder : WriteHint {
    std::atomic<int64_t> revision{0};
    std::atomic<int> calls{0};
    void committed(int64_t r) override {
      revision = r;
      ++calls;
    }
  };
  EventSink sink;
  auto w = store->watch("/", prefixEnd("/"), 0, sink.callback());
  auto created = std::make_shared<Recorder>();
  auto updated = std::make_shared<Recorder>();
  auto refused = std::make_shared<Recorder>();
  auto c = store->create("/h", "1", created);
  store->update("/h", "2", c.revision, updated);
  EXPECT_FALSE(store->create("/h", "3", refused).succeeded);
  EXPECT_FALSE(store->update("/h", "3", c.revision, refused).succeeded);
  auto ev = sink.waitFor(2);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(created->calls.load(), 1);
  EXPECT_EQ(created->revision.load(), ev[0].kv.modRevision);
  EXPECT_EQ(ev[0].hint.get(), created.get());
  EXPECT_EQ(updated->revision.load(), ev[1].kv.modRevision);
  EXPECT_EQ(ev[1].hint.get(), updated.get());
  EXPECT_EQ(refused->calls.load(), 0);

  EventSink replay;  // history is read back from the store: no hints
  auto again = store->watch("/", prefixEnd("/"), c.revision, replay.callback());
  auto old = replay.waitFor(2);
  ASSERT_EQ(old.size(), 2u);
  EXPECT_FALSE(old[0].hint);
  EXPECT_FALSE(old[1].hint);
}

// An inline watch hears of a write before the write returns, history first and then live
// events, in revision order.
TEST_P(StoreConformance, InlineWatchHearsOfAWriteBeforeItReturns) {
  store->create("/i/old", "0");
  std::mutex mu;
  std::vector<int64_t> seen;
  auto w = store->watch(
      "/i/", prefixEnd("/i/"), 1,
      [&](const std::vector<Event>& events) {
        std::lock_guard lock(mu);
        for (const auto& e : events) seen.push_back(e.kv.modRevision);
      },
      WatchDelivery::Inline);
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(seen, std::vector<int64_t>{1});  // the history, delivered by watch() itself
  }
  for (int i = 0; i < 20; ++i) {
    auto r = store->create("/i/k" + std::to_string(i), "v");
    std::lock_guard lock(mu);
    ASSERT_EQ(seen.back(), r.revision) << "write " << i << " returned before its watcher heard";
  }
  store->create("/other", "x");  // outside the range: not delivered
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.size(), 21u);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1], seen[i]);
}

}  // namespace
}  // namespace skiff::storage::testing
