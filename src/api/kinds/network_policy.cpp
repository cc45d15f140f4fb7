// NetworkPolicy (upstream pkg/registry/networking/networkpolicy): TCP ports and policyTypes
// defaulted; selectors, peers, ports and ipBlocks validated (ValidateNetworkPolicySpec).
#include <arpa/inet.h>

#include <boost/json.hpp>
#include <optional>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

namespace skiff::api {

namespace defaulting {
namespace {

void defaultNetworkPolicy(json::object& np) {
  json::object& spec = ensureObject(np, "spec");
  auto protoTcp = [](json::object& rule) {
    forEachObject(rule, "ports", [](json::object& p) { setDefaultString(p, "protocol", "TCP"); });
  };
  forEachObject(spec, "ingress", protoTcp);
  forEachObject(spec, "egress", protoTcp);
  auto it = spec.find("policyTypes");
  if (it == spec.end() || !it->value().is_array() || it->value().get_array().empty()) {
    json::array types{"Ingress"};
    auto eg = spec.find("egress");
    if (eg != spec.end() && eg->value().is_array() && !eg->value().get_array().empty())
      types.push_back("Egress");
    spec["policyTypes"] = std::move(types);
  }
}

}  // namespace
}  // namespace defaulting

namespace validation {
namespace {

// An IPv4 CIDR as (network bits, prefix length), or nullopt. IPv6 CIDRs are checked for
// form only (cidrValid) and not for containment.
struct Cidr4 {
  uint32_t addr;
  int len;
};
std::optional<Cidr4> parseCidr4(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return std::nullopt;
  in_addr a{};
  if (::inet_pton(AF_INET, s.substr(0, slash).c_str(), &a) != 1) return std::nullopt;
  int len = -1;
  try {
    size_t used = 0;
    len = std::stoi(s.substr(slash + 1), &used);
    if (used != s.size() - slash - 1) return std::nullopt;
  } catch (...) {
    return std::nullopt;
  }
  if (len < 0 || len > 32) return std::nullopt;
  return Cidr4{ntohl(a.s_addr), len};
}
bool cidrValid(const std::string& s) {
  if (parseCidr4(s)) return true;
  auto slash = s.find('/');
  in6_addr a{};
  if (slash == std::string::npos || ::inet_pton(AF_INET6, s.substr(0, slash).c_str(), &a) != 1)
    return false;
  auto rest = s.substr(slash + 1);
  if (rest.empty() || rest.size() > 3 || rest.find_first_not_of("0123456789") != rest.npos)
    return false;
  return std::stoi(rest) <= 128;
}
uint32_t mask(int len) { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }

void validateIpBlock(const json::object& b, const std::string& path, Errors& errs) {
  std::string cidr = str(b, "cidr");
  if (cidr.empty()) return errs.required(child(path, "cidr"));
  if (!cidrValid(cidr)) return errs.invalid(child(path, "cidr"), quote(cidr), "not a valid CIDR");
  auto outer = parseCidr4(cidr);
  const auto& except = arr(b, "except");
  for (size_t i = 0; i < except.size(); ++i) {
    std::string e = except[i].is_string() ? std::string(except[i].get_string()) : "";
    std::string ep = index(child(path, "except"), i);
    if (!cidrValid(e)) return errs.invalid(ep, quote(e), "not a valid CIDR");
    auto inner = parseCidr4(e);
    // Strict subset: inside cidr and with a longer prefix (upstream's rule).
    bool subset = outer && inner && inner->len > outer->len &&
                  (inner->addr & mask(outer->len)) == (outer->addr & mask(outer->len));
    if ((outer || inner) && !subset)
      errs.invalid(ep, quote(e), "must be a strict subset of `cidr`");
  }
}

void validatePeer(const json::object& peer, const std::string& path, Errors& errs) {
  int n = 0;
  if (auto* s = objPtr(peer, "podSelector")) {
    ++n;
    validateLabelSelector(*s, child(path, "podSelector"), errs);
  }
  if (auto* s = objPtr(peer, "namespaceSelector")) {
    ++n;
    validateLabelSelector(*s, child(path, "namespaceSelector"), errs);
  }
  auto* block = objPtr(peer, "ipBlock");
  if (block) {
    ++n;
    validateIpBlock(*block, child(path, "ipBlock"), errs);
  }
  if (n == 0)
    errs.required(path, "must specify a peer");
  else if (n > 1 && block)
    errs.forbidden(path, "may not specify both ipBlock and another peer");
}

void validatePort(const json::object& port, const std::string& path, Errors& errs) {
  if (has(port, "protocol")) {
    std::string proto = str(port, "protocol");
    if (proto != "TCP" && proto != "UDP" && proto != "SCTP")
      errs.notSupported(child(path, "protocol"), quote(proto), {"TCP", "UDP", "SCTP"});
  }
  auto endPort = integer(port, "endPort");
  auto it = port.find("port");
  if (it == port.end() || it->value().is_null()) {
    if (endPort)
      errs.invalid(child(path, "endPort"), std::to_string(*endPort),
                   "may not be specified when `port` is not specified");
    return;
  }
  const auto& v = it->value();
  if (v.is_string()) {
    if (endPort)
      errs.invalid(child(path, "endPort"), std::to_string(*endPort),
                   "may not be specified when `port` is non-numeric");
    std::string name(v.get_string());
    for (auto& m : portNameErrors(name)) errs.invalid(child(path, "port"), quote(name), m);
    return;
  }
  auto p = integer(port, "port");
  if (!p) return;  // a wrong type is the type checker's 400
  if (*p < 1 || *p > 65535)
    errs.invalid(child(path, "port"), std::to_string(*p), "must be between 1 and 65535, inclusive");
  if (endPort) {
    if (*endPort < *p)
      errs.invalid(child(path, "endPort"), std::to_string(*p),
                   "must be greater than or equal to `port`");
    if (*endPort < 1 || *endPort > 65535)
      errs.invalid(child(path, "endPort"), std::to_string(*endPort),
                   "must be between 1 and 65535, inclusive");
  }
}

void validateRules(const json::object& spec, const char* dir, const char* peersField,
                   Errors& errs) {
  const auto& rules = arr(spec, dir);
  for (size_t i = 0; i < rules.size(); ++i) {
    if (!rules[i].is_object()) continue;
    const auto& rule = rules[i].get_object();
    std::string rp = index(child("spec", dir), i);
    const auto& ports = arr(rule, "ports");
    for (size_t j = 0; j < ports.size(); ++j)
      if (ports[j].is_object())
        validatePort(ports[j].get_object(), index(child(rp, "ports"), j), errs);
    const auto& peers = arr(rule, peersField);
    for (size_t j = 0; j < peers.size(); ++j)
      if (peers[j].is_object())
        validatePeer(peers[j].get_object(), index(child(rp, peersField), j), errs);
  }
}

void validateNetworkPolicy(const json::object& np, const json::object*, Errors& errs) {
  const auto& spec = obj(np, "spec");
  validateLabelSelector(obj(spec, "podSelector"), "spec.podSelector", errs);
  validateRules(spec, "ingress", "from", errs);
  validateRules(spec, "egress", "to", errs);
  const auto& types = arr(spec, "policyTypes");
  for (size_t i = 0; i < types.size(); ++i) {
    std::string t = types[i].is_string() ? std::string(types[i].get_string()) : "";
    if (t != "Ingress" && t != "Egress")
      errs.notSupported(index("spec.policyTypes", i), quote(t), {"Ingress", "Egress"});
  }
  if (types.size() > 2)
    errs.invalid("spec.policyTypes", goStringSlice(&types),
                 "may not specify more than two policyTypes");
}

}  // namespace
}  // namespace validation

namespace json = boost::json;

void addNetworkPolicyKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "networking.k8s.io",
                 .kind = "NetworkPolicy",
                 .defaults = defaulting::defaultNetworkPolicy,
                 .validate = validation::validateNetworkPolicy});
}

}  // namespace skiff::api
