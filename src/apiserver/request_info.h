// Parses a resource URL (/api/v1/namespaces/ns/pods/name/status) into its parts, like
// upstream's RequestInfoFactory.
#pragma once

#include <optional>
#include <string>

#include "api/resource_registry.h"

namespace skiff::apiserver {

struct RequestInfo {
  std::string group, version, namespaceName, resource, name, subresource;
  const api::ResourceInfo* info = nullptr;  // null when the resource is unknown
};

// nullopt when the path is not a resource path (/api/v1 itself, /apis/g/v, ...).
std::optional<RequestInfo> parseResourcePath(const std::string& path,
                                             const api::ResourceRegistry& registry);

}  // namespace skiff::apiserver
