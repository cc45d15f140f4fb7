// Internal to OpenApi: turns the swagger 2.0 document into per-group-version OpenAPI 3.0
// documents shaped like upstream's /openapi/v3/<gv> (see openapi_v3.cpp for the rules).
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>

namespace skiff::api::openapi_v3 {

// "api/v1" for "/api/v1/namespaces/{namespace}/pods", "apis/apps/v1" for
// "/apis/apps/v1/deployments"; "" for paths outside a group-version ("/apis/", "/version/").
std::string groupVersionPathOf(std::string_view v2Path);

// The OpenAPI 3.0 document for gvPath: that group-version's v2 paths converted, plus the
// transitive closure of the schemas they reference as components.schemas.
boost::json::object buildGroupVersionDocument(const boost::json::object& v2,
                                              std::string_view gvPath);

}  // namespace skiff::api::openapi_v3
