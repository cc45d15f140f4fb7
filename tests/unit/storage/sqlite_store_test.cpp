// Behaviour only the durable backend has: reopening, surviving kill -9, one opener per file.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <sstream>
#include <thread>

#include "store_test_util.h"

namespace skiff::storage::testing {
namespace {

SqliteOptions optionsFor(const TempDir& dir) {
  SqliteOptions o;
  o.path = dir.file("store.db");
  o.compaction.interval = {};  // these tests compact explicitly
  return o;
}

TEST(SqliteStore, ReopenKeepsDataRevisionAndCompaction) {
  TempDir dir;
  {
    auto store = openSqliteStore(optionsFor(dir));
    store->create("/a", "a1");     // 1
    store->update("/a", "a2", 1);  // 2
    store->create("/b", "b1");     // 3
    store->remove("/b");           // 4
    store->compact(4);             // the newest rows are compacted tombstones now
  }
  auto store = openSqliteStore(optionsFor(dir));
  EXPECT_EQ(store->currentRevision(), 4);
  EXPECT_EQ(store->compactedRevision(), 4);
  EXPECT_EQ(*store->get("/a"), (KeyValue{"/a", "a2", 1, 2}));
  EXPECT_FALSE(store->get("/b"));
  EXPECT_THROW(store->get("/a", 3), CompactedError);
  auto res = store->create("/c", "c1");
  EXPECT_EQ(res.revision, 5);
  EventSink sink;
  auto w = store->watch("/", prefixEnd("/"), 5, sink.callback());
  ASSERT_EQ(sink.waitFor(1).size(), 1u);
}

TEST(SqliteStore, ReopenWithoutCompactionReplaysFullHistory) {
  TempDir dir;
  {
    auto store = openSqliteStore(optionsFor(dir));
    for (int i = 0; i < 10; ++i) store->create("/k" + std::to_string(i), "v");
  }
  auto store = openSqliteStore(optionsFor(dir));
  EventSink sink;
  auto w = store->watch("/", prefixEnd("/"), 1, sink.callback());
  auto ev = sink.waitFor(10);
  ASSERT_EQ(ev.size(), 10u);
  EXPECT_EQ(ev.back().kv.modRevision, 10);
}

// The child creates keys from several threads and reports each acknowledged key on a pipe;
// it is killed with SIGKILL mid-stream. Every acknowledged key must be in the reopened file.
TEST(SqliteStore, AcknowledgedWritesSurviveKillNine) {
  TempDir dir;
  SqliteOptions opts = optionsFor(dir);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    auto store = openSqliteStore(opts);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0;; ++i) {
          std::string key = "/kill/" + std::to_string(t) + "/" + std::to_string(i);
          if (!store->create(key, "value-" + key).succeeded) _exit(3);
          std::string line = key + "\n";  // < PIPE_BUF: one atomic write
          if (write(fds[1], line.data(), line.size()) != ssize_t(line.size())) _exit(4);
        }
      });
    }
    for (auto& th : threads) th.join();
    _exit(0);
  }
  close(fds[1]);
  std::string acked;
  std::thread reader([&] {
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) acked.append(buf, size_t(n));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  reader.join();  // EOF once the child's end is gone
  close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited on its own, status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  auto store = openSqliteStore(opts);
  std::istringstream lines(acked);
  std::string key;
  size_t count = 0;
  int64_t maxRevision = 0;
  while (std::getline(lines, key)) {
    auto kv = store->get(key);
    ASSERT_TRUE(kv) << "acknowledged key lost: " << key;
    EXPECT_EQ(kv->value, "value-" + key);
    maxRevision = std::max(maxRevision, kv->modRevision);
    ++count;
  }
  EXPECT_GT(count, 50u) << "the child acknowledged too few writes to prove anything";
  int64_t before = store->currentRevision();
  EXPECT_GE(before, maxRevision);
  auto res = store->create("/after-crash", "v");
  ASSERT_TRUE(res.succeeded);
  EXPECT_EQ(res.revision, before + 1);
  std::cout << "[ info ] acknowledged before SIGKILL: " << count << " keys, revision " << before
            << "\n";
}

TEST(SqliteStore, SecondOpenOfTheSameFileIsRefused) {
  TempDir dir;
  auto store = openSqliteStore(optionsFor(dir));
  EXPECT_THROW(openSqliteStore(optionsFor(dir)), std::runtime_error);
  store.reset();
  EXPECT_NO_THROW(openSqliteStore(optionsFor(dir)));  // released on close
}

TEST(SqliteStore, OpeningAnUnwritablePathThrowsWithContext) {
  SqliteOptions o;
  o.path = "/nonexistent-dir/for/skiff/store.db";
  try {
    openSqliteStore(o);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/for/skiff/store.db"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace skiff::storage::testing
