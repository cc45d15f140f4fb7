// Validation of the workload kinds: Pod, PodTemplate, ReplicationController, Deployment,
// ReplicaSet, StatefulSet, DaemonSet, Job, CronJob.
#include <algorithm>

#include "api/validation_internal.h"

namespace skiff::api::validation {
namespace {

// Selector + template checks shared by the replica-managing controllers
// (upstream ValidatePodTemplateSpecForReplicaSet and friends).
void validateControllerSelectorAndTemplate(const json::object& spec, const std::string& what,
                                           const std::vector<std::string>& restartPolicies,
                                           bool selectorRequired, Errors& errs) {
  const json::object* selector = objPtr(spec, "selector");
  if (!selector) {
    if (selectorRequired) errs.required("spec.selector");
  } else {
    validateLabelSelector(*selector, "spec.selector", errs);
    if (selectorEmpty(*selector))
      errs.invalid("spec.selector", goLabelSelector(selector),
                   "empty selector is invalid for " + what);
  }
  const json::object* tmpl = objPtr(spec, "template");
  if (!tmpl) {
    errs.required("spec.template");
    return;
  }
  const auto& labels = obj(obj(*tmpl, "metadata"), "labels");
  validateLabels(labels, "spec.template.metadata.labels", errs);
  if (selector && !selectorEmpty(*selector) && !selectorMatches(*selector, labels))
    errs.invalid("spec.template.metadata.labels", goMap(labels),
                 "`selector` does not match template `labels`");
  const auto& podSpec = obj(*tmpl, "spec");
  validatePodSpec(podSpec, "spec.template.spec", errs);
  std::string rp = str(podSpec, "restartPolicy");
  bool ok = false;
  for (const auto& r : restartPolicies) ok = ok || r == rp;
  if (!ok && !rp.empty())
    errs.notSupported("spec.template.spec.restartPolicy", quote(rp), restartPolicies);
}

void validateImmutableSelector(const json::object& spec, const json::object& oldSpec,
                               Errors& errs) {
  const json::object* sel = objPtr(spec, "selector");
  const json::object* oldSel = objPtr(oldSpec, "selector");
  bool same = (sel && oldSel) ? (*sel == *oldSel) : (sel == oldSel);
  if (!same) errs.invalid("spec.selector", goLabelSelector(sel), "field is immutable");
}

std::string intOrStringValue(const json::value& v) {
  return v.is_string() ? quote(v.get_string()) : json::serialize(v);
}

// maxUnavailable / maxSurge: a non-negative int or a percentage.
void validateIntOrPercent(const json::object& o, std::string_view field, const std::string& path,
                          Errors& errs) {
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return;
  const auto& v = it->value();
  std::string p = child(path, field);
  if (v.is_string()) {
    std::string s(v.get_string());
    bool ok = s.size() >= 2 && s.back() == '%' &&
              std::all_of(s.begin(), s.end() - 1, [](char c) { return c >= '0' && c <= '9'; });
    if (!ok) {
      errs.invalid(p, quote(s),
                   "a valid percent string must be a numeric string followed by an ending '%' "
                   "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')");
    } else if (std::stoll(s.substr(0, s.size() - 1)) > 100) {
      errs.invalid(p, quote(s), "must not be greater than 100%");
    }
  } else if (auto n = integer(o, field); n && *n < 0) {
    errs.invalid(p, std::to_string(*n), "must be greater than or equal to 0");
  }
}

bool isZeroIntOrPercent(const json::object& o, std::string_view field) {
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return true;
  if (it->value().is_string()) return it->value().get_string() == "0%";
  return integer(o, field) == 0;
}

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

void validateJobSpec(const json::object& spec, Errors& errs) {
  for (const char* f : {"parallelism", "completions", "backoffLimit"})
    validateNonnegative(spec, f, "spec", errs);
  if (auto ads = integer(spec, "activeDeadlineSeconds"); ads && *ads <= 0)
    errs.invalid("spec.activeDeadlineSeconds", std::to_string(*ads), "must be greater than 0");
  std::string mode = str(spec, "completionMode");
  if (!mode.empty() && mode != "NonIndexed" && mode != "Indexed")
    errs.notSupported("spec.completionMode", quote(mode), {"NonIndexed", "Indexed"});
  // The server generates the selector when the user gives none (manualSelector unset).
  validateControllerSelectorAndTemplate(spec, "job", {"OnFailure", "Never"}, false, errs);
}

void validateJob(const json::object& job, const json::object* old, Errors& errs) {
  const auto& spec = obj(job, "spec");
  validateJobSpec(spec, errs);
  if (!old) return;
  const auto& oldSpec = obj(*old, "spec");
  validateImmutableSelector(spec, oldSpec, errs);
  if (integer(spec, "completions") != integer(oldSpec, "completions") &&
      str(spec, "completionMode") != "Indexed") {
    auto c = integer(spec, "completions");
    errs.invalid("spec.completions", c ? std::to_string(*c) : "null", "field is immutable");
  }
  const auto* tmpl = objPtr(spec, "template");
  const auto* oldTmpl = objPtr(oldSpec, "template");
  bool suspended = has(oldSpec, "suspend") && oldSpec.at("suspend") == true;
  if (tmpl && oldTmpl && *tmpl != *oldTmpl && !suspended)
    errs.invalid("spec.template", "core.PodTemplateSpec{...}", "field is immutable");
}

// Five cron fields or one of the @ macros; the field syntax itself is the controller's.
bool plausibleSchedule(const std::string& s) {
  if (s.empty()) return false;
  std::string sched = s;
  if (sched.rfind("TZ=", 0) == 0 || sched.rfind("CRON_TZ=", 0) == 0) return false;
  if (sched[0] == '@')
    return sched == "@yearly" || sched == "@annually" || sched == "@monthly" ||
           sched == "@weekly" || sched == "@daily" || sched == "@midnight" ||
           sched == "@hourly" || sched.rfind("@every ", 0) == 0;
  int fields = 0;
  bool inField = false;
  for (char c : sched) {
    bool space = c == ' ' || c == '\t';
    if (!space && !inField) ++fields;
    inField = !space;
  }
  return fields == 5;
}

void validateCronJob(const json::object& cj, const json::object* old, Errors& errs) {
  const auto& spec = obj(cj, "spec");
  std::string name = str(obj(cj, "metadata"), "name");
  // Job names get an 11-character suffix and must still fit a DNS label.
  if (!old && name.size() > 52)
    errs.invalid("metadata.name", quote(name), "must be no more than 52 characters");
  std::string schedule = str(spec, "schedule");
  if (schedule.empty()) {
    errs.required("spec.schedule");
  } else if (!plausibleSchedule(schedule)) {
    errs.invalid("spec.schedule", quote(schedule),
                 "unparseable schedule: expected exactly 5 fields");
  }
  std::string cp = str(spec, "concurrencyPolicy");
  if (!cp.empty() && cp != "Allow" && cp != "Forbid" && cp != "Replace")
    errs.notSupported("spec.concurrencyPolicy", quote(cp), {"Allow", "Forbid", "Replace"});
  validateNonnegative(spec, "startingDeadlineSeconds", "spec", errs);
  validateNonnegative(spec, "successfulJobsHistoryLimit", "spec", errs);
  validateNonnegative(spec, "failedJobsHistoryLimit", "spec", errs);
  // The job template is validated like a Job spec, under spec.jobTemplate.spec.
  Errors jobErrs;
  validateJobSpec(obj(obj(spec, "jobTemplate"), "spec"), jobErrs);
  for (auto& c : jobErrs.take()) {
    c.field = "spec.jobTemplate." + c.field;
    errs.append({std::move(c)});
  }
}

}  // namespace

bool validateWorkload(std::string_view group, std::string_view kind, const json::object& o,
                      const json::object* old, Errors& errs) {
  if (group.empty()) {
    if (kind == "Pod") {
      validatePodSpec(obj(o, "spec"), "spec", errs);
      if (old) validatePodSpecUpdate(obj(o, "spec"), obj(*old, "spec"), "spec", errs);
      return true;
    }
    if (kind == "PodTemplate") {
      validateLabels(obj(obj(obj(o, "template"), "metadata"), "labels"),
                     "template.metadata.labels", errs);
      validatePodSpec(obj(obj(o, "template"), "spec"), "template.spec", errs);
      return true;
    }
    if (kind == "ReplicationController") {
      const auto& spec = obj(o, "spec");
      validateNonnegative(spec, "replicas", "spec", errs);
      const auto& selector = obj(spec, "selector");
      if (selector.empty()) errs.required("spec.selector");
      else validateLabels(selector, "spec.selector", errs);
      const auto& labels = obj(obj(obj(spec, "template"), "metadata"), "labels");
      if (!has(spec, "template")) {
        errs.required("spec.template");
      } else {
        for (const auto& kv : selector) {
          auto it = labels.find(kv.key());
          if (it == labels.end() || it->value() != kv.value()) {
            errs.invalid("spec.template.metadata.labels", goMap(labels),
                         "`selector` does not match template `labels`");
            break;
          }
        }
        validatePodSpec(obj(obj(spec, "template"), "spec"), "spec.template.spec", errs);
      }
      return true;
    }
    return false;
  }
  if (group == "apps") {
    if (kind == "Deployment") return validateDeployment(o, old, errs), true;
    if (kind == "ReplicaSet") return validateReplicaSet(o, old, errs), true;
    if (kind == "StatefulSet") return validateStatefulSet(o, old, errs), true;
    if (kind == "DaemonSet") return validateDaemonSet(o, old, errs), true;
    return false;
  }
  if (group == "batch") {
    if (kind == "Job") return validateJob(o, old, errs), true;
    if (kind == "CronJob") return validateCronJob(o, old, errs), true;
  }
  return false;
}

}  // namespace skiff::api::validation
