// YAML → JSON (Boost.JSON) conversion for request bodies sent as application/yaml. Plain
// scalars are typed as YAML 1.1/JSON would (true/false, null, integers, floats); quoted
// scalars stay strings.
#pragma once

#include <boost/json/value.hpp>
#include <string_view>

namespace skiff::api {
// Parses one YAML document. Throws skiff::ApiError 400 on malformed YAML.
boost::json::value yamlToJson(std::string_view yaml);
}  // namespace skiff::api
