// SqliteStore: the durable Store backend. One SQLite file in WAL mode.
//
// Schema: `log` holds one row per revision (the written value, create revision, a pointer to
// the key's previous live row, and a deleted flag for tombstones); `current` maps each live
// key to its newest log row, so get/range at the current revision are index lookups; `meta`
// records the compacted revision. The current revision is max(log.revision, compacted): rows
// above the compacted revision are never deleted.
//
// Writes: callers queue a WriteOp and block on its future. One writer thread drains the queue,
// runs every CAS check and insert of the drained batch inside one IMMEDIATE transaction,
// commits once, publishes the events to the watch hub, then completes the callers. So a write
// has been committed to the WAL (synchronous=NORMAL: survives a process kill) before its
// caller returns. If a batch fails, each op is retried in its own transaction so one bad
// write cannot fail its neighbours.
//
// Reads use a pool of separate connections; WAL lets them read while the writer commits.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "storage/background_compactor.h"
#include "storage/key_range.h"
#include "storage/sqlite/sqlite_db.h"
#include "storage/store.h"
#include "storage/watch_hub.h"

namespace skiff::storage::sqlite {

// One queued write. The caller's strings outlive it (the caller blocks until done).
struct WriteOp {
  enum class Kind { Create, Update, Remove, Compact };
  Kind kind = Kind::Create;
  std::string_view key;
  std::string_view value;
  int64_t revision = 0;  // Update/Remove: expected modRevision (0 = any); Compact: target
  WriteHintPtr hint;     // Create/Update

  // Filled by the writer thread.
  WriteResult result;
  std::exception_ptr error;
  std::optional<Event> event;
  std::promise<void> done;
};

// Idle read connections; a lease returns its connection when destroyed. Opens a new
// connection when all are busy, so concurrency is bounded only by the callers.
class ReadPool {
 public:
  explicit ReadPool(std::string path) : path_(std::move(path)) {}

  class Lease {
   public:
    Lease(ReadPool& pool, std::unique_ptr<Database> db) : pool_(pool), db_(std::move(db)) {}
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Database& operator*() { return *db_; }
    Database* operator->() { return db_.get(); }

   private:
    ReadPool& pool_;
    std::unique_ptr<Database> db_;
  };
  Lease acquire();

 private:
  std::string path_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Database>> idle_;
};

// An exclusive flock on "<db>.lock" for the store's lifetime: two stores writing one file
// would each number revisions from their own counter. The kernel drops it on kill -9.
class FileLock {
 public:
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const SqliteOptions& options);
  ~SqliteStore() override;

  int64_t currentRevision() override { return revision_.load(); }
  int64_t compactedRevision() override { return compacted_.load(); }
  std::optional<KeyValue> get(std::string_view key, int64_t revision) override;
  RangeResult range(std::string_view key, std::string_view rangeEnd, int64_t limit,
                    int64_t revision) override;
  WriteResult create(std::string_view key, std::string_view value,
                     WriteHintPtr hint = nullptr) override;
  WriteResult update(std::string_view key, std::string_view value, int64_t expectedModRevision,
                     WriteHintPtr hint = nullptr) override;
  WriteResult remove(std::string_view key, int64_t expectedModRevision) override;
  WatchPtr watch(std::string_view key, std::string_view rangeEnd, int64_t fromRevision,
                 WatchCallback callback, WatchDelivery delivery = WatchDelivery::Queued) override;
  void compact(int64_t revision) override;

 private:
  // sqlite_writer.cpp
  WriteResult submit(WriteOp& op);
  void writerLoop();
  void processBatch(const std::vector<WriteOp*>& batch);
  void applyOp(WriteOp& op, int64_t& revision, int64_t& compacted);
  void applyCompaction(WriteOp& op, int64_t revision, int64_t& compacted);

  SqliteOptions options_;
  FileLock lock_;
  std::unique_ptr<Database> writeDb_;  // used only by the writer thread after construction
  ReadPool readers_;
  std::shared_ptr<WatchHub> hub_;
  std::atomic<int64_t> revision_{0};   // newest committed revision
  std::atomic<int64_t> compacted_{0};  // newest committed compaction

  std::mutex queueMu_;
  std::condition_variable queueCv_;
  std::deque<WriteOp*> queue_;
  bool stopping_ = false;
  std::thread writer_;

  std::unique_ptr<BackgroundCompactor> compactor_;  // last: started once the store works
};

}  // namespace skiff::storage::sqlite
