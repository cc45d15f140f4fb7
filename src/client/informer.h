// SharedInformer: list + watch of one resource into a local indexed cache, with event
// handlers (client-go's SharedIndexInformer, without periodic resync). SharedInformerFactory
// hands out one informer per (resource, namespace, selectors) so controllers share caches
// and watches.
//
// Threading: each informer owns one Watcher thread. The store is updated and handlers are
// called on that thread, one event at a time, in resourceVersion order; handlers must be
// quick (typically: compute a key and add it to a WorkQueue) and must not call
// addEventHandler/stop. Store reads (get/list/byIndex) are thread-safe from anywhere.
#pragma once
#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/indexer.h"
#include "client/rest_client.h"
#include "client/watch.h"

namespace skiff::client {

struct ResourceEventHandlers {
  std::function<void(const boost::json::object& obj)> onAdd = {};
  std::function<void(const boost::json::object& oldObj, const boost::json::object& newObj)>
      onUpdate = {};
  // For objects that vanished during a relist this is the last state the cache saw.
  std::function<void(const boost::json::object& obj)> onDelete = {};
};

class SharedInformer {
 public:
  // `client` must outlive the informer. `selectors` carries label/field selectors (e.g.
  // fieldSelector "spec.nodeName=node-1"); an empty namespace watches all namespaces.
  SharedInformer(RestClient& client, Resource resource, std::string ns = "",
                 ListOptions selectors = {});
  ~SharedInformer();
  SharedInformer(const SharedInformer&) = delete;
  SharedInformer& operator=(const SharedInformer&) = delete;

  // Handlers added after the informer synced first receive onAdd for every cached object.
  void addEventHandler(ResourceEventHandlers handlers);
  void addIndexer(const std::string& name, IndexFunc fn) { store_.addIndexer(name, std::move(fn)); }

  void start();  // idempotent
  void stop();   // joins the watch thread
  bool hasSynced() const;
  bool waitForSync(std::chrono::milliseconds timeout) const;

  // Reads of the local cache.
  ObjectPtr get(const std::string& key) const { return store_.get(key); }
  std::vector<ObjectPtr> list() const { return store_.list(); }
  std::vector<ObjectPtr> byIndex(const std::string& name, const std::string& value) const {
    return store_.byIndex(name, value);
  }
  const Indexer& store() const { return store_; }
  std::string lastSyncResourceVersion() const;
  const Resource& resource() const { return resource_; }

  // The relist step: replaces the cache with `items` and emits the difference to the
  // handlers (public so tests can drive it without forcing a 410).
  void replace(std::vector<ObjectPtr> items, const std::string& resourceVersion);
  // One watch event into the cache and the handlers (public for the same reason).
  void handleEvent(WatchEvent& event);

 private:
  std::string relist();
  void dispatchAdd(const boost::json::object& obj);
  void dispatchUpdate(const boost::json::object& o, const boost::json::object& n);
  void dispatchDelete(const boost::json::object& obj);

  RestClient& client_;
  const Resource resource_;
  const std::string ns_;
  const ListOptions selectors_;
  Indexer store_;
  // Held while the store changes and handlers run, so a handler added concurrently sees
  // each object exactly once (replayed or as an event).
  std::mutex dispatchMu_;
  std::vector<ResourceEventHandlers> handlers_;
  mutable std::mutex mu_;
  mutable std::condition_variable syncedCv_;
  bool synced_ = false;
  std::string lastSyncRv_;
  std::unique_ptr<Watcher> watcher_;
};

class SharedInformerFactory {
 public:
  explicit SharedInformerFactory(RestClient& client) : client_(client) {}
  ~SharedInformerFactory() { stop(); }

  // The shared informer for this resource/namespace/selectors, created on first request.
  SharedInformer& informer(const Resource& resource, const std::string& ns = "",
                           const ListOptions& selectors = {});
  void start();  // starts every informer not yet started
  bool waitForCacheSync(std::chrono::milliseconds timeout);
  void stop();

 private:
  RestClient& client_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<SharedInformer>> informers_;
};

}  // namespace skiff::client
