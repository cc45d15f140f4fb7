// Store: the storage seam of the API server, with etcd v3 semantics.
//
// - One global revision that grows by exactly one per successful write.
// - Every key remembers createRevision and modRevision; reads may ask for an old revision
//   until it is compacted away.
// - Writes are compare-and-swap: create only if absent, update/remove only if the caller's
//   expected modRevision still holds. A failed precondition is a normal result, not an error.
// - Watches deliver every change of a key range, in revision order, with the previous value,
//   starting from any revision that has not been compacted.
// Implementations: memory (tests, benchmarks), sqlite (default, durable), later etcd.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::storage {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t createRevision = 0;
  int64_t modRevision = 0;
};

// What a writer in this process attaches to a write for the watchers in this process: the
// API server attaches the object the value encodes, so its watch cache takes that object
// instead of parsing the value back. The store never looks inside. It calls committed()
// exactly once, after the write got its revision and before any watcher sees the event, and
// hands the hint on with the live event (replayed history and other processes' writes come
// without one).
class WriteHint {
 public:
  virtual ~WriteHint() = default;
  virtual void committed(int64_t revision) = 0;
};
using WriteHintPtr = std::shared_ptr<WriteHint>;

struct Event {
  enum class Type { Put, Delete };
  Type type = Type::Put;
  // Put: the new key-value. Delete: key set, value empty, modRevision = revision of the delete.
  KeyValue kv;
  // The value just before this event; absent only for a Put that created the key.
  std::optional<KeyValue> prev;
  // Put: the writer's hint, when the write was made in this process with one.
  std::shared_ptr<const WriteHint> hint;
};

struct RangeResult {
  std::vector<KeyValue> kvs;  // in key order
  int64_t revision = 0;       // the store revision the range was read at
  bool more = false;          // true when `limit` cut the result short
};

struct WriteResult {
  bool succeeded = false;  // false: the precondition (absent / modRevision) did not hold
  int64_t revision = 0;    // success: the new store revision; failure: the current revision
  // Success: the written kv (create/update) or the removed kv (remove).
  // Failure: the key's current value, or nullopt when the key does not exist.
  std::optional<KeyValue> kv;
};

// The requested revision was compacted away (clients get HTTP 410 Expired).
class CompactedError : public std::runtime_error {
 public:
  CompactedError(int64_t requested, int64_t compacted)
      : std::runtime_error("required revision " + std::to_string(requested) +
                           " has been compacted (compacted revision " + std::to_string(compacted) +
                           ")"),
        compactRevision(compacted) {}
  int64_t compactRevision;
};

// The requested revision is newer than the store's current revision.
class FutureRevisionError : public std::runtime_error {
 public:
  explicit FutureRevisionError(int64_t requested)
      : std::runtime_error("required revision " + std::to_string(requested) +
                           " is a future revision") {}
};

// A live watch. Destroying it cancels the watch; once the destructor returns, the callback
// is never called again.
class Watch {
 public:
  virtual ~Watch() = default;
};
using WatchPtr = std::unique_ptr<Watch>;

// Receives the events of one or more consecutive revisions, in revision order. Called from a
// thread owned by the store, never concurrently for the same watch. Must not block for long
// and must not call back into the store's write methods.
using WatchCallback = std::function<void(const std::vector<Event>&)>;

// Where a watch's callback runs.
// - Queued: on a delivery thread of the watch's own, so a slow callback delays only its watch.
// - Inline: on the thread that commits the write, inside the write, before the writer gets
//   its answer. That saves a thread hop per write, and a writer's next read through the
//   watcher already sees its write. The callback must be quick, must never block, and must
//   not call the store at all (a store may hold its own lock while it runs). A watch may not
//   be destroyed from its own inline callback.
enum class WatchDelivery { Queued, Inline };

class Store {
 public:
  virtual ~Store() = default;

  virtual int64_t currentRevision() = 0;
  // Highest compacted revision (0 when nothing was compacted): reads and watches at or below
  // it fail with CompactedError.
  virtual int64_t compactedRevision() = 0;

  // The key's value at `revision` (0 = current). Throws CompactedError/FutureRevisionError.
  virtual std::optional<KeyValue> get(std::string_view key, int64_t revision = 0) = 0;

  // Keys in [key, rangeEnd) in key order, at most `limit` (0 = no limit), at `revision`
  // (0 = current). Throws CompactedError/FutureRevisionError.
  virtual RangeResult range(std::string_view key, std::string_view rangeEnd, int64_t limit = 0,
                            int64_t revision = 0) = 0;

  // Writes only if the key does not exist. `hint`: see WriteHint (committed() is called only
  // when the write succeeds).
  virtual WriteResult create(std::string_view key, std::string_view value,
                             WriteHintPtr hint = nullptr) = 0;
  // Writes only if the key exists and (expectedModRevision == 0 or it equals the key's
  // modRevision).
  virtual WriteResult update(std::string_view key, std::string_view value,
                             int64_t expectedModRevision, WriteHintPtr hint = nullptr) = 0;
  // Removes only if the key exists and (expectedModRevision == 0 or it matches).
  virtual WriteResult remove(std::string_view key, int64_t expectedModRevision = 0) = 0;

  // Watches keys in [key, rangeEnd). Delivers every event with revision >= fromRevision;
  // fromRevision 0 means "changes after now". Throws CompactedError when fromRevision is at
  // or below the compacted revision.
  virtual WatchPtr watch(std::string_view key, std::string_view rangeEnd, int64_t fromRevision,
                         WatchCallback callback,
                         WatchDelivery delivery = WatchDelivery::Queued) = 0;

  // Drops history at and below `revision` (current values are always kept).
  virtual void compact(int64_t revision) = 0;
};
using StorePtr = std::unique_ptr<Store>;

// The smallest key greater than every key starting with `prefix` (etcd's prefix range end).
std::string prefixEnd(std::string_view prefix);

// Background compaction (storage/background_compactor.h): every `interval`, compact to the
// newest revision that is older than `retention`, so at least `retention` of history is kept.
// interval 0 turns it off (tests that compact explicitly).
struct CompactionPolicy {
  std::chrono::milliseconds interval{std::chrono::seconds(60)};
  std::chrono::milliseconds retention{std::chrono::seconds(300)};
};

struct SqliteOptions {
  std::string path;  // database file; created if missing
  CompactionPolicy compaction;
};

StorePtr openMemoryStore(const CompactionPolicy& compaction = {});
StorePtr openSqliteStore(const SqliteOptions& options);

}  // namespace skiff::storage
