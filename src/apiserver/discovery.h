// Discovery documents, all derived from the resource registry: aggregated
// (apidiscovery.k8s.io/v2) and legacy (APIVersions, APIGroupList, APIGroup, APIResourceList).
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>

#include "api/resource_registry.h"

namespace skiff::apiserver {

inline constexpr const char* kAggregatedDiscoveryContentType =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

// core == true: the /api document (core group); else the /apis document (all other groups).
boost::json::object aggregatedDiscovery(const api::ResourceRegistry& registry, bool core);
boost::json::object apiVersions(const std::string& serverAddress);
boost::json::object apiGroupList(const api::ResourceRegistry& registry);
std::optional<boost::json::object> apiGroup(const api::ResourceRegistry& registry,
                                            const std::string& group);
std::optional<boost::json::object> apiResourceList(const api::ResourceRegistry& registry,
                                                   const std::string& group,
                                                   const std::string& version);

}  // namespace skiff::apiserver
