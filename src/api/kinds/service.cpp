// Service (upstream pkg/registry/core/service): defaulting, validation, a DNS-1035 name and
// the empty load-balancer status of a new Service. Address allocation needs server state and
// stays in apiserver/admission.cpp.
#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

namespace skiff::api {

namespace defaulting {
namespace {

void defaultService(json::object& svc) {
  json::object& spec = ensureObject(svc, "spec");
  setDefaultString(spec, "sessionAffinity", "None");
  if (str(spec, "sessionAffinity") == "None") {
    spec.erase("sessionAffinityConfig");
  } else if (str(spec, "sessionAffinity") == "ClientIP") {
    json::object& cip = ensureObject(ensureObject(spec, "sessionAffinityConfig"), "clientIP");
    setDefault(cip, "timeoutSeconds", 10800);
  }
  setDefaultString(spec, "type", "ClusterIP");
  const std::string type = str(spec, "type");
  forEachObject(spec, "ports", [](json::object& p) {
    setDefaultString(p, "protocol", "TCP");
    auto it = p.find("targetPort");
    bool unset = it == p.end() || it->value().is_null() ||
                 (it->value().is_int64() && it->value().get_int64() == 0) ||
                 (it->value().is_string() && it->value().get_string().empty());
    if (unset && p.contains("port")) {
      json::value port = p["port"];  // copy: inserting may relocate the source
      p["targetPort"] = std::move(port);
    }
  });
  if (type == "NodePort" || type == "LoadBalancer")
    setDefaultString(spec, "externalTrafficPolicy", "Cluster");
  if (type == "ClusterIP" || type == "NodePort" || type == "LoadBalancer")
    setDefaultString(spec, "internalTrafficPolicy", "Cluster");
  if (type == "LoadBalancer") setDefault(spec, "allocateLoadBalancerNodePorts", true);
  if (type != "ExternalName") {
    // Upstream's allocator: selectorless headless services are dual-stack capable.
    bool headlessNoSelector =
        str(spec, "clusterIP") == "None" && emptyMapOrMissing(spec, "selector");
    if (headlessNoSelector) {
      setDefaultString(spec, "ipFamilyPolicy", "RequireDualStack");
      setDefault(spec, "ipFamilies", json::array{"IPv4", "IPv6"});
    } else {
      setDefaultString(spec, "ipFamilyPolicy", "SingleStack");
      setDefault(spec, "ipFamilies", json::array{"IPv4"});
    }
  }
}

}  // namespace
}  // namespace defaulting

namespace validation {
namespace {

std::string firstClusterIP(const json::object& spec) {
  const auto& ips = arr(spec, "clusterIPs");
  if (!ips.empty() && ips[0].is_string()) return std::string(ips[0].get_string());
  return str(spec, "clusterIP");
}

void validateService(const json::object& svc, const json::object* old, Errors& errs) {
  const auto& spec = obj(svc, "spec");
  std::string type = str(spec, "type");
  static const std::vector<std::string> kTypes = {"ClusterIP", "ExternalName", "LoadBalancer",
                                                  "NodePort"};
  if (type.empty()) {
    errs.required("spec.type");
  } else if (std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end()) {
    errs.notSupported("spec.type", quote(type), kTypes);
  }
  const std::string clusterIP = firstClusterIP(spec);
  const bool headless = clusterIP == "None";
  const auto& ports = arr(spec, "ports");
  if (type == "ExternalName") {
    std::string en = str(spec, "externalName");
    if (en.empty()) {
      errs.required("spec.externalName");
    } else {
      for (const auto& m : validateDns1123Subdomain(en))
        errs.invalid("spec.externalName", quote(en), m);
    }
    if (!clusterIP.empty())
      errs.forbidden("spec.clusterIPs", "may not be set for ExternalName services");
  } else if (ports.empty() && !headless) {
    errs.required("spec.ports");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < ports.size(); ++i) {
    if (!ports[i].is_object()) continue;
    const auto& p = ports[i].get_object();
    std::string pp = index("spec.ports", i);
    std::string name = str(p, "name");
    if (ports.size() > 1 && name.empty()) {
      errs.required(child(pp, "name"));
    } else if (!name.empty()) {
      for (const auto& m : validateDns1123Label(name))
        errs.invalid(child(pp, "name"), quote(name), m);
      if (!names.insert(name).second) errs.duplicate(child(pp, "name"), quote(name));
    }
    auto port = integer(p, "port");
    if (!port || *port == 0) {
      errs.required(child(pp, "port"));
    } else if (*port < 1 || *port > 65535) {
      errs.invalid(child(pp, "port"), std::to_string(*port),
                   "must be between 1 and 65535, inclusive");
    }
    std::string proto = str(p, "protocol");
    if (proto.empty())
      errs.required(child(pp, "protocol"));
    else if (proto != "TCP" && proto != "UDP" && proto != "SCTP")
      errs.notSupported(child(pp, "protocol"), quote(proto), {"SCTP", "TCP", "UDP"});
    auto tp = p.find("targetPort");
    if (tp != p.end() && tp->value().is_string()) {
      std::string s(tp->value().get_string());
      bool letter = std::any_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
      if (s.empty() || s.size() > 15 || !letter)
        errs.invalid(child(pp, "targetPort"), quote(s),
                     s.size() > 15 ? "must be no more than 15 characters"
                                   : "must contain at least one letter (a-z)");
    } else if (auto t = integer(p, "targetPort"); t && (*t < 1 || *t > 65535)) {
      errs.invalid(child(pp, "targetPort"), std::to_string(*t),
                   "must be between 1 and 65535, inclusive");
    }
    if (auto np = integer(p, "nodePort"); np && *np != 0 && type == "ClusterIP")
      errs.forbidden(child(pp, "nodePort"), "may not be used when `type` is 'ClusterIP'");
  }
  if (!clusterIP.empty() && !headless && !isIP(clusterIP))
    errs.invalid("spec.clusterIPs[0]", quote(clusterIP),
                 "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
  if (auto hc = integer(spec, "healthCheckNodePort"); hc && *hc != 0) {
    if (type != "LoadBalancer" || str(spec, "externalTrafficPolicy") != "Local")
      errs.forbidden("spec.healthCheckNodePort",
                     "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` "
                     "is 'Local'");
    else if (*hc < 1 || *hc > 65535)
      errs.invalid("spec.healthCheckNodePort", std::to_string(*hc),
                   "must be between 1 and 65535, inclusive");
  }
  std::string sa = str(spec, "sessionAffinity");
  if (!sa.empty() && sa != "None" && sa != "ClientIP")
    errs.notSupported("spec.sessionAffinity", quote(sa), {"ClientIP", "None"});
  validateLabels(obj(spec, "selector"), "spec.selector", errs);

  if (old) {
    const auto& oldSpec = obj(*old, "spec");
    std::string oldIP = firstClusterIP(oldSpec);
    // A ClusterIP, once allocated, is immutable (except when leaving or entering ExternalName).
    if (!oldIP.empty() && str(oldSpec, "type") != "ExternalName" && type != "ExternalName") {
      const json::array* newIPs = arrPtr(spec, "clusterIPs");
      if (clusterIP.empty()) {
        errs.invalid("spec.clusterIPs[0]", goStringSlice(newIPs),
                     "primary clusterIP can not be unset");
      } else if (clusterIP != oldIP) {
        json::array fallback{json::value(clusterIP)};
        errs.invalid("spec.clusterIPs[0]", goStringSlice(newIPs ? newIPs : &fallback),
                     "may not change once set");
      }
    }
  }
}

}  // namespace
}  // namespace validation

namespace json = boost::json;

void addServiceKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "",
                 .kind = "Service",
                 .defaults = defaulting::defaultService,
                 .validate = validation::validateService,
                 .nameRule = NameRule::Dns1035,
                 .prepareForCreate =
                     [](json::object& obj) {
                       obj["status"] = json::object{{"loadBalancer", json::object()}};
                     },
                 .admitsServiceAddresses = true,
                 // The REST storage's IP family allocation.
                 .unownedOnCreate = {{"f:spec", "f:ipFamilies"}, {"f:spec", "f:ipFamilyPolicy"}}});
}

}  // namespace skiff::api
