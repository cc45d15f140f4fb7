#include "apiserver/strategy.h"

#include <boost/json.hpp>

namespace skiff::apiserver {

namespace json = boost::json;

namespace {
const json::object* objectAt(const json::object& obj, std::string_view field) {
  const json::value* v = obj.if_contains(field);
  return v && v->is_object() ? &v->as_object() : nullptr;
}
}  // namespace

std::string podQosClass(const json::object& pod) {
  const json::object* spec = objectAt(pod, "spec");
  if (!spec) return "BestEffort";
  bool any = false, guaranteed = true;
  for (const char* list : {"containers", "initContainers"}) {
    const json::value* containers = spec->if_contains(list);
    if (!containers || !containers->is_array()) continue;
    for (const auto& c : containers->as_array()) {
      if (!c.is_object()) continue;
      const json::object* resources = objectAt(c.as_object(), "resources");
      const json::object* requests = resources ? objectAt(*resources, "requests") : nullptr;
      const json::object* limits = resources ? objectAt(*resources, "limits") : nullptr;
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

bool hasNamespaceFinalizers(const json::object& ns) {
  const json::object* spec = objectAt(ns, "spec");
  const json::value* finalizers = spec ? spec->if_contains("finalizers") : nullptr;
  return finalizers && finalizers->is_array() && !finalizers->as_array().empty();
}

void prepareForCreate(const api::ResourceInfo& info, json::object& obj) {
  // Nodes register with their status (the kubelet sets it); other kinds start clean.
  if (info.hasStatus() && !info.isCore("nodes") && !info.isCore("persistentvolumes"))
    obj.erase("status");
  if (info.isCore("pods")) {
    obj["status"] = json::object{{"phase", "Pending"}, {"qosClass", podQosClass(obj)}};
  } else if (info.isCore("namespaces")) {
    obj["status"] = json::object{{"phase", "Active"}};
  } else if (info.isCore("services")) {
    obj["status"] = json::object{{"loadBalancer", json::object()}};
  }
}

void prepareForUpdate(const api::ResourceInfo& info, json::object& obj, const json::object& old) {
  if (info.isCore("namespaces")) {
    // A namespace's phase is owned by the server, and its spec.finalizers change only
    // through /finalize: keep both across ordinary updates.
    if (const json::value* status = old.if_contains("status")) obj["status"] = *status;
    const json::value* oldSpec = old.if_contains("spec");
    const json::value* oldFinalizers =
        oldSpec && oldSpec->is_object() ? oldSpec->as_object().if_contains("finalizers") : nullptr;
    json::value& spec = obj["spec"];
    if (!spec.is_object()) spec.emplace_object();
    if (oldFinalizers) spec.as_object()["finalizers"] = *oldFinalizers;
    else spec.as_object().erase("finalizers");
  }
}

}  // namespace skiff::apiserver
