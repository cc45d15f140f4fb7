#include "api/json_access.h"

namespace skiff::api {

namespace json = boost::json;

const json::value* valueAt(const json::object& obj, Path path) {
  const json::object* cur = &obj;
  const json::value* v = nullptr;
  size_t i = 0;
  for (auto key : path) {
    if (!cur) return nullptr;
    v = cur->if_contains(key);
    if (!v) return nullptr;
    cur = ++i < path.size() ? v->if_object() : nullptr;
  }
  return v;
}

const json::object* objectAt(const json::object& obj, Path path) {
  if (path.size() == 0) return &obj;
  auto* v = valueAt(obj, path);
  return v ? v->if_object() : nullptr;
}

const json::array* arrayAt(const json::object& obj, Path path) {
  auto* v = valueAt(obj, path);
  return v ? v->if_array() : nullptr;
}

std::string stringAt(const json::object& obj, Path path, std::string_view fallback) {
  auto* v = valueAt(obj, path);
  if (v && v->is_string()) return std::string(v->get_string());
  return std::string(fallback);
}

int64_t intAt(const json::object& obj, Path path, int64_t fallback) {
  auto* v = valueAt(obj, path);
  if (!v) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return fallback;
}

const json::object& objectOrEmpty(const json::object& obj, Path path) {
  static const json::object empty;
  auto* o = objectAt(obj, path);
  return o ? *o : empty;
}

const json::array& arrayOrEmpty(const json::object& obj, Path path) {
  static const json::array empty;
  auto* a = arrayAt(obj, path);
  return a ? *a : empty;
}

bool boolAt(const json::object& obj, Path path, bool fallback) {
  auto* v = valueAt(obj, path);
  return v && v->is_bool() ? v->get_bool() : fallback;
}

json::object& ensureObject(json::object& obj, Path path) {
  json::object* cur = &obj;
  for (auto key : path) {
    auto& v = (*cur)[key];
    if (!v.is_object()) v = json::object{};
    cur = &v.get_object();
  }
  return *cur;
}

const json::object* controllerRefOf(const json::object& obj) {
  auto* refs = arrayAt(obj, {"metadata", "ownerReferences"});
  if (!refs) return nullptr;
  for (const auto& r : *refs) {
    auto* ref = r.if_object();
    if (ref && boolAt(*ref, {"controller"})) return ref;
  }
  return nullptr;
}

std::string goJsonTypeName(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::object:
      return "object";
    case boost::json::kind::array:
      return "array";
    case boost::json::kind::string:
      return "string";
    case boost::json::kind::bool_:
      return "bool";
    case boost::json::kind::null:
      return "null";
    default:
      return "number";
  }
}

std::string stringField(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

const json::object* objectField(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  return v ? v->if_object() : nullptr;
}

const json::array* arrayField(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  return v ? v->if_array() : nullptr;
}

int64_t intField(const json::object& obj, std::string_view key, int64_t fallback) {
  return intAt(obj, {key}, fallback);
}

}  // namespace skiff::api
