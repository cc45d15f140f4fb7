// The watch cache follows the store and replays history to new watchers without gaps.
#include "apiserver/watch_cache.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <thread>

#include "common/api_error.h"

namespace skiff::apiserver {
namespace {

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

}  // namespace
}  // namespace skiff::apiserver
