// PriorityClass (upstream pkg/registry/scheduling/priorityclass): reserved system- names,
// the maximum user value, preemptionPolicy PreemptLowerPriority.
#include <boost/json.hpp>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

namespace skiff::api {

namespace validation {
namespace {

void validatePriorityClass(const json::object& pc, Errors& errs) {
  std::string name = str(obj(pc, "metadata"), "name");
  if (name.rfind("system-", 0) == 0 && name != "system-node-critical" &&
      name != "system-cluster-critical")
    errs.forbidden("metadata.name", "priority class names with 'system-' prefix are reserved");
  if (auto v = integer(pc, "value"); v && *v > 1000000000)
    errs.forbidden("value", "maximum allowed value of a user defined priority is 1000000000");
}

}  // namespace
}  // namespace validation

namespace json = boost::json;

void addPriorityClassKinds(std::vector<KindStrategy>& out) {
  out.push_back(
      {.group = "scheduling.k8s.io",
       .kind = "PriorityClass",
       .defaults =
           [](json::object& obj) {
             defaulting::setDefaultString(obj, "preemptionPolicy", "PreemptLowerPriority");
           },
       .validate = [](const json::object& o, const json::object*,
                      validation::Errors& e) { validation::validatePriorityClass(o, e); }});
}

}  // namespace skiff::api
