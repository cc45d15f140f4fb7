// The route controller's decision, pure: which routes to create and which to delete, given
// the Nodes' pod ranges and the routes the provider reports.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "cloud/cloud_provider.h"

namespace skiff::cloud {

struct RouteNode {
  std::string name, uid;
  std::vector<std::string> podCidrs;
};

struct RoutePlan {
  std::vector<std::pair<std::string, Route>> toCreate;  // (name hint = node uid, route)
  std::vector<Route> toDelete;
};

// A route is kept when it goes to a Node that has that range; missing ones are created;
// others are deleted when they are blackholes or lie inside `clusterCidr` (IPv4 CIDR; an
// unparsable one deletes nothing). IPv6 ranges are skipped (the local provider is IPv4).
RoutePlan diffRoutes(const std::vector<RouteNode>& nodes, const std::vector<Route>& existing,
                     const std::string& clusterCidr);

// Whether IPv4 CIDR `inner` lies inside `outer`.
bool cidrContains(const std::string& outer, const std::string& inner);

}  // namespace skiff::cloud
