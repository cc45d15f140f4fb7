// One strategy per built-in kind (upstream's pkg/registry/<group>/<kind>/strategy.go): its
// defaulting, validation and the server's pure-JSON write hooks, in the kind's own file under
// src/api/kinds/. Generic code (api::applyDefaults, api::validateObject, the API server's
// create/update/delete paths) looks the kind up here instead of testing kind names.
// Custom resources have no entry: they go through apiserver/custom_resource_strategy.cpp.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api/validation_internal.h"

namespace skiff::api {

// How metadata.name (and generateName) is checked (upstream's ValidateXName).
enum class NameRule { Subdomain, Label, Dns1035, PathSegment };

struct KindStrategy {
  std::string_view group;  // "" for the core group
  std::string_view kind;

  // ---- api layer: defaulting and validation ----
  // Upstream's SetDefaults_X; never overwrites a field already set.
  void (*defaults)(boost::json::object& obj) = nullptr;
  // The kind's own rules beyond ObjectMeta (old == nullptr on create).
  void (*validate)(const boost::json::object& obj, const boost::json::object* old,
                   validation::Errors& errs) = nullptr;
  NameRule nameRule = NameRule::Subdomain;

  // ---- server hooks (pure JSON; see apiserver/strategy.cpp, resource_delete.cpp) ----
  // Nodes and PersistentVolumes are created with their status; other kinds start clean.
  bool keepsStatusOnCreate = false;
  // After the status reset: server-owned fields of a new object (a Pod's phase, a Job's selector).
  void (*prepareForCreate)(boost::json::object& obj) = nullptr;
  // On a main-resource update (not /status).
  void (*prepareForUpdate)(boost::json::object& obj, const boost::json::object& old) = nullptr;
  // Subresources written as status is (everything but status kept from the stored object),
  // besides "status" itself: a CertificateSigningRequest's "approval".
  std::vector<std::string_view> statusLikeSubresources = {};
  // On a write to status or one of those (after the rest was copied from the stored object).
  void (*prepareForStatusUpdate)(boost::json::object& obj, const boost::json::object& old,
                                 std::string_view subresource) = nullptr;
  // The kind's rules for such a write, beyond ObjectMeta (upstream's ValidateXStatusUpdate).
  void (*validateStatus)(const boost::json::object& obj, const boost::json::object& old,
                         std::string_view subresource, validation::Errors& errs) = nullptr;
  // Admission steps that need server state and so live in apiserver/admission.cpp: a
  // Service's cluster IPs (allocated on create, kept on update), a Pod's priority and
  // default not-ready/unreachable tolerations.
  bool admitsServiceAddresses = false;
  bool admitsPodScheduling = false;
  // Fields defaulted here but set after the field manager upstream (by admission or the REST
  // storage): owned by nobody on create. Paths in managedFields form ("f:spec", "f:priority").
  std::vector<std::vector<std::string>> unownedOnCreate = {};

  // Delete: upstream's DefaultGarbageCollectionPolicy OrphanDependents (v1 RC and Job).
  bool orphansByDefault = false;
  // Said once per request when the default policy was used (upstream's WarningsOnDelete).
  const char* defaultDeleteWarning = nullptr;
  // Pods: deletion waits for the grace period (terminationGracePeriodSeconds).
  bool gracefulDeletion = false;
  // Names that may never be deleted (the system namespaces).
  std::vector<std::string_view> undeletableNames = {};
  // On DELETE: marks the object terminating; true when it must wait (a CRD for its objects,
  // a Namespace for its spec.finalizers).
  bool (*prepareForDelete)(boost::json::object& obj) = nullptr;
  // True while server-owned finalizers outside metadata.finalizers hold the object
  // (a Namespace's spec.finalizers), so removing the last metadata finalizer does not free it.
  bool (*holdsDeletion)(const boost::json::object& obj) = nullptr;
  // The delete's answer waits until the watch cache shows it (admission reads a terminating
  // namespace from the cache).
  bool deleteVisibleInCache = false;
};

// The strategy of a built-in kind, or nullptr (custom resources, kinds without rules).
const KindStrategy* kindStrategy(std::string_view group, std::string_view kind);

// Every built-in strategy (src/api/kinds/all.cpp: the list a new kind is added to).
const std::vector<KindStrategy>& builtinKindStrategies();

}  // namespace skiff::api
