#include "apiserver/limit_ranger.h"

#include <boost/json.hpp>
#include <cstdio>
#include <set>
#include <vector>

#include "api/resource_quota.h"

namespace skiff::apiserver::limitranger {

namespace json = boost::json;
using api::Quantity;
using api::quota::ResourceList;

namespace {

const json::object* child(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}
std::string str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// The range's items of one type ("Container", "Pod", "PersistentVolumeClaim").
std::vector<const json::object*> itemsOfType(const json::object& range, std::string_view type) {
  std::vector<const json::object*> out;
  const json::object* spec = child(range, "spec");
  const json::value* limits = spec ? spec->if_contains("limits") : nullptr;
  if (!limits || !limits->is_array()) return out;
  for (const auto& item : limits->as_array())
    if (item.is_object() && str(item.as_object(), "type") == type) out.push_back(&item.as_object());
  return out;
}

ResourceList listOf(const json::object& item, std::string_view field) {
  return api::quota::parseList(child(item, field));
}

// upstream's requestLimitEnforcedValues: compare in thousandths unless that overflows.
struct Compared {
  int64_t request, limit, enforced;
};
Compared compared(const Quantity* request, const Quantity* limit, const Quantity& enforced) {
  constexpr int64_t kMaxMilli = INT64_MAX / 1000;
  Compared c{request ? request->value() : 0, limit ? limit->value() : 0, enforced.value()};
  if (c.request <= kMaxMilli && c.limit <= kMaxMilli && c.enforced <= kMaxMilli)
    c = {request ? request->milliValue() : 0, limit ? limit->milliValue() : 0,
         enforced.milliValue()};
  return c;
}

const Quantity* find(const ResourceList& l, const std::string& name) {
  auto it = l.find(name);
  return it == l.end() ? nullptr : &it->second;
}

using Errors = std::vector<std::string>;

void minConstraint(const std::string& type, const std::string& name, const Quantity& enforced,
                   const ResourceList& requests, const ResourceList& limits, Errors& errs) {
  const Quantity* req = find(requests, name);
  const Quantity* lim = find(limits, name);
  const Compared c = compared(req, lim, enforced);
  const std::string head = "minimum " + name + " usage per " + type + " is " + enforced.toString();
  if (!req)
    errs.push_back(head + ".  No request is specified");
  else if (c.request < c.enforced)
    errs.push_back(head + ", but request is " + req->toString());
  else if (lim && c.limit < c.enforced)
    errs.push_back(head + ", but limit is " + lim->toString());
}

void maxConstraint(const std::string& type, const std::string& name, const Quantity& enforced,
                   const ResourceList& requests, const ResourceList& limits, Errors& errs) {
  const Quantity* req = find(requests, name);
  const Quantity* lim = find(limits, name);
  const Compared c = compared(req, lim, enforced);
  const std::string head = "maximum " + name + " usage per " + type + " is " + enforced.toString();
  if (!lim)
    errs.push_back(head + ".  No limit is specified");
  else if (c.limit > c.enforced)
    errs.push_back(head + ", but limit is " + lim->toString());
  else if (req && c.request > c.enforced)
    errs.push_back(head + ", but request is " + req->toString());
}

// Claims: limits are not user input, so max applies to the request.
void maxRequestConstraint(const std::string& type, const std::string& name,
                          const Quantity& enforced, const ResourceList& requests, Errors& errs) {
  const Quantity* req = find(requests, name);
  const Compared c = compared(req, nullptr, enforced);
  const std::string head = "maximum " + name + " usage per " + type + " is " + enforced.toString();
  if (!req)
    errs.push_back(head + ".  No request is specified");
  else if (c.request > c.enforced)
    errs.push_back(head + ", but request is " + req->toString());
}

void ratioConstraint(const std::string& type, const std::string& name, const Quantity& enforced,
                     const ResourceList& requests, const ResourceList& limits, Errors& errs) {
  const Quantity* req = find(requests, name);
  const Quantity* lim = find(limits, name);
  const Compared c = compared(req, lim, enforced);
  const std::string head =
      name + " max limit to request ratio per " + type + " is " + enforced.toString();
  if (!req || c.request == 0) {
    errs.push_back(head + ", but no request is specified or request is 0");
    return;
  }
  if (!lim || c.limit == 0) {
    errs.push_back(head + ", but no limit is specified or limit is 0");
    return;
  }
  const double observed = static_cast<double>(c.limit) / static_cast<double>(c.request);
  double scaled = observed, max = static_cast<double>(enforced.value());
  if (enforced.value() <= INT64_MAX / 1000) {
    scaled = observed * 1000;
    max = static_cast<double>(enforced.milliValue());
  }
  if (scaled > max) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%f", observed);  // Go's %f
    errs.push_back(head + ", but provided ratio is " + buf);
  }
}

// min, max and maxLimitRequestRatio of one item over one set of requests and limits.
void checkItem(const json::object& item, const std::string& type, const ResourceList& requests,
               const ResourceList& limits, Errors& errs) {
  for (const auto& [name, q] : listOf(item, "min"))
    minConstraint(type, name, q, requests, limits, errs);
  for (const auto& [name, q] : listOf(item, "max"))
    maxConstraint(type, name, q, requests, limits, errs);
  for (const auto& [name, q] : listOf(item, "maxLimitRequestRatio"))
    ratioConstraint(type, name, q, requests, limits, errs);
}

// upstream's utilerrors.NewAggregate(...).Error(): duplicates once, brackets for several.
std::string aggregate(const Errors& errs) {
  std::vector<std::string> unique;
  std::set<std::string> seen;
  for (const auto& e : errs)
    if (seen.insert(e).second) unique.push_back(e);
  if (unique.empty()) return "";
  if (unique.size() == 1) return unique[0];
  std::string out = "[";
  for (size_t i = 0; i < unique.size(); ++i) out += (i ? ", " : "") + unique[i];
  return out + "]";
}

ResourceList containerList(const json::object& container, const char* which) {
  const json::object* res = child(container, "resources");
  return api::quota::parseList(res ? child(*res, which) : nullptr);
}

// Sets the defaults a container lacks; returns the annotation parts it earned.
void mergeContainer(json::object& container, const ResourceList& defLimits,
                    const ResourceList& defRequests, const std::string& what,
                    std::vector<std::string>& notes) {
  const std::string name = str(container, "name");
  auto merge = [&](const ResourceList& defaults, const char* field, const char* noun) {
    if (defaults.empty()) return;
    std::vector<std::string> set;
    json::value& resources = container["resources"];
    if (!resources.is_object()) resources.emplace_object();
    json::object current =
        child(resources.as_object(), field) ? *child(resources.as_object(), field) : json::object{};
    for (const auto& [k, q] : defaults) {
      if (current.contains(k)) continue;
      current[k] = q.toString();
      set.push_back(k);
    }
    if (set.empty()) return;
    resources.as_object()[field] = std::move(current);
    std::string note;
    for (const auto& k : set) note += (note.empty() ? "" : ", ") + k;
    notes.push_back(note + " " + noun + " for " + what + " " + name);
  };
  // Upstream lists the requests set before the limits set.
  merge(defRequests, "requests", "request");
  merge(defLimits, "limits", "limit");
}

}  // namespace

