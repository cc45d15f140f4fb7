// Null-safe access into JSON objects: API objects come from the network and may be
// malformed, so readers never assume a field exists or has the expected type.
#pragma once
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace skiff::api {

using Path = std::initializer_list<std::string_view>;

// obj.a.b.c as the given type; nullptr / default when a step is missing or of another type.
const boost::json::value* valueAt(const boost::json::object& obj, Path path);
const boost::json::object* objectAt(const boost::json::object& obj, Path path);
const boost::json::array* arrayAt(const boost::json::object& obj, Path path);
std::string stringAt(const boost::json::object& obj, Path path, std::string_view fallback = "");
int64_t intAt(const boost::json::object& obj, Path path, int64_t fallback = 0);
bool boolAt(const boost::json::object& obj, Path path, bool fallback = false);
// One field of obj (the common case), with the same rules as the path forms.
std::string stringField(const boost::json::object& obj, std::string_view key);
const boost::json::object* objectField(const boost::json::object& obj, std::string_view key);
const boost::json::array* arrayField(const boost::json::object& obj, std::string_view key);
int64_t intField(const boost::json::object& obj, std::string_view key, int64_t fallback = 0);
// obj.a.b as an object or array; a shared empty one when a step is missing or of another type.
const boost::json::object& objectOrEmpty(const boost::json::object& obj, Path path);
const boost::json::array& arrayOrEmpty(const boost::json::object& obj, Path path);
// Creates the intermediate objects of `path` (replacing non-objects) and returns the last.
boost::json::object& ensureObject(boost::json::object& obj, Path path);

// The JSON type as Go's decoder names it in "cannot unmarshal X into ..." errors.
std::string goJsonTypeName(const boost::json::value& v);

// The metadata.ownerReferences entry with controller=true, or nullptr.
const boost::json::object* controllerRefOf(const boost::json::object& obj);

}  // namespace skiff::api
