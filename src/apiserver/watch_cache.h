// The watch cache (upstream's "cacher"): the API server keeps every object of every resource
// in memory, fed by ONE store watch over /registry/, so lists, gets and watches are served
// from memory while the store stays the source of truth.
//
// Consistency: `observedRevision()` is the store revision up to which every event has been
// applied to every cache. A consistent read first waits until it catches up with the store's
// current revision (waitFor), so a client always reads its own writes.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/compressed_text.h"
#include "common/hash.h"
#include "storage/store.h"

namespace skiff::apiserver {

using ObjectPtr = std::shared_ptr<const boost::json::object>;

// The hint the API server attaches to its writes (storage::WriteHint): the object written,
// in the storage version. The watch cache keeps this very object instead of parsing the
// stored bytes back, and the writer answers with it. committed() stamps its
// resourceVersion; from then on it is shared and read-only.
class ObjectHint final : public storage::WriteHint {
 public:
  // `obj` as encoded for storage (no resourceVersion). Numbers are made the kinds a parse
  // of the stored text would give, so readers cannot tell the two apart.
  explicit ObjectHint(boost::json::object obj);
  void committed(int64_t revision) override;
  // The object (with its resourceVersion once committed).
  ObjectPtr object() const { return object_; }

 private:
  std::shared_ptr<boost::json::object> object_;
};

// The JSON text of one event's object, made by the first watch stream that sends the event
// and reused by every other (upstream's cachingObject): with N watchers of pods an event is
// serialized once, not N times. Streams that convert or print tables encode on their own.
class SharedEncoding {
 public:
  SharedEncoding() = default;
  // An encoding whose text is already known (the history keeps superseded objects as text).
  explicit SharedEncoding(std::shared_ptr<const std::string> text);
  const std::string& json(const boost::json::object& object);
  // The text when some stream has made it already, else null (never serializes).
  std::shared_ptr<const std::string> madeText() const;

 private:
  std::once_flag once_;
  std::shared_ptr<const std::string> text_;
  std::atomic<bool> made_{false};
};

struct CacheEvent {
  enum class Type { Added, Modified, Deleted };
  Type type = Type::Added;
  int64_t revision = 0;
  std::string key;
  ObjectPtr object;  // Deleted: the last state, with resourceVersion = the delete revision
  ObjectPtr prev;    // state before the event (null for Added)
  // Set for live delivery only; events kept in history (replays) carry none, so the
  // history does not hold 10,000 serialized objects besides the parsed ones.
  std::shared_ptr<SharedEncoding> encoding;
};

// A registered watcher. `deliver` is called under the cache lock: it must only queue.
struct CacheWatcher {
  std::string keyPrefix;
  std::function<void(const CacheEvent&)> deliver;
};
using CacheWatcherHandle = std::shared_ptr<CacheWatcher>;

class ResourceCache {
 public:
  explicit ResourceCache(std::string prefix, size_t historyLimit);
  ~ResourceCache();

  struct Page {
    std::vector<std::pair<std::string, ObjectPtr>> items;
    // Each item's shared JSON text (the one its watch event used), made by the first
    // list or watch stream that needs it and kept while the object is current.
    std::vector<std::shared_ptr<SharedEncoding>> encodings;
    int64_t revision = 0;  // the resourceVersion of the snapshot
    std::string nextKey;   // set when `limit` cut the page: the first key not returned
  };
  // Objects whose key starts with keyPrefix, from startKey on, that pass `filter`, at most
  // `limit` (0 = all). `globalRevision` is the hub's observed revision at call time.
  Page list(const std::string& keyPrefix, const std::string& startKey, size_t limit,
            const std::function<bool(const boost::json::object&)>& filter,
            int64_t globalRevision) const;
  // list() over the objects whose indexed field equals `value` only (the pods cache indexes
  // spec.nodeName: a kubelet's list and the Node authorizer's walk touch one node's pods, not
  // all of them). nextKey, when set, is the next indexed key. Throws std::logic_error on a
  // cache without an index.
  Page listIndexed(const std::string& value, const std::string& keyPrefix, size_t limit,
                   const std::function<bool(const boost::json::object&)>& filter,
                   int64_t globalRevision) const;
  // The field this cache indexes ("spec.nodeName" for pods), or "" when none.
  const std::string& indexedField() const { return indexedField_; }
  // How many objects under keyPrefix sort at or after startKey (a list's remainingItemCount).
  int64_t countFrom(const std::string& keyPrefix, const std::string& startKey) const;
  ObjectPtr get(const std::string& key) const;
  // get() when the object is at `revision` (its metadata.resourceVersion), else null.
  ObjectPtr getAt(const std::string& key, int64_t revision) const;

  // Registers a watcher. Events with revision > fromRevision are replayed from history first.
  // fromRevision < 0: replay nothing. Throws skiff::ApiError 410 if history no longer reaches
  // back to fromRevision.
  CacheWatcherHandle watch(const std::string& keyPrefix, int64_t fromRevision,
                           std::function<void(const CacheEvent&)> deliver);
  void unwatch(const CacheWatcherHandle& handle);

  // Called by the hub (one thread) with each store event for this prefix.
  void apply(const storage::Event& event);
  void load(const storage::KeyValue& kv);
  void setLoadedRevision(int64_t revision);
  size_t size() const;
  // Bytes the history keeps for superseded and deleted states, compressed (each state once,
  // though an update's state is one event's object and the next one's prev), dictionaries
  // not counted.
  size_t historyTextBytes() const;
  // The revision of the newest event applied: every event up to it has been delivered to
  // the watchers it concerns.
  int64_t lastRevision() const;

