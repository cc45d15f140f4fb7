// PersistentVolumeClaim, PersistentVolume and StorageClass (upstream pkg/registry/core/
// persistentvolume*, storage/storageclass). A PersistentVolume is created with its status.
#include <boost/json.hpp>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

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
  out.push_back({.group = "",
                 .kind = "PersistentVolumeClaim",
                 .defaults = defaulting::defaultPvcSpec,
                 .validate = [](const json::object& o, const json::object*, validation::Errors& e) {
                   validation::validatePvc(o, e);
                 }});
  out.push_back({.group = "",
                 .kind = "PersistentVolume",
                 .defaults = defaultPersistentVolume,
                 .keepsStatusOnCreate = true});
  out.push_back(
      {.group = "storage.k8s.io", .kind = "StorageClass", .defaults = defaultStorageClass});
}

}  // namespace skiff::api
