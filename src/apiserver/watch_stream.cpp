#include "apiserver/watch_stream.h"

#include <boost/json.hpp>
#include <deque>
#include <mutex>
#include <random>

#include "api/conversion.h"
#include "api/managed_fields_text.h"
#include "apiserver/table.h"
#include "common/api_error.h"
#include "common/log.h"
#include "common/metrics.h"

namespace skiff::apiserver {

namespace json = boost::json;

namespace {

// A slow client that lets this many events pile up is cut off (it will re-watch).
constexpr size_t kMaxQueuedEvents = 100000;
constexpr auto kBookmarkInterval = std::chrono::seconds(5);
// A watcher this far behind no longer holds on to the shared text of the events it queues
// (it encodes them itself when it catches up): one slow client must not keep the JSON of
// every event since it fell behind alive. The queue pins each event's parsed object anyway,
// which takes several times its text, so the bound is generous: at 256, watchers that fell
// a burst behind (every client during a 5,000 pods/s create run) serialized each event
// again, one serialization per watcher instead of one per event.
constexpr size_t kShareEncodingBacklog = 16384;

struct Pending {
  std::string type;
  ObjectPtr object;
  std::shared_ptr<SharedEncoding> encoding;  // null for bookmarks, initial and replayed events
};

// A watch that ends after one ERROR event (its object a Status).
class ErrorEventStream : public StreamSource {
 public:
  explicit ErrorEventStream(json::object status)
      : status_(std::make_shared<const json::object>(std::move(status))) {}
  void start(std::function<void()> wake) override { wake(); }
  bool drain(std::vector<std::string>& out) override {
    out.push_back(json::serialize(json::object{{"type", "ERROR"}, {"object", *status_}}) + "\n");
    return false;
  }
  bool supportsEvents() const override { return true; }
  bool drainEvents(std::vector<StreamEvent>& out) override {
    out.push_back({"ERROR", status_});
    return false;
  }
  void cancel() override {}

 private:
  std::shared_ptr<const json::object> status_;
};

class WatchStream : public StreamSource, public std::enable_shared_from_this<WatchStream> {
 public:
  WatchStream(ResourceCache& cache, const api::ResourceInfo& info, WatchOptions options,
              std::function<bool(const json::object&)> filter)
      : cache_(cache),
        info_(info),
        options_(std::move(options)),
        filter_(std::move(filter)),
        sentEvents_(Metrics::global().series("apiserver_watch_events_total",
                                             {{"group", info.group},
                                              {"kind", info.kind},
                                              {"resource", info.plural},
                                              {"version", info.version}})) {}

  ~WatchStream() override { cancel(); }

  // Registers with the cache. Initial events (synthetic ADDED) are queued first.
  void begin(std::vector<ObjectPtr> initial, int64_t fromRevision, int64_t snapshotRevision,
             const std::string& keyPrefix) {
    for (auto& obj : initial) queue_.push_back({"ADDED", std::move(obj), nullptr});
    if (options_.sendInitialEvents && options_.bookmarks) queueBookmark(snapshotRevision, true);
    lastRevision_ = std::max(fromRevision, snapshotRevision);
    std::weak_ptr<WatchStream> weak = shared_from_this();
    handle_ = cache_.watch(keyPrefix, fromRevision, [weak](const CacheEvent& ev) {
      if (auto self = weak.lock()) self->onEvent(ev);
    });
  }

  void start(std::function<void()> wake) override {
    std::lock_guard lock(mu_);
    wake_ = std::move(wake);
    lastBookmark_ = std::chrono::steady_clock::now();
    if (!queue_.empty()) wake_();
  }

  bool drain(std::vector<std::string>& out) override {
    std::deque<Pending> batch;
    bool overflowed = false;
    bool open = take(batch, overflowed);
    for (auto& ev : batch) out.push_back(encode(ev));
    countSent(batch.size() + (overflowed ? 1 : 0));
    if (overflowed) {
      out.push_back(json::serialize(json::object{{"type", "ERROR"}, {"object", overflowStatus()}}) +
                    "\n");
      return false;
    }
    return open;
  }

