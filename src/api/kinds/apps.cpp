// The apps/v1 workload kinds (upstream pkg/registry/apps/*): Deployment, ReplicaSet,
// StatefulSet, DaemonSet. Selector/template checks they share are in validation_workloads.cpp.
#include <boost/json.hpp>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

namespace skiff::api {

namespace defaulting {
namespace {

void defaultDeployment(json::object& d) {
  json::object& spec = ensureObject(d, "spec");
  setDefault(spec, "replicas", 1);
  json::object& strategy = ensureObject(spec, "strategy");
  setDefaultString(strategy, "type", "RollingUpdate");
  if (str(strategy, "type") == "RollingUpdate") {
    json::object& ru = ensureObject(strategy, "rollingUpdate");
    setDefault(ru, "maxUnavailable", "25%");
    setDefault(ru, "maxSurge", "25%");
  }
  setDefault(spec, "revisionHistoryLimit", 10);
  setDefault(spec, "progressDeadlineSeconds", 600);
  defaultPodTemplate(spec);
}

void defaultStatefulSet(json::object& s) {
  json::object& spec = ensureObject(s, "spec");
  setDefault(spec, "replicas", 1);
  setDefaultString(spec, "podManagementPolicy", "OrderedReady");
  json::object& us = ensureObject(spec, "updateStrategy");
  if (str(us, "type").empty()) {
    us["type"] = "RollingUpdate";
    ensureObject(us, "rollingUpdate");
  }
  if (str(us, "type") == "RollingUpdate")
    if (auto* ru = childObject(us, "rollingUpdate")) setDefault(*ru, "partition", 0);
  json::object& retention = ensureObject(spec, "persistentVolumeClaimRetentionPolicy");
  setDefaultString(retention, "whenDeleted", "Retain");
  setDefaultString(retention, "whenScaled", "Retain");
  setDefault(spec, "revisionHistoryLimit", 10);
  forEachObject(spec, "volumeClaimTemplates", defaultPvcSpec);
  defaultPodTemplate(spec);
}

void defaultDaemonSet(json::object& d) {
  json::object& spec = ensureObject(d, "spec");
  json::object& us = ensureObject(spec, "updateStrategy");
  setDefaultString(us, "type", "RollingUpdate");
  if (str(us, "type") == "RollingUpdate") {
    json::object& ru = ensureObject(us, "rollingUpdate");
    setDefault(ru, "maxUnavailable", 1);
    setDefault(ru, "maxSurge", 0);
  }
  setDefault(spec, "revisionHistoryLimit", 10);
  defaultPodTemplate(spec);
}

}  // namespace
}  // namespace defaulting

namespace validation {
namespace {

void validateDeployment(const json::object& d, const json::object* old, Errors& errs) {
  const auto& spec = obj(d, "spec");
  validateNonnegative(spec, "replicas", "spec", errs);
  validateControllerSelectorAndTemplate(spec, "deployment", {"Always"}, true, errs);
  const auto& strategy = obj(spec, "strategy");
  std::string type = str(strategy, "type");
  if (type == "Recreate") {
    if (has(strategy, "rollingUpdate"))
      errs.forbidden("spec.strategy.rollingUpdate",
                     "may not be specified when strategy `type` is 'Recreate'");
  } else if (type == "RollingUpdate") {
    const auto& ru = obj(strategy, "rollingUpdate");
    validateIntOrPercent(ru, "maxUnavailable", "spec.strategy.rollingUpdate", errs);
    validateIntOrPercent(ru, "maxSurge", "spec.strategy.rollingUpdate", errs);
    if (isZeroIntOrPercent(ru, "maxUnavailable") && isZeroIntOrPercent(ru, "maxSurge"))
      errs.invalid("spec.strategy.rollingUpdate.maxUnavailable",
                   ru.contains("maxUnavailable") ? intOrStringValue(ru.at("maxUnavailable")) : "0",
                   "may not be 0 when `maxSurge` is 0");
  } else if (!type.empty()) {
    errs.notSupported("spec.strategy.type", quote(type), {"Recreate", "RollingUpdate"});
  }
  validateNonnegative(spec, "revisionHistoryLimit", "spec", errs);
  validateNonnegative(spec, "minReadySeconds", "spec", errs);
  if (auto pds = integer(spec, "progressDeadlineSeconds")) {
    validateNonnegative(spec, "progressDeadlineSeconds", "spec", errs);
    if (*pds <= integer(spec, "minReadySeconds").value_or(0))
      errs.invalid("spec.progressDeadlineSeconds", std::to_string(*pds),
                   "must be greater than minReadySeconds");
  }
  if (old) validateImmutableSelector(spec, obj(*old, "spec"), errs);
}

void validateReplicaSet(const json::object& rs, const json::object* old, Errors& errs) {
  const auto& spec = obj(rs, "spec");
  validateNonnegative(spec, "replicas", "spec", errs);
  validateNonnegative(spec, "minReadySeconds", "spec", errs);
  // Upstream's ReplicaSet check reuses the deployment wording.
  validateControllerSelectorAndTemplate(spec, "deployment", {"Always"}, true, errs);
  if (has(obj(obj(spec, "template"), "spec"), "activeDeadlineSeconds"))
    errs.forbidden("spec.template.spec.activeDeadlineSeconds",
                   "activeDeadlineSeconds in ReplicaSet is not Supported");
  if (old) validateImmutableSelector(spec, obj(*old, "spec"), errs);
}

void validateStatefulSet(const json::object& ss, const json::object* old, Errors& errs) {
  const auto& spec = obj(ss, "spec");
  validateNonnegative(spec, "replicas", "spec", errs);
  validateNonnegative(spec, "minReadySeconds", "spec", errs);
  std::string pmp = str(spec, "podManagementPolicy");
  if (!pmp.empty() && pmp != "OrderedReady" && pmp != "Parallel")
    errs.notSupported("spec.podManagementPolicy", quote(pmp), {"OrderedReady", "Parallel"});
  std::string ust = str(obj(spec, "updateStrategy"), "type");
  if (!ust.empty() && ust != "RollingUpdate" && ust != "OnDelete")
    errs.notSupported("spec.updateStrategy.type", quote(ust), {"OnDelete", "RollingUpdate"});
  validateNonnegative(obj(obj(spec, "updateStrategy"), "rollingUpdate"), "partition",
                      "spec.updateStrategy.rollingUpdate", errs);
  validateControllerSelectorAndTemplate(spec, "statefulset", {"Always"}, true, errs);
  if (old) {
    // Only a few StatefulSet spec fields may change; the selector is the one users hit.
    validateImmutableSelector(spec, obj(*old, "spec"), errs);
  }
}

void validateDaemonSet(const json::object& ds, const json::object* old, Errors& errs) {
  const auto& spec = obj(ds, "spec");
  validateControllerSelectorAndTemplate(spec, "daemonset", {"Always"}, true, errs);
  const auto& us = obj(spec, "updateStrategy");
  std::string type = str(us, "type");
  if (type == "RollingUpdate") {
    const auto& ru = obj(us, "rollingUpdate");
    validateIntOrPercent(ru, "maxUnavailable", "spec.updateStrategy.rollingUpdate", errs);
    validateIntOrPercent(ru, "maxSurge", "spec.updateStrategy.rollingUpdate", errs);
    if (isZeroIntOrPercent(ru, "maxUnavailable") && isZeroIntOrPercent(ru, "maxSurge"))
      errs.invalid("spec.updateStrategy.rollingUpdate.maxUnavailable",
                   ru.contains("maxUnavailable") ? intOrStringValue(ru.at("maxUnavailable")) : "0",
                   "may not be 0 when `maxSurge` is 0");
  } else if (!type.empty() && type != "OnDelete") {
    errs.notSupported("spec.updateStrategy.type", quote(type), {"OnDelete", "RollingUpdate"});
  }
  validateNonnegative(spec, "revisionHistoryLimit", "spec", errs);
  if (old) validateImmutableSelector(spec, obj(*old, "spec"), errs);
}

}  // namespace
}  // namespace validation

namespace json = boost::json;

namespace {
void defaultReplicaSet(json::object& obj) {
  using namespace defaulting;
  json::object& spec = ensureObject(obj, "spec");
  setDefault(spec, "replicas", 1);
  return defaultPodTemplate(spec);
}
}  // namespace

void addAppsKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "apps",
                 .kind = "Deployment",
                 .defaults = defaulting::defaultDeployment,
                 .validate = validation::validateDeployment});
  out.push_back({.group = "apps",
                 .kind = "ReplicaSet",
                 .defaults = defaultReplicaSet,
                 .validate = validation::validateReplicaSet});
  out.push_back({.group = "apps",
                 .kind = "StatefulSet",
                 .defaults = defaulting::defaultStatefulSet,
                 .validate = validation::validateStatefulSet});
  out.push_back({.group = "apps",
                 .kind = "DaemonSet",
                 .defaults = defaulting::defaultDaemonSet,
                 .validate = validation::validateDaemonSet});
}

}  // namespace skiff::api
