#include "controller/discovery.h"

#include <algorithm>
#include <set>

#include "api/json_access.h"
#include "api/resource_registry.h"
#include "common/api_error.h"
#include "common/log.h"

namespace skiff::controller {

namespace json = boost::json;

bool DiscoveredResource::supports(std::string_view verb) const {
  return std::find(verbs.begin(), verbs.end(), verb) != verbs.end();
}

bool DiscoveredResource::aliasOfAnotherResource() const {
  const auto* info = api::ResourceRegistry::builtin().find(group, version, resource);
  return info && info->storage &&
         (info->storage->plural != resource || info->storage->group != group);
}

namespace {

// Appends the resources of one /api/v1 or /apis/G/V document that `seen` lacks.
void addResources(const json::object& doc, const std::string& group, const std::string& version,
                  std::set<std::string>& seen, std::vector<DiscoveredResource>& out) {
  auto* rows = api::arrayAt(doc, {"resources"});
  if (!rows) return;
  for (const auto& v : *rows) {
    auto* r = v.if_object();
    if (!r) continue;
    std::string name = api::stringAt(*r, {"name"});
    if (name.empty() || name.find('/') != std::string::npos) continue;  // subresources
    if (!seen.insert(name).second) continue;  // served by a preferred version already
    DiscoveredResource d{
        group, version, name, api::stringAt(*r, {"kind"}), api::boolAt(*r, {"namespaced"}), {}};
    if (auto* verbs = api::arrayAt(*r, {"verbs"}))
      for (const auto& verb : *verbs)
        if (verb.is_string()) d.verbs.emplace_back(verb.get_string());
    out.push_back(std::move(d));
  }
}

}  // namespace

ServerDiscovery::ServerDiscovery(client::RestClient& client, std::chrono::milliseconds minInterval,
                                 const Clock& clock)
    : client_(client), minInterval_(minInterval), clock_(clock) {}

std::vector<DiscoveredResource> ServerDiscovery::resources() {
  std::lock_guard lock(mu_);
  auto now = clock_.monotonic();
  if (haveCache_ && now - refreshedAt_ < minInterval_) return cached_;
  try {
    cached_ = discover();
    haveCache_ = true;
    refreshedAt_ = now;
  } catch (const std::exception& e) {
    if (!haveCache_) throw;
    SKIFF_LOG_WARN("discovery failed, using the last list error=\"{}\"", e.what());
  }
  return cached_;
}

std::vector<DiscoveredResource> ServerDiscovery::discover() {
  std::vector<DiscoveredResource> out;
  {
    std::set<std::string> seen;
    addResources(client_.request("GET", "/api/v1"), "", "v1", seen, out);
  }
  auto groups = client_.request("GET", "/apis");
  if (auto* list = api::arrayAt(groups, {"groups"})) {
    for (const auto& gv : *list) {
      auto* g = gv.if_object();
      if (!g) continue;
      std::string group = api::stringAt(*g, {"name"});
      // Preferred version first, then the others in the server's order.
      std::vector<std::string> versions;
      std::string preferred = api::stringAt(*g, {"preferredVersion", "version"});
      if (!preferred.empty()) versions.push_back(preferred);
      if (auto* vs = api::arrayAt(*g, {"versions"}))
        for (const auto& v : *vs)
          if (auto* vo = v.if_object(); vo && api::stringAt(*vo, {"version"}) != preferred)
            versions.push_back(api::stringAt(*vo, {"version"}));
      std::set<std::string> seen;
      for (const auto& version : versions) {
        try {
          addResources(client_.request("GET", "/apis/" + group + "/" + version), group, version,
                       seen, out);
        } catch (const std::exception& e) {
          // An aggregated API that is down: its resources stay unknown until it answers.
          SKIFF_LOG_DEBUG("discovery of {}/{} failed error=\"{}\"", group, version, e.what());
        }
      }
    }
  }
  return out;
}

StaticDiscovery::StaticDiscovery() {
  const auto& registry = api::ResourceRegistry::builtin();
  std::set<std::string> seen;  // group/plural
  for (const auto& gv : registry.groupVersions())
    for (const auto& info : registry.all()) {
      if (info.group != gv.group || info.version != gv.version) continue;
      if (!seen.insert(info.group + "/" + info.plural).second) continue;
      list_.push_back(
          {info.group, info.version, info.plural, info.kind, info.namespaced, info.verbs});
    }
}

std::vector<DiscoveredResource> StaticDiscovery::resources() {
  std::lock_guard lock(mu_);
  if (!failure_.empty()) throw std::runtime_error(failure_);
  return list_;
}

void StaticDiscovery::remove(const std::string& group, const std::string& resource) {
  std::lock_guard lock(mu_);
  std::erase_if(list_, [&](const DiscoveredResource& r) {
    return r.group == group && r.resource == resource;
  });
}

void StaticDiscovery::failWith(std::string message) {
  std::lock_guard lock(mu_);
  failure_ = std::move(message);
}

void StaticDiscovery::set(std::vector<DiscoveredResource> list) {
  std::lock_guard lock(mu_);
  list_ = std::move(list);
}

void StaticDiscovery::add(DiscoveredResource r) {
  std::lock_guard lock(mu_);
  list_.push_back(std::move(r));
}

}  // namespace skiff::controller
