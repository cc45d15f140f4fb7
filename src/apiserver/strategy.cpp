#include "apiserver/strategy.h"

#include <boost/json.hpp>

namespace skiff::apiserver {

namespace json = boost::json;

const api::KindStrategy* strategyOf(const api::ResourceInfo& info) {
  if (info.custom) return nullptr;  // custom resources: custom_resource_strategy.cpp
  return api::kindStrategy(info.group, info.kind);
}

void prepareForCreate(const api::ResourceInfo& info, json::object& obj) {
  const api::KindStrategy* strategy = strategyOf(info);
  // Nodes register with their status (the kubelet sets it); other kinds start clean.
  if (info.hasStatus() && !(strategy && strategy->keepsStatusOnCreate)) obj.erase("status");
  if (strategy && strategy->prepareForCreate) strategy->prepareForCreate(obj);
}

bool isStatusLikeSubresource(const api::ResourceInfo& info, const std::string& subresource) {
  if (subresource == "status") return true;
  const api::KindStrategy* strategy = strategyOf(info);
  if (!strategy) return false;
  for (auto s : strategy->statusLikeSubresources)
    if (s == subresource) return true;
  return false;
}

void prepareForStatusUpdate(const api::ResourceInfo& info, json::object& obj,
                            const json::object& old, const std::string& subresource) {
  const api::KindStrategy* strategy = strategyOf(info);
  if (strategy && strategy->prepareForStatusUpdate)
    strategy->prepareForStatusUpdate(obj, old, subresource);
}

void prepareForUpdate(const api::ResourceInfo& info, json::object& obj, const json::object& old) {
  const api::KindStrategy* strategy = strategyOf(info);
  if (strategy && strategy->prepareForUpdate) strategy->prepareForUpdate(obj, old);
}

}  // namespace skiff::apiserver
