// Job and CronJob (upstream pkg/registry/batch/job, cronjob): defaulting, validation (a
// CronJob's job template is checked as a Job spec), the server-generated Job selector and
// the v1 Job's orphaning default on delete.
#include <boost/json.hpp>
#include <climits>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

namespace skiff::api {

namespace defaulting {
namespace {

void defaultJob(json::object& job) {
  json::object& spec = ensureObject(job, "spec");
  if (missing(spec, "completions") && missing(spec, "parallelism")) {
    spec["completions"] = 1;
    spec["parallelism"] = 1;
  }
  setDefault(spec, "parallelism", 1);
  if (missing(spec, "backoffLimit"))
    spec["backoffLimit"] = missing(spec, "backoffLimitPerIndex") ? 6 : INT32_MAX;
  setDefaultString(spec, "completionMode", "NonIndexed");
  setDefault(spec, "suspend", false);
  if (missing(spec, "podReplacementPolicy"))
    spec["podReplacementPolicy"] =
        missing(spec, "podFailurePolicy") ? "TerminatingOrFailed" : "Failed";
  if (auto* pfp = childObject(spec, "podFailurePolicy")) {
    forEachObject(*pfp, "rules", [](json::object& rule) {
      forEachObject(rule, "onPodConditions",
                    [](json::object& c) { setDefaultString(c, "status", "True"); });
    });
  }
  defaultPodTemplate(spec);
  // A job without labels takes its pod template's labels. Done last: adding "metadata" to the
  // job may relocate `spec`.
  json::value tmplLabels;
  if (auto* tmeta = childObject(*childObject(spec, "template"), "metadata"))
    if (childObject(*tmeta, "labels")) tmplLabels = (*tmeta)["labels"];
  json::object& meta = ensureObject(job, "metadata");
  if (tmplLabels.is_object() && emptyMapOrMissing(meta, "labels")) meta["labels"] = tmplLabels;
}

void defaultCronJob(json::object& cj) {
  json::object& spec = ensureObject(cj, "spec");
  setDefaultString(spec, "concurrencyPolicy", "Allow");
  setDefault(spec, "suspend", false);
  setDefault(spec, "successfulJobsHistoryLimit", 3);
  setDefault(spec, "failedJobsHistoryLimit", 1);
  defaultPodTemplate(ensureObject(ensureObject(spec, "jobTemplate"), "spec"));
}

}  // namespace
}  // namespace defaulting

namespace validation {
namespace {

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
           sched == "@weekly" || sched == "@daily" || sched == "@midnight" || sched == "@hourly" ||
           sched.rfind("@every ", 0) == 0;
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
}  // namespace validation

namespace json = boost::json;

namespace {
// Upstream's Job generateSelector: unless spec.manualSelector is true, the server labels
// the pod template with the Job's uid and name (current and legacy keys) and selects on the
// uid. A Job without labels then shows the template's, as upstream's defaulting on read does.
void generateJobSelector(json::object& job) {
  json::value* spec = job.if_contains("spec");
  json::value* meta = job.if_contains("metadata");
  if (!spec || !spec->is_object() || !meta || !meta->is_object()) return;
  json::object& s = spec->as_object();
  if (const json::value* manual = s.if_contains("manualSelector");
      manual && manual->is_bool() && manual->as_bool())
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
    s["selector"] =
        json::object{{"matchLabels", json::object{{"batch.kubernetes.io/controller-uid", uid}}}};
  json::value& jobLabels = m["labels"];
  if (!jobLabels.is_object() || jobLabels.as_object().empty()) jobLabels = l;
}
}  // namespace

void addBatchKinds(std::vector<KindStrategy>& out) {
  out.push_back(
      {.group = "batch",
       .kind = "Job",
       .defaults = defaulting::defaultJob,
       .validate = validation::validateJob,
       .prepareForCreate = generateJobSelector,
       .orphansByDefault = true,
       .defaultDeleteWarning =
           "child pods are preserved by default when jobs are deleted; set "
           "propagationPolicy=Background to remove them or set propagationPolicy=Orphan to "
           "suppress this warning"});
  out.push_back({.group = "batch",
                 .kind = "CronJob",
                 .defaults = defaulting::defaultCronJob,
                 .validate = validation::validateCronJob});
}

}  // namespace skiff::api
