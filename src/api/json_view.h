// Copy-free reads of JSON strings for hot loops (a controller walking thousands of cached
// pods per sync): stringAt copies each value it returns; these only point into the object.
// Kept apart from json_access.h so its 130-odd includers do not rebuild for them.
#pragma once
#include <string_view>

#include "api/json_access.h"

namespace skiff::api {

// obj.a.b.c as a view into obj (valid while obj lives); empty when missing or not a string.
inline std::string_view stringViewAt(const boost::json::object& obj, Path path) {
  auto* v = valueAt(obj, path);
  if (v && v->is_string()) return {v->get_string().data(), v->get_string().size()};
  return {};
}

// Whether a.path and b.path hold equal values (both missing counts as equal): what an
// informer's update handler asks of the few fields it reacts to.
inline bool sameAt(const boost::json::object& a, const boost::json::object& b, Path path) {
  const boost::json::value* x = valueAt(a, path);
  const boost::json::value* y = valueAt(b, path);
  return x && y ? *x == *y : x == y;
}

}  // namespace skiff::api