  bool supportsEvents() const override { return !options_.table; }

  bool drainEvents(std::vector<StreamEvent>& out) override {
    std::deque<Pending> batch;
    bool overflowed = false;
    bool open = take(batch, overflowed);
    for (auto& ev : batch) {
      if (info_.storage && ev.type != "BOOKMARK")
        out.push_back(
            {ev.type, std::make_shared<const json::object>(api::convertObject(*ev.object, info_))});
      else
        out.push_back({std::move(ev.type), std::move(ev.object)});
    }
    countSent(batch.size() + (overflowed ? 1 : 0));
    if (overflowed) {
      out.push_back({"ERROR", std::make_shared<const json::object>(overflowStatus())});
      return false;
    }
    return open;
  }

  void cancel() override {
    CacheWatcherHandle handle;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      handle = std::move(handle_);
      wake_ = nullptr;
    }
    if (handle) cache_.unwatch(handle);
  }

 private:
  // Moves the queued events (and a bookmark when one is due) into `batch`; false once the
  // stream is closed (`overflowed`: because this watcher fell too far behind).
  bool take(std::deque<Pending>& batch, bool& overflowed) {
    // A bookmark may claim the resource's newest revision (also when this watcher's
    // selection saw none of it): the cache delivers each event before it moves on, so
    // every event up to it is in queue_ now. Read before taking mu_ (lock order: the cache
    // calls onEvent under its lock).
    const int64_t cacheRevision = options_.bookmarks ? cache_.lastRevision() : 0;
    std::lock_guard lock(mu_);
    lastRevision_ = std::max(lastRevision_, cacheRevision);
    overflowed = overflowed_;
    batch.swap(queue_);
    auto now = std::chrono::steady_clock::now();
    if (options_.bookmarks && batch.empty() && now - lastBookmark_ >= kBookmarkInterval) {
      queueBookmark(lastRevision_, false);
      batch.swap(queue_);
    }
    if (!batch.empty()) lastBookmark_ = now;
    return !closed_;
  }

  // apiserver_watch_events_total (described in request_metrics.cpp).
  void countSent(size_t n) {
    if (n > 0) sentEvents_.fetch_add(static_cast<double>(n), std::memory_order_relaxed);
  }

  static json::object overflowStatus() {
    return expired("watch queue overflowed; please re-watch").toStatus();
  }

  // Called under the cache lock: decide the event type for this watcher and queue it.
  void onEvent(const CacheEvent& ev) {
    bool nowMatches = ev.type != CacheEvent::Type::Deleted && (!filter_ || filter_(*ev.object));
    bool usedToMatch = ev.prev && (!filter_ || filter_(*ev.prev));
    if (ev.type == CacheEvent::Type::Deleted) usedToMatch = !filter_ || filter_(*ev.object);
    std::string type;
    ObjectPtr object = ev.object;
    if (ev.type == CacheEvent::Type::Deleted) {
      if (usedToMatch) type = "DELETED";
    } else if (nowMatches && usedToMatch) {
      type = "MODIFIED";
    } else if (nowMatches) {
      type = "ADDED";
    } else if (usedToMatch) {
      // The object left the selection: to this watcher it is gone.
      type = "DELETED";
    }
    std::lock_guard lock(mu_);
    lastRevision_ = std::max(lastRevision_, ev.revision);
    if (type.empty() || closed_) return;
    if (queue_.size() >= kMaxQueuedEvents) {
      overflowed_ = true;
      closed_ = true;
    } else {
      queue_.push_back(
          {type, object, queue_.size() < kShareEncodingBacklog ? ev.encoding : nullptr});
    }
    if (wake_) wake_();
  }

  void queueBookmark(int64_t revision, bool initialEventsEnd) {
    json::object meta{{"resourceVersion", std::to_string(revision)}};
    if (initialEventsEnd) meta["annotations"] = json::object{{"k8s.io/initial-events-end", "true"}};
    auto obj = std::make_shared<json::object>(
        json::object{{"kind", info_.kind}, {"apiVersion", info_.apiVersion()}, {"metadata", meta}});
    queue_.push_back({"BOOKMARK", obj, nullptr});
  }

