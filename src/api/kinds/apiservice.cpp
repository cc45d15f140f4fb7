// APIService (kube-aggregator's registry): the port defaults to 443; validation
// (pkg/apis/apiregistration/validation): the name is
// "<version>.<group>", the group a DNS subdomain (empty only for the legacy "v1"), the version
// a DNS label, priorities in range, and either a local APIService (no caBundle, no
// insecureSkipTLSVerify) or a service reference with namespace, name and a valid port, whose
// TLS is verified with caBundle or skipped, not both.
#include <string>

#include "api/kind_strategy.h"
#include "api/validation_internal.h"
#include "common/base64.h"

namespace skiff::api::validation {

namespace {

std::string boolText(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_bool() && it->value().get_bool() ? "true" : "false";
}

bool isTrue(const json::object& o, std::string_view key) { return boolText(o, key) == "true"; }

}  // namespace

void validateApiService(const json::object& o, const json::object*, Errors& errs) {
  const auto& spec = obj(o, "spec");
  const std::string g = str(spec, "group"), v = str(spec, "version");
  const std::string required = v + "." + g;
  const std::string name = str(obj(o, "metadata"), "name");
  // Path-segment failures of the name were reported with the metadata; then it must match.
  if (!name.empty() && validatePathSegmentName(name).empty() && name != required)
    errs.invalid("metadata.name", quote(name),
                 "must be `spec.version+\".\"+spec.group`: " + quote(required));

  if (g.empty() && v != "v1")
    errs.required("spec.group", "only v1 may have an empty group and it better be legacy kube");
  if (!g.empty())
    for (const auto& m : validateDns1123Subdomain(g)) errs.invalid("spec.group", quote(g), m);
  for (const auto& m : validateDns1035Label(v)) errs.invalid("spec.version", quote(v), m);

  const int64_t groupPriority = integer(spec, "groupPriorityMinimum").value_or(0);
  if (groupPriority <= 0 || groupPriority > 20000)
    errs.invalid("spec.groupPriorityMinimum", std::to_string(groupPriority),
                 "must be positive and less than 20000");
  const int64_t versionPriority = integer(spec, "versionPriority").value_or(0);
  if (versionPriority <= 0 || versionPriority > 1000)
    errs.invalid("spec.versionPriority", std::to_string(versionPriority),
                 "must be positive and less than 1000");

  const std::string caBundleText = str(spec, "caBundle");
  const auto caBundle = base64Decode(caBundleText);
  if (!caBundle) errs.invalid("spec.caBundle", quote(caBundleText), "must be base64 encoded");
  const size_t caBytes = caBundle ? caBundle->size() : 0;
  const json::object* service = objPtr(spec, "service");
  if (!service) {
    if (caBytes > 0)
      errs.invalid("spec.caBundle", quote(std::to_string(caBytes) + " bytes"),
                   "local APIServices may not have a caBundle");
    if (isTrue(spec, "insecureSkipTLSVerify"))
      errs.invalid("spec.insecureSkipTLSVerify", "true",
                   "local APIServices may not have insecureSkipTLSVerify");
    return;
  }
  if (str(*service, "namespace").empty()) errs.required("spec.service.namespace");
  if (str(*service, "name").empty()) errs.required("spec.service.name");
  const int64_t port = integer(*service, "port").value_or(0);
  if (port < 1 || port > 65535)
    errs.invalid("spec.service.port", std::to_string(port),
                 "port is not valid: must be between 1 and 65535, inclusive");
  if (isTrue(spec, "insecureSkipTLSVerify") && caBytes > 0)
    errs.invalid("spec.insecureSkipTLSVerify", "true", "may not be true if caBundle is present");
}

}  // namespace skiff::api::validation

namespace skiff::api {

namespace json = boost::json;

namespace {
// kube-aggregator's v1 SetDefaults_ServiceReference: port 443.
void defaultApiService(json::object& obj) {
  auto spec = obj.find("spec");
  if (spec == obj.end() || !spec->value().is_object()) return;
  auto svc = spec->value().as_object().find("service");
  if (svc != spec->value().as_object().end() && svc->value().is_object() &&
      !svc->value().as_object().contains("port"))
    svc->value().as_object()["port"] = 443;
}
}  // namespace

void addApiServiceKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "apiregistration.k8s.io",
                 .kind = "APIService",
                 .defaults = defaultApiService,
                 .validate = validation::validateApiService,
                 .nameRule = NameRule::PathSegment});
}

}  // namespace skiff::api
