// ResourceQuota (upstream pkg/registry/core/resourcequota, validation's ValidateResourceQuota):
// standard quota resource names, non-negative (and for counts whole) amounts, and scopes
// that exist, fit the tracked resources and do not contradict each other.
#include <boost/json.hpp>
#include <set>

#include "api/kind_strategy.h"
#include "api/quantity.h"

namespace skiff::api {

namespace validation {
namespace {

bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// upstream's standardQuotaResources (IsStandardQuotaResourceName adds the hugepages names).
const std::set<std::string> kStandardQuotaNames = {"pods",
                                                   "services",
                                                   "replicationcontrollers",
                                                   "resourcequotas",
                                                   "secrets",
                                                   "configmaps",
                                                   "persistentvolumeclaims",
                                                   "services.nodeports",
                                                   "services.loadbalancers",
                                                   "cpu",
                                                   "memory",
                                                   "ephemeral-storage",
                                                   "requests.cpu",
                                                   "requests.memory",
                                                   "requests.storage",
                                                   "requests.ephemeral-storage",
                                                   "limits.cpu",
                                                   "limits.memory",
                                                   "limits.ephemeral-storage"};
// Names that count objects: their amounts must be whole (IsIntegerResourceName).
const std::set<std::string> kIntegerNames = {"pods",
                                             "services",
                                             "replicationcontrollers",
                                             "resourcequotas",
                                             "secrets",
                                             "configmaps",
                                             "persistentvolumeclaims",
                                             "services.nodeports",
                                             "services.loadbalancers"};
// The compute names a pod-scoped quota may track (IsResourceQuotaScopeValidForResource).
const std::set<std::string> kPodComputeNames = {"pods",
                                                "cpu",
                                                "memory",
                                                "ephemeral-storage",
                                                "limits.cpu",
                                                "limits.memory",
                                                "limits.ephemeral-storage",
                                                "requests.cpu",
                                                "requests.memory",
                                                "requests.ephemeral-storage"};
const std::set<std::string> kScopes = {"Terminating",          "NotTerminating",
                                       "BestEffort",           "NotBestEffort",
                                       "PriorityClass",        "CrossNamespacePodAffinity",
                                       "VolumeAttributesClass"};

bool isStandardQuotaName(const std::string& name) {
  return kStandardQuotaNames.count(name) || startsWith(name, "hugepages-") ||
         startsWith(name, "requests.hugepages-");
}

bool scopeFitsResource(const std::string& scope, const std::string& name) {
  if (scope == "BestEffort") return name == "pods" || name == "count/pods";
  if (scope == "VolumeAttributesClass")
    return name == "persistentvolumeclaims" || name == "requests.storage";
  return kPodComputeNames.count(name) > 0 || name == "count/pods";
}

std::string goScopes(const json::array& scopes) {
  std::string out = "[]core.ResourceQuotaScope{";
  for (size_t i = 0; i < scopes.size(); ++i)
    out += (i ? ", " : "") + quote(scopes[i].is_string() ? scopes[i].as_string().c_str() : "");
  return out + "}";
}

void validateList(const json::object& list, const std::string& path, Errors& errs) {
  for (const auto& kv : list) {
    const std::string name(kv.key());
    const std::string p = key(path, name);
    if (name.find('/') == std::string::npos && !isStandardQuotaName(name))
      errs.invalid(p, quote(name), "must be a standard resource for quota");
    std::optional<Quantity> q;
    if (kv.value().is_string()) q = Quantity::parse(std::string(kv.value().as_string()));
    if (kv.value().is_int64()) q = Quantity::fromValue(kv.value().as_int64());
    if (!q) continue;  // the decoder refused malformed amounts
    if (q->sign() < 0) errs.invalid(p, quote(q->toString()), "must be greater than or equal to 0");
    const bool integer = kIntegerNames.count(name) || startsWith(name, "count/");
    if (integer && q->milliValue() % 1000 != 0)
      errs.invalid(p, quote(q->toString()), "must be an integer");
  }
}

void validateScopes(const json::object& spec, Errors& errs) {
  const json::array& scopes = arr(spec, "scopes");
  if (scopes.empty()) return;
  std::set<std::string> seen;
  std::vector<std::string> hard;
  for (const auto& kv : obj(spec, "hard")) hard.emplace_back(kv.key());
  std::sort(hard.begin(), hard.end());
  for (const auto& s : scopes) {
    const std::string scope = s.is_string() ? std::string(s.as_string()) : "";
    if (!kScopes.count(scope)) errs.invalid("spec.scopes", goScopes(scopes), "unsupported scope");
    for (const auto& name : hard)
      if (isStandardQuotaName(name) && !scopeFitsResource(scope, name))
        errs.invalid("spec.scopes", goScopes(scopes), "unsupported scope applied to resource");
    seen.insert(scope);
  }
  if ((seen.count("BestEffort") && seen.count("NotBestEffort")) ||
      (seen.count("Terminating") && seen.count("NotTerminating")))
    errs.invalid("spec.scopes", goScopes(scopes), "conflicting scopes");
}

void validateScopeSelector(const json::object& spec, Errors& errs) {
  const json::array& exprs = arr(obj(spec, "scopeSelector"), "matchExpressions");
  for (size_t i = 0; i < exprs.size(); ++i) {
    if (!exprs[i].is_object()) continue;
    const json::object& e = exprs[i].as_object();
    const std::string p = index("spec.scopeSelector.matchExpressions", i);
    const std::string scope = str(e, "scopeName"), op = str(e, "operator");
    const size_t values = arr(e, "values").size();
    if (!kScopes.count(scope))
      errs.invalid(child(p, "scopeName"), quote(scope), "unsupported scope");
    if (op != "In" && op != "NotIn" && op != "Exists" && op != "DoesNotExist") {
      errs.notSupported(child(p, "operator"), quote(op), {"DoesNotExist", "Exists", "In", "NotIn"});
      continue;
    }
    if ((scope == "Terminating" || scope == "NotTerminating" || scope == "BestEffort" ||
         scope == "NotBestEffort") &&
        op != "Exists")
      errs.invalid(child(p, "operator"), quote(op),
                   "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, "
                   "ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort or "
                   "ResourceQuotaScopeNotBestEffort");
    if ((op == "In" || op == "NotIn") && values == 0)
      errs.required(child(p, "values"),
                    "must be at least one value when `operator` is 'In' or 'NotIn' for scope "
                    "selector");
    if ((op == "Exists" || op == "DoesNotExist") && values != 0)
      errs.invalid(child(p, "values"), goStringSlice(&arr(e, "values")),
                   "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope "
                   "selector");
  }
}

void validateResourceQuota(const json::object& rq, const json::object*, Errors& errs) {
  const json::object& spec = obj(rq, "spec");
  validateList(obj(spec, "hard"), "spec.hard", errs);
  validateScopes(spec, errs);
  validateScopeSelector(spec, errs);
  validateList(obj(obj(rq, "status"), "hard"), "status.hard", errs);
  validateList(obj(obj(rq, "status"), "used"), "status.used", errs);
}

}  // namespace
}  // namespace validation

void addResourceQuotaKinds(std::vector<KindStrategy>& out) {
  out.push_back(
      {.group = "", .kind = "ResourceQuota", .validate = validation::validateResourceQuota});
}

}  // namespace skiff::api
