#include "apiserver/discovery.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>
#include <map>

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

// One version of a group in discovery order: built in (resources from the registry) or
// served through an APIService.
struct VersionEntry {
  std::string version;
  ApiServicePriority priority;
  const AggregatedVersion* aggregated = nullptr;
};
struct GroupEntry {
  std::string name;
  int priority = 0;
  std::vector<VersionEntry> versions;
};

// Every group (core == true: only the core group; else all others) with its versions, sorted.
std::vector<GroupEntry> groupsInOrder(const ResourceRegistry& registry, bool core,
                                      const std::vector<AggregatedVersion>& extra) {
  std::vector<GroupEntry> groups;
  auto groupFor = [&](const std::string& name) -> GroupEntry& {
    for (auto& g : groups)
      if (g.name == name) return g;
    groups.push_back(GroupEntry{name, 0, {}});
    return groups.back();
  };
  auto add = [&](const std::string& group, const std::string& version, ApiServicePriority p,
                 const AggregatedVersion* aggregated) {
    if (group.empty() != core) return;
    GroupEntry& g = groupFor(group);
    for (const auto& v : g.versions)
      if (v.version == version) return;  // a built-in version wins over an APIService for it
    g.priority = std::max(g.priority, p.group);
    g.versions.push_back(VersionEntry{version, p, aggregated});
  };
  // Group-versions of CRDs rank as upstream's CRD registration controller registers them.
  for (const auto& gv : registry.servedGroupVersions())
    add(gv.group, gv.version,
        gv.custom ? ApiServicePriority{1000, 100} : builtinPriority(gv.group, gv.version), nullptr);
  for (const auto& a : extra) add(a.group, a.version, a.priority, &a);
  for (auto& g : groups)
    std::stable_sort(g.versions.begin(), g.versions.end(),
                     [](const VersionEntry& a, const VersionEntry& b) {
                       if (a.priority.version != b.priority.version)
                         return a.priority.version > b.priority.version;
                       return compareKubeVersions(a.version, b.version) > 0;
                     });
  std::stable_sort(groups.begin(), groups.end(), [](const GroupEntry& a, const GroupEntry& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    return a.name < b.name;
  });
  return groups;
}

bool isDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// v<major>[(alpha|beta)<minor>]: {major, stage (2 GA, 1 beta, 0 alpha), minor}.
std::optional<std::array<long, 3>> parseKubeVersion(std::string_view v) {
  if (v.size() < 2 || v[0] != 'v') return std::nullopt;
  size_t i = 1;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
  std::string_view major = v.substr(1, i - 1);
  if (!isDigits(major) || major[0] == '0' || major.size() > 9) return std::nullopt;
  long m = std::stol(std::string(major));
  if (i == v.size()) return std::array<long, 3>{m, 2, 0};
  std::string_view rest = v.substr(i);
  long stage;
  if (rest.starts_with("alpha")) {
    stage = 0;
    rest.remove_prefix(5);
  } else if (rest.starts_with("beta")) {
    stage = 1;
    rest.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  if (!isDigits(rest) || rest[0] == '0' || rest.size() > 9) return std::nullopt;
  return std::array<long, 3>{m, stage, std::stol(std::string(rest))};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct AcceptClause {
  std::string type, subtype;
  std::map<std::string, std::string> params;
  double q = 1.0;
};

std::vector<AcceptClause> parseAccept(std::string_view header) {
  std::vector<AcceptClause> out;
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t comma = header.find(',', pos);
    std::string_view part =
        header.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    pos = comma == std::string_view::npos ? header.size() + 1 : comma + 1;
    AcceptClause c;
    size_t semi = part.find(';');
    std::string_view media = trim(part.substr(0, semi));
    size_t slash = media.find('/');
    if (media.empty()) continue;
    // A type without "/" ("*") has a wildcard subtype, as Go's goautoneg reads it.
    c.type = lower(trim(media.substr(0, slash)));
    c.subtype = slash == std::string_view::npos ? std::string(1, '*')
                                                : lower(trim(media.substr(slash + 1)));
    while (semi != std::string_view::npos) {
      size_t next = part.find(';', semi + 1);
      std::string_view kv = trim(part.substr(
          semi + 1, next == std::string_view::npos ? std::string_view::npos : next - semi - 1));
      semi = next;
      size_t eq = kv.find('=');
      if (eq == std::string_view::npos) continue;
      std::string k(trim(kv.substr(0, eq))), v(trim(kv.substr(eq + 1)));
      if (k == "q") {
        try {
          c.q = std::stod(v);
        } catch (...) {
          c.q = 0;
        }
      } else {
        c.params[k] = v;
      }
    }
    out.push_back(std::move(c));
  }
  // goautoneg's order: q, then concrete before wildcard types, then more parameters first.
  std::stable_sort(out.begin(), out.end(), [](const AcceptClause& a, const AcceptClause& b) {
    if (a.q != b.q) return a.q > b.q;
    if ((a.type == "*") != (b.type == "*")) return b.type == "*";
    if ((a.subtype == "*") != (b.subtype == "*")) return b.subtype == "*";
    return a.params.size() > b.params.size();
  });
  return out;
}

json::object versionDiscovery(const ResourceRegistry& registry, const std::string& group,
                              const VersionEntry& v) {
  if (v.aggregated) {
    json::object entry{{"version", v.version}};
    if (v.aggregated->fresh) {
      json::array resources = aggregatedResourcesFromLegacy(v.aggregated->resources);
      if (!resources.empty()) entry["resources"] = std::move(resources);
      entry["freshness"] = "Current";
    } else {
      entry["freshness"] = "Stale";
    }
    return entry;
  }
  json::array resources;
  for (const auto* r : registry.served())
    if (r->group == group && r->version == v.version) resources.push_back(discoveryResource(*r));
  return json::object{
      {"version", v.version}, {"resources", std::move(resources)}, {"freshness", "Current"}};
}

}  // namespace

