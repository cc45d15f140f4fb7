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

// Upstream's Job generateSelector: unless spec.manualSelector is true, the server labels
// the pod template with the Job's uid and name (current and legacy keys) and selects on the
// uid. A Job without labels then shows the template's, as upstream's defaulting on read does.
void generateJobSelector(json::object& job) {
  json::value* spec = job.if_contains("spec");
  json::value* meta = job.if_contains("metadata");
  if (!spec || !spec->is_object() || !meta || !meta->is_object()) return;
  json::object& s = spec->as_object();
  if (const json::value* manual = s.if_contains("manualSelector"); manual && manual->is_bool() && manual->as_bool())
    return;
  json::object& m = meta->as_object();
  const json::value* uidV = m.if_contains("uid");
  const json::value* nameV = m.if_contains("name");
  if (!uidV || !uidV->is_string() || !nameV || !nameV->is_string()) return;
  json::string uid = uidV->as_string(), name = nameV->as_string();
  json::value& tmpl = s["template"];
  if (!tmpl.is_object()) tmpl.emplace_object();
  json::value& tmeta = tmpl.as_object()["metadata"];
  if (!tmeta.is_object()) tmeta.emplace_object();
  json::value& labels = tmeta.as_object()["labels"];
  if (!labels.is_object()) labels.emplace_object();
  json::object& l = labels.as_object();
  for (const char* key : {"batch.kubernetes.io/controller-uid", "controller-uid"})
    if (!l.contains(key)) l[key] = uid;
  for (const char* key : {"batch.kubernetes.io/job-name", "job-name"})
    if (!l.contains(key)) l[key] = name;
  if (!s.contains("selector"))
    s["selector"] = json::object{
        {"matchLabels", json::object{{"batch.kubernetes.io/controller-uid", uid}}}};
  json::value& jobLabels = m["labels"];
  if (!jobLabels.is_object() || jobLabels.as_object().empty()) jobLabels = l;
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
  } else if (info.group == "batch" && info.plural == "jobs") {
    generateJobSelector(obj);
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