  // One line of the watch stream: {"type":"...","object":{...}}. The object text is written
  // as is (no copy into a wrapper object); the type is one of a few plain ASCII words.
  std::string encode(const Pending& ev) {
    bool isBookmark = ev.type == "BOOKMARK";
    std::string line = "{\"type\":\"" + ev.type + "\",\"object\":";
    if (options_.table && !isBookmark) {
      json::object converted;
      const json::object* obj = ev.object.get();
      if (info_.storage) obj = &(converted = api::convertObject(*ev.object, info_));
      api::appendObjectJson(line, makeTable(info_, {obj}, options_.includeObject, !sentColumns_));
      sentColumns_ = true;
    } else if (info_.storage && !isBookmark) {
      api::appendObjectJson(line, api::convertObject(*ev.object, info_));
    } else if (ev.encoding) {
      line += ev.encoding->json(*ev.object);
    } else {
      api::appendObjectJson(line, *ev.object);
    }
    line += "}\n";
    return line;
  }

  ResourceCache& cache_;
  const api::ResourceInfo& info_;
  const WatchOptions options_;
  const std::function<bool(const json::object&)> filter_;
  std::mutex mu_;
  std::deque<Pending> queue_;
  std::function<void()> wake_;
  CacheWatcherHandle handle_;
  bool closed_ = false;
  bool overflowed_ = false;
  bool sentColumns_ = false;
  int64_t lastRevision_ = 0;
  std::chrono::steady_clock::time_point lastBookmark_;
  std::atomic<double>& sentEvents_;
};

}  // namespace

std::shared_ptr<StreamSource> startWatch(ResourceStore& store, const api::ResourceInfo& info,
                                         const WatchOptions& options) {
  auto filter = makeFilter(info, options.labelSelector, options.fieldSelector);
  auto stream = std::make_shared<WatchStream>(store.cache(info), info, options, filter);
  const std::string prefix = store.listPrefix(info, options.ns);
  std::vector<ObjectPtr> initial;
  int64_t from = -1, snapshotRevision = 0;
  bool wantInitial = options.resourceVersion.empty() || options.resourceVersion == "0" ||
                     options.sendInitialEvents;
  if (wantInitial) {
    if (options.resourceVersion.empty()) store.caches().syncWithStore();
    // Snapshot and registration must not miss events in between: take the snapshot's
    // revision and replay history after it.
    auto page =
        store.cache(info).list(prefix, prefix, 0, filter, store.caches().observedRevision());
    for (auto& [k, obj] : page.items) initial.push_back(obj);
    from = page.revision;
    snapshotRevision = page.revision;
  } else {
    try {
      size_t used = 0;
      from = std::stoll(options.resourceVersion, &used);
      if (used != options.resourceVersion.size() || from < 0) throw std::invalid_argument("rv");
    } catch (const std::exception&) {
      throw badRequest("invalid resource version: " + options.resourceVersion);
    }
    snapshotRevision = from;
  }
  try {
    stream->begin(std::move(initial), from, snapshotRevision, prefix);
  } catch (const ApiError& e) {
    // Like upstream's cacher: a watch from a revision the history no longer holds is a 200
    // whose only event is an ERROR carrying the 410, so watch clients see the Status event.
    if (e.code() != 410) throw;
    return std::make_shared<ErrorEventStream>(e.toStatus());
  }
  // Upstream spreads default watch timeouts over [min, 2*min) so clients do not re-watch
  // in lockstep; 30 minutes minimum like kube-apiserver's default.
  int64_t timeout = options.timeoutSeconds;
  if (timeout <= 0) {
    static thread_local std::mt19937 rng{std::random_device{}()};
    timeout = std::uniform_int_distribution<int64_t>(1800, 3599)(rng);
  }
  stream->deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
  // A quiet watch still gets its bookmarks: the connection drains it this often.
  if (options.bookmarks)
    stream->idleDrain = std::chrono::duration_cast<std::chrono::milliseconds>(kBookmarkInterval);
  return stream;
}

}  // namespace skiff::apiserver
