#include "proxy/service_model.h"

#include <algorithm>
#include <map>
#include <set>

#include "api/json_access.h"

namespace skiff::proxy {

namespace json = boost::json;
using api::arrayOrEmpty;
using api::objectOrEmpty;
using api::stringAt;
using api::stringField;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool isIpv4(const std::string& s) {
  int dots = 0, digits = 0;
  for (char c : s) {
    if (c == '.') {
      if (digits == 0) return false;
      ++dots;
      digits = 0;
    } else if (c >= '0' && c <= '9') {
      if (++digits > 3) return false;
    } else {
      return false;
    }
  }
  return dots == 3 && digits > 0;
}

// A condition that is absent counts as its default (upstream: nil ready means ready,
// nil serving means the value of ready, nil terminating means false).
bool conditionOr(const json::object& conditions, std::string_view key, bool fallback) {
  auto* v = conditions.if_contains(key);
  return v && v->is_bool() ? v->as_bool() : fallback;
}

// The endpoints of one service port from every slice of its Service.
std::vector<Endpoint> endpointsFor(const std::vector<const json::object*>& slices,
                                   const std::string& portName, const std::string& protocol,
                                   const std::string& nodeName) {
  std::map<std::pair<std::string, int>, Endpoint> byAddress;
  for (auto* slice : slices) {
    int port = -1;
    for (auto& p : arrayOrEmpty(*slice, {"ports"})) {
      if (!p.is_object()) continue;
      auto& po = p.as_object();
      auto proto = lower(stringField(po, "protocol"));
      if (proto.empty()) proto = "tcp";
      if (stringField(po, "name") == portName && proto == protocol) {
        port = static_cast<int>(api::intField(po, "port", -1));
        break;
      }
    }
    if (port <= 0) continue;
    for (auto& e : arrayOrEmpty(*slice, {"endpoints"})) {
      if (!e.is_object()) continue;
      auto& eo = e.as_object();
      auto& cond = objectOrEmpty(eo, {"conditions"});
      Endpoint ep;
      ep.port = port;
      ep.ready = conditionOr(cond, "ready", true);
      ep.serving = conditionOr(cond, "serving", ep.ready);
      ep.terminating = conditionOr(cond, "terminating", false);
      auto epNode = stringField(eo, "nodeName");
      ep.local = !nodeName.empty() && epNode == nodeName;
      ep.remote = !epNode.empty() && epNode != nodeName;
      // Upstream uses the first address of an endpoint; the others are the same pod.
      auto& addresses = arrayOrEmpty(eo, {"addresses"});
      if (addresses.empty() || !addresses[0].is_string()) continue;
      ep.ip = std::string(addresses[0].as_string());
      if (!isIpv4(ep.ip)) continue;
      auto key = std::make_pair(ep.ip, ep.port);
      auto it = byAddress.find(key);
      // The same address in two slices (during a slice split): the readier one wins.
      if (it == byAddress.end() || (!it->second.ready && ep.ready)) byAddress[key] = ep;
    }
  }
  std::vector<Endpoint> out;
  for (auto& [_, ep] : byAddress) out.push_back(ep);
  return out;
}

}  // namespace

std::string ServicePort::id() const { return ns + "/" + name + "/" + protocol + "/" + portName; }

std::vector<Endpoint> usableEndpoints(const std::vector<Endpoint>& all) {
  std::vector<Endpoint> ready, fallback;
  for (auto& ep : all) {
    if (ep.ready)
      ready.push_back(ep);
    else if (ep.serving && ep.terminating)
      fallback.push_back(ep);
  }
  return ready.empty() ? fallback : ready;
}

