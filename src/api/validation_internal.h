// Helpers shared by the validation files: an error list that words causes like upstream's
// field.Error (ErrorBody), Go-style value rendering and null-safe JSON access.
// Private to src/api/validation* and src/api/kinds/.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/validation.h"

namespace skiff::api::validation {

namespace json = boost::json;

// Go's %q for a string: how upstream prints string values in messages.
std::string quote(std::string_view s);
// Go's %#v for map[string]string: map[string]string{"a":"b"} with sorted keys.
std::string goMap(const json::object& m);
// metav1.LabelSelector's String(): &LabelSelector{MatchLabels:map[string]string{a: b,},...}
std::string goLabelSelector(const json::object* selector);
// []string{"a", "b"} or []string(nil).
std::string goStringSlice(const json::array* a);

class Errors {
 public:
  // `value` is the already rendered bad value (use quote() for strings).
  void invalid(std::string field, const std::string& value, const std::string& detail);
  void required(std::string field, const std::string& detail = "");
  void notSupported(std::string field, const std::string& value,
                    const std::vector<std::string>& supported);
  void duplicate(std::string field, const std::string& value);
  void forbidden(std::string field, const std::string& detail);
  void tooLong(std::string field, int64_t maxBytes);
  // field.TypeInvalid: worded as Invalid, typed FieldValueTypeInvalid.
  void typeInvalid(std::string field, const std::string& value, const std::string& detail);
  // field.TooMany: "Too many: 4: must have at most 3 items".
  void tooMany(std::string field, int64_t actual, int64_t max);
  void append(std::vector<StatusCause> more);
  std::vector<StatusCause> take() { return std::move(causes_); }
  bool empty() const { return causes_.empty(); }
  size_t size() const { return causes_.size(); }

 private:
  std::vector<StatusCause> causes_;
};

// Field paths as upstream prints them.
inline std::string child(const std::string& path, std::string_view name) {
  return path.empty() ? std::string(name) : path + "." + std::string(name);
}
inline std::string index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}
inline std::string key(const std::string& path, std::string_view k) {
  return path + "[" + std::string(k) + "]";
}

// Null-safe reads; absent reads as empty, like a Go zero value.
const json::object& obj(const json::object& o, std::string_view key);
const json::object* objPtr(const json::object& o, std::string_view key);
const json::array& arr(const json::object& o, std::string_view key);
const json::array* arrPtr(const json::object& o, std::string_view key);
std::string str(const json::object& o, std::string_view key);
std::optional<int64_t> integer(const json::object& o, std::string_view key);
bool has(const json::object& o, std::string_view key);

// Shared checks.
void validateLabels(const json::object& labels, const std::string& path, Errors& errs);
void validateNonnegative(const json::object& o, std::string_view field, const std::string& path,
                         Errors& errs);
void validateLabelSelector(const json::object& selector, const std::string& path, Errors& errs);
// Whether a label set matches a metav1.LabelSelector.
bool selectorMatches(const json::object& selector, const json::object& labels);
bool selectorEmpty(const json::object& selector);

// Pod spec validation (validation_pod.cpp). `path` is e.g. "spec" or "spec.template.spec".
void validatePodSpec(const json::object& spec, const std::string& path, Errors& errs);
void validatePodSpecUpdate(const json::object& spec, const json::object& oldSpec,
                           const std::string& path, Errors& errs);
void validateResourceRequirements(const json::object& resources, const std::string& path,
                                  Errors& errs);

// Shared by the workload kinds (validation_workloads.cpp). Selector + template checks of the
// replica-managing controllers (upstream ValidatePodTemplateSpecForReplicaSet and friends).
void validateControllerSelectorAndTemplate(const json::object& spec, const std::string& what,
                                           const std::vector<std::string>& restartPolicies,
                                           bool selectorRequired, Errors& errs);
void validateImmutableSelector(const json::object& spec, const json::object& oldSpec, Errors& errs);
std::string intOrStringValue(const json::value& v);
// maxUnavailable / maxSurge: a non-negative int or a percentage.
void validateIntOrPercent(const json::object& o, std::string_view field, const std::string& path,
                          Errors& errs);
bool isZeroIntOrPercent(const json::object& o, std::string_view field);

// IANA_SVC_NAME rules for a named port (containers, NetworkPolicy ports); empty when valid.
std::vector<std::string> portNameErrors(const std::string& name);

// Per-kind validation lives in each kind's strategy (src/api/kinds/, api/kind_strategy.h).

}  // namespace skiff::api::validation
