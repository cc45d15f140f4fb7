// The watch cache follows the store and replays history to new watchers without gaps.
#include "apiserver/watch_cache.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <thread>

#include "common/api_error.h"
#include "common/packed_json.h"

namespace skiff::apiserver {
namespace {

// The commit stamps the revision into the packed object where the placeholder was: no table
// grows (a grown table lives on the heap beside the block, ~300 bytes per object and two
// allocations per write before this was fixed).
TEST(ObjectHint, CommitStampsTheRevisionInPlace) {
  ObjectHint hint(boost::json::parse(R"({"kind":"Pod","apiVersion":"v1",
      "metadata":{"name":"p","namespace":"ns","labels":{"app":"a"}},
      "spec":{"containers":[{"name":"c","image":"busybox"}]}})")
                      .as_object());
  const boost::json::object& obj = *hint.object();
  const auto& meta = obj.at("metadata").as_object();
  const size_t top = obj.capacity(), metaCapacity = meta.capacity();
  const size_t alive = packedJsonBytesAlive();
  hint.committed(1234567890123);
  EXPECT_EQ(meta.at("resourceVersion"), "1234567890123");
  EXPECT_EQ(obj.capacity(), top);
  EXPECT_EQ(meta.capacity(), metaCapacity);
  EXPECT_EQ(packedJsonBytesAlive(), alive);
}

const std::string kPrefix = "/registry/core/configmaps/";

std::string cm(const std::string& name, const std::string& value) {
  return R"({"metadata":{"name":")" + name + R"("},"data":{"v":")" + value + R"("}})";
}

class WatchCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    caches.cacheFor(kPrefix);
    caches.start();
  }
  storage::StorePtr store = storage::openMemoryStore();
  CacheHub caches{*store, 4};
};

TEST_F(WatchCacheTest, ReadsItsOwnWritesAfterSync) {
  store->create(kPrefix + "default/a", cm("a", "1"));
  caches.syncWithStore();
  auto obj = caches.cacheFor(kPrefix).get(kPrefix + "default/a");
  ASSERT_TRUE(obj);
  EXPECT_EQ(obj->at("metadata").at("resourceVersion").as_string(),
            std::to_string(store->currentRevision()));
}

TEST_F(WatchCacheTest, WatchReplaysEventsAfterRevision) {
  auto first = store->create(kPrefix + "default/a", cm("a", "1"));
  store->update(kPrefix + "default/a", cm("a", "2"), first.revision);
  store->remove(kPrefix + "default/a");
  caches.syncWithStore();
  std::vector<CacheEvent::Type> seen;
  auto handle = caches.cacheFor(kPrefix).watch(
      kPrefix, first.revision, [&](const CacheEvent& ev) { seen.push_back(ev.type); });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], CacheEvent::Type::Modified);
  EXPECT_EQ(seen[1], CacheEvent::Type::Deleted);
  caches.cacheFor(kPrefix).unwatch(handle);
}

TEST_F(WatchCacheTest, WatchOlderThanHistoryIsExpired) {
  for (int i = 0; i < 10; ++i)
    store->create(kPrefix + "default/c" + std::to_string(i), cm("c", "1"));
  caches.syncWithStore();
  try {
    caches.cacheFor(kPrefix).watch(kPrefix, 1, [](const CacheEvent&) {});
    FAIL() << "expected 410";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 410);
  }
}

TEST_F(WatchCacheTest, DeletedEventCarriesDeleteRevision) {
  store->create(kPrefix + "default/a", cm("a", "1"));
  caches.syncWithStore();
  std::string rv;
  auto handle = caches.cacheFor(kPrefix).watch(kPrefix, -1, [&](const CacheEvent& ev) {
    rv = std::string(ev.object->at("metadata").at("resourceVersion").as_string());
  });
  auto removed = store->remove(kPrefix + "default/a");
  caches.syncWithStore();
  EXPECT_EQ(rv, std::to_string(removed.revision));
  caches.cacheFor(kPrefix).unwatch(handle);
}

