// Key-value, CAS, range and compaction behaviour every Store backend must share.
#include <thread>

#include "store_conformance.h"

namespace skiff::storage::testing {
namespace {

TEST_P(StoreConformance, RevisionGrowsByOnePerSuccessfulWrite) {
  EXPECT_EQ(store->currentRevision(), 0);
  EXPECT_EQ(store->create("/a", "1").revision, 1);
  EXPECT_EQ(store->update("/a", "2", 1).revision, 2);
  EXPECT_FALSE(store->create("/a", "x").succeeded);  // failed writes do not bump it
  EXPECT_FALSE(store->update("/a", "x", 1).succeeded);
  EXPECT_EQ(store->remove("/a", 2).revision, 3);
  EXPECT_EQ(store->currentRevision(), 3);
}

TEST_P(StoreConformance, CreateRecordsCreateAndModRevision) {
  store->create("/other", "o");
  auto res = store->create("/a", "v1");
  ASSERT_TRUE(res.succeeded);
  ASSERT_TRUE(res.kv);
  EXPECT_EQ(*res.kv, (KeyValue{"/a", "v1", 2, 2}));
  EXPECT_EQ(store->get("/a"), res.kv);
}

TEST_P(StoreConformance, UpdateKeepsCreateRevisionAndBumpsModRevision) {
  store->create("/a", "v1");
  auto res = store->update("/a", "v2", 1);
  ASSERT_TRUE(res.succeeded);
  EXPECT_EQ(*res.kv, (KeyValue{"/a", "v2", 1, 2}));
  EXPECT_EQ(*store->get("/a"), (KeyValue{"/a", "v2", 1, 2}));
}

TEST_P(StoreConformance, CreateOfExistingKeyFailsWithCurrentValue) {
  store->create("/a", "v1");
  store->create("/b", "b");
  auto res = store->create("/a", "v2");
  EXPECT_FALSE(res.succeeded);
  EXPECT_EQ(res.revision, 2);
  ASSERT_TRUE(res.kv);
  EXPECT_EQ(*res.kv, (KeyValue{"/a", "v1", 1, 1}));
}

TEST_P(StoreConformance, UpdateWithStaleModRevisionFailsWithCurrentValue) {
  store->create("/a", "v1");
  store->update("/a", "v2", 1);
  auto res = store->update("/a", "v3", 1);
  EXPECT_FALSE(res.succeeded);
  EXPECT_EQ(res.revision, 2);
  EXPECT_EQ(*res.kv, (KeyValue{"/a", "v2", 1, 2}));
  EXPECT_EQ(store->get("/a")->value, "v2");
}

TEST_P(StoreConformance, UpdateWithZeroExpectedRevisionIsUnconditional) {
  store->create("/a", "v1");
  store->update("/a", "v2", 0);
  EXPECT_TRUE(store->update("/a", "v3", 0).succeeded);
  EXPECT_EQ(store->get("/a")->value, "v3");
}

TEST_P(StoreConformance, UpdateOrRemoveOfMissingKeyFailsWithoutKv) {
  auto up = store->update("/missing", "v", 0);
  EXPECT_FALSE(up.succeeded);
  EXPECT_FALSE(up.kv);
  auto rm = store->remove("/missing");
  EXPECT_FALSE(rm.succeeded);
  EXPECT_FALSE(rm.kv);
  EXPECT_EQ(store->currentRevision(), 0);
}

TEST_P(StoreConformance, RemoveReturnsRemovedValueAndHonoursModRevision) {
  store->create("/a", "v1");
  auto stale = store->remove("/a", 7);
  EXPECT_FALSE(stale.succeeded);
  EXPECT_EQ(*stale.kv, (KeyValue{"/a", "v1", 1, 1}));
  auto res = store->remove("/a", 1);
  ASSERT_TRUE(res.succeeded);
  EXPECT_EQ(res.revision, 2);
  EXPECT_EQ(*res.kv, (KeyValue{"/a", "v1", 1, 1}));
  EXPECT_FALSE(store->get("/a"));
}

TEST_P(StoreConformance, CreateAfterRemoveStartsANewLife) {
  store->create("/a", "v1");
  store->remove("/a");
  auto res = store->create("/a", "v2");
  ASSERT_TRUE(res.succeeded);
  EXPECT_EQ(*res.kv, (KeyValue{"/a", "v2", 3, 3}));
}

TEST_P(StoreConformance, ValuesAreBinarySafe) {
  std::string value("a\0b\xff", 4);
  std::string key("/bin/\x01\xfe", 7);
  store->create(key, value);
  store->create("/empty", "");
  EXPECT_EQ(store->get(key)->value, value);
  EXPECT_EQ(store->get("/empty")->value, "");
}

TEST_P(StoreConformance, GetAtOldRevisionSeesTheValueThen) {
  store->create("/a", "v1");     // 1
  store->update("/a", "v2", 1);  // 2
  store->create("/b", "b");      // 3
  store->remove("/a");           // 4
  EXPECT_EQ(*store->get("/a", 1), (KeyValue{"/a", "v1", 1, 1}));
  EXPECT_EQ(*store->get("/a", 3), (KeyValue{"/a", "v2", 1, 2}));
  EXPECT_FALSE(store->get("/a", 4));
  EXPECT_FALSE(store->get("/b", 2));
  EXPECT_FALSE(store->get("/a"));
}

TEST_P(StoreConformance, RangeAtOldRevisionSeesTheKeysThen) {
  store->create("/p/a", "a1");     // 1
  store->create("/p/b", "b1");     // 2
  store->update("/p/a", "a2", 1);  // 3
  store->remove("/p/b");           // 4
  store->create("/p/c", "c1");     // 5
  auto r = store->range("/p/", prefixEnd("/p/"), 0, 3);
  EXPECT_EQ(r.revision, 3);
  EXPECT_EQ(r.kvs, (std::vector<KeyValue>{{"/p/a", "a2", 1, 3}, {"/p/b", "b1", 2, 2}}));
  auto now = store->range("/p/", prefixEnd("/p/"));
  EXPECT_EQ(now.revision, 5);
  EXPECT_EQ(now.kvs, (std::vector<KeyValue>{{"/p/a", "a2", 1, 3}, {"/p/c", "c1", 5, 5}}));
}

// A paginated list's continue pages: a limit, a start key in the middle, an old revision, and
// keys changed, deleted and created after it.
TEST_P(StoreConformance, PagesAtOldRevisionSkipLaterChangesAndTombstones) {
  for (const char* k : {"/p/a", "/p/b", "/p/c", "/p/d", "/p/e"}) store->create(k, k);  // 1-5
  store->remove("/p/b");                                                               // 6
  const int64_t then = 6;
  store->update("/p/c", "c2", 0);  // 7
  store->remove("/p/d");           // 8
  store->create("/p/b", "b2");     // 9
  auto first = store->range("/p/", prefixEnd("/p/"), 2, then);
  EXPECT_EQ(first.revision, then);
  EXPECT_EQ(first.kvs, (std::vector<KeyValue>{{"/p/a", "/p/a", 1, 1}, {"/p/c", "/p/c", 3, 3}}));
  EXPECT_TRUE(first.more);
  auto second = store->range(std::string("/p/c\0", 5), prefixEnd("/p/"), 2, then);
  EXPECT_EQ(second.kvs, (std::vector<KeyValue>{{"/p/d", "/p/d", 4, 4}, {"/p/e", "/p/e", 5, 5}}));
  EXPECT_FALSE(second.more);
}

TEST_P(StoreConformance, PrefixRangeIsInKeyOrderAndHonoursLimit) {
  for (const char* k : {"/p/d", "/p/b", "/q/a", "/p/a", "/o/z", "/p/c"}) store->create(k, k);
  auto all = store->range("/p/", prefixEnd("/p/"));
  ASSERT_EQ(all.kvs.size(), 4u);
  EXPECT_EQ(all.kvs[0].key, "/p/a");
  EXPECT_EQ(all.kvs[3].key, "/p/d");
  EXPECT_FALSE(all.more);

  auto page = store->range("/p/", prefixEnd("/p/"), 2);
  ASSERT_EQ(page.kvs.size(), 2u);
  EXPECT_EQ(page.kvs[1].key, "/p/b");
  EXPECT_TRUE(page.more);
  EXPECT_EQ(page.revision, 6);

  // Continue after the last key, like the API server's continue token.
  auto rest = store->range(page.kvs[1].key + '\0', prefixEnd("/p/"), 2, page.revision);
  ASSERT_EQ(rest.kvs.size(), 2u);
  EXPECT_EQ(rest.kvs[0].key, "/p/c");
  EXPECT_FALSE(rest.more);  // exactly `limit` left: nothing more
}

TEST_P(StoreConformance, RangeWithEmptyEndIsOneKeyAndNulEndIsUnbounded) {
  for (const char* k : {"/a", "/a/x", "/b", "\xff\xff"}) store->create(k, "v");
  auto one = store->range("/a", "");
  ASSERT_EQ(one.kvs.size(), 1u);
  EXPECT_EQ(one.kvs[0].key, "/a");
  auto tail = store->range("/a/", std::string(1, '\0'));
  ASSERT_EQ(tail.kvs.size(), 3u);
  EXPECT_EQ(tail.kvs[2].key, "\xff\xff");
  EXPECT_EQ(store->range("", prefixEnd("")).kvs.size(), 4u);
}

TEST_P(StoreConformance, ReadsAtFutureRevisionThrow) {
  store->create("/a", "v");
  EXPECT_THROW(store->get("/a", 2), FutureRevisionError);
  EXPECT_THROW(store->range("/", prefixEnd("/"), 0, 2), FutureRevisionError);
  EXPECT_THROW(store->compact(2), FutureRevisionError);
}

TEST_P(StoreConformance, CompactionFailsOldReadsAndKeepsLaterOnes) {
  store->create("/a", "a1");     // 1
  store->create("/b", "b1");     // 2
  store->update("/a", "a2", 1);  // 3
  store->remove("/b");           // 4
  store->create("/c", "c1");     // 5
  store->compact(4);
  EXPECT_EQ(store->compactedRevision(), 4);
  EXPECT_EQ(store->currentRevision(), 5);
  try {
    store->get("/a", 3);
    FAIL() << "expected CompactedError";
  } catch (const CompactedError& e) {
    EXPECT_EQ(e.compactRevision, 4);
  }
  EXPECT_THROW(store->get("/a", 4), CompactedError);
  EXPECT_THROW(store->range("/", prefixEnd("/"), 0, 1), CompactedError);
  EXPECT_THROW(store->compact(4), CompactedError);
  // Revision 5 still reads the state as of compaction plus the later write.
  EXPECT_EQ(store->range("/", prefixEnd("/"), 0, 5).kvs,
            (std::vector<KeyValue>{{"/a", "a2", 1, 3}, {"/c", "c1", 5, 5}}));
  EXPECT_EQ(*store->get("/a", 5), (KeyValue{"/a", "a2", 1, 3}));
  EXPECT_FALSE(store->get("/b", 5));
  EXPECT_EQ(store->range("/", prefixEnd("/")).kvs.size(), 2u);
}

TEST_P(StoreConformance, CompactionToCurrentRevisionKeepsCurrentValues) {
  store->create("/a", "a1");
  store->update("/a", "a2", 1);
  store->create("/b", "b1");
  store->remove("/b");
  store->compact(4);
  EXPECT_EQ(store->currentRevision(), 4);
  EXPECT_EQ(*store->get("/a"), (KeyValue{"/a", "a2", 1, 2}));
  EXPECT_FALSE(store->get("/b"));
  EXPECT_EQ(store->create("/d", "d").revision, 5);
  EXPECT_EQ(store->range("/", prefixEnd("/"), 0, 5).kvs.size(), 2u);
}

// Background compaction (every 100 ms, retention 500 ms) must compact, but never past a
// revision written less than `retention` ago.
TEST_P(StoreConformance, BackgroundCompactionRespectsRetention) {
  using Clock = std::chrono::steady_clock;
  using std::chrono::milliseconds;
  TempDir ownDir;
  auto compacting = GetParam().open(
      ownDir, CompactionPolicy{.interval = milliseconds(100), .retention = milliseconds(500)});
  compacting->create("/k", "0");
  for (int i = 1; i < 10; ++i) compacting->update("/k", std::to_string(i), 0);
  int64_t firstBatchEnd = compacting->currentRevision();  // 10
  std::this_thread::sleep_for(milliseconds(700));
  auto secondBatchStart = Clock::now();
  for (int i = 10; i < 20; ++i) compacting->update("/k", std::to_string(i), 0);

  int64_t compacted = 0;
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline) {
    compacted = compacting->compactedRevision();
    if (Clock::now() - secondBatchStart < milliseconds(450)) {
      // Revisions after firstBatchEnd are younger than the retention: must still be there.
      ASSERT_LE(compacted, firstBatchEnd);
    }
    if (compacted >= firstBatchEnd) break;
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_GE(compacted, firstBatchEnd) << "background compaction never ran";
  EXPECT_THROW(compacting->get("/k", compacted), CompactedError);
  EXPECT_EQ(compacting->get("/k")->value, "19");
  if (compacted < compacting->currentRevision()) {
    EXPECT_EQ(compacting->get("/k", compacted + 1)->modRevision, compacted + 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::ValuesIn(allBackends()),
                         backendName);

}  // namespace
}  // namespace skiff::storage::testing
