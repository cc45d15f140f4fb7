// Indexer: the informer's local cache, a thread-safe map "ns/name" → object with secondary
// indices (client-go's cache.Indexer). Objects are immutable shared_ptrs, so readers keep
// them without copying while the store moves on.
#pragma once
#include <boost/json/object.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace skiff::client {

using ObjectPtr = std::shared_ptr<const boost::json::object>;
// The index values of one object (an object may sit under several values, or none).
using IndexFunc = std::function<std::vector<std::string>(const boost::json::object&)>;

// Built-in indices, named as controllers refer to them.
inline const std::string kIndexNamespace = "namespace";  // metadata.namespace
inline const std::string kIndexNodeName = "nodeName";    // spec.nodeName (pods)
inline const std::string kIndexOwnerUid = "ownerUid";    // metadata.ownerReferences[].uid
inline const std::string kIndexLabel = "label";          // "key=value" per label
// metadata.namespace of objects that no controller owns (no ownerReference with
// controller: true): the adoption candidates a workload controller must look at besides
// its own objects, without walking everything else in the namespace.
inline const std::string kIndexOrphanNamespace = "orphanNamespace";
std::vector<std::string> indexByNamespace(const boost::json::object& obj);
std::vector<std::string> indexByNodeName(const boost::json::object& obj);
std::vector<std::string> indexByOwnerUid(const boost::json::object& obj);
std::vector<std::string> indexByLabel(const boost::json::object& obj);
std::vector<std::string> indexOrphansByNamespace(const boost::json::object& obj);

class Indexer {
 public:
  struct Delta {
    enum Type { Added, Updated, Deleted } type;
    ObjectPtr oldObj;  // null for Added
    ObjectPtr newObj;  // for Deleted: the last known state
  };

  // Adds an index and indexes what is already stored.
  void addIndexer(const std::string& name, IndexFunc fn);
  ObjectPtr get(const std::string& key) const;
  std::vector<ObjectPtr> list() const;
  std::vector<std::string> keys() const;
  std::vector<ObjectPtr> byIndex(const std::string& name, const std::string& value) const;
  // As byIndex, each object with its key (for callers keeping per-key state beside the cache,
  // who must not read the key out of every object).
  std::vector<std::pair<std::string, ObjectPtr>> byIndexWithKeys(const std::string& name,
                                                                 const std::string& value) const;
  size_t size() const;

  // Inserts or replaces by key; returns the previous object (null when new).
  ObjectPtr upsert(ObjectPtr obj);
  // Returns the removed object (null when absent).
  ObjectPtr remove(const std::string& key);
  // Makes the store hold exactly `items` (a relist) and returns what changed, like
  // client-go's Replace: new keys are Added, keys that vanished are Deleted, and keys whose
  // resourceVersion moved are Updated (an unchanged object is not reported).
  std::vector<Delta> replace(const std::vector<ObjectPtr>& items);

 private:
  void indexLocked(const std::string& key, const ObjectPtr& obj);
  void unindexLocked(const std::string& key, const ObjectPtr& obj);
  // Moves `key` between index values where `old` and `obj` differ.
  void reindexLocked(const std::string& key, const ObjectPtr& old, const ObjectPtr& obj);

  mutable std::mutex mu_;
  std::unordered_map<std::string, ObjectPtr> items_;
  std::map<std::string, IndexFunc> indexFuncs_;
  // index name → value → keys
  std::map<std::string, std::unordered_map<std::string, std::set<std::string>>> indices_;
};

}  // namespace skiff::client
