// Pod and PodTemplate (upstream pkg/registry/core/pod, podtemplate): defaulting, validation,
// the server-owned status of a new Pod (phase Pending, QoS class) and graceful deletion.
// Pod spec defaults and validation are shared with every template: defaults.cpp,
// validation_pod.cpp.
#include <boost/json.hpp>

#include "api/defaults_internal.h"
#include "api/json_access.h"
#include "api/kind_strategy.h"
#include "api/resource_quota.h"

namespace skiff::api {

namespace defaulting {
namespace {

// Pod-only defaults (SetDefaults_Pod): these do not apply to pod templates.
void defaultPod(json::object& pod) {
  json::object& spec = ensureObject(pod, "spec");
  auto requestsFromLimits = [](json::object& c) {
    json::object* res = childObject(c, "resources");
    if (!res) return;
    json::object* limitsPtr = childObject(*res, "limits");
    if (!limitsPtr || limitsPtr->empty()) return;
    json::object limits = *limitsPtr;  // copy: adding "requests" may relocate it
    json::object& requests = ensureObject(*res, "requests");
    for (const auto& kv : limits)
      if (!requests.contains(kv.key())) requests[kv.key()] = kv.value();
  };
  forEachObject(spec, "containers", requestsFromLimits);
  forEachObject(spec, "initContainers", requestsFromLimits);
  setDefault(spec, "enableServiceLinks", true);
  applyPodSpecDefaults(spec);
  // Stands in for the Priority admission plugin when no priority class is named.
  if (str(spec, "priorityClassName").empty()) setDefault(spec, "priority", 0);
}

}  // namespace
}  // namespace defaulting

namespace json = boost::json;

namespace validation {
namespace {
void validatePod(const json::object& o, const json::object* old, Errors& errs) {
  validatePodSpec(obj(o, "spec"), "spec", errs);
  if (old) validatePodSpecUpdate(obj(o, "spec"), obj(*old, "spec"), "spec", errs);
}

void validatePodTemplate(const json::object& o, const json::object*, Errors& errs) {
  validateLabels(obj(obj(obj(o, "template"), "metadata"), "labels"), "template.metadata.labels",
                 errs);
  validatePodSpec(obj(obj(o, "template"), "spec"), "template.spec", errs);
}
}  // namespace
}  // namespace validation

// Pod QoS class from its containers' requests and limits: Guaranteed, Burstable, BestEffort
// (declared in api/resource_quota.h: the BestEffort quota scope and LimitRanger use it too).
std::string podQosClass(const json::object& pod) {
  const json::object* spec = objectAt(pod, {"spec"});
  if (!spec) return "BestEffort";
  bool any = false, guaranteed = true;
  for (const char* list : {"containers", "initContainers"}) {
    const json::value* containers = spec->if_contains(list);
    if (!containers || !containers->is_array()) continue;
    for (const auto& c : containers->as_array()) {
      if (!c.is_object()) continue;
      const json::object* resources = objectAt(c.as_object(), {"resources"});
      const json::object* requests = resources ? objectAt(*resources, {"requests"}) : nullptr;
      const json::object* limits = resources ? objectAt(*resources, {"limits"}) : nullptr;
      if ((requests && !requests->empty()) || (limits && !limits->empty())) any = true;
      for (const char* r : {"cpu", "memory"}) {
        const json::value* limit = limits ? limits->if_contains(r) : nullptr;
        const json::value* request = requests ? requests->if_contains(r) : nullptr;
        // A missing request defaults to the limit; Guaranteed needs limit == request for both.
        if (!limit || (request && *request != *limit)) guaranteed = false;
      }
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

namespace {
void preparePodForCreate(json::object& obj) {
  obj["status"] = json::object{{"phase", "Pending"}, {"qosClass", podQosClass(obj)}};
}
}  // namespace

void addPodKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "",
                 .kind = "Pod",
                 .defaults = defaulting::defaultPod,
                 .validate = validation::validatePod,
                 .prepareForCreate = preparePodForCreate,
                 .admitsPodScheduling = true,
                 // The Priority admission plugin's (it refuses a priority of the client's own).
                 .unownedOnCreate = {{"f:spec", "f:priority"}},
                 .gracefulDeletion = true});
  out.push_back({.group = "",
                 .kind = "PodTemplate",
                 .defaults = defaulting::defaultPodTemplate,
                 .validate = validation::validatePodTemplate});
}

}  // namespace skiff::api
