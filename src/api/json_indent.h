// JSON text as Go's encoding/json writes it when Kubernetes is asked for `?pretty=true`
// (json.MarshalIndent with two spaces: `"key": value`, one member per line, `{}` and `[]`
// for empty containers, no trailing newline).
#pragma once

#include <boost/json/fwd.hpp>
#include <string>

namespace skiff::api {

std::string indentedJson(const boost::json::value& v);

}  // namespace skiff::api
