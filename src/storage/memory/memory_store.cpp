// In-memory MVCC store (tests, `--storage memory`, and the reference behaviour for the durable
// backends). Old versions are dropped by the same background compaction as the durable stores.
// Every key keeps its versions in revision order; a log maps each revision to the key it
// wrote so watches can replay history in revision order. One shared_mutex: reads share it,
// writes (and watch registration, which must not interleave with a publish) take it
// exclusively. Publishing to the hub happens under the write lock, so watchers see revisions
// in order; the hub only queues, or runs an inline watcher's quick callback.
#include <algorithm>
#include <deque>
#include <map>
#include <shared_mutex>

#include "storage/background_compactor.h"
#include "storage/key_range.h"
#include "storage/store.h"
#include "storage/watch_hub.h"

namespace skiff::storage {
namespace {

struct Version {
  int64_t revision = 0;
  int64_t createRevision = 0;  // 0 for a tombstone
  std::string value;
  bool deleted = false;
};

KeyValue toKv(const std::string& key, const Version& v) {
  return KeyValue{key, v.value, v.createRevision, v.revision};
}

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(const CompactionPolicy& compaction)
      : hub_(WatchHub::create(0)), compactor_(*this, compaction, "memory store") {}

  int64_t currentRevision() override {
    std::shared_lock lock(mu_);
    return revision_;
  }

  int64_t compactedRevision() override {
    std::shared_lock lock(mu_);
    return compacted_;
  }

  std::optional<KeyValue> get(std::string_view key, int64_t revision) override {
    std::shared_lock lock(mu_);
    int64_t at = resolve(revision);
    auto it = keys_.find(key);
    if (it == keys_.end()) return std::nullopt;
    const Version* v = versionAt(it->second, at);
    if (!v || v->deleted) return std::nullopt;
    return toKv(it->first, *v);
  }

  RangeResult range(std::string_view key, std::string_view rangeEnd, int64_t limit,
                    int64_t revision) override {
    std::shared_lock lock(mu_);
    RangeResult out;
    out.revision = resolve(revision);
    KeyRange r(key, rangeEnd);
    for (auto it = keys_.lower_bound(key); it != keys_.end() && r.contains(it->first); ++it) {
      const Version* v = versionAt(it->second, out.revision);
      if (!v || v->deleted) continue;
      if (limit > 0 && static_cast<int64_t>(out.kvs.size()) == limit) {
        out.more = true;
        break;
      }
      out.kvs.push_back(toKv(it->first, *v));
    }
    return out;
  }

  WriteResult create(std::string_view key, std::string_view value,
                     WriteHintPtr hint = nullptr) override {
    std::unique_lock lock(mu_);
    auto it = keys_.find(key);
    if (it != keys_.end() && !it->second.back().deleted) return failed(it);
    if (it == keys_.end()) it = keys_.emplace(std::string(key), std::vector<Version>{}).first;
    int64_t rev = revision_ + 1;
    return commit(it, Version{rev, rev, std::string(value), false}, std::move(hint));
  }

  WriteResult update(std::string_view key, std::string_view value, int64_t expectedModRevision,
                     WriteHintPtr hint = nullptr) override {
    std::unique_lock lock(mu_);
    auto it = keys_.find(key);
    if (it == keys_.end() || it->second.back().deleted) return failed(it);
    const Version& cur = it->second.back();
    if (expectedModRevision != 0 && expectedModRevision != cur.revision) return failed(it);
    return commit(it, Version{revision_ + 1, cur.createRevision, std::string(value), false},
                  std::move(hint));
  }

  WriteResult remove(std::string_view key, int64_t expectedModRevision) override {
    std::unique_lock lock(mu_);
    auto it = keys_.find(key);
    if (it == keys_.end() || it->second.back().deleted) return failed(it);
    const Version& cur = it->second.back();
    if (expectedModRevision != 0 && expectedModRevision != cur.revision) return failed(it);
    KeyValue removed = toKv(it->first, cur);
    WriteResult res = commit(it, Version{revision_ + 1, 0, {}, true});
    res.kv = std::move(removed);
    return res;
  }