// Gets find objects by a hashed index beside the ordered map lists walk: both follow
// creates, updates, deletes and re-creates, across the index's rehashes.
TEST_F(WatchCacheTest, GetsAndListsAgreeThroughChurn) {
  ResourceCache& cache = caches.cacheFor(kPrefix);
  const int n = 300;
  for (int i = 0; i < n; ++i)
    store->create(kPrefix + "default/c" + std::to_string(i), cm("c" + std::to_string(i), "1"));
  for (int i = 0; i < n; i += 2) store->remove(kPrefix + "default/c" + std::to_string(i));
  for (int i = 1; i < n; i += 2)
    store->update(kPrefix + "default/c" + std::to_string(i), cm("c" + std::to_string(i), "2"), 0);
  store->create(kPrefix + "default/c0", cm("c0", "3"));
  caches.syncWithStore();
  for (int i = 0; i < n; ++i) {
    auto obj = cache.get(kPrefix + "default/c" + std::to_string(i));
    if (i == 0) {
      ASSERT_TRUE(obj);
      EXPECT_EQ(obj->at("data").at("v"), "3");
    } else if (i % 2 == 0) {
      EXPECT_FALSE(obj) << i;
    } else {
      ASSERT_TRUE(obj) << i;
      EXPECT_EQ(obj->at("data").at("v"), "2");
    }
  }
  EXPECT_FALSE(cache.get(kPrefix + "default/c"));
  EXPECT_FALSE(cache.get(kPrefix + "default/c1x"));
  auto page = cache.list(kPrefix, "", 0, nullptr, 0);
  ASSERT_EQ(page.items.size(), size_t(n / 2 + 1));
  for (const auto& [key, obj] : page.items) EXPECT_EQ(cache.get(key), obj) << key;
  EXPECT_EQ(cache.size(), size_t(n / 2 + 1));
}

// Superseded states are kept as text in the history; a replay gives back the same objects
// and prevs as live delivery did, and the text as the event's encoding.
TEST_F(WatchCacheTest, ReplayOfSupersededStatesMatchesLiveDelivery) {
  auto& cache = caches.cacheFor(kPrefix);
  std::vector<std::string> live;
  auto record = [](std::vector<std::string>& out) {
    return [&out](const CacheEvent& ev) {
      out.push_back(boost::json::serialize(*ev.object) + " prev " +
                    (ev.prev ? boost::json::serialize(*ev.prev) : "-"));
    };
  };
  auto liveHandle = cache.watch(kPrefix, -1, record(live));
  auto a = store->create(kPrefix + "default/a", cm("a", "1"));
  auto a2 = store->update(kPrefix + "default/a", cm("a", "2"), a.revision);
  store->create(kPrefix + "default/b", cm("b", "1"));
  store->update(kPrefix + "default/a", cm("a", "3"), a2.revision);
  caches.syncWithStore();
  ASSERT_EQ(live.size(), 4u);

  std::vector<std::string> replayed;
  std::vector<bool> preEncoded;
  auto handle = cache.watch(kPrefix, a.revision - 1, [&](const CacheEvent& ev) {
    record(replayed)(ev);
    preEncoded.push_back(ev.encoding && ev.encoding->madeText() != nullptr);
  });
  EXPECT_EQ(replayed, live);
  // a@1 and a@2 are superseded (text); b@1 and a@3 are current (parsed, no text yet).
  EXPECT_EQ(preEncoded, (std::vector<bool>{true, true, false, false}));
  // The current objects are still the very ones the cache serves.
  EXPECT_EQ(cache.get(kPrefix + "default/a")->at("data").at("v").as_string(), "3");

  // The window moves on (limit 4): still exact, and a delete keeps its last state.
  store->remove(kPrefix + "default/b");
  caches.syncWithStore();
  std::vector<std::string> tail;
  auto tailHandle = cache.watch(kPrefix, a2.revision, record(tail));
  ASSERT_EQ(live.size(), 5u);
  EXPECT_EQ(tail, std::vector<std::string>(live.begin() + 2, live.end()));
  EXPECT_NE(
      tail[2].find(R"("name":"b","resourceVersion":")" + std::to_string(store->currentRevision())),
      std::string::npos);
  cache.unwatch(tailHandle);
  cache.unwatch(handle);
  cache.unwatch(liveHandle);
}

