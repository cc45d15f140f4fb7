// LimitRange (upstream pkg/registry/core/limitrange): container defaults from max and min,
// validation (upstream's ValidateLimitRange).
#include <boost/json.hpp>
#include <cstdio>
#include <map>
#include <set>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"
#include "api/quantity.h"

namespace skiff::api {

namespace defaulting {
namespace {

void defaultLimitRange(json::object& lr) {
  forEachObject(ensureObject(lr, "spec"), "limits", [](json::object& item) {
    if (str(item, "type") != "Container") return;
    // Work on copies and write back: inserts into `item` relocate its members.
    json::object def =
        childObject(item, "default") ? *childObject(item, "default") : json::object{};
    json::object defReq =
        childObject(item, "defaultRequest") ? *childObject(item, "defaultRequest") : json::object{};
    json::object max = childObject(item, "max") ? *childObject(item, "max") : json::object{};
    json::object min = childObject(item, "min") ? *childObject(item, "min") : json::object{};
    // Upstream's order: a missing default limit is the max; a missing default request is
    // the default limit, else the min.
    for (const auto& kv : max)
      if (!def.contains(kv.key())) def[kv.key()] = kv.value();
    for (const auto& kv : def)
      if (!defReq.contains(kv.key())) defReq[kv.key()] = kv.value();
    for (const auto& kv : min)
      if (!defReq.contains(kv.key())) defReq[kv.key()] = kv.value();
    item["default"] = std::move(def);
    item["defaultRequest"] = std::move(defReq);
  });
}

}  // namespace
}  // namespace defaulting

namespace json = boost::json;

namespace validation {
namespace {

using Amounts = std::map<std::string, Quantity>;

// The amounts of one of an item's lists; names are collected into `keys`.
Amounts amounts(const json::object& item, std::string_view field, std::set<std::string>& keys) {
  Amounts out;
  for (const auto& kv : obj(item, field)) {
    std::optional<Quantity> q;
    if (kv.value().is_string()) q = Quantity::parse(std::string(kv.value().as_string()));
    if (kv.value().is_int64()) q = Quantity::fromValue(kv.value().as_int64());
    if (!q) continue;  // the decoder refused malformed amounts
    out.emplace(std::string(kv.key()), *q);
    keys.insert(std::string(kv.key()));
  }
  return out;
}

// Resources whose requests must equal their limits (upstream's IsOvercommitAllowed is false):
// hugepages and extended resources.
bool overcommitAllowed(const std::string& name) {
  if (name.rfind("hugepages-", 0) == 0) return false;
  auto slash = name.find('/');
  if (slash == std::string::npos) return true;
  std::string domain = name.substr(0, slash);
  return domain == "kubernetes.io" ||
         (domain.size() > 14 && domain.substr(domain.size() - 14) == ".kubernetes.io");
}

// upstream's ValidateLimitRange: one item per type, and per resource
// min <= defaultRequest <= default <= max, ratio >= 1 and within max/min.
void validateLimitRange(const json::object& lr, const json::object*, Errors& errs) {
  const json::array& limits = arr(obj(lr, "spec"), "limits");
  std::set<std::string> types;
  for (size_t i = 0; i < limits.size(); ++i) {
    if (!limits[i].is_object()) continue;
    const json::object& item = limits[i].as_object();
    const std::string p = index("spec.limits", i);
    const std::string type = str(item, "type");
    if (type.empty()) errs.required(child(p, "type"));
    if (!types.insert(type).second) errs.duplicate(child(p, "type"), quote(type));
    std::set<std::string> keys;
    const Amounts max = amounts(item, "max", keys);
    const Amounts min = amounts(item, "min", keys);
    Amounts defaults, defaultRequests;
    if (type == "Pod") {
      if (!obj(item, "default").empty())
        errs.forbidden(child(p, "default"), "may not be specified when `type` is 'Pod'");
      if (!obj(item, "defaultRequest").empty())
        errs.forbidden(child(p, "defaultRequest"), "may not be specified when `type` is 'Pod'");
    } else {
      defaults = amounts(item, "default", keys);
      defaultRequests = amounts(item, "defaultRequest", keys);
    }
    if (type == "PersistentVolumeClaim" && !min.count("storage") && !max.count("storage"))
      errs.required(child(p, "limits"),
                    "either minimum or maximum storage value is required, but neither was "
                    "provided");
    const Amounts ratios = amounts(item, "maxLimitRequestRatio", keys);
    for (const auto& k : keys) {
      auto get = [&](const Amounts& a) -> const Quantity* {
        auto it = a.find(k);
        return it == a.end() ? nullptr : &it->second;
      };
      const Quantity *mn = get(min), *mx = get(max), *def = get(defaults),
                     *defReq = get(defaultRequests), *ratio = get(ratios);
      auto s = [](const Quantity* q) { return q->toString(); };
      if (mn && mx && *mn > *mx)
        errs.invalid(key(child(p, "min"), k), quote(s(mn)),
                     "min value " + s(mn) + " is greater than max value " + s(mx));
      if (defReq && mn && *mn > *defReq)
        errs.invalid(key(child(p, "defaultRequest"), k), quote(s(defReq)),
                     "min value " + s(mn) + " is greater than default request value " + s(defReq));
      if (defReq && mx && *defReq > *mx)
        errs.invalid(key(child(p, "defaultRequest"), k), quote(s(defReq)),
                     "default request value " + s(defReq) + " is greater than max value " + s(mx));
      if (defReq && def && *defReq > *def)
        errs.invalid(key(child(p, "defaultRequest"), k), quote(s(defReq)),
                     "default request value " + s(defReq) +
                         " is greater than default limit value " + s(def));
      if (def && mn && *mn > *def)
        errs.invalid(key(child(p, "default"), k), quote(s(mn)),
                     "min value " + s(mn) + " is greater than default value " + s(def));
      if (def && mx && *def > *mx)
        errs.invalid(key(child(p, "default"), k), quote(s(mx)),
                     "default value " + s(def) + " is greater than max value " + s(mx));
      if (ratio && *ratio < Quantity::fromValue(1))
        errs.invalid(key(child(p, "maxLimitRequestRatio"), k), quote(s(ratio)),
                     "ratio " + s(ratio) + " is less than 1");
      if (ratio && mn && mx && !mn->isZero()) {
        const double limit = static_cast<double>(mx->milliValue()) / mn->milliValue();
        if (static_cast<double>(ratio->milliValue()) / 1000 > limit) {
          char buf[64];
          std::snprintf(buf, sizeof buf, "%f", limit);  // Go's %f
          errs.invalid(key(child(p, "maxLimitRequestRatio"), k), quote(s(ratio)),
                       "ratio " + s(ratio) + " is greater than max/min = " + buf);
        }
      }
      if (!overcommitAllowed(k) && def && defReq && *def != *defReq)
        errs.invalid(key(child(p, "defaultRequest"), k), quote(s(defReq)),
                     "default value " + s(def) + " must equal to defaultRequest value " +
                         s(defReq) + " in " + k);
    }
  }
}

}  // namespace
}  // namespace validation

// kinds/resource_quota.cpp: the other namespace resource policy kind, registered with this one
// (one entry in all.cpp's list for the pair).
void addResourceQuotaKinds(std::vector<KindStrategy>& out);

void addLimitRangeKinds(std::vector<KindStrategy>& out) {
  addResourceQuotaKinds(out);
  out.push_back({.group = "",
                 .kind = "LimitRange",
                 .defaults = defaulting::defaultLimitRange,
                 .validate = validation::validateLimitRange});
}

}  // namespace skiff::api
