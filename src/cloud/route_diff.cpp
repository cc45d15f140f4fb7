#include "cloud/route_diff.h"

#include <arpa/inet.h>

#include <optional>
#include <set>

namespace skiff::cloud {
namespace {

std::optional<std::pair<uint32_t, int>> parse(const std::string& cidr) {
  auto slash = cidr.find('/');
  if (slash == std::string::npos) return std::nullopt;
  in_addr a{};
  if (inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &a) != 1) return std::nullopt;
  int p = -1;
  try {
    size_t used = 0;
    p = std::stoi(cidr.substr(slash + 1), &used);
    if (used != cidr.size() - slash - 1) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (p < 0 || p > 32) return std::nullopt;
  uint32_t mask = p == 0 ? 0 : ~uint32_t{0} << (32 - p);
  return std::pair{ntohl(a.s_addr) & mask, p};
}

}  // namespace

bool cidrContains(const std::string& outer, const std::string& inner) {
  auto o = parse(outer), i = parse(inner);
  if (!o || !i || i->second < o->second) return false;
  uint32_t mask = o->second == 0 ? 0 : ~uint32_t{0} << (32 - o->second);
  return (i->first & mask) == o->first;
}

RoutePlan diffRoutes(const std::vector<RouteNode>& nodes, const std::vector<Route>& existing,
                     const std::string& clusterCidr) {
  RoutePlan plan;
  std::set<std::pair<std::string, std::string>> wanted;  // (node, cidr)
  for (const auto& n : nodes)
    for (const auto& c : n.podCidrs)
      if (c.find(':') == std::string::npos) wanted.insert({n.name, c});
  std::set<std::pair<std::string, std::string>> have;
  for (const auto& r : existing) {
    std::pair key{r.targetNode, r.destinationCidr};
    if (!r.blackhole && !r.targetNode.empty() && wanted.count(key)) {
      have.insert(key);
      continue;
    }
    if (r.blackhole || cidrContains(clusterCidr, r.destinationCidr)) plan.toDelete.push_back(r);
  }
  for (const auto& n : nodes)
    for (const auto& c : n.podCidrs) {
      if (c.find(':') != std::string::npos || have.count({n.name, c})) continue;
      plan.toCreate.push_back({n.uid, Route{"", n.name, c, false}});
    }
  return plan;
}

}  // namespace skiff::cloud