// The history's texts are counted once each: an update's old state is one event's object
// and the next event's prev; current states are not text at all. Texts are kept compressed
// (the cache's compressor sees the superseded states in order, as a fresh one fed the same
// texts does, so the sizes are the same).
TEST_F(WatchCacheTest, HistoryTextBytesCountEachSupersededStateOnce) {
  auto& cache = caches.cacheFor(kPrefix);
  std::vector<std::string> states;
  auto handle = cache.watch(kPrefix, -1, [&](const CacheEvent& ev) {
    states.push_back(boost::json::serialize(*ev.object));
  });
  EXPECT_EQ(cache.historyTextBytes(), 0u);
  auto a = store->create(kPrefix + "default/a", cm("a", "1"));
  caches.syncWithStore();
  EXPECT_EQ(cache.historyTextBytes(), 0u);  // a@1 is current: kept parsed only
  auto a2 = store->update(kPrefix + "default/a", cm("a", "2"), a.revision);
  store->update(kPrefix + "default/a", cm("a", "33"), a2.revision);
  caches.syncWithStore();
  ASSERT_EQ(states.size(), 3u);
  TextCompressor same;
  size_t expected = same.compress(states[0])->compressedBytes();
  expected += same.compress(states[1])->compressedBytes();
  EXPECT_EQ(cache.historyTextBytes(), expected);
  store->remove(kPrefix + "default/a");
  caches.syncWithStore();
  ASSERT_EQ(states.size(), 4u);
  // a@33 superseded by the delete, and the deleted state (a@33 at the delete's revision).
  expected += same.compress(states[2])->compressedBytes();
  expected += same.compress(states[3])->compressedBytes();
  EXPECT_EQ(cache.historyTextBytes(), expected);
  cache.unwatch(handle);
}

}  // namespace
}  // namespace skiff::apiserver

namespace skiff::apiserver {
namespace {

const std::string kPods = "/registry/core/pods/";

std::string pod(const std::string& ns, const std::string& name, const std::string& node) {
  return R"({"metadata":{"name":")" + name + R"(","namespace":")" + ns +
         R"("},"spec":{"nodeName":")" + node + R"("}})";
}

std::vector<std::string> keys(const ResourceCache::Page& page) {
  std::vector<std::string> out;
  for (const auto& [k, obj] : page.items) out.push_back(k);
  return out;
}

// The pods cache indexes spec.nodeName; the index follows loads, binds, moves and deletes.
TEST(WatchCacheIndex, PodsByNodeFollowChanges) {
  auto store = storage::openMemoryStore();
  store->create(kPods + "a/p1", pod("a", "p1", "n1"));  // loaded from the snapshot
  CacheHub caches{*store, 16};
  caches.cacheFor(kPods);
  caches.start();
  auto p2 = store->create(kPods + "b/p2", pod("b", "p2", ""));  // not bound yet
  store->create(kPods + "a/p3", pod("a", "p3", "n1"));
  store->create(kPods + "a/p4", pod("a", "p4", "n2"));
  caches.syncWithStore();
  auto& pods = caches.cacheFor(kPods);
  EXPECT_EQ(pods.indexedField(), "spec.nodeName");
  auto rev = caches.observedRevision();
  EXPECT_EQ(keys(pods.listIndexed("n1", kPods, 0, nullptr, rev)),
            (std::vector<std::string>{kPods + "a/p1", kPods + "a/p3"}));
  EXPECT_TRUE(pods.listIndexed("", kPods, 0, nullptr, rev).items.empty());

  store->update(kPods + "b/p2", pod("b", "p2", "n1"), p2.revision);  // bound
  store->remove(kPods + "a/p1");
  caches.syncWithStore();
  rev = caches.observedRevision();
  EXPECT_EQ(keys(pods.listIndexed("n1", kPods, 0, nullptr, rev)),
            (std::vector<std::string>{kPods + "a/p3", kPods + "b/p2"}));
  // A namespace prefix and a limit page through the same order list() uses.
  EXPECT_EQ(keys(pods.listIndexed("n1", kPods + "b/", 0, nullptr, rev)),
            (std::vector<std::string>{kPods + "b/p2"}));
  auto page = pods.listIndexed("n1", kPods, 1, nullptr, rev);
  EXPECT_EQ(keys(page), (std::vector<std::string>{kPods + "a/p3"}));
  EXPECT_EQ(page.nextKey, kPods + "b/p2");
  EXPECT_EQ(keys(pods.listIndexed("n2", kPods, 0, nullptr, rev)),
            (std::vector<std::string>{kPods + "a/p4"}));
}

TEST(WatchCacheIndex, OtherCachesHaveNone) {
  auto store = storage::openMemoryStore();
  CacheHub caches{*store, 4};
  auto& cms = caches.cacheFor("/registry/core/configmaps/");
  EXPECT_EQ(cms.indexedField(), "");
  EXPECT_THROW(cms.listIndexed("x", "/registry/core/configmaps/", 0, nullptr, 0), std::logic_error);
}

}  // namespace
}  // namespace skiff::apiserver
