// Defaulting helpers shared by defaults.cpp and the kinds' strategies (src/api/kinds/).
// Private to src/api.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "api/defaults.h"

namespace skiff::api::defaulting {

namespace json = boost::json;

// Absent or null.
bool missing(const json::object& o, std::string_view key);
void setDefault(json::object& o, std::string_view key, json::value v);
// Empty strings count as unset for string enums, as upstream compares against "".
void setDefaultString(json::object& o, std::string_view key, std::string_view v);
json::object* childObject(json::object& o, std::string_view key);
json::object& ensureObject(json::object& o, std::string_view key);
std::string str(const json::object& o, std::string_view key);
bool emptyMapOrMissing(const json::object& o, std::string_view key);

template <typename F>
void forEachObject(json::object& o, std::string_view key, F&& f) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_array()) return;
  for (auto& v : it->value().get_array())
    if (v.is_object()) f(v.get_object());
}

// Defaults of an object holding a "template" PodTemplateSpec (its pod spec's defaults).
void defaultPodTemplate(json::object& holder);
// A PersistentVolumeClaim's defaults; also each StatefulSet volumeClaimTemplate's.
void defaultPvcSpec(json::object& pvc);

}  // namespace skiff::api::defaulting
