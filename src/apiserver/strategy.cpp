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

void prepareForUpdate(const api::ResourceInfo& info, json::object& obj, const json::object& old) {
  const api::KindStrategy* strategy = strategyOf(info);
  if (strategy && strategy->prepareForUpdate) strategy->prepareForUpdate(obj, old);
}

}  // namespace skiff::apiserver
