#include "apiserver/resource_quota_admission.h"

#include <boost/json.hpp>

#include "common/api_error.h"

namespace skiff::apiserver::quotaadmission {

namespace json = boost::json;
using namespace api::quota;

namespace {

const json::object* child(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}
const json::object* statusList(const json::object& quota, std::string_view field) {
  const json::object* status = child(quota, "status");
  return status ? child(*status, field) : nullptr;
}
std::string quotaName(const json::object& quota) {
  const json::object* meta = child(quota, "metadata");
  const json::value* v = meta ? meta->if_contains("name") : nullptr;
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

}  // namespace

std::vector<size_t> charge(std::vector<json::object>& quotas, const GroupResource& gr,
                           const std::string& qualifiedResource, const std::string& name,
                           const json::object& obj, const json::object* old) {
  if (old && !chargedOnUpdate(gr)) return {};
  const bool isPod = gr.group.empty() && gr.resource == "pods";
  // First every quota that accounts the object must be able to: constraints and known usage.
  std::vector<size_t> interesting;
  for (size_t i = 0; i < quotas.size(); ++i) {
    const json::object& q = quotas[i];
    const std::vector<std::string> restricted =
        matchingNames(gr, names(parseList(statusList(q, "hard"))));
    if (restricted.empty() || !scopesMatch(q, gr, obj)) continue;
    if (isPod)
      if (std::string missing = podConstraints(restricted, obj); !missing.empty())
        throw forbidden(qualifiedResource, name, "failed quota: " + quotaName(q) + ": " + missing);
    const ResourceList used = parseList(statusList(q, "used"));
    for (const auto& r : restricted)
      if (!used.count(r))
        throw forbidden(
            qualifiedResource, name,
            "status unknown for quota: " + quotaName(q) + ", resources: " + joined(restricted));
    interesting.push_back(i);
  }
  if (interesting.empty()) return {};

  ResourceList delta = usage(gr, obj);
  if (old) delta = subtractNonNegative(delta, usage(gr, *old));
  for (auto it = delta.begin(); it != delta.end();)
    it = it->second.isZero() ? delta.erase(it) : std::next(it);
  if (delta.empty()) return {};

  // Then the charge: all of them or none.
  std::vector<ResourceList> newUsed(quotas.size());
  std::vector<size_t> changed;
  for (size_t i : interesting) {
    const ResourceList hard = parseList(statusList(quotas[i], "hard"));
    const ResourceList used = parseList(statusList(quotas[i], "used"));
    const ResourceList requested = mask(delta, names(hard));
    if (requested.empty()) continue;
    const ResourceList total = add(used, requested);
    std::vector<std::string> exceeded;
    if (!lessThanOrEqual(mask(total, names(requested)), hard, &exceeded))
      throw forbidden(qualifiedResource, name,
                      "exceeded quota: " + quotaName(quotas[i]) +
                          ", requested: " + prettyPrint(mask(requested, exceeded)) +
                          ", used: " + prettyPrint(mask(used, exceeded)) +
                          ", limited: " + prettyPrint(mask(hard, exceeded)));
    newUsed[i] = total;
    changed.push_back(i);
  }
  for (size_t i : changed) {
    json::value& status = quotas[i]["status"];
    if (!status.is_object()) status.emplace_object();
    // Only the charged names are rewritten; the others keep their stored text.
    json::value& used = status.as_object()["used"];
    if (!used.is_object()) used.emplace_object();
    for (const auto& [k, q] : mask(newUsed[i], names(mask(delta, names(newUsed[i])))))
      used.as_object()[k] = q.toString();
  }
  return changed;
}

}  // namespace skiff::apiserver::quotaadmission
