#include "api/unknown_fields.h"

#include <boost/json.hpp>

namespace skiff::api {

namespace json = boost::json;

namespace {

struct Walker {
  const json::object& definitions;
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

  // Resolves "$ref" (possibly wrapped in allOf) to the referenced schema.
  const json::object* resolve(const json::object* schema) const {
    for (int depth = 0; schema && depth < 8; ++depth) {
      const json::value* ref = schema->if_contains("$ref");
      if (!ref) {
        const json::value* allOf = schema->if_contains("allOf");
        if (allOf && allOf->is_array() && !allOf->as_array().empty() &&
            allOf->as_array()[0].is_object()) {
          schema = &allOf->as_array()[0].as_object();
          continue;
        }
        return schema;
      }
      std::string_view name = ref->as_string();
      constexpr std::string_view prefix = "#/definitions/";
      if (name.starts_with(prefix)) name.remove_prefix(prefix.size());
      const json::value* def = definitions.if_contains(name);
      schema = def && def->is_object() ? &def->as_object() : nullptr;
    }
    return schema;
  }

  void walkValue(json::value& value, const json::object* schema) {
    schema = resolve(schema);
    if (!schema) return;
    if (schema->contains("x-kubernetes-preserve-unknown-fields")) return;
    if (value.is_object()) {
      if (const json::value* props = schema->if_contains("properties"); props && props->is_object()) {
        walkObject(value.as_object(), props->as_object());
      } else if (const json::value* extra = schema->if_contains("additionalProperties");
                 extra && extra->is_object()) {
        for (auto& [k, v] : value.as_object()) {
          Step step(path);
          path += '.';
          path += k;
          walkValue(v, &extra->as_object());
        }
      }
    } else if (value.is_array()) {
      const json::value* items = schema->if_contains("items");
      if (!items || !items->is_object()) return;
      auto& arr = value.as_array();
      for (size_t i = 0; i < arr.size(); ++i) {
        Step step(path);
        path += '[';
        path += std::to_string(i);
        path += ']';
        walkValue(arr[i], &items->as_object());
      }
    }
  }

  // What a typed Go decode/encode round trip drops (omitempty): nulls, empty lists and empty
  // maps. Empty structs stay (`emptyDir: {}` means something).
  bool isGoOmitted(const json::value& value, const json::object* schema) const {
    if (value.is_null()) return true;
    if (value.is_array()) return value.as_array().empty();
    if (value.is_object() && value.as_object().empty()) {
      schema = resolve(schema);
      return schema && schema->contains("additionalProperties") && !schema->contains("properties");
    }
    return false;
  }

  void walkObject(json::object& obj, const json::object& properties) {
    for (auto it = obj.begin(); it != obj.end();) {
      Step step(path);
      if (!path.empty()) path += '.';
      path += it->key();
      const json::value* prop = properties.if_contains(it->key());
      if (!prop || !prop->is_object()) {
        unknown.push_back(path);
        it = obj.erase(it);
        continue;
      }
      walkValue(it->value(), &prop->as_object());
      if (isGoOmitted(it->value(), &prop->as_object())) {
        it = obj.erase(it);
        continue;
      }
      ++it;
    }
  }
};

}  // namespace

std::vector<std::string> pruneUnknownFields(json::object& obj, const json::object& definitions,
                                            const std::string& definition) {
  Walker walker{definitions, {}, {}};
  const json::value* root = definitions.if_contains(definition);
  if (!root || !root->is_object()) return {};
  json::value wrapped(std::move(obj));
  walker.walkValue(wrapped, &root->as_object());
  obj = std::move(wrapped.as_object());
  return walker.unknown;
}

}  // namespace skiff::api