DiscoveryFormat negotiateDiscovery(std::string_view accept) {
  for (const auto& c : parseAccept(accept)) {
    if (c.q <= 0) continue;
    // The one serializer offered for aggregated discovery here is JSON.
    bool json = (c.type == "application" && c.subtype == "json") ||
                (c.type == "application" && c.subtype == "*") || c.type == "*";
    auto as = c.params.find("as");
    if (!json || as == c.params.end()) continue;
    auto g = c.params.find("g");
    auto v = c.params.find("v");
    if (as->second != "APIGroupDiscoveryList" || g == c.params.end() ||
        g->second != "apidiscovery.k8s.io" || v == c.params.end())
      continue;
    if (v->second == "v2") return DiscoveryFormat::AggregatedV2;
    if (v->second == "v2beta1") return DiscoveryFormat::AggregatedV2Beta1;
  }
  return DiscoveryFormat::Legacy;
}

std::string aggregatedDiscoveryContentType(DiscoveryFormat format) {
  return std::string("application/json;g=apidiscovery.k8s.io;v=") +
         (format == DiscoveryFormat::AggregatedV2Beta1 ? "v2beta1" : "v2") +
         ";as=APIGroupDiscoveryList";
}

ApiServicePriority builtinPriority(std::string_view group, std::string_view version) {
  struct Row {
    std::string_view group, version;
    int groupPriority, versionPriority;
  };
  static constexpr Row rows[] = {
      {"", "v1", 18000, 1},
      {"apiregistration.k8s.io", "v1", 18000, 15},
      {"apps", "v1", 17800, 15},
      {"events.k8s.io", "v1", 17750, 15},
      {"authentication.k8s.io", "v1", 17700, 15},
      {"authorization.k8s.io", "v1", 17600, 15},
      {"autoscaling", "v2", 17500, 30},
      {"autoscaling", "v1", 17500, 15},
      {"batch", "v1", 17400, 15},
      {"certificates.k8s.io", "v1", 17300, 15},
      {"networking.k8s.io", "v1", 17200, 15},
      {"policy", "v1", 17100, 15},
      {"rbac.authorization.k8s.io", "v1", 17000, 15},
      {"storage.k8s.io", "v1", 16800, 15},
      {"admissionregistration.k8s.io", "v1", 16700, 15},
      {"apiextensions.k8s.io", "v1", 16700, 15},
      {"scheduling.k8s.io", "v1", 16600, 15},
      {"coordination.k8s.io", "v1", 16500, 15},
      {"node.k8s.io", "v1", 16300, 15},
      {"discovery.k8s.io", "v1", 16200, 15},
      {"flowcontrol.apiserver.k8s.io", "v1", 16100, 21},
  };
  for (const auto& r : rows)
    if (r.group == group && r.version == version) return {r.groupPriority, r.versionPriority};
  return {1000, 15};
}

int compareKubeVersions(std::string_view a, std::string_view b) {
  auto pa = parseKubeVersion(a), pb = parseKubeVersion(b);
  if (pa && pb) {
    if ((*pa)[1] != (*pb)[1]) return (*pa)[1] > (*pb)[1] ? 1 : -1;  // GA, beta, alpha
    if ((*pa)[0] != (*pb)[0]) return (*pa)[0] > (*pb)[0] ? 1 : -1;
    if ((*pa)[2] != (*pb)[2]) return (*pa)[2] > (*pb)[2] ? 1 : -1;
    return 0;
  }
  if (pa) return 1;
  if (pb) return -1;
  int c = a.compare(b);
  return c < 0 ? 1 : (c > 0 ? -1 : 0);  // others by name, ascending
}

