#include "apiserver/watch_cache.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <limits>
#include <unordered_set>

#include "api/managed_fields_text.h"
#include "common/api_error.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/packed_json.h"

namespace skiff::apiserver {

namespace json = boost::json;

SharedEncoding::SharedEncoding(std::shared_ptr<const std::string> text) : text_(std::move(text)) {
  made_.store(true, std::memory_order_release);
}

const std::string& SharedEncoding::json(const boost::json::object& object) {
  std::call_once(once_, [&] {
    if (!text_) text_ = std::make_shared<const std::string>(api::objectJson(object));
    made_.store(true, std::memory_order_release);
  });
  return *text_;
}

std::shared_ptr<const std::string> SharedEncoding::madeText() const {
  return made_.load(std::memory_order_acquire) ? text_ : nullptr;
}

namespace {
// Stamps the revision a stored object is at (the store's modRevision is the truth). Looks
// fields up before inserting: Boost.JSON's operator[] reserves room for one more entry even
// when the key exists, which on a packed object (tables sized exactly) moved the top-level
// and metadata tables to the heap on every commit.
void setResourceVersion(json::object& obj, int64_t revision) {
  json::value* meta = obj.if_contains("metadata");
  if (!meta) meta = &obj["metadata"];
  if (!meta->is_object()) meta->emplace_object();
  json::object& m = meta->as_object();
  if (json::value* rv = m.if_contains("resourceVersion"))
    *rv = std::to_string(revision);
  else
    m["resourceVersion"] = std::to_string(revision);
}
}  // namespace

std::optional<json::object> CacheHub::decodeObject(const storage::KeyValue& kv) {
  boost::system::error_code ec;
  json::value v = json::parse(kv.value, ec);
  if (ec || !v.is_object()) {
    SKIFF_LOG_ERROR("corrupt stored object key={} revision={}", kv.key, kv.modRevision);
    return std::nullopt;
  }
  auto& obj = v.as_object();
  setResourceVersion(obj, kv.modRevision);
  return std::move(obj);
}

ObjectPtr CacheHub::decode(const storage::KeyValue& kv) {
  auto obj = decodeObject(kv);
  if (!obj) return nullptr;
  api::packManagedFields(*obj);
  return packJson(*obj);
}

namespace {
// A parse yields int64 for every integer that fits; code that built the object may have
// stored unsigned ones.
void normalizeNumbers(json::value& v) {
  switch (v.kind()) {
    case json::kind::object:
      for (auto& field : v.get_object()) normalizeNumbers(field.value());
      break;
    case json::kind::array:
      for (auto& item : v.get_array()) normalizeNumbers(item);
      break;
    case json::kind::uint64:
      if (v.get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        v = static_cast<int64_t>(v.get_uint64());
      break;
    default:
      break;
  }
}
}  // namespace

// The cache keeps the object packed into one block (common/packed_json.h: a quarter less
// memory than node-by-node). Packed here, on the writing request's thread, with a
// resourceVersion placeholder that committed() overwrites in place (a revision fits the
// string's inline buffer), so the store's writer thread does no more than before.
ObjectHint::ObjectHint(json::object obj) {
  for (auto& field : obj) normalizeNumbers(field.value());
  setResourceVersion(obj, 0);
  api::packManagedFields(obj);
  object_ = packJson(obj);
}

void ObjectHint::committed(int64_t revision) { setResourceVersion(*object_, revision); }

namespace {
// A history text back into an object (it was serialized from one, resourceVersion included).
ObjectPtr parseText(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return nullptr;
  return std::make_shared<const json::object>(std::move(v.as_object()));
}
ObjectPtr withResourceVersion(const ObjectPtr& obj, int64_t revision) {
  auto copy = std::make_shared<json::object>(*obj);
  setResourceVersion(*copy, revision);
  return copy;
}
bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}
}  // namespace

// Open addressing: ~30 bytes an entry (a view of the map node's key and the node's value),
// no allocation per entry.
struct ResourceCache::KeyIndex {
  boost::unordered_flat_map<std::string_view, Current*, StringViewHash> entries;
};

ResourceCache::ResourceCache(std::string prefix, size_t historyLimit)
    : prefix_(std::move(prefix)),
      historyLimit_(historyLimit),
      byKey_(std::make_unique<KeyIndex>()) {
  // Pods by node: every kubelet lists and watches with spec.nodeName=NAME, and the Node
  // authorizer walks one node's pods per Secret/ConfigMap read.
  if (prefix_ == "/registry/core/pods/") {
    indexedField_ = "spec.nodeName";
    indexPath_ = {"spec", "nodeName"};
  }
}

ResourceCache::~ResourceCache() = default;

const ResourceCache::Current* ResourceCache::findCurrent(std::string_view key) const {
  auto it = byKey_->entries.find(key);
  return it == byKey_->entries.end() ? nullptr : it->second;
}

ResourceCache::Current& ResourceCache::currentSlot(const std::string& key) {
  if (auto it = byKey_->entries.find(key); it != byKey_->entries.end()) return *it->second;
  auto [node, inserted] = objects_.try_emplace(key);
  // The view refers to the map node's own key, which stays put until the node is erased.
  byKey_->entries.emplace(node->first, &node->second);
  return node->second;
}

void ResourceCache::eraseCurrent(const std::string& key) {
  byKey_->entries.erase(key);
  objects_.erase(key);
}

std::string ResourceCache::indexValue(const json::object& obj) const {
  const json::object* at = &obj;
  for (size_t i = 0; i + 1 < indexPath_.size(); ++i) {
    const json::value* next = at->if_contains(indexPath_[i]);
    if (!next || !next->is_object()) return {};
    at = &next->get_object();
  }
  const json::value* v = at->if_contains(indexPath_.back());
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// Called under mu_ with an object's state before and after a change (null: absent).
void ResourceCache::reindex(const std::string& key, const ObjectPtr& before,
                            const ObjectPtr& after) {
  if (indexPath_.empty()) return;
  std::string was = before ? indexValue(*before) : std::string();
  std::string now = after ? indexValue(*after) : std::string();
  if (was == now) return;
  if (!was.empty()) {
    auto it = index_.find(was);
    if (it != index_.end()) {
      it->second.erase(key);
      if (it->second.empty()) index_.erase(it);
    }
  }
  if (!now.empty()) index_[now].insert(key);
}

ResourceCache::Page ResourceCache::listIndexed(
    const std::string& value, const std::string& keyPrefix, size_t limit,
    const std::function<bool(const json::object&)>& filter, int64_t globalRevision) const {
  if (indexPath_.empty()) throw std::logic_error("cache " + prefix_ + " has no index");
  Page page;
  std::lock_guard lock(mu_);
  page.revision = std::max(globalRevision, lastRevision_.load(std::memory_order_relaxed));
  auto bucket = index_.find(value);
  if (bucket == index_.end()) return page;
  for (auto k = bucket->second.lower_bound(keyPrefix);
       k != bucket->second.end() && startsWith(*k, keyPrefix); ++k) {
    if (limit && page.items.size() >= limit) {
      page.nextKey = *k;
      break;
    }
    const Current& cur = *findCurrent(*k);  // the index holds current keys only
    if (!filter || filter(*cur.object)) {
      page.items.emplace_back(*k, cur.object);
      page.encodings.push_back(encodingOf(cur));
    }
  }
  return page;
}

ResourceCache::Page ResourceCache::list(const std::string& keyPrefix, const std::string& startKey,
                                        size_t limit,
                                        const std::function<bool(const json::object&)>& filter,
                                        int64_t globalRevision) const {
  Page page;
  std::lock_guard lock(mu_);
  page.revision = std::max(globalRevision, lastRevision_.load(std::memory_order_relaxed));
  auto it = objects_.lower_bound(std::max(keyPrefix, startKey));
  for (; it != objects_.end() && startsWith(it->first, keyPrefix); ++it) {
    if (limit && page.items.size() >= limit) {
      page.nextKey = it->first;
      break;
    }
    if (!filter || filter(*it->second.object)) {
      page.items.emplace_back(it->first, it->second.object);
      page.encodings.push_back(encodingOf(it->second));
    }
  }
  return page;
}

int64_t ResourceCache::countFrom(const std::string& keyPrefix, const std::string& startKey) const {
  std::lock_guard lock(mu_);
  int64_t n = 0;
  for (auto it = objects_.lower_bound(std::max(keyPrefix, startKey));
       it != objects_.end() && startsWith(it->first, keyPrefix); ++it)
    ++n;
  return n;
}

ObjectPtr ResourceCache::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  const Current* cur = findCurrent(key);
  return cur ? cur->object : nullptr;
}

ObjectPtr ResourceCache::getAt(const std::string& key, int64_t revision) const {
  ObjectPtr obj = get(key);
  if (!obj) return nullptr;
  const json::value* meta = obj->if_contains("metadata");
  const json::value* rv =
      meta && meta->is_object() ? meta->as_object().if_contains("resourceVersion") : nullptr;
  if (!rv || !rv->is_string() || rv->as_string() != std::to_string(revision)) return nullptr;
  return obj;
}

CacheWatcherHandle ResourceCache::watch(const std::string& keyPrefix, int64_t fromRevision,
                                        std::function<void(const CacheEvent&)> deliver) {
  auto handle = std::make_shared<CacheWatcher>(CacheWatcher{keyPrefix, std::move(deliver)});
  std::lock_guard lock(mu_);
  if (fromRevision >= 0) {
    if (fromRevision < historyStart_)
      throw expired("too old resource version: " + std::to_string(fromRevision) + " (" +
                    std::to_string(historyStart_) + ")");
    // A superseded object is one event's object and the next one's prev: decompress and
    // parse it once; its text also serves the streams that send it.
    struct Restored {
      ObjectPtr object;
      std::shared_ptr<const std::string> text;
    };
    std::unordered_map<const CompressedText*, Restored> restored;
    auto materialize = [&](const Retained& r) -> Restored {
      if (r.parsed || !r.text) return {r.parsed, nullptr};
      Restored& slot = restored[r.text.get()];
      if (!slot.object) {
        slot.text = std::make_shared<const std::string>(r.text->text());
        slot.object = parseText(*slot.text);
      }
      return slot;
    };
    for (const auto& h : history_) {
      if (h.revision <= fromRevision || !startsWith(h.key, keyPrefix)) continue;
      Restored object = materialize(h.object);
      CacheEvent ev{h.type,
                    h.revision,
                    h.key,
                    object.object,
                    materialize(h.prev).object,
                    object.text ? std::make_shared<SharedEncoding>(object.text) : nullptr};
      if (ev.object) handle->deliver(ev);
    }
  }
  watchers_.push_back(handle);
  return handle;
}

void ResourceCache::unwatch(const CacheWatcherHandle& handle) {
  std::lock_guard lock(mu_);
  std::erase(watchers_, handle);
}

void ResourceCache::load(const storage::KeyValue& kv) {
  auto obj = CacheHub::decode(kv);
  if (!obj) return;
  std::lock_guard lock(mu_);
  Current& slot = currentSlot(kv.key);
  reindex(kv.key, slot.object, obj);
  slot = Current{std::move(obj), {}};
}

void ResourceCache::setLoadedRevision(int64_t revision) {
  std::lock_guard lock(mu_);
  historyStart_ = revision;
  lastRevision_.store(std::max(lastRevision_.load(std::memory_order_relaxed), revision),
                      std::memory_order_release);
}

void ResourceCache::apply(const storage::Event& event) {
  CacheEvent ev;
  ev.key = event.kv.key;
  ev.revision = event.kv.modRevision;
  // Parsed before taking the lock, which gets and lists on request threads wait for; a
  // write of this API server hands over its object, already stamped with the revision.
  if (event.type == storage::Event::Type::Put) {
    const auto* hint = dynamic_cast<const ObjectHint*>(event.hint.get());
    ev.object = hint ? hint->object() : CacheHub::decode(event.kv);
    if (!ev.object) return;
  }
  // The state this event supersedes stays in the history as compressed text only. It is
  // found and compressed before taking the lock the request threads wait for: only this
  // thread (the hub's) changes objects_, so it is still current below.
  HistoryEvent past{CacheEvent::Type::Added, ev.revision, ev.key, {}, {}};
  std::optional<Current> superseded;
  {
    std::lock_guard lock(mu_);
    if (const Current* cur = findCurrent(ev.key)) superseded = *cur;
  }
  // The event's text is the object's: a watcher's serialization serves later lists too.
  ev.encoding = std::make_shared<SharedEncoding>();
  if (superseded) {
    ev.prev = superseded->object;
    past.prev.text = compressedTextOf(*superseded);
    if (event.type == storage::Event::Type::Delete) {
      // Nothing will supersede a deleted object: its last state goes to the history as text
      // right away, and the streams that send the event reuse that text.
      ev.object = withResourceVersion(ev.prev, ev.revision);
      auto text = std::make_shared<const std::string>(api::objectJson(*ev.object));
      past.object.text = compressor_.compress(*text);
      ev.encoding = std::make_shared<SharedEncoding>(std::move(text));
    }
  }
  std::lock_guard lock(mu_);
  if (superseded) {
    if (auto at = parsedInHistory_.find(ev.key); at != parsedInHistory_.end()) {
      Retained& was = history_[at->second - historyBase_].object;
      if (was.parsed == ev.prev) was = Retained{nullptr, past.prev.text};
      parsedInHistory_.erase(at);
    }
  }
  if (event.type == storage::Event::Type::Put) {
    ev.type = ev.prev ? CacheEvent::Type::Modified : CacheEvent::Type::Added;
    reindex(ev.key, ev.prev, ev.object);
    currentSlot(ev.key) = Current{ev.object, ev.encoding};
  } else {
    if (!ev.prev) return;
    ev.type = CacheEvent::Type::Deleted;
    reindex(ev.key, ev.prev, nullptr);
    eraseCurrent(ev.key);
  }
  for (const auto& w : watchers_)
    if (startsWith(ev.key, w->keyPrefix)) w->deliver(ev);
  lastRevision_.store(ev.revision, std::memory_order_release);  // after the deliveries
  past.type = ev.type;
  if (ev.type != CacheEvent::Type::Deleted) {
    past.object.parsed = ev.object;
    parsedInHistory_[ev.key] = historyBase_ + history_.size();
  }
  history_.push_back(std::move(past));
  while (history_.size() > historyLimit_) {
    const HistoryEvent& front = history_.front();
    if (auto at = parsedInHistory_.find(front.key);
        at != parsedInHistory_.end() && at->second == historyBase_)
      parsedInHistory_.erase(at);
    historyStart_ = front.revision;
    history_.pop_front();
    ++historyBase_;
  }
}

std::shared_ptr<SharedEncoding> ResourceCache::encodingOf(const Current& cur) {
  auto live = cur.encoding.lock();
  if (!live) {
    live = std::make_shared<SharedEncoding>();
    cur.encoding = live;
  }
  return live;
}

std::shared_ptr<const CompressedText> ResourceCache::compressedTextOf(const Current& cur) {
  if (auto live = cur.encoding.lock())
    if (auto text = live->madeText()) return compressor_.compress(*text);
  return compressor_.compress(api::objectJson(*cur.object));
}

int64_t ResourceCache::lastRevision() const {
  return lastRevision_.load(std::memory_order_acquire);
}

size_t ResourceCache::size() const {
  std::lock_guard lock(mu_);
  return objects_.size();
}

size_t ResourceCache::historyTextBytes() const {
  std::lock_guard lock(mu_);
  std::unordered_set<const CompressedText*> counted;
  size_t bytes = 0;
  auto add = [&](const Retained& r) {
    if (r.text && counted.insert(r.text.get()).second) bytes += r.text->compressedBytes();
  };
  for (const auto& h : history_) {
    add(h.object);
    add(h.prev);
  }
  return bytes;
}

CacheHub::CacheHub(storage::Store& store, size_t historyLimit)
    : store_(store), historyLimit_(historyLimit) {}

CacheHub::~CacheHub() { watch_.reset(); }

ResourceCache& CacheHub::cacheFor(const std::string& prefix) { return cacheAt(prefix); }

ResourceCache& CacheHub::cacheAt(std::string_view prefix) {
  {
    std::shared_lock lock(cachesMu_);
    if (auto it = caches_.find(prefix); it != caches_.end()) return *it->second;
  }
  std::unique_lock lock(cachesMu_);
  auto& slot = caches_[std::string(prefix)];
  if (!slot) {
    // New after start: nothing was stored under it before (the start snapshot and every event
    // since create caches for what they touch), so it is complete as of now.
    slot = std::make_unique<ResourceCache>(std::string(prefix), historyLimit_);
    slot->setLoadedRevision(observedRevision());
  }
  return *slot;
}

ResourceCache* CacheHub::route(const std::string& key) {
  // "/registry/<group>/<plural>/..." → "/registry/<group>/<plural>/"
  size_t slash = std::string("/registry/").size();
  for (int i = 0; i < 2 && slash != std::string::npos; ++i) slash = key.find('/', slash + 1);
  if (slash == std::string::npos) return nullptr;
  return &cacheAt(std::string_view(key).substr(0, slash + 1));
}

void CacheHub::start() {
  const std::string prefix = "/registry/";
  // Load a snapshot, then follow every change after it, with no gap between the two.
  auto snapshot = store_.range(prefix, storage::prefixEnd(prefix));
  for (const auto& kv : snapshot.kvs)
    if (auto* cache = route(kv.key)) cache->load(kv);
  {
    std::shared_lock lock(cachesMu_);
    for (auto& [p, cache] : caches_) cache->setLoadedRevision(snapshot.revision);
  }
  {
    std::lock_guard lock(mu_);
    observed_ = snapshot.revision;
  }
  watch_ = store_.watch(
      prefix, storage::prefixEnd(prefix), snapshot.revision + 1,
      [this](const std::vector<storage::Event>& events) { onEvents(events); },
      storage::WatchDelivery::Inline);
}

ObjectPtr CacheHub::cachedAt(const std::string& key, int64_t revision) {
  ResourceCache* cache = route(key);
  return cache ? cache->getAt(key, revision) : nullptr;
}

ObjectPtr CacheHub::cachedLatest(const std::string& key) {
  ResourceCache* cache = route(key);
  return cache ? cache->get(key) : nullptr;
}

void CacheHub::onEvents(const std::vector<storage::Event>& events) {
  int64_t last = 0;
  for (const auto& ev : events) {
    if (auto* cache = route(ev.kv.key)) cache->apply(ev);
    last = std::max(last, ev.kv.modRevision);
  }
  {
    std::lock_guard lock(mu_);
    observed_ = std::max(observed_, last);
  }
  cv_.notify_all();
}

int64_t CacheHub::observedRevision() const {
  std::lock_guard lock(mu_);
  return observed_;
}

bool CacheHub::waitFor(int64_t revision, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return observed_ >= revision; });
}

void CacheHub::syncWithStore() const {
  if (!waitFor(store_.currentRevision(), std::chrono::seconds(10)))
    throw ApiError(504, "Timeout",
                   "Too large resource version: the watch cache is behind the store");
}

}  // namespace skiff::apiserver