std::vector<ServicePort> buildServicePorts(const ObjectList& services, const ObjectList& slices,
                                           const ProxyConfig& config) {
  // Slices by "namespace/service-name".
  std::map<std::string, std::vector<const json::object*>> slicesOf;
  for (auto& s : slices) {
    if (!s) continue;
    if (stringField(*s, "addressType") != "IPv4") continue;
    auto svc = stringAt(*s, {"metadata", "labels", "kubernetes.io/service-name"});
    if (svc.empty()) continue;
    slicesOf[stringAt(*s, {"metadata", "namespace"}) + "/" + svc].push_back(s.get());
  }

  std::vector<ServicePort> out;
  for (auto& svcPtr : services) {
    if (!svcPtr) continue;
    auto& svc = *svcPtr;
    auto& spec = objectOrEmpty(svc, {"spec"});
    auto type = stringField(spec, "type");
    if (type == "ExternalName") continue;
    auto clusterIp = stringField(spec, "clusterIP");
    if (!isIpv4(clusterIp)) continue;  // headless ("None"), unallocated or IPv6
    ServicePort base;
    base.ns = stringAt(svc, {"metadata", "namespace"});
    base.name = stringAt(svc, {"metadata", "name"});
    base.clusterIp = clusterIp;
    std::set<std::string> externals;
    for (auto& ip : arrayOrEmpty(spec, {"externalIPs"}))
      if (ip.is_string() && isIpv4(std::string(ip.as_string())))
        externals.insert(std::string(ip.as_string()));
    for (auto& ing : arrayOrEmpty(svc, {"status", "loadBalancer", "ingress"}))
      if (ing.is_object()) {
        auto ip = stringField(ing.as_object(), "ip");
        if (isIpv4(ip)) externals.insert(ip);
      }
    base.externalIps.assign(externals.begin(), externals.end());
    bool external = type == "NodePort" || type == "LoadBalancer" || !externals.empty();
    base.externalLocal = external && stringField(spec, "externalTrafficPolicy") == "Local";
    base.internalLocal = stringField(spec, "internalTrafficPolicy") == "Local";
    if (stringField(spec, "sessionAffinity") == "ClientIP") {
      base.affinitySeconds = static_cast<int>(
          api::intAt(spec, {"sessionAffinityConfig", "clientIP", "timeoutSeconds"}, 10800));
      if (base.affinitySeconds <= 0) base.affinitySeconds = 10800;
    }
    if (base.externalLocal)
      base.healthCheckNodePort = static_cast<int>(api::intField(spec, "healthCheckNodePort"));
    bool nodeLocalDns =
        !config.nodeLocalDns.empty() && base.ns == "kube-system" && base.name == "kube-dns";
    auto sliceIt = slicesOf.find(base.ns + "/" + base.name);
    static const std::vector<const json::object*> none;
    auto& svcSlices = sliceIt == slicesOf.end() ? none : sliceIt->second;

    for (auto& p : arrayOrEmpty(spec, {"ports"})) {
      if (!p.is_object()) continue;
      auto& po = p.as_object();
      ServicePort sp = base;
      sp.portName = stringField(po, "name");
      sp.protocol = lower(stringField(po, "protocol"));
      if (sp.protocol.empty()) sp.protocol = "tcp";
      if (sp.protocol != "tcp" && sp.protocol != "udp" && sp.protocol != "sctp") continue;
      sp.port = static_cast<int>(api::intField(po, "port"));
      if (sp.port <= 0 || sp.port > 65535) continue;
      if (type == "NodePort" || type == "LoadBalancer")
        sp.nodePort = static_cast<int>(api::intField(po, "nodePort"));
      std::vector<Endpoint> all;
      if (nodeLocalDns) {
        // Agreed with the DNS side: the node-local server answers for kube-dns everywhere,
        // on the same port numbers; its EndpointSlices (if any) are not used.
        all.push_back(Endpoint{config.nodeLocalDns, sp.port, true, true, false, true});
        sp.noMasquerade = true;
      } else {
        all = endpointsFor(svcSlices, sp.portName, sp.protocol, config.nodeName);
      }
      sp.clusterEndpoints = usableEndpoints(all);
      std::vector<Endpoint> local;
      for (auto& ep : all)
        if (ep.local) local.push_back(ep);
      sp.localEndpoints = usableEndpoints(local);
      out.push_back(std::move(sp));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const ServicePort& a, const ServicePort& b) { return a.id() < b.id(); });
  return out;
}

}  // namespace skiff::proxy
