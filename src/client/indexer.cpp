#include "client/indexer.h"

#include <unordered_set>

#include "api/json_access.h"
#include "client/rest_client.h"

namespace json = boost::json;

namespace skiff::client {

std::vector<std::string> indexByNamespace(const json::object& obj) {
  std::string ns = metaString(obj, "namespace");
  if (ns.empty()) return {};
  return {ns};
}

std::vector<std::string> indexByNodeName(const json::object& obj) {
  auto* spec = obj.if_contains("spec");
  if (!spec || !spec->is_object()) return {};
  auto* node = spec->as_object().if_contains("nodeName");
  if (!node || !node->is_string() || node->as_string().empty()) return {};
  return {std::string(node->as_string())};
}

std::vector<std::string> indexByOwnerUid(const json::object& obj) {
  std::vector<std::string> out;
  auto* meta = obj.if_contains("metadata");
  if (!meta || !meta->is_object()) return out;
  auto* owners = meta->as_object().if_contains("ownerReferences");
  if (!owners || !owners->is_array()) return out;
  for (auto& o : owners->as_array())
    if (auto* uid = o.is_object() ? o.as_object().if_contains("uid") : nullptr;
        uid && uid->is_string())
      out.emplace_back(uid->as_string());
  return out;
}

std::vector<std::string> indexOrphansByNamespace(const json::object& obj) {
  if (api::controllerRefOf(obj)) return {};
  return indexByNamespace(obj);
}

std::vector<std::string> indexByLabel(const json::object& obj) {
  std::vector<std::string> out;
  auto* meta = obj.if_contains("metadata");
  if (!meta || !meta->is_object()) return out;
  auto* labels = meta->as_object().if_contains("labels");
  if (!labels || !labels->is_object()) return out;
  for (auto& [k, v] : labels->as_object())
    if (v.is_string()) out.push_back(std::string(k) + "=" + std::string(v.as_string()));
  return out;
}

void Indexer::indexLocked(const std::string& key, const ObjectPtr& obj) {
  for (auto& [name, fn] : indexFuncs_)
    for (auto& value : fn(*obj)) indices_[name][value].insert(key);
}

void Indexer::unindexLocked(const std::string& key, const ObjectPtr& obj) {
  for (auto& [name, fn] : indexFuncs_) {
    auto& index = indices_[name];
    for (auto& value : fn(*obj)) {
      auto it = index.find(value);
      if (it == index.end()) continue;
      it->second.erase(key);
      if (it->second.empty()) index.erase(it);
    }
  }
}

void Indexer::addIndexer(const std::string& name, IndexFunc fn) {
  std::lock_guard lock(mu_);
  auto& index = indices_[name];
  index.clear();
  for (auto& [key, obj] : items_)
    for (auto& value : fn(*obj)) index[value].insert(key);
  indexFuncs_[name] = std::move(fn);
}

ObjectPtr Indexer::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = items_.find(key);
  return it == items_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Indexer::list() const {
  std::lock_guard lock(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(items_.size());
  for (auto& [k, v] : items_) out.push_back(v);
  return out;
}

std::vector<std::string> Indexer::keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (auto& [k, v] : items_) out.push_back(k);
  return out;
}

std::vector<ObjectPtr> Indexer::byIndex(const std::string& name, const std::string& value) const {
  std::lock_guard lock(mu_);
  std::vector<ObjectPtr> out;
  auto idx = indices_.find(name);
  if (idx == indices_.end()) return out;
  auto it = idx->second.find(value);
  if (it == idx->second.end()) return out;
  for (auto& key : it->second) out.push_back(items_.at(key));
  return out;
}

std::vector<std::pair<std::string, ObjectPtr>> Indexer::byIndexWithKeys(
    const std::string& name, const std::string& value) const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, ObjectPtr>> out;
  auto idx = indices_.find(name);
  if (idx == indices_.end()) return out;
  auto it = idx->second.find(value);
  if (it == idx->second.end()) return out;
  out.reserve(it->second.size());
  for (auto& key : it->second) out.emplace_back(key, items_.at(key));
  return out;
}

size_t Indexer::size() const {
  std::lock_guard lock(mu_);
  return items_.size();
}

void Indexer::reindexLocked(const std::string& key, const ObjectPtr& old, const ObjectPtr& obj) {
  for (auto& [name, fn] : indexFuncs_) {
    auto before = fn(*old);
    auto after = fn(*obj);
    // Most updates (status, annotations) keep every index value: nothing to move.
    if (before == after) continue;
    auto& index = indices_[name];
    for (auto& value : before) {
      auto it = index.find(value);
      if (it == index.end()) continue;
      it->second.erase(key);
      if (it->second.empty()) index.erase(it);
    }
    for (auto& value : after) index[value].insert(key);
  }
}

ObjectPtr Indexer::upsert(ObjectPtr obj) {
  std::string key = objectKey(*obj);
  std::lock_guard lock(mu_);
  auto it = items_.find(key);
  if (it == items_.end()) {
    indexLocked(key, obj);
    items_.emplace(std::move(key), std::move(obj));
    return nullptr;
  }
  ObjectPtr old = std::move(it->second);
  reindexLocked(key, old, obj);
  it->second = std::move(obj);
  return old;
}

ObjectPtr Indexer::remove(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = items_.find(key);
  if (it == items_.end()) return nullptr;
  ObjectPtr old = it->second;
  unindexLocked(key, old);
  items_.erase(it);
  return old;
}

std::vector<Indexer::Delta> Indexer::replace(const std::vector<ObjectPtr>& items) {
  std::vector<Delta> deltas;
  std::lock_guard lock(mu_);
  std::unordered_map<std::string, ObjectPtr> fresh;
  for (auto& obj : items) fresh[objectKey(*obj)] = obj;
  for (auto& [key, old] : items_)
    if (!fresh.count(key)) deltas.push_back({Delta::Deleted, old, old});
  // Adds and updates in list order, so handlers see the server's (name) order.
  std::unordered_set<std::string> seen;
  for (auto& obj : items) {
    std::string key = objectKey(*obj);
    if (!seen.insert(key).second) continue;
    auto it = items_.find(key);
    if (it == items_.end())
      deltas.push_back({Delta::Added, nullptr, obj});
    else if (metaString(*it->second, "resourceVersion") != metaString(*obj, "resourceVersion"))
      deltas.push_back({Delta::Updated, it->second, obj});
  }
  items_ = std::move(fresh);
  for (auto& [name, index] : indices_) index.clear();
  for (auto& [key, obj] : items_) indexLocked(key, obj);
  return deltas;
}

}  // namespace skiff::client