bool applyPodDefaults(const json::object& range, json::object& pod) {
  ResourceList defLimits, defRequests;
  for (const json::object* item : itemsOfType(range, "Container")) {
    for (const auto& [k, q] : listOf(*item, "default")) defLimits[k] = q;
    for (const auto& [k, q] : listOf(*item, "defaultRequest")) defRequests[k] = q;
  }
  if (defLimits.empty() && defRequests.empty()) return false;
  json::value* spec = pod.if_contains("spec");
  if (!spec || !spec->is_object()) return false;
  std::vector<std::string> notes;
  for (auto [list, what] :
       {std::pair{"containers", "container"}, std::pair{"initContainers", "init container"}}) {
    json::value* cs = spec->as_object().if_contains(list);
    if (!cs || !cs->is_array()) continue;
    for (auto& c : cs->as_array())
      if (c.is_object()) mergeContainer(c.as_object(), defLimits, defRequests, what, notes);
  }
  if (notes.empty()) return false;
  std::string value = "LimitRanger plugin set: ";
  for (size_t i = 0; i < notes.size(); ++i) value += (i ? "; " : "") + notes[i];
  json::value& meta = pod["metadata"];
  if (!meta.is_object()) meta.emplace_object();
  json::value& annotations = meta.as_object()["annotations"];
  if (!annotations.is_object()) annotations.emplace_object();
  annotations.as_object()[kAnnotation] = value;
  return true;
}

std::string validatePod(const json::object& range, const json::object& pod) {
  Errors errs;
  const json::object* spec = child(pod, "spec");
  const json::object* rangeSpec = child(range, "spec");
  const json::value* limits = rangeSpec ? rangeSpec->if_contains("limits") : nullptr;
  if (!spec || !limits || !limits->is_array()) return "";
  // Items in the range's order, each by its type, as upstream reports them.
  for (const auto& entry : limits->as_array()) {
    if (!entry.is_object()) continue;
    const json::object& item = entry.as_object();
    const std::string type = str(item, "type");
    if (type == "Container") {
      for (const char* list : {"containers", "initContainers"}) {
        const json::value* cs = spec->if_contains(list);
        if (!cs || !cs->is_array()) continue;
        for (const auto& c : cs->as_array())
          if (c.is_object())
            checkItem(item, "Container", containerList(c.as_object(), "requests"),
                      containerList(c.as_object(), "limits"), errs);
      }
    } else if (type == "Pod") {
      checkItem(item, "Pod", api::quota::podRequests(pod, false), api::quota::podLimits(pod, false),
                errs);
    }
  }
  return aggregate(errs);
}

std::string validateClaim(const json::object& range, const json::object& claim) {
  Errors errs;
  const json::object* spec = child(claim, "spec");
  const json::object* res = spec ? child(*spec, "resources") : nullptr;
  const ResourceList requests = api::quota::parseList(res ? child(*res, "requests") : nullptr);
  for (const json::object* item : itemsOfType(range, "PersistentVolumeClaim")) {
    for (const auto& [name, q] : listOf(*item, "min"))
      minConstraint("PersistentVolumeClaim", name, q, requests, {}, errs);
    for (const auto& [name, q] : listOf(*item, "max"))
      maxRequestConstraint("PersistentVolumeClaim", name, q, requests, errs);
  }
  return aggregate(errs);
}

}  // namespace skiff::apiserver::limitranger
