// Node (upstream pkg/registry/core/node): taints and podCIDR validation; allocatable
// defaults to capacity; a Node is created with its status (the kubelet registers it so).
#include <boost/json.hpp>
#include <set>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

namespace skiff::api {

namespace validation {
namespace {

void validateNode(const json::object& node, Errors& errs) {
  const auto& spec = obj(node, "spec");
  const auto& taints = arr(spec, "taints");
  std::set<std::string> seen;
  for (size_t i = 0; i < taints.size(); ++i) {
    if (!taints[i].is_object()) continue;
    const auto& t = taints[i].get_object();
    std::string tp = index("spec.taints", i);
    std::string k = str(t, "key");
    for (const auto& m : validateQualifiedName(k)) errs.invalid(child(tp, "key"), quote(k), m);
    std::string v = str(t, "value");
    for (const auto& m : validateLabelValue(v)) errs.invalid(child(tp, "value"), quote(v), m);
    std::string effect = str(t, "effect");
    if (effect.empty())
      errs.required(child(tp, "effect"));
    else if (effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute")
      errs.notSupported(child(tp, "effect"), quote(effect),
                        {"NoSchedule", "PreferNoSchedule", "NoExecute"});
    if (!seen.insert(k + ":" + effect).second)
      errs.duplicate(tp, "core.Taint{Key:" + quote(k) + ", Effect:" + quote(effect) + "}");
  }
  std::string cidr = str(spec, "podCIDR");
  if (!cidr.empty()) {
    auto slash = cidr.find('/');
    if (slash == std::string::npos || !isIP(cidr.substr(0, slash)))
      errs.invalid("spec.podCIDR", quote(cidr),
                   "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
  }
}

}  // namespace
}  // namespace validation

namespace json = boost::json;

namespace {
void defaultNode(json::object& obj) {
  using namespace defaulting;
  // Allocatable defaults to capacity (SetDefaults_NodeStatus).
  if (auto* status = childObject(obj, "status"))
    if (status->contains("capacity") && missing(*status, "allocatable")) {
      json::value capacity = (*status)["capacity"];
      (*status)["allocatable"] = std::move(capacity);
    }
}
}  // namespace

void addNodeKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "",
                 .kind = "Node",
                 .defaults = defaultNode,
                 .validate = [](const json::object& o, const json::object*,
                                validation::Errors& e) { validation::validateNode(o, e); },
                 .keepsStatusOnCreate = true});
}

}  // namespace skiff::api
