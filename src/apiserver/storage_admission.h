// The storage admission plugins (upstream plugin/pkg/admission/storage/...), as pure
// functions over the object and the StorageClasses the watch cache holds:
// - DefaultStorageClass: a claim created without any class gets the default class (the
//   newest one when several are marked default).
// - StorageObjectInUseProtection: new claims get the finalizer kubernetes.io/pvc-protection,
//   new volumes kubernetes.io/pv-protection (the pvc/pv-protection controllers remove them).
// - PersistentVolumeClaimResize: a claim may grow only when bound and its class allows
//   expansion (403 with upstream's text). Shrinking is refused by validation.
#pragma once
#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace skiff::apiserver::storageadmission {

using ClassPtr = std::shared_ptr<const boost::json::object>;

// DefaultStorageClass on a claim being created; `classes`: every StorageClass.
void setDefaultClass(boost::json::object& claim, const std::vector<ClassPtr>& classes);
// StorageObjectInUseProtection on a claim or volume being created.
void addProtectionFinalizer(boost::json::object& obj, const std::string& finalizer);
// PersistentVolumeClaimResize on a claim update; `classByName` returns null for an unknown
// class. Throws ApiError 403.
void checkResize(const boost::json::object& claim, const boost::json::object& old,
                 const std::function<ClassPtr(const std::string&)>& classByName);

}  // namespace skiff::apiserver::storageadmission
