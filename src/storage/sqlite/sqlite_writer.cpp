// The SqliteStore write path: one writer thread, group commit (see sqlite_store.h).
#include <algorithm>

#include "common/log.h"
#include "common/metrics.h"
#include "storage/sqlite/sqlite_store.h"

namespace skiff::storage::sqlite {

namespace {
// Bounds the time a caller waits behind others and the size of one WAL commit.
constexpr size_t kMaxBatch = 1024;

constexpr const char* kSelectCurrent =
    "SELECT l.create_rev, l.revision, l.value FROM current c "
    "JOIN log l ON l.revision = c.revision WHERE c.key = ?1";
constexpr const char* kInsertLog =
    "INSERT INTO log(revision, key, value, create_rev, prev_rev, deleted) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kUpsertCurrent =
    "INSERT INTO current(key, revision) VALUES(?1, ?2) "
    "ON CONFLICT(key) DO UPDATE SET revision = excluded.revision";
constexpr const char* kDeleteCurrent = "DELETE FROM current WHERE key = ?1";

// Compaction to C, given the previous compacted revision P: a row is superseded when a newer
// row of the same key exists at or below C; any such newer row lies in (P, C] because rows
// superseded by rows at or below P were deleted by earlier compactions. Tombstones at or below
// C go too (nothing needs them: a later create has no previous value).
constexpr const char* kDeleteSuperseded =
    "DELETE FROM log WHERE revision IN (SELECT o.revision FROM log n "
    "JOIN log o ON o.key = n.key AND o.revision < n.revision "
    "WHERE n.revision > ?1 AND n.revision <= ?2)";
constexpr const char* kDeleteTombstones =
    "DELETE FROM log WHERE deleted = 1 AND revision > ?1 AND revision <= ?2";
constexpr const char* kSetCompacted = "UPDATE meta SET value = ?1 WHERE name = 'compacted'";
}  // namespace

WriteResult SqliteStore::create(std::string_view key, std::string_view value, WriteHintPtr hint) {
  WriteOp op;
  op.kind = WriteOp::Kind::Create;
  op.key = key;
  op.value = value;
  op.hint = std::move(hint);
  return submit(op);
}

WriteResult SqliteStore::update(std::string_view key, std::string_view value,
                                int64_t expectedModRevision, WriteHintPtr hint) {
  WriteOp op;
  op.kind = WriteOp::Kind::Update;
  op.key = key;
  op.value = value;
  op.hint = std::move(hint);
  op.revision = expectedModRevision;
  return submit(op);
}

WriteResult SqliteStore::remove(std::string_view key, int64_t expectedModRevision) {
  WriteOp op;
  op.kind = WriteOp::Kind::Remove;
  op.key = key;
  op.revision = expectedModRevision;
  return submit(op);
}

void SqliteStore::compact(int64_t revision) {
  WriteOp op;
  op.kind = WriteOp::Kind::Compact;
  op.revision = revision;
  submit(op);
}

WriteResult SqliteStore::submit(WriteOp& op) {
  auto done = op.done.get_future();
  {
    std::lock_guard lock(queueMu_);
    if (stopping_) throw std::runtime_error("sqlite store " + options_.path + " is closing");
    queue_.push_back(&op);
  }
  queueCv_.notify_one();
  done.get();
  if (op.error) std::rethrow_exception(op.error);
  return std::move(op.result);
}

void SqliteStore::writerLoop() {
  // Ops per group commit (ops / transactions) shows whether writers wait together: one op
  // per transaction means every write pays a COMMIT of its own.
  auto& metrics = Metrics::global();
  metrics.describe("skiff_sqlite_write_transactions_total", "counter",
                   "Write transactions (group commits) of the sqlite store.");
  metrics.describe("skiff_sqlite_write_ops_total", "counter",
                   "Writes (creates, updates, deletes, compactions) committed in them.");
  auto& transactions = metrics.series("skiff_sqlite_write_transactions_total", {});
  auto& ops = metrics.series("skiff_sqlite_write_ops_total", {});
  std::vector<WriteOp*> batch;
  for (;;) {
    {
      std::unique_lock lock(queueMu_);
      queueCv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and every queued write was served
      size_t n = std::min(queue_.size(), kMaxBatch);
      batch.assign(queue_.begin(), queue_.begin() + n);
      queue_.erase(queue_.begin(), queue_.begin() + n);
    }
    processBatch(batch);
    transactions.fetch_add(1, std::memory_order_relaxed);
    ops.fetch_add(static_cast<double>(batch.size()), std::memory_order_relaxed);
  }
}

void SqliteStore::processBatch(const std::vector<WriteOp*>& batch) {
  int64_t revision = revision_.load();
  int64_t compacted = compacted_.load();
  try {
    Transaction txn(*writeDb_, "BEGIN IMMEDIATE");
    for (WriteOp* op : batch) applyOp(*op, revision, compacted);
    txn.commit();
  } catch (const std::exception& e) {
    if (batch.size() > 1) {
      // Find the culprit: every op gets its own transaction and its own outcome.
      SKIFF_LOG_WARN("sqlite write batch failed, retrying singly: db={} ops={} error={}",
                     options_.path, batch.size(), e.what());
      for (WriteOp* op : batch) processBatch({op});
    } else {
      batch.front()->error = std::current_exception();
      batch.front()->done.set_value();
    }
    return;
  }
  revision_.store(revision);
  compacted_.store(compacted);
  std::vector<Event> events;
  for (WriteOp* op : batch) {
    if (!op->event) continue;
    if (op->hint && op->event->type == Event::Type::Put) {
      op->hint->committed(op->event->kv.modRevision);
      op->event->hint = op->hint;
    }
    events.push_back(std::move(*op->event));
  }
  hub_->publish(events);
  for (WriteOp* op : batch) op->done.set_value();
}

void SqliteStore::applyOp(WriteOp& op, int64_t& revision, int64_t& compacted) {
  op.result = WriteResult{};
  op.error = nullptr;
  op.event.reset();
  if (op.kind == WriteOp::Kind::Compact) {
    applyCompaction(op, revision, compacted);
    return;
  }
  Database& db = *writeDb_;
  std::optional<KeyValue> cur;
  {
    auto q = db.query(kSelectCurrent);
    q.bind(1, op.key);
    if (q.step()) cur = KeyValue{std::string(op.key), q.blob(2), q.int64(0), q.int64(1)};
  }
  bool ok = op.kind == WriteOp::Kind::Create
                ? !cur
                : cur && (op.revision == 0 || op.revision == cur->modRevision);
  op.result.revision = revision;
  if (!ok) {
    op.result.kv = std::move(cur);
    return;
  }

  int64_t next = revision + 1;
  bool remove = op.kind == WriteOp::Kind::Remove;
  int64_t createRev = remove ? 0 : (cur ? cur->createRevision : next);
  {
    auto q = db.query(kInsertLog);
    q.bind(1, next).bind(2, op.key).bind(3, remove ? std::string_view() : op.value);
    q.bind(4, createRev);
    if (cur) {
      q.bind(5, cur->modRevision);
    } else {
      q.bindNull(5);
    }
    q.bind(6, int64_t{remove ? 1 : 0});
    q.run();
  }
  if (remove) {
    auto q = db.query(kDeleteCurrent);
    q.bind(1, op.key).run();
  } else {
    auto q = db.query(kUpsertCurrent);
    q.bind(1, op.key).bind(2, next).run();
  }
  revision = next;

  Event e;
  e.type = remove ? Event::Type::Delete : Event::Type::Put;
  e.kv = KeyValue{std::string(op.key), remove ? std::string() : std::string(op.value), createRev,
                  next};
  e.prev = cur;
  op.result.succeeded = true;
  op.result.revision = next;
  op.result.kv = remove ? std::move(cur) : std::optional<KeyValue>(e.kv);
  op.event = std::move(e);
}

void SqliteStore::applyCompaction(WriteOp& op, int64_t revision, int64_t& compacted) {
  int64_t target = op.revision;
  // Precondition failures are the caller's error, not the batch's: report, don't throw.
  if (target > revision) {
    op.error = std::make_exception_ptr(FutureRevisionError(target));
    return;
  }
  if (target <= compacted) {
    op.error = std::make_exception_ptr(CompactedError(target, compacted));
    return;
  }
  Database& db = *writeDb_;
  db.query(kDeleteSuperseded).bind(1, compacted).bind(2, target).run();
  db.query(kDeleteTombstones).bind(1, compacted).bind(2, target).run();
  db.query(kSetCompacted).bind(1, target).run();
  compacted = target;
  op.result.succeeded = true;
  op.result.revision = revision;
}

}  // namespace skiff::storage::sqlite