json::array aggregatedResourcesFromLegacy(const json::array& rows) {
  json::array out;
  std::map<std::string, size_t> parents;
  auto field = [](const json::object& o, const char* k) -> std::string {
    auto it = o.find(k);
    return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : "";
  };
  auto scopeOf = [](const json::object& o) {
    auto it = o.find("namespaced");
    return it != o.end() && it->value().is_bool() && it->value().get_bool() ? "Namespaced"
                                                                            : "Cluster";
  };
  for (const auto& v : rows) {
    if (!v.is_object()) continue;
    const auto& r = v.get_object();
    std::string name = field(r, "name");
    if (name.empty() || name.find('/') != std::string::npos) continue;
    json::object res{
        {"resource", name},
        {"responseKind",
         {{"group", field(r, "group")},
          {"version", field(r, "version")},
          {"kind", field(r, "kind")}}},
        {"scope", scopeOf(r)},
        {"singularResource", field(r, "singularName")},
        {"verbs", r.contains("verbs") && r.at("verbs").is_array() ? r.at("verbs") : json::array()}};
    for (const char* k : {"shortNames", "categories"})
      if (auto it = r.find(k);
          it != r.end() && it->value().is_array() && !it->value().get_array().empty())
        res[k] = it->value();
    parents[name] = out.size();
    out.push_back(std::move(res));
  }
  for (const auto& v : rows) {
    if (!v.is_object()) continue;
    const auto& r = v.get_object();
    std::string name = field(r, "name");
    size_t slash = name.find('/');
    if (slash == std::string::npos) continue;
    std::string parent = name.substr(0, slash);
    auto it = parents.find(parent);
    if (it == parents.end()) {
      out.push_back(json::object{{"resource", parent},
                                 {"responseKind", {{"group", ""}, {"version", ""}, {"kind", ""}}},
                                 {"scope", scopeOf(r)},
                                 {"singularResource", ""},
                                 {"verbs", json::array()}});
      it = parents.emplace(parent, out.size() - 1).first;
    }
    json::object sub{
        {"subresource", name.substr(slash + 1)},
        {"responseKind",
         {{"group", field(r, "group")},
          {"version", field(r, "version")},
          {"kind", field(r, "kind")}}},
        {"verbs", r.contains("verbs") && r.at("verbs").is_array() ? r.at("verbs") : json::array()}};
    json::object& p = out[it->second].as_object();
    json::value& subs = p["subresources"];
    if (!subs.is_array()) subs.emplace_array();
    subs.as_array().push_back(std::move(sub));
  }
  return out;
}

json::object aggregatedDiscovery(const ResourceRegistry& registry, bool core,
                                 DiscoveryFormat format,
                                 const std::vector<AggregatedVersion>& extra) {
  json::array items;
  for (const auto& group : groupsInOrder(registry, core, extra)) {
    json::array versions;
    for (const auto& v : group.versions) {
      // Until its backend was asked, an APIService's version is not listed.
      if (v.aggregated && !v.aggregated->fetched) continue;
      versions.push_back(versionDiscovery(registry, group.name, v));
    }
    if (versions.empty()) continue;
    items.push_back(
        json::object{{"metadata", {{"name", group.name}, {"creationTimestamp", nullptr}}},
                     {"versions", std::move(versions)}});
  }
  return {
      {"kind", "APIGroupDiscoveryList"},
      {"apiVersion", format == DiscoveryFormat::AggregatedV2Beta1 ? "apidiscovery.k8s.io/v2beta1"
                                                                  : "apidiscovery.k8s.io/v2"},
      {"metadata", json::object()},
      {"items", std::move(items)}};
}

json::object apiVersions(const std::string& serverAddress) {
  return {
      {"kind", "APIVersions"},
      {"versions", json::array{"v1"}},
      {"serverAddressByClientCIDRs",
       json::array{json::object{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", serverAddress}}}}};
}

namespace {

std::optional<json::object> groupDocument(const GroupEntry& g) {
  json::array versions;
  for (const auto& v : g.versions) versions.push_back(groupVersionEntry(g.name, v.version));
  if (versions.empty()) return std::nullopt;
  return json::object{{"kind", "APIGroup"},
                      {"apiVersion", "v1"},
                      {"name", g.name},
                      {"versions", versions},
                      {"preferredVersion", versions[0]}};
}

}  // namespace

std::optional<json::object> apiGroup(const ResourceRegistry& registry, const std::string& group,
                                     const std::vector<AggregatedVersion>& extra) {
  if (group.empty()) return std::nullopt;
  for (const auto& g : groupsInOrder(registry, false, extra))
    if (g.name == group) return groupDocument(g);
  return std::nullopt;
}

json::object apiGroupList(const ResourceRegistry& registry,
                          const std::vector<AggregatedVersion>& extra) {
  json::array groups;
  for (const auto& g : groupsInOrder(registry, false, extra)) {
    auto doc = groupDocument(g);
    if (!doc) continue;
    doc->erase("kind");
    doc->erase("apiVersion");
    groups.push_back(std::move(*doc));
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(groups)}};
}

std::optional<json::object> apiResourceList(const ResourceRegistry& registry,
                                            const std::string& group, const std::string& version) {
  json::array resources;
  bool found = false;
  for (const auto* served : registry.served()) {
    const auto& r = *served;
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
