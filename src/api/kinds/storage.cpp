// PersistentVolumeClaim, PersistentVolume and StorageClass (upstream pkg/registry/core/
// persistentvolume*, storage/storageclass). A PersistentVolume is created with its status.
#include <boost/json.hpp>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"
#include "api/quantity.h"

namespace skiff::api {

namespace validation {
namespace {

void validatePvc(const json::object& pvc, Errors& errs) {
  const auto& spec = obj(pvc, "spec");
  if (arr(spec, "accessModes").empty())
    errs.required("spec.accessModes", "at least 1 access mode is required");
  const auto& requests = obj(obj(spec, "resources"), "requests");
  if (!requests.contains("storage")) errs.required("spec.resources[storage]");
  validateResourceRequirements(obj(spec, "resources"), "spec.resources", errs);
}

std::optional<Quantity> storageAt(const json::object& resources) {
  auto s = str(obj(resources, "requests"), "storage");
  if (s.empty()) s = str(resources, "storage");  // status.capacity holds the amount directly
  if (s.empty()) return std::nullopt;
  return Quantity::parse(s);
}

// Upstream's ValidatePersistentVolumeClaimUpdate: the spec is fixed once created, except
// spec.volumeName (set once, by the binder), a class for a claim that had none (the
// retroactive default) and, for bound claims, the storage request (resizing; growing needs
// the class's permission, checked by admission). A request below status.capacity is refused
// (shrinking back to what the volume already has is how upstream recovers from a failed
// expansion).
void validatePvcUpdate(const json::object& pvc, const json::object& old, Errors& errs) {
  json::object spec = obj(pvc, "spec"), oldSpec = obj(old, "spec");
  const bool unbound = str(oldSpec, "volumeName").empty();
  if (unbound) oldSpec["volumeName"] = spec["volumeName"];
  if (unbound && !has(oldSpec, "storageClassName") && has(spec, "storageClassName"))
    oldSpec["storageClassName"] = spec["storageClassName"];
  const bool bound = str(obj(pvc, "status"), "phase") == "Bound";
  if (bound) {
    if (auto* req = spec["resources"].if_object(); req && req->contains("requests")) {
      auto& requests = (*req)["requests"];
      if (requests.is_object()) {
        const auto& oldRequests = obj(obj(oldSpec, "resources"), "requests");
        if (oldRequests.contains("storage"))
          requests.as_object()["storage"] = oldRequests.at("storage");
        else
          requests.as_object().erase("storage");
      }
    }
  }
  spec.erase("volumeAttributesClassName");
  oldSpec.erase("volumeAttributesClassName");
  for (auto* s : {&spec, &oldSpec})
    for (auto it = s->begin(); it != s->end();)
      it = it->value().is_null() ? s->erase(it) : std::next(it);
  if (spec != oldSpec)
    errs.forbidden("spec",
                   "spec is immutable after creation except resources.requests and "
                   "volumeAttributesClassName for bound claims");
  auto size = storageAt(obj(obj(pvc, "spec"), "resources"));
  auto oldSize = storageAt(obj(obj(old, "spec"), "resources"));
  if (size && oldSize && *size < *oldSize) {
    auto capacity = storageAt(obj(obj(old, "status"), "capacity"));
    if (!capacity || *size <= *capacity)
      errs.forbidden("spec.resources.requests.storage",
                     capacity ? "field can not be less than status.capacity"
                              : "field can not be less than previous value");
  }
}

void validateStorageClass(const json::object& sc, const json::object* old, Errors& errs) {
  if (str(sc, "provisioner").empty()) errs.required("provisioner");
  if (has(sc, "reclaimPolicy")) {
    auto p = str(sc, "reclaimPolicy");
    if (p != "Delete" && p != "Retain")
      errs.notSupported("reclaimPolicy", quote(p), {"Delete", "Retain"});
  }
  if (has(sc, "volumeBindingMode")) {
    auto m = str(sc, "volumeBindingMode");
    if (m != "Immediate" && m != "WaitForFirstConsumer")
      errs.notSupported("volumeBindingMode", quote(m), {"Immediate", "WaitForFirstConsumer"});
  }
  if (!old) return;
  for (const char* field : {"provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"}) {
    const json::value* a = sc.if_contains(field);
    const json::value* b = old->if_contains(field);
    if ((a ? *a : json::value()) != (b ? *b : json::value()))
      errs.forbidden(field, "updates to " + std::string(field) + " are forbidden.");
  }
}

void validatePersistentVolume(const json::object& pv, Errors& errs) {
  const auto& spec = obj(pv, "spec");
  if (arr(spec, "accessModes").empty())
    errs.required("spec.accessModes", "must specify at least 1 access mode");
  if (!obj(spec, "capacity").contains("storage")) errs.required("spec.capacity");
  auto policy = str(spec, "persistentVolumeReclaimPolicy");
  if (policy != "Delete" && policy != "Retain" && policy != "Recycle")
    errs.notSupported("spec.persistentVolumeReclaimPolicy", quote(policy),
                      {"Delete", "Recycle", "Retain"});
}

}  // namespace
}  // namespace validation

namespace json = boost::json;

namespace {
void defaultPersistentVolume(json::object& obj) {
  using namespace defaulting;
  json::object& spec = ensureObject(obj, "spec");
  setDefaultString(spec, "persistentVolumeReclaimPolicy", "Retain");
  setDefaultString(spec, "volumeMode", "Filesystem");
  setDefaultString(ensureObject(obj, "status"), "phase", "Pending");
}

void defaultStorageClass(json::object& obj) {
  using namespace defaulting;
  setDefaultString(obj, "reclaimPolicy", "Delete");
  setDefaultString(obj, "volumeBindingMode", "Immediate");
}
}  // namespace

void addStorageKinds(std::vector<KindStrategy>& out) {
  out.push_back(
      {.group = "",
       .kind = "PersistentVolumeClaim",
       .defaults = defaulting::defaultPvcSpec,
       .validate = [](const json::object& o, const json::object* old, validation::Errors& e) {
         validation::validatePvc(o, e);
         if (old) validation::validatePvcUpdate(o, *old, e);
       }});
  out.push_back(
      {.group = "",
       .kind = "PersistentVolume",
       .defaults = defaultPersistentVolume,
       .validate = [](const json::object& o, const json::object*,
                      validation::Errors& e) { validation::validatePersistentVolume(o, e); },
       .keepsStatusOnCreate = true});
  out.push_back(
      {.group = "storage.k8s.io",
       .kind = "StorageClass",
       .defaults = defaultStorageClass,
       .validate = [](const json::object& o, const json::object* old, validation::Errors& e) {
         validation::validateStorageClass(o, old, e);
       }});
}

}  // namespace skiff::api
