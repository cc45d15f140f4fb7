// Validation helpers shared by the workload kinds (src/api/kinds/apps.cpp, job.cpp): selector
// and template checks, immutable selectors, int-or-percent fields.
#include <algorithm>

#include "api/validation_internal.h"

namespace skiff::api::validation {

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

}  // namespace skiff::api::validation
