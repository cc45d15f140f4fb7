#include "api/unknown_fields.h"

#include <algorithm>
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
  if (schema.contains("$ref") || schema.contains("allOf"))
    return slot = compile(&schema);  // an alias
  Node& node = newNode();
  slot = &node;
  node.name = std::string(name);
  fill(node, schema, name);
  return &node;
}

// An inline schema: follows $ref and allOf (its first member) to the schema they name.
const FieldSchemas::Node* FieldSchemas::compile(const json::object* schema) const {
  for (int depth = 0; schema && depth < 8; ++depth) {
    if (const json::value* ref = schema->if_contains("$ref"); ref && ref->is_string())
      return compileRef(ref->as_string());
    const json::value* allOf = schema->if_contains("allOf");
    if (!allOf || !allOf->is_array() || allOf->as_array().empty() ||
        !allOf->as_array()[0].is_object())
      break;
    schema = &allOf->as_array()[0].as_object();
  }
  if (!schema) return nullptr;
  // An anonymous schema compiles like a definition of its own (not registered by name).
  Node& node = newNode();
  fill(node, *schema, {});
  return &node;
}

FieldSchemas::Node& FieldSchemas::newNode() const {
  nodes_.push_back(std::make_unique<Node>());
  return *nodes_.back();
}

namespace {

// "io.k8s.api.core.v1.PodSpec" -> {"v1", "PodSpec"}: Go's reflect names a type by its
// package's last path element and its own name, which the definition names end with.
std::pair<std::string_view, std::string_view> goTypeName(std::string_view definition) {
  size_t last = definition.rfind('.');
  if (last == std::string_view::npos) return {{}, definition};
  std::string_view pkg = definition.substr(0, last);
  size_t prev = pkg.rfind('.');
  return {prev == std::string_view::npos ? pkg : pkg.substr(prev + 1), definition.substr(last + 1)};
}

SchemaNode::Type jsonType(const json::object& schema) {
  const json::value* t = schema.if_contains("type");
  if (!t || !t->is_string()) return SchemaNode::Type::Any;
  std::string_view type = t->get_string();
  if (type == "object") return SchemaNode::Type::Object;
  if (type == "array") return SchemaNode::Type::Array;
  if (type == "string") return SchemaNode::Type::String;
  if (type == "integer") return SchemaNode::Type::Integer;
  if (type == "number") return SchemaNode::Type::Number;
  if (type == "boolean") return SchemaNode::Type::Boolean;
  return SchemaNode::Type::Any;
}

}  // namespace

void FieldSchemas::fill(Node& node, const json::object& schema, std::string_view definition) const {
  const json::value* props = schema.if_contains("properties");
  const json::value* extra = schema.if_contains("additionalProperties");
  const json::value* items = schema.if_contains("items");
  node.preserveUnknown = schema.contains("x-kubernetes-preserve-unknown-fields");
  node.mapLike = extra && !props;
  // Named before the children compile: a schema that reaches itself needs its name.
  auto [pkg, name] = goTypeName(definition);
  if (!definition.empty()) {
    node.goType = std::string(pkg) + "." + std::string(name);
    node.goStruct = std::string(name);
  }
  if (const json::value* mt = schema.if_contains("x-kubernetes-map-type"))
    node.atomicMap = mt->is_string() && mt->as_string() == "atomic";
  if (const json::value* lt = schema.if_contains("x-kubernetes-list-type"); lt && lt->is_string()) {
    if (lt->as_string() == "set")
      node.listType = SchemaNode::ListType::Set;
    else if (lt->as_string() == "map")
      node.listType = SchemaNode::ListType::Map;
    if (const json::value* keys = schema.if_contains("x-kubernetes-list-map-keys");
        keys && keys->is_array())
      for (const auto& k : keys->as_array())
        if (k.is_string()) node.listKeys.emplace_back(k.as_string());
  } else if (const json::value* strategy = schema.if_contains("x-kubernetes-patch-strategy");
             strategy && strategy->is_string() &&
             std::string_view(strategy->as_string()).find("merge") != std::string_view::npos) {
    // Built-in types without a list-type: what their patch strategy says, as upstream's
    // OpenAPI-to-schema conversion does.
    const json::value* key = schema.if_contains("x-kubernetes-patch-merge-key");
    if (key && key->is_string()) {
      node.listType = SchemaNode::ListType::Map;
      node.listKeys.emplace_back(key->as_string());
    } else {
      node.listType = SchemaNode::ListType::Set;
    }
  }
  if (node.listType == SchemaNode::ListType::Map && node.listKeys.empty())
    node.listType = SchemaNode::ListType::Atomic;
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

  node.listMapKeys = node.listKeys;
  std::sort(node.listMapKeys.begin(), node.listMapKeys.end());  // paths name the keys sorted

  node.type = jsonType(schema);
  const json::value* format = schema.if_contains("format");
  std::string_view fmt =
      format && format->is_string() ? std::string_view(format->get_string()) : "";
  node.int32 = fmt == "int32";
  // Go types with their own UnmarshalJSON, recognised by definition or format.
  if (definition == "io.k8s.apimachinery.pkg.api.resource.Quantity")
    node.special = Node::Special::Quantity;
  else if (fmt == "int-or-string")
    node.special = Node::Special::IntOrString;
  else if (fmt == "date-time")
    node.special = Node::Special::Time;
  else if (fmt == "byte")
    node.special = Node::Special::Bytes;
  // An object schema with neither properties nor additionalProperties is a raw value in Go
  // (runtime.RawExtension, FieldsV1): any JSON decodes.
  if (node.type == Node::Type::Object && !props && !extra) node.type = Node::Type::Any;

  if (!definition.empty()) return;
  // An anonymous schema is a Go slice, map or builtin; reflect names it from its parts.
  auto nameOf = [](const Node* n) {
    return n && !n->goType.empty() ? n->goType : std::string("interface {}");
  };
  switch (node.type) {
    case Node::Type::Array:
      node.goType = "[]" + nameOf(node.items);
      break;
    case Node::Type::Object:
      // Every map of quantities in the API is core/v1's named ResourceList.
      if (node.additional && node.additional->special == Node::Special::Quantity)
        node.goType = "v1.ResourceList";
      else if (node.hasAdditional)
        node.goType = "map[string]" + nameOf(node.additional);
      break;
    case Node::Type::String:
      node.goType = node.special == Node::Special::Bytes ? "[]uint8" : "string";
      break;
    case Node::Type::Integer:
      node.goType = node.int32 ? "int32" : "int64";
      break;
    case Node::Type::Number:
      node.goType = "float64";
      break;
    case Node::Type::Boolean:
      node.goType = "bool";
      break;
    case Node::Type::Any:
      break;
  }
}