 private:
  const std::string prefix_;
  const size_t historyLimit_;
  mutable std::mutex mu_;
  // The current object under each key, and the JSON text of it a list or watch stream made,
  // for as long as that stream or a queued event still holds it: the cache does not keep
  // both forms of every object (at 30,000 pods the text alone would be ~120 MB).
  struct Current {
    ObjectPtr object;
    mutable std::weak_ptr<SharedEncoding> encoding;
  };
  // The encoding to share for `cur` (the live one, else a new one it now refers to).
  static std::shared_ptr<SharedEncoding> encodingOf(const Current& cur);
  std::map<std::string, Current> objects_;  // in key order, for lists and pages
  // The same entries by key, hashed (defined in watch_cache.cpp): a get (every GET, every
  // token and authorizer lookup) finds its entry in one probe, where the ordered map compares
  // ~log2(n) keys that share their "/registry/..." prefix — 7.8 % of a GET's server CPU at
  // ~50,000 pods by profile. Only objects_' insert and erase helpers below change it.
  struct KeyIndex;
  std::unique_ptr<KeyIndex> byKey_;
  const Current* findCurrent(std::string_view key) const;
  Current& currentSlot(const std::string& key);  // inserts an empty entry if none
  void eraseCurrent(const std::string& key);
  // Secondary index: indexed value → keys (sorted, so pages are in key order as list()'s).
  // Objects with an empty value are not indexed.
  std::string indexedField_;
  std::vector<std::string> indexPath_;
  std::unordered_map<std::string, std::set<std::string>> index_;
  std::string indexValue(const boost::json::object& obj) const;
  void reindex(const std::string& key, const ObjectPtr& before, const ObjectPtr& after);
  // One past event as the history keeps it. An object that is no longer its key's current
  // state is kept as its JSON text compressed against a recent text of the same resource
  // (a density pod: ~13 KB packed, 4.2 KB of text, ~0.2 KB compressed) and decompressed and
  // parsed again only when a watcher replays that far back.
  struct Retained {
    ObjectPtr parsed;                            // while it is the key's current state
    std::shared_ptr<const CompressedText> text;  // once superseded
  };
  struct HistoryEvent {
    CacheEvent::Type type;
    int64_t revision;
    std::string key;
    Retained object;
    Retained prev;
  };
  // The superseded state `cur` as compressed text (from the text a stream already made, else
  // serialized).
  std::shared_ptr<const CompressedText> compressedTextOf(const Current& cur);
  // Used by apply() only, which runs on the hub's one thread, so outside the lock.
  TextCompressor compressor_;
  std::deque<HistoryEvent> history_;
  uint64_t historyBase_ = 0;  // sequence number of history_.front()
  // Per key, the sequence number of its newest history event while that event's object is
  // still parsed (so the next change to the key can turn it into text).
  std::unordered_map<std::string, uint64_t> parsedInHistory_;
  int64_t historyStart_ = 0;  // every event with revision > historyStart_ is in history_
  // Revision of the newest event applied: written under mu_, read without it (the RBAC
  // authorizer asks on every request whether its index is still current).
  std::atomic<int64_t> lastRevision_ = 0;
  std::vector<CacheWatcherHandle> watchers_;
};

class CacheHub {
 public:
  explicit CacheHub(storage::Store& store, size_t historyLimit = 10000);
  ~CacheHub();

  // The cache for a storage prefix ("/registry/core/pods/"), created at first use. Every
  // prefix under /registry/ that holds objects gets its cache at start or with its first
  // event, so resources that appear while serving (custom resources) are cached completely.
  ResourceCache& cacheFor(const std::string& prefix);
  // Loads everything and starts following the store.
  void start();

  int64_t observedRevision() const;
  // Waits until observedRevision() >= revision. Returns false on timeout.
  bool waitFor(int64_t revision, std::chrono::milliseconds timeout) const;
  // Waits until the caches reflect every write acknowledged so far (consistent read).
  void syncWithStore() const;

  // The cached object at `key` when the cache holds exactly that revision, else null.
  ObjectPtr cachedAt(const std::string& key, int64_t revision);
  // The cached object under key as of the observed revision (null: none cached), which may
  // be older than the store's: for optimistic read-modify-writes that a CAS confirms.
  ObjectPtr cachedLatest(const std::string& key);
  // Parses a stored value into an object with metadata.resourceVersion set.
  static ObjectPtr decode(const storage::KeyValue& kv);
  // The same as a private object, for a caller that modifies it (read-modify-write).
  static std::optional<boost::json::object> decodeObject(const storage::KeyValue& kv);

 private:
  void onEvents(const std::vector<storage::Event>& events);
  // The cache of the key's resource prefix, created when missing.
  ResourceCache* route(const std::string& key);
  // Looks up or creates a cache (a new one starts at the observed revision).
  ResourceCache& cacheAt(std::string_view prefix);

  storage::Store& store_;
  const size_t historyLimit_;
  // Caches never go away once created (requests hold references); the lock guards the map.
  mutable std::shared_mutex cachesMu_;
  // Every request finds its resource's cache here: hashed, not an ordered map whose keys all
  // start with "/registry/".
  std::unordered_map<std::string, std::unique_ptr<ResourceCache>, StringViewHash, std::equal_to<>>
      caches_;
  storage::WatchPtr watch_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  int64_t observed_ = 0;
};

}  // namespace skiff::apiserver
