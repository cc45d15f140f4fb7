// NetworkPolicy (upstream pkg/registry/networking/networkpolicy): TCP ports and policyTypes.
#include <boost/json.hpp>

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

namespace json = boost::json;

void addNetworkPolicyKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "networking.k8s.io",
                 .kind = "NetworkPolicy",
                 .defaults = defaulting::defaultNetworkPolicy});
}

}  // namespace skiff::api
