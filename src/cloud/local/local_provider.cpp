#include "cloud/local/local_provider.h"

#include <algorithm>
#include <filesystem>

#include "api/json_access.h"
#include "cloud/local/lb_choice.h"
#include "common/log.h"

namespace skiff::cloud::local {

namespace fs = std::filesystem;
namespace json = boost::json;
using api::stringAt;

namespace {

std::string serviceKey(const json::object& svc) {
  return stringAt(svc, {"metadata", "namespace"}) + "/" + stringAt(svc, {"metadata", "name"});
}

std::vector<std::string> nodeNames(const std::vector<json::object>& nodes) {
  std::vector<std::string> out;
  for (const auto& n : nodes) out.push_back(stringAt(n, {"metadata", "name"}));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

LocalProvider::LocalProvider(const ProviderConfig& config,
                             std::shared_ptr<RouteProgrammer> programmer)
    : config_(config),
      inventory_((fs::path(config.dataDir) / "cloud" / "instances").string()),
      pool_(config.loadBalancerIpRange.empty() ? kDefaultLoadBalancerRange
                                               : config.loadBalancerIpRange,
            (fs::path(config.dataDir) / "cloud" / "loadbalancers.json").string()),
      programmer_(std::move(programmer)) {
  if (config_.dataDir.empty()) throw CloudError("the local cloud provider needs a data directory");
  fs::create_directories(inventory_.dir());
}

std::string LocalProvider::providerIdFor(const std::string& nodeName) const {
  return "skiff://" + config_.clusterName + "/" + nodeName;
}

std::string LocalProvider::instanceName(const json::object& node) const {
  std::string providerId = stringAt(node, {"spec", "providerID"});
  if (providerId.empty()) return stringAt(node, {"metadata", "name"});
  const std::string prefix = "skiff://";
  if (providerId.rfind(prefix, 0) != 0)
    throw CloudError("providerID \"" + providerId +
                     "\" is not a skiff:// ID of the local provider");
  auto rest = providerId.substr(prefix.size());
  auto slash = rest.find('/');
  if (slash == std::string::npos || slash + 1 == rest.size())
    throw CloudError("providerID \"" + providerId + "\" is not skiff://<cluster>/<node>");
  if (rest.substr(0, slash) != config_.clusterName)
    throw CloudError("providerID \"" + providerId + "\" belongs to cluster \"" +
                     rest.substr(0, slash) + "\", not \"" + config_.clusterName + "\"");
  return rest.substr(slash + 1);
}

Instance LocalProvider::requireInstance(const std::string& name) const {
  auto instance = inventory_.find(name);
  if (!instance) throw InstanceNotFound("instance " + name + " not found in " + inventory_.dir());
  return *instance;
}

bool LocalProvider::instanceExists(const json::object& node) {
  return inventory_.find(instanceName(node)).has_value();
}

bool LocalProvider::instanceShutdown(const json::object& node) {
  auto instance = inventory_.find(instanceName(node));
  return instance && !instance->running();
}

InstanceMetadata LocalProvider::instanceMetadata(const json::object& node) {
  auto name = instanceName(node);
  Instance in = requireInstance(name);
  return {providerIdFor(name), in.instanceType, in.addresses, in.zone, in.region};
}

Zone LocalProvider::zoneByNodeName(const std::string& nodeName) {
  Instance in = requireInstance(nodeName);
  return {in.zone, in.region};
}

// ---------------------------------------------------------------- routes

std::vector<Route> LocalProvider::listRoutes(const std::string&) {
  auto instances = inventory_.all();
  std::map<std::string, const Instance*> byIp;
  for (const auto& in : instances)
    if (auto ip = in.address("InternalIP"); !ip.empty()) byIp[ip] = &in;
  auto range = parseIpv4Range(pool_.rangeText());
  // destination -> gateway -> namespaces holding it
  std::map<std::string, std::map<std::string, std::set<std::string>>> seen;
  for (const auto& ns : config_.routeNetns)
    for (const auto& r : programmer_->list(ns)) {
      // The /32 routes of load-balancer addresses are the balancers' business.
      if (r.destination.ends_with("/32")) {
        auto ip = parseIpv4(r.destination.substr(0, r.destination.size() - 3));
        if (ip && *ip >= range.first && *ip <= range.last) continue;
      }
      seen[r.destination][r.gateway].insert(ns);
    }
  std::vector<Route> out;
  for (const auto& [dst, gateways] : seen)
    for (const auto& [gw, namespaces] : gateways) {
      auto it = byIp.find(gw);
      Route route{dst, it == byIp.end() ? "" : it->second->name, dst, false};
      // Complete only when every namespace but the node's own holds it; an incomplete one is
      // reported with no target, so the route controller deletes it and creates it again.
      if (it != byIp.end())
        for (const auto& ns : config_.routeNetns)
          if (ns != it->second->netns && !namespaces.count(ns)) route.targetNode.clear();
      out.push_back(std::move(route));
    }
  return out;
}

void LocalProvider::programEverywhere(const KernelRoute& route, const std::string& skipNetns) {
  for (const auto& ns : config_.routeNetns)
    if (ns != skipNetns) programmer_->replace(ns, route);
}

void LocalProvider::removeEverywhere(const std::string& destination) {
  for (const auto& ns : config_.routeNetns) programmer_->remove(ns, destination);
}

void LocalProvider::createRoute(const std::string&, const std::string&, const Route& route) {
  Instance in = requireInstance(route.targetNode);
  auto gw = in.address("InternalIP");
  if (gw.empty()) throw CloudError("instance " + in.name + " has no InternalIP to route through");
  programEverywhere({route.destinationCidr, gw}, in.netns);
}

void LocalProvider::deleteRoute(const std::string&, const Route& route) {
  removeEverywhere(route.destinationCidr);
}

// ---------------------------------------------------------------- load balancers

std::string LocalProvider::getLoadBalancerName(const std::string& clusterName,
                                               const json::object& service) {
  // Upstream's DefaultLoadBalancerName: "a" + the uid without dashes, at most 32 characters.
  std::string uid = stringAt(service, {"metadata", "uid"});
  uid.erase(std::remove(uid.begin(), uid.end(), '-'), uid.end());
  (void)clusterName;
  return ("a" + uid).substr(0, 32);
}

std::optional<LoadBalancerStatus> LocalProvider::getLoadBalancer(const std::string&,
                                                                 const json::object& service) {
  auto ip = pool_.lookup(serviceKey(service));
  if (!ip) return std::nullopt;
  return LoadBalancerStatus{{{*ip, "VIP"}}};
}

LoadBalancerStatus LocalProvider::ensureLoadBalancer(const std::string&,
                                                     const json::object& service,
                                                     const std::vector<json::object>& nodes) {
  auto key = serviceKey(service);
  std::string ip = pool_.allocate(key, stringAt(service, {"spec", "loadBalancerIP"}));
  std::lock_guard lock(mu_);
  auto& lb = balancers_[key];
  if (lb.ip != ip && !lb.ip.empty() && !lb.node.empty()) {
    removeEverywhere(lb.ip + "/32");  // moved to a new spec.loadBalancerIP
    lb.node.clear();
  }
  lb.ip = ip;
  lb.hosts = nodeNames(nodes);
  steer(key, lb);
  return {{{ip, "VIP"}}};
}

void LocalProvider::updateLoadBalancer(const std::string&, const json::object& service,
                                       const std::vector<json::object>& nodes) {
  auto key = serviceKey(service);
  std::lock_guard lock(mu_);
  auto it = balancers_.find(key);
  if (it == balancers_.end()) {
    auto ip = pool_.lookup(key);
    if (!ip) throw CloudError("no load balancer for service " + key);
    it = balancers_.emplace(key, Balancer{*ip, {}, ""}).first;
  }
  it->second.hosts = nodeNames(nodes);
  steer(key, it->second);
}

void LocalProvider::ensureLoadBalancerDeleted(const std::string&, const json::object& service) {
  auto key = serviceKey(service);
  {
    std::lock_guard lock(mu_);
    auto it = balancers_.find(key);
    if (it != balancers_.end()) {
      if (!it->second.node.empty()) removeEverywhere(it->second.ip + "/32");
      balancers_.erase(it);
    } else if (auto ip = pool_.lookup(key); ip && !config_.routeNetns.empty()) {
      removeEverywhere(*ip + "/32");  // after a restart: the route may still be there
    }
  }
  if (pool_.release(key)) SKIFF_LOG_INFO("cloud=local service={} load balancer IP released", key);
}

void LocalProvider::setEndpointNodes(EndpointNodesFn fn) {
  std::lock_guard lock(mu_);
  endpointNodes_ = std::move(fn);
}

void LocalProvider::steer(const std::string& key, Balancer& lb) {
  std::vector<std::string> withEndpoints;
  if (endpointNodes_) {
    auto slash = key.find('/');
    withEndpoints = endpointNodes_(key.substr(0, slash), key.substr(slash + 1));
  }
  std::vector<LbCandidate> candidates;
  std::map<std::string, Instance> instances;
  for (const auto& name : lb.hosts) {
    std::optional<Instance> in;
    try {
      in = inventory_.find(name);
    } catch (const CloudError& e) {
      SKIFF_LOG_WARN("cloud=local node={} inventory record unreadable error=\"{}\"", name,
                     e.what());
    }
    bool hasEndpoint =
        std::find(withEndpoints.begin(), withEndpoints.end(), name) != withEndpoints.end();
    candidates.push_back(
        {name, in && in->running() && !in->address("InternalIP").empty(), hasEndpoint});
    if (in) instances.emplace(name, *in);
  }
  std::string chosen = chooseLbNode(lb.ip, lb.node, candidates);
  if (chosen == lb.node) return;
  SKIFF_LOG_INFO("cloud=local service={} ip={} routed to node={} (was {})", key, lb.ip,
                 chosen.empty() ? "<none>" : chosen, lb.node.empty() ? "<none>" : lb.node);
  if (!config_.routeNetns.empty()) {
    if (chosen.empty()) {
      removeEverywhere(lb.ip + "/32");
    } else {
      const auto& in = instances.at(chosen);
      programEverywhere({lb.ip + "/32", in.address("InternalIP")}, in.netns);
    }
  }
  lb.node = chosen;
}

void LocalProvider::periodic() {
  std::lock_guard lock(mu_);
  for (auto& [key, lb] : balancers_) {
    try {
      steer(key, lb);
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("cloud=local service={} steering failed error=\"{}\"", key, e.what());
    }
  }
}

std::string LocalProvider::chosenNode(const std::string& serviceKey) const {
  std::lock_guard lock(mu_);
  auto it = balancers_.find(serviceKey);
  return it == balancers_.end() ? "" : it->second.node;
}

namespace {
ProviderRegistration reg(kProviderName, [](const ProviderConfig& config) {
  return std::make_unique<LocalProvider>(config, std::make_shared<IpRouteProgrammer>());
});
}  // namespace

}  // namespace skiff::cloud::local