namespace {

using Node = FieldSchemas::Node;

// The common case decided inline: a plain schema type and a value of that JSON type (the
// write path checks every value of every object; the out-of-line check costs ~50
// instructions a call).
inline bool obviouslyWellTyped(const json::value& v, const Node& node) {
  if (node.special != Node::Special::None) return false;
  switch (node.type) {
    case Node::Type::Any:
      return true;
    case Node::Type::Object:
      return v.is_object();
    case Node::Type::Array:
      return v.is_array();
    case Node::Type::String:
      return v.is_string();
    case Node::Type::Boolean:
      return v.is_bool();
    case Node::Type::Number:
      return v.is_int64() || v.is_double();
    case Node::Type::Integer:
      return v.is_int64() &&
             (!node.int32 || (v.get_int64() >= INT32_MIN && v.get_int64() <= INT32_MAX));
  }
  return false;
}

struct Walker {
  // Type checks are off for pruneUnknownFields (it keeps pruning past a wrong type).
  bool checkTypes = false;
  Decoding mode = Decoding::Json;
  std::optional<std::string> typeError;  // the first; the walk stops there
  GoFieldStack fields;                   // the struct fields down to the current value
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
    if (!schema) return;
    if (checkTypes && !obviouslyWellTyped(value, *schema)) {
      if (auto error = checkValueType(value, *schema, mode, fields)) {
        typeError = std::move(error);
        return;
      }
    }
    if (schema->preserveUnknown) return;
    if (value.is_object()) {
      if (schema->hasProperties) {
        walkObject(value.as_object(), *schema);
      } else if (schema->hasAdditional) {
        for (auto& [k, v] : value.as_object()) {
          if (typeError) return;
          Step step(path);
          path += '.';
          path += k;
          walkValue(v, schema->additional);
        }
      }
    } else if (value.is_array() && schema->hasItems) {
      auto& arr = value.as_array();
      for (size_t i = 0; i < arr.size() && !typeError; ++i) {
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
    for (auto it = obj.begin(); it != obj.end() && !typeError;) {
      Step step(path);
      if (!path.empty()) path += '.';
      path += it->key();
      auto prop = schema.properties.find(std::string_view(it->key()));
      if (prop == schema.properties.end()) {
        unknown.push_back(path);
        it = obj.erase(it);
        continue;
      }
      fields.push_back({it->key(), &schema});
      walkValue(it->value(), prop->second);
      fields.pop_back();
      if (isGoOmitted(it->value(), prop->second)) {
        it = obj.erase(it);
        continue;
      }
      ++it;
    }
  }
};

}  // namespace

DecodeCheck checkAndPrune(json::object& obj, const SchemaNode* root, Decoding mode) {
  if (!root) return {};
  Walker walker;
  walker.checkTypes = true;
  walker.mode = mode;
  json::value wrapped(std::move(obj));
  walker.walkValue(wrapped, root);
  obj = std::move(wrapped.as_object());
  return {std::move(walker.unknown), std::move(walker.typeError)};
}

void checkBodyTypes(json::value& body, const std::string& definition, const std::string& kind,
                    const std::string& version) {
  if (!body.is_object()) return;  // the caller's own check words that
  auto checked =
      checkAndPrune(body.as_object(), FieldSchemas::builtin().root(definition), Decoding::Json);
  if (checked.typeError) throw DecodeError(kind, version, *checked.typeError);
}

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
