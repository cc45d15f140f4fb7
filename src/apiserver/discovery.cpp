#include "apiserver/discovery.h"

#include <boost/json.hpp>

namespace skiff::apiserver {

namespace json = boost::json;
using api::ResourceInfo;
using api::ResourceRegistry;

namespace {

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

json::object groupVersionEntry(const std::string& group, const std::string& version) {
  return {{"groupVersion", group.empty() ? version : group + "/" + version}, {"version", version}};
}

json::object discoveryResource(const ResourceInfo& r) {
  json::object res{{"resource", r.plural},
                   {"responseKind", {{"group", r.group}, {"version", r.version}, {"kind", r.kind}}},
                   {"scope", r.namespaced ? "Namespaced" : "Cluster"},
                   {"singularResource", r.singular},
                   {"verbs", strings(r.verbs)}};
  if (!r.shortNames.empty()) res["shortNames"] = strings(r.shortNames);
  if (!r.categories.empty()) res["categories"] = strings(r.categories);
  if (!r.subresources.empty()) {
    json::array subs;
    for (const auto& s : r.subresources)
      subs.push_back(json::object{
          {"subresource", s.name},
          {"responseKind", {{"group", s.group}, {"version", s.version}, {"kind", s.kind}}},
          {"verbs", strings(s.verbs)}});
    res["subresources"] = std::move(subs);
  }
  return res;
}

std::vector<std::string> groupsInOrder(const ResourceRegistry& registry, bool core) {
  std::vector<std::string> groups;
  for (const auto& gv : registry.groupVersions())
    if ((gv.group.empty() == core) &&
        std::find(groups.begin(), groups.end(), gv.group) == groups.end())
      groups.push_back(gv.group);
  return groups;
}

}  // namespace

json::object aggregatedDiscovery(const ResourceRegistry& registry, bool core) {
  json::array items;
  for (const auto& group : groupsInOrder(registry, core)) {
    json::array versions;
    for (const auto& gv : registry.groupVersions()) {
      if (gv.group != group) continue;
      json::array resources;
      for (const auto& r : registry.all())
        if (r.group == group && r.version == gv.version) resources.push_back(discoveryResource(r));
      versions.push_back(json::object{
          {"version", gv.version}, {"resources", std::move(resources)}, {"freshness", "Current"}});
    }
    items.push_back(json::object{{"metadata", {{"name", group}, {"creationTimestamp", nullptr}}},
                                 {"versions", std::move(versions)}});
  }
  return {{"kind", "APIGroupDiscoveryList"},
          {"apiVersion", "apidiscovery.k8s.io/v2"},
          {"metadata", json::object()},
          {"items", std::move(items)}};
}

json::object apiVersions(const std::string& serverAddress) {
  return {{"kind", "APIVersions"},
          {"versions", json::array{"v1"}},
          {"serverAddressByClientCIDRs",
           json::array{json::object{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", serverAddress}}}}};
}

std::optional<json::object> apiGroup(const ResourceRegistry& registry, const std::string& group) {
  json::array versions;
  for (const auto& gv : registry.groupVersions())
    if (gv.group == group) versions.push_back(groupVersionEntry(group, gv.version));
  if (versions.empty() || group.empty()) return std::nullopt;
  return json::object{{"kind", "APIGroup"},
                      {"apiVersion", "v1"},
                      {"name", group},
                      {"versions", versions},
                      {"preferredVersion", versions[0]}};
}

json::object apiGroupList(const ResourceRegistry& registry) {
  json::array groups;
  for (const auto& group : groupsInOrder(registry, false)) {
    auto g = apiGroup(registry, group);
    g->erase("kind");
    g->erase("apiVersion");
    groups.push_back(std::move(*g));
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(groups)}};
}

std::optional<json::object> apiResourceList(const ResourceRegistry& registry,
                                            const std::string& group, const std::string& version) {
  json::array resources;
  bool found = false;
  for (const auto& r : registry.all()) {
    if (r.group != group || r.version != version) continue;
    found = true;
    json::object row{{"name", r.plural},
                     {"singularName", r.singular},
                     {"namespaced", r.namespaced},
                     {"kind", r.kind},
                     {"verbs", strings(r.verbs)}};
    if (!r.shortNames.empty()) row["shortNames"] = strings(r.shortNames);
    if (!r.categories.empty()) row["categories"] = strings(r.categories);
    resources.push_back(std::move(row));
    for (const auto& s : r.subresources) {
      json::object sub{{"name", r.plural + "/" + s.name},
                       {"singularName", ""},
                       {"namespaced", r.namespaced},
                       {"kind", s.kind},
                       {"verbs", strings(s.verbs)}};
      if (s.group != r.group || s.version != r.version) {
        sub["group"] = s.group;
        sub["version"] = s.version;
      }
      resources.push_back(std::move(sub));
    }
  }
  if (!found) return std::nullopt;
  return json::object{{"kind", "APIResourceList"},
                      {"apiVersion", "v1"},
                      {"groupVersion", group.empty() ? version : group + "/" + version},
                      {"resources", std::move(resources)}};
}

}  // namespace skiff::apiserver