  WatchPtr watch(std::string_view key, std::string_view rangeEnd, int64_t fromRevision,
                 WatchCallback callback, WatchDelivery delivery = WatchDelivery::Queued) override {
    std::unique_lock lock(mu_);
    if (fromRevision != 0 && fromRevision <= compacted_) {
      throw CompactedError(fromRevision, compacted_);
    }
    KeyRange r(key, rangeEnd);
    auto reg = hub_->add(r, fromRevision, std::move(callback), delivery);
    std::vector<Event> history;
    for (int64_t rev = std::max(reg.fromRevision, logStart_); rev <= reg.liveAfter; ++rev) {
      const std::string& k = log_[rev - logStart_];
      if (r.contains(k)) history.push_back(eventAt(k, rev));
    }
    reg.watch->start(std::move(history));
    return std::move(reg.watch);
  }

  void compact(int64_t revision) override {
    std::unique_lock lock(mu_);
    if (revision > revision_) throw FutureRevisionError(revision);
    if (revision <= compacted_) throw CompactedError(revision, compacted_);
    for (auto it = keys_.begin(); it != keys_.end();) {
      auto& versions = it->second;
      // Keep the newest version at or below `revision` (it is still the value as of any
      // later read until superseded) unless it is a tombstone; drop everything older.
      auto firstAbove =
          std::upper_bound(versions.begin(), versions.end(), revision,
                           [](int64_t rev, const Version& v) { return rev < v.revision; });
      if (firstAbove != versions.begin()) {
        auto newest = firstAbove - 1;
        versions.erase(versions.begin(), newest->deleted ? firstAbove : newest);
      }
      it = versions.empty() ? keys_.erase(it) : std::next(it);
    }
    while (logStart_ <= revision && !log_.empty()) {
      log_.pop_front();
      ++logStart_;
    }
    compacted_ = revision;
  }

 private:
  using KeyMap = std::map<std::string, std::vector<Version>, std::less<>>;

  int64_t resolve(int64_t revision) const {
    if (revision == 0) return revision_;
    if (revision > revision_) throw FutureRevisionError(revision);
    if (revision <= compacted_) throw CompactedError(revision, compacted_);
    return revision;
  }

  static const Version* versionAt(const std::vector<Version>& versions, int64_t revision) {
    auto it = std::upper_bound(versions.begin(), versions.end(), revision,
                               [](int64_t rev, const Version& v) { return rev < v.revision; });
    return it == versions.begin() ? nullptr : &*(it - 1);
  }

  WriteResult failed(KeyMap::iterator it) const {
    WriteResult res;
    res.revision = revision_;
    if (it != keys_.end() && !it->second.back().deleted)
      res.kv = toKv(it->first, it->second.back());
    return res;
  }

  // Appends the version as revision_ + 1 and publishes its event. Caller holds the lock.
  WriteResult commit(KeyMap::iterator it, Version v, WriteHintPtr hint = nullptr) {
    revision_ = v.revision;
    it->second.push_back(std::move(v));
    log_.push_back(it->first);
    Event event = eventAt(it->first, revision_);
    if (hint) {
      hint->committed(revision_);
      event.hint = std::move(hint);
    }
    hub_->publish({std::move(event)});
    WriteResult res;
    res.succeeded = true;
    res.revision = revision_;
    if (!it->second.back().deleted) res.kv = toKv(it->first, it->second.back());
    return res;
  }

  // The event that wrote `key` at `rev`; its previous version is still present because
  // compaction keeps the newest version at or below the compacted revision.
  Event eventAt(const std::string& key, int64_t rev) const {
    const auto& versions = keys_.find(key)->second;
    auto it = std::lower_bound(versions.begin(), versions.end(), rev,
                               [](const Version& v, int64_t r) { return v.revision < r; });
    Event e;
    e.type = it->deleted ? Event::Type::Delete : Event::Type::Put;
    e.kv = toKv(key, *it);
    if (it != versions.begin() && !(it - 1)->deleted) e.prev = toKv(key, *(it - 1));
    return e;
  }

  std::shared_mutex mu_;
  int64_t revision_ = 0;
  int64_t compacted_ = 0;
  KeyMap keys_;
  std::deque<std::string> log_;  // log_[i] is the key written at revision logStart_ + i
  int64_t logStart_ = 1;
  std::shared_ptr<WatchHub> hub_;
  BackgroundCompactor compactor_;  // last: destroyed (stopped) before the state it compacts
};

}  // namespace

StorePtr openMemoryStore(const CompactionPolicy& compaction) {
  return std::make_unique<MemoryStore>(compaction);
}

}  // namespace skiff::storage
