#include "cloud/node_util.h"

#include "api/json_access.h"
#include "common/api_error.h"

namespace skiff::cloud {

namespace json = boost::json;

bool hasTaintKey(const json::object& node, const std::string& key) {
  const json::array* taints = api::arrayAt(node, {"spec", "taints"});
  if (!taints) return false;
  for (const auto& t : *taints)
    if (t.is_object() && api::stringAt(t.as_object(), {"key"}) == key) return true;
  return false;
}

bool removeTaint(json::object& node, const std::string& key) {
  json::object& spec = api::ensureObject(node, {"spec"});
  auto it = spec.find("taints");
  if (it == spec.end() || !it->value().is_array()) return false;
  json::array kept;
  bool removed = false;
  for (const auto& t : it->value().as_array()) {
    if (t.is_object() && api::stringAt(t.as_object(), {"key"}) == key)
      removed = true;
    else
      kept.push_back(t);
  }
  if (!removed) return false;
  if (kept.empty())
    spec.erase("taints");
  else
    it->value() = std::move(kept);
  return true;
}

bool addTaint(json::object& node, const std::string& key, const std::string& effect,
              const std::string& timeAdded) {
  json::object& spec = api::ensureObject(node, {"spec"});
  json::value& taints = spec["taints"];
  if (!taints.is_array()) taints = json::array{};
  for (const auto& t : taints.as_array())
    if (t.is_object() && api::stringAt(t.as_object(), {"key"}) == key &&
        api::stringAt(t.as_object(), {"effect"}) == effect)
      return false;
  taints.as_array().push_back(
      json::object{{"key", key}, {"effect", effect}, {"timeAdded", timeAdded}});
  return true;
}

bool updateNode(client::RestClient& client, const std::string& name,
                const std::function<bool(json::object&)>& modify) {
  for (int attempt = 0;; ++attempt) {
    json::object node;
    try {
      node = client.get(client::resources::nodes, "", name);
    } catch (const ApiError& e) {
      if (e.code() == 404) return false;
      throw;
    }
    if (!modify(node)) return false;
    try {
      client.update(client::resources::nodes, "", node);
      return true;
    } catch (const ApiError& e) {
      if (e.code() == 404) return false;
      if (e.code() != 409 || attempt >= 4) throw;
    }
  }
}

namespace {
const json::object* condition(const json::object& obj, const std::string& type) {
  const json::array* conds = api::arrayAt(obj, {"status", "conditions"});
  if (!conds) return nullptr;
  for (const auto& c : *conds)
    if (c.is_object() && api::stringAt(c.as_object(), {"type"}) == type) return &c.as_object();
  return nullptr;
}
}  // namespace

std::string conditionStatus(const json::object& obj, const std::string& type) {
  const auto* c = condition(obj, type);
  return c ? api::stringAt(*c, {"status"}) : "";
}

std::string conditionReason(const json::object& obj, const std::string& type) {
  const auto* c = condition(obj, type);
  return c ? api::stringAt(*c, {"reason"}) : "";
}

}  // namespace skiff::cloud
