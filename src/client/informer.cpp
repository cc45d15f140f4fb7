#include "client/informer.h"

#include "common/log.h"

namespace json = boost::json;

namespace skiff::client {

SharedInformer::SharedInformer(RestClient& client, Resource resource, std::string ns,
                               ListOptions selectors)
    : client_(client),
      resource_(std::move(resource)),
      ns_(std::move(ns)),
      selectors_(std::move(selectors)) {}

SharedInformer::~SharedInformer() { stop(); }

void SharedInformer::addEventHandler(ResourceEventHandlers handlers) {
  std::lock_guard lock(dispatchMu_);
  if (handlers.onAdd)
    for (auto& obj : store_.list()) {
      try {
        handlers.onAdd(*obj);
      } catch (const std::exception& e) {
        SKIFF_LOG_ERROR("informer handler failed resource={} key={} err={}", resource_.qualified(),
                        objectKey(*obj), e.what());
      }
    }
  handlers_.push_back(std::move(handlers));
}

void SharedInformer::start() {
  std::lock_guard lock(mu_);
  if (watcher_) return;
  WatcherOptions o;
  o.list = selectors_;
  o.list.resourceVersion.clear();
  o.relist = [this] { return relist(); };
  o.onEvent = [this](WatchEvent& ev) { handleEvent(ev); };
  watcher_ = std::make_unique<Watcher>(client_, resource_, ns_, std::move(o));
}

void SharedInformer::stop() {
  std::unique_ptr<Watcher> w;
  {
    std::lock_guard lock(mu_);
    w = std::move(watcher_);
  }
  w.reset();  // joins outside mu_: the watch thread takes mu_ when it syncs
}

bool SharedInformer::hasSynced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

bool SharedInformer::waitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return syncedCv_.wait_for(lock, timeout, [this] { return synced_; });
}

std::string SharedInformer::lastSyncResourceVersion() const {
  std::lock_guard lock(mu_);
  return lastSyncRv_;
}

std::string SharedInformer::relist() {
  json::object list = client_.listAll(resource_, ns_, selectors_);
  std::string rv = metaString(list, "resourceVersion");
  std::vector<ObjectPtr> items;
  if (auto* arr = list.if_contains("items"); arr && arr->is_array()) {
    // List items carry no kind/apiVersion; watch events do. Fill them in so handlers see
    // one shape whichever path an object came by.
    std::string kind;
    if (auto* k = list.if_contains("kind"); k && k->is_string()) kind = std::string(k->as_string());
    if (kind.size() > 4 && kind.ends_with("List")) kind.resize(kind.size() - 4);
    std::string apiVersion =
        resource_.group.empty() ? resource_.version : resource_.group + "/" + resource_.version;
    for (auto& item : arr->as_array()) {
      if (!item.is_object()) continue;
      auto& obj = item.as_object();
      if (!obj.contains("kind") && !kind.empty()) obj["kind"] = kind;
      if (!obj.contains("apiVersion")) obj["apiVersion"] = apiVersion;
      items.push_back(std::make_shared<const json::object>(std::move(obj)));
    }
  }
  replace(std::move(items), rv);
  return rv;
}

void SharedInformer::replace(std::vector<ObjectPtr> items, const std::string& resourceVersion) {
  {
    std::lock_guard lock(dispatchMu_);
    for (auto& d : store_.replace(items)) {
      switch (d.type) {
        case Indexer::Delta::Added:
          dispatchAdd(*d.newObj);
          break;
        case Indexer::Delta::Updated:
          dispatchUpdate(*d.oldObj, *d.newObj);
          break;
        case Indexer::Delta::Deleted:
          dispatchDelete(*d.oldObj);
          break;
      }
    }
  }
  std::lock_guard lock(mu_);
  lastSyncRv_ = resourceVersion;
  if (!synced_) {
    synced_ = true;
    SKIFF_LOG_DEBUG("informer synced resource={} namespace={} rv={} items={}",
                    resource_.qualified(), ns_, resourceVersion, items.size());
  }
  syncedCv_.notify_all();
}

void SharedInformer::handleEvent(WatchEvent& event) {
  std::lock_guard lock(dispatchMu_);
  ObjectPtr obj = std::move(event.object);
  if (event.type == "DELETED") {
    store_.remove(objectKey(*obj));
    dispatchDelete(*obj);  // the event carries the final state
    return;
  }
  // ADDED for a cached key (e.g. replayed after a re-watch) is an update, as in client-go.
  auto old = store_.upsert(obj);
  if (old)
    dispatchUpdate(*old, *obj);
  else
    dispatchAdd(*obj);
}

// Handler failures are logged and do not stop the informer: other handlers and later
// events must still be delivered.
#define SKIFF_INFORMER_CALL(expr, obj)                                                          \
  try {                                                                                         \
    expr;                                                                                       \
  } catch (const std::exception& e) {                                                           \
    SKIFF_LOG_ERROR("informer handler failed resource={} key={} err={}", resource_.qualified(), \
                    objectKey(obj), e.what());                                                  \
  }

void SharedInformer::dispatchAdd(const json::object& obj) {
  for (auto& h : handlers_)
    if (h.onAdd) SKIFF_INFORMER_CALL(h.onAdd(obj), obj)
}

void SharedInformer::dispatchUpdate(const json::object& o, const json::object& n) {
  for (auto& h : handlers_)
    if (h.onUpdate) SKIFF_INFORMER_CALL(h.onUpdate(o, n), n)
}

void SharedInformer::dispatchDelete(const json::object& obj) {
  for (auto& h : handlers_)
    if (h.onDelete) SKIFF_INFORMER_CALL(h.onDelete(obj), obj)
}

SharedInformer& SharedInformerFactory::informer(const Resource& resource, const std::string& ns,
                                                const ListOptions& selectors) {
  std::string key =
      resource.path(ns) + "?" + selectors.labelSelector + "&" + selectors.fieldSelector;
  std::lock_guard lock(mu_);
  auto& slot = informers_[key];
  if (!slot) slot = std::make_unique<SharedInformer>(client_, resource, ns, selectors);
  return *slot;
}

void SharedInformerFactory::start() {
  std::lock_guard lock(mu_);
  for (auto& [k, inf] : informers_) inf->start();
}

bool SharedInformerFactory::waitForCacheSync(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<SharedInformer*> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [k, inf] : informers_) all.push_back(inf.get());
  }
  for (auto* inf : all) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!inf->waitForSync(std::max(left, std::chrono::milliseconds(0)))) return false;
  }
  return true;
}

void SharedInformerFactory::stop() {
  std::lock_guard lock(mu_);
  for (auto& [k, inf] : informers_) inf->stop();
}

}  // namespace skiff::client
