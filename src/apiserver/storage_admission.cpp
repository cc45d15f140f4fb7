#include "apiserver/storage_admission.h"

#include <boost/json.hpp>

#include "api/json_access.h"
#include "api/quantity.h"
#include "common/api_error.h"

namespace skiff::apiserver::storageadmission {

namespace json = boost::json;
using api::stringAt;
using api::valueAt;

namespace {
const char* kAnnBetaStorageClass = "volume.beta.kubernetes.io/storage-class";

bool isDefault(const json::object& cls) {
  for (const char* key : {"storageclass.kubernetes.io/is-default-class",
                          "storageclass.beta.kubernetes.io/is-default-class"})
    if (stringAt(cls, {"metadata", "annotations", key}) == "true") return true;
  return false;
}

std::optional<api::Quantity> requestOf(const json::object& claim) {
  auto s = stringAt(claim, {"spec", "resources", "requests", "storage"});
  if (s.empty()) return std::nullopt;
  return api::Quantity::parse(s);
}
}  // namespace

void setDefaultClass(json::object& claim, const std::vector<ClassPtr>& classes) {
  auto* spec = claim.if_contains("spec");
  if (!spec || !spec->is_object()) return;  // validation reports it
  if (spec->as_object().contains("storageClassName")) return;
  if (valueAt(claim, {"metadata", "annotations", kAnnBetaStorageClass})) return;
  ClassPtr best;
  for (const auto& c : classes) {
    if (!c || !isDefault(*c)) continue;
    if (!best) {
      best = c;
      continue;
    }
    // Several defaults: the newest wins (then the name), as upstream's GetDefaultClass.
    auto t = stringAt(*c, {"metadata", "creationTimestamp"});
    auto bt = stringAt(*best, {"metadata", "creationTimestamp"});
    if (t > bt ||
        (t == bt && stringAt(*c, {"metadata", "name"}) < stringAt(*best, {"metadata", "name"})))
      best = c;
  }
  if (best) spec->as_object()["storageClassName"] = stringAt(*best, {"metadata", "name"});
}

void addProtectionFinalizer(json::object& obj, const std::string& finalizer) {
  auto* meta = obj.if_contains("metadata");
  if (!meta || !meta->is_object()) return;
  json::value& f = meta->as_object()["finalizers"];
  if (f.is_null()) f.emplace_array();
  if (!f.is_array()) return;  // malformed: validation reports it
  for (auto& x : f.as_array())
    if (x.is_string() && x.as_string() == finalizer) return;
  f.as_array().emplace_back(finalizer);
}

void checkResize(const json::object& claim, const json::object& old,
                 const std::function<ClassPtr(const std::string&)>& classByName) {
  auto request = requestOf(claim), oldRequest = requestOf(old);
  if (!request || !oldRequest || *request <= *oldRequest) return;  // not growing
  const std::string name = stringAt(claim, {"metadata", "name"});
  if (stringAt(old, {"status", "phase"}) != "Bound")
    throw forbidden("persistentvolumeclaims", name,
                    "Only bound persistent volume claims can be expanded");
  std::string cls = stringAt(claim, {"spec", "storageClassName"});
  if (cls.empty()) cls = stringAt(claim, {"metadata", "annotations", kAnnBetaStorageClass});
  ClassPtr sc = cls.empty() ? nullptr : classByName(cls);
  const json::value* allow = sc ? sc->if_contains("allowVolumeExpansion") : nullptr;
  if (!allow || !allow->is_bool() || !allow->as_bool())
    throw forbidden("persistentvolumeclaims", name,
                    "only dynamically provisioned pvc can be resized and the storageclass that "
                    "provisions the pvc must support resize");
}

}  // namespace skiff::apiserver::storageadmission
