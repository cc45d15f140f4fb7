// Finds (and removes) fields an object's OpenAPI schema does not know — upstream drops them
// while decoding into typed structs; fieldValidation=Strict turns them into errors instead.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

namespace skiff::api {

// Walks `obj` against the OpenAPI v2 `definitions` starting at `definition`, removes fields
// the schema does not declare, and returns their paths ("spec.foo", "spec.containers[0].bar").
// Like upstream's typed round trip it also drops nulls, empty lists and empty maps.
std::vector<std::string> pruneUnknownFields(boost::json::object& obj,
                                            const boost::json::object& definitions,
                                            const std::string& definition);

}  // namespace skiff::api
