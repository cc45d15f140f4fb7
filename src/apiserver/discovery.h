// Discovery documents: aggregated (apidiscovery.k8s.io/v2 and v2beta1) and legacy (APIVersions,
// APIGroupList, APIGroup, APIResourceList). Built-in group-versions come from the resource
// registry; group-versions served by an extension API server through an APIService
// (apiserver/aggregator.h) are passed in as AggregatedVersion entries.
//
// Order, as upstream's aggregator sorts APIServices: groups by groupPriorityMinimum (highest
// first, ties by name), versions in a group by versionPriority (highest first, ties by
// Kubernetes version order: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > anything else by name).
// Built-in group-versions carry upstream's priorities (builtinPriority).
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/resource_registry.h"

namespace skiff::apiserver {

// What a discovery request asks for (upstream's discovery endpoint negotiation: the first
// acceptable Accept clause by q, specificity and order; a clause naming a kind other than
// APIGroupDiscoveryList of apidiscovery.k8s.io v2/v2beta1 is not acceptable; none acceptable
// means the legacy document).
enum class DiscoveryFormat { Legacy, AggregatedV2, AggregatedV2Beta1 };
DiscoveryFormat negotiateDiscovery(std::string_view accept);
// "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" (or v2beta1).
std::string aggregatedDiscoveryContentType(DiscoveryFormat format);

// An APIService's ordering (spec.groupPriorityMinimum, spec.versionPriority).
struct ApiServicePriority {
  int group = 0;
  int version = 0;
};
// Upstream's priorities for the built-in group-versions (kube-apiserver's
// apiVersionPriorities); {1000, 15} for one it does not list.
ApiServicePriority builtinPriority(std::string_view group, std::string_view version);

// A group-version served through an APIService with spec.service.
struct AggregatedVersion {
  std::string group, version;
  ApiServicePriority priority;
  // Whether the backend's discovery has been asked at least once (before that the version is
  // left out of aggregated discovery, as upstream's discovery manager does until it synced).
  bool fetched = false;
  // The last fetch succeeded: resources are current. Otherwise the version is listed with
  // freshness "Stale" and no resources.
  bool fresh = false;
  boost::json::array resources;  // the backend's APIResourceList.resources
};

// core == true: the /api document (core group); else the /apis document (all other groups).
boost::json::object aggregatedDiscovery(const api::ResourceRegistry& registry, bool core,
                                        DiscoveryFormat format,
                                        const std::vector<AggregatedVersion>& extra = {});
boost::json::object apiVersions(const std::string& serverAddress);
boost::json::object apiGroupList(const api::ResourceRegistry& registry,
                                 const std::vector<AggregatedVersion>& extra = {});
std::optional<boost::json::object> apiGroup(const api::ResourceRegistry& registry,
                                            const std::string& group,
                                            const std::vector<AggregatedVersion>& extra = {});
std::optional<boost::json::object> apiResourceList(const api::ResourceRegistry& registry,
                                                   const std::string& group,
                                                   const std::string& version);

// Legacy APIResourceList rows ("flunders", "flunders/status") as aggregated-discovery
// resources: subresources attached to their parent (a parent made up when missing), as
// upstream converts an extension server's legacy discovery.
boost::json::array aggregatedResourcesFromLegacy(const boost::json::array& rows);

// Kubernetes version order: > 0 when a sorts before b (v2 before v1 before v1beta1...).
int compareKubeVersions(std::string_view a, std::string_view b);

}  // namespace skiff::apiserver
