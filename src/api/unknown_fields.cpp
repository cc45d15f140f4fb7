#include "api/unknown_fields.h"

#include <boost/json.hpp>
#include <string_view>
#include <unordered_map>

#include "api/openapi.h"

namespace skiff::api {

namespace json = boost::json;


FieldSchemas::FieldSchemas(const json::object& definitions) : definitions_(definitions) {}
FieldSchemas::~FieldSchemas() = default;

const FieldSchemas& FieldSchemas::builtin() {
  static const FieldSchemas schemas(OpenApi::instance().definitions());
  return schemas;
}

const FieldSchemas::Node* FieldSchemas::root(const std::string& definition) const {
  std::lock_guard lock(mu_);
  return compileRef(definition);
}

// Called with mu_ held. A definition is registered before its fields are compiled, so the
// schemas that refer to themselves (JSONSchemaProps) end.
const FieldSchemas::Node* FieldSchemas::compileRef(std::string_view name) const {
  constexpr std::string_view prefix = "#/definitions/";
  if (name.starts_with(prefix)) name.remove_prefix(prefix.size());
  if (auto it = named_.find(name); it != named_.end()) return it->second;
  const json::value* def = definitions_.if_contains(name);
  if (!def || !def->is_object()) {
    named_.emplace(std::string(name), nullptr);
    return nullptr;
  }
  auto& slot = named_[std::string(name)];
  const json::object& schema = def->as_object();
  if (schema.contains("$ref") || schema.contains("allOf")) return slot = compile(&schema);  // an alias
  Node& node = newNode();
  slot = &node;
  node.name = std::string(name);
  fill(node, schema);
  return &node;
}

// An inline schema: follows $ref and allOf (its first member) to the schema they name.
const FieldSchemas::Node* FieldSchemas::compile(const json::object* schema) const {
  for (int depth = 0; schema && depth < 8; ++depth) {
    if (const json::value* ref = schema->if_contains("$ref"); ref && ref->is_string())
      return compileRef(ref->as_string());
    const json::value* allOf = schema->if_contains("allOf");
    if (!allOf || !allOf->is_array() || allOf->as_array().empty() || !allOf->as_array()[0].is_object()) break;
    schema = &allOf->as_array()[0].as_object();
  }
  if (!schema) return nullptr;
  // An anonymous schema compiles like a definition of its own (not registered by name).
  Node& node = newNode();
  fill(node, *schema);
  return &node;
}

FieldSchemas::Node& FieldSchemas::newNode() const {
  nodes_.push_back(std::make_unique<Node>());
  return *nodes_.back();
}

void FieldSchemas::fill(Node& node, const json::object& schema) const {
  const json::value* props = schema.if_contains("properties");
  const json::value* extra = schema.if_contains("additionalProperties");
  const json::value* items = schema.if_contains("items");
  node.preserveUnknown = schema.contains("x-kubernetes-preserve-unknown-fields");
  node.mapLike = extra && !props;
  if (const json::value* mt = schema.if_contains("x-kubernetes-map-type"))
    node.atomicMap = mt->is_string() && mt->as_string() == "atomic";
  if (const json::value* lt = schema.if_contains("x-kubernetes-list-type"); lt && lt->is_string()) {
    if (lt->as_string() == "set") node.listType = ListType::Set;
    else if (lt->as_string() == "map") node.listType = ListType::Map;
    if (const json::value* keys = schema.if_contains("x-kubernetes-list-map-keys"); keys && keys->is_array())
      for (const auto& k : keys->as_array())
        if (k.is_string()) node.listKeys.emplace_back(k.as_string());
  } else if (const json::value* strategy = schema.if_contains("x-kubernetes-patch-strategy");
             strategy && strategy->is_string() &&
             std::string_view(strategy->as_string()).find("merge") != std::string_view::npos) {
    // Built-in types without a list-type: what their patch strategy says, as upstream's
    // OpenAPI-to-schema conversion does.
    const json::value* key = schema.if_contains("x-kubernetes-patch-merge-key");
    if (key && key->is_string()) {
      node.listType = ListType::Map;
      node.listKeys.emplace_back(key->as_string());
    } else {
      node.listType = ListType::Set;
    }
  }
  if (node.listType == ListType::Map && node.listKeys.empty()) node.listType = ListType::Atomic;
  if (props && props->is_object()) {
    node.hasProperties = true;
    for (const auto& [k, v] : props->as_object())
      if (v.is_object()) node.properties.emplace(std::string(k), compile(&v.as_object()));
  } else if (extra && extra->is_object()) {
    node.hasAdditional = true;
    node.additional = compile(&extra->as_object());
  }
  if (items && items->is_object()) {
    node.hasItems = true;
    node.items = compile(&items->as_object());
  }
}

namespace {

using Node = FieldSchemas::Node;

struct Walker {
  std::vector<std::string> unknown;
  // The path of the value being walked ("spec.containers[0].name"), grown and cut back in
  // place: only an unknown field needs it as a string of its own.
  std::string path;

  // Appends a path step for the scope of one walk, then restores the path.
  struct Step {
    std::string& path;
    size_t mark;
    explicit Step(std::string& p) : path(p), mark(p.size()) {}
    ~Step() { path.resize(mark); }
  };

  void walkValue(json::value& value, const Node* schema) {
    if (!schema || schema->preserveUnknown) return;
    if (value.is_object()) {
      if (schema->hasProperties) {
        walkObject(value.as_object(), *schema);
      } else if (schema->hasAdditional) {
        for (auto& [k, v] : value.as_object()) {
          Step step(path);
          path += '.';
          path += k;
          walkValue(v, schema->additional);
        }
      }
    } else if (value.is_array() && schema->hasItems) {
      auto& arr = value.as_array();
      for (size_t i = 0; i < arr.size(); ++i) {
        Step step(path);
        path += '[';
        path += std::to_string(i);
        path += ']';
        walkValue(arr[i], schema->items);
      }
    }
  }

  // What a typed Go decode/encode round trip drops (omitempty): nulls, empty lists and empty
  // maps. Empty structs stay (`emptyDir: {}` means something).
  static bool isGoOmitted(const json::value& value, const Node* schema) {
    if (value.is_null()) return true;
    if (value.is_array()) return value.as_array().empty();
    if (value.is_object() && value.as_object().empty()) return schema && schema->mapLike;
    return false;
  }

  void walkObject(json::object& obj, const Node& schema) {
    for (auto it = obj.begin(); it != obj.end();) {
      Step step(path);
      if (!path.empty()) path += '.';
      path += it->key();
      auto prop = schema.properties.find(std::string_view(it->key()));
      if (prop == schema.properties.end()) {
        unknown.push_back(path);
        it = obj.erase(it);
        continue;
      }
      walkValue(it->value(), prop->second);
      if (isGoOmitted(it->value(), prop->second)) {
        it = obj.erase(it);
        continue;
      }
      ++it;
    }
  }
};

}  // namespace

std::vector<std::string> pruneUnknownFields(json::object& obj, const FieldSchemas& schemas,
                                            const std::string& definition) {
  const Node* root = schemas.root(definition);
  if (!root) return {};
  Walker walker;
  json::value wrapped(std::move(obj));
  walker.walkValue(wrapped, root);
  obj = std::move(wrapped.as_object());
  return std::move(walker.unknown);
}

std::vector<std::string> pruneUnknownFields(json::object& obj, const json::object& definitions,
                                            const std::string& definition) {
  FieldSchemas schemas(definitions);
  return pruneUnknownFields(obj, schemas, definition);
}

}  // namespace skiff::api
