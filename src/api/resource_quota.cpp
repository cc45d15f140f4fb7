#include "api/resource_quota.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "common/ids.h"

namespace skiff::api::quota {

namespace json = boost::json;

namespace {

const json::object* child(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}
const json::array* childArray(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}
std::string str(const json::object* o, std::string_view key) {
  if (!o) return "";
  const json::value* v = o->if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

Quantity one() { return Quantity::fromValue(1); }

const char* kStorageClassSuffix = ".storageclass.storage.k8s.io/";

// The names the pod evaluator accounts (upstream's podResources), besides the hugepages and
// extended-resource families handled in accounts().
const std::set<std::string> kPodNames = {"count/pods",
                                         "cpu",
                                         "memory",
                                         "ephemeral-storage",
                                         "pods",
                                         "requests.cpu",
                                         "requests.memory",
                                         "requests.ephemeral-storage",
                                         "limits.cpu",
                                         "limits.memory",
                                         "limits.ephemeral-storage"};
// Upstream's validationSet: quota names whose presence makes every container state a value.
const std::set<std::string> kConstrainedNames = {
    "cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"};

// An extended resource (upstream's IsExtendedResourceName): a domain-qualified name outside
// kubernetes.io, not itself a "requests." name.
bool isExtendedResource(std::string_view name) {
  auto slash = name.find('/');
  if (slash == std::string_view::npos) return false;
  std::string_view domain = name.substr(0, slash);
  if (domain == "kubernetes.io" ||
      (domain.size() > 14 && domain.substr(domain.size() - 14) == ".kubernetes.io"))
    return false;
  return !startsWith(name, "requests.");
}

// Legacy object-count names of the core kinds ("secrets" as well as "count/secrets").
const std::map<std::string, std::string> kLegacyCounts = {
    {"pods", "pods"},
    {"services", "services"},
    {"secrets", "secrets"},
    {"configmaps", "configmaps"},
    {"persistentvolumeclaims", "persistentvolumeclaims"},
    {"replicationcontrollers", "replicationcontrollers"},
    {"resourcequotas", "resourcequotas"}};

// upstream's podComputeUsageHelper: the quota names a set of requests and limits charges.
ResourceList computeUsage(const ResourceList& requests, const ResourceList& limits) {
  ResourceList out;
  out["pods"] = one();
  for (const char* r : {"cpu", "memory", "ephemeral-storage"}) {
    if (auto it = requests.find(r); it != requests.end()) {
      out[r] = it->second;
      out[std::string("requests.") + r] = it->second;
    }
    if (auto it = limits.find(r); it != limits.end()) out[std::string("limits.") + r] = it->second;
  }
  for (const auto& [name, q] : requests) {
    if (startsWith(name, "hugepages-")) {
      out[name] = q;
      out["requests." + name] = q;
    }
    if (isExtendedResource(name)) out["requests." + name] = q;
  }
  return out;
}

ResourceList containerList(const json::object& container, const char* which) {
  const json::object* res = child(container, "resources");
  return parseList(res ? child(*res, which) : nullptr);
}

void maxInto(ResourceList& into, const ResourceList& other) {
  for (const auto& [k, v] : other) {
    auto it = into.find(k);
    if (it == into.end() || it->second < v) into[k] = v;
  }
}

ResourceList aggregate(const json::object& pod, const char* which, bool withOverhead,
                       bool onlyExisting) {
  const json::object* spec = child(pod, "spec");
  if (!spec) return {};
  ResourceList sum;
  if (const json::array* cs = childArray(*spec, "containers"))
    for (const auto& c : *cs)
      if (c.is_object()) sum = add(sum, containerList(c.as_object(), which));
  ResourceList initMax, sidecars;
  if (const json::array* cs = childArray(*spec, "initContainers")) {
    for (const auto& c : *cs) {
      if (!c.is_object()) continue;
      ResourceList own = containerList(c.as_object(), which);
      if (str(&c.as_object(), "restartPolicy") == "Always") {
        // A sidecar runs next to the regular containers and every later init container.
        sum = add(sum, own);
        sidecars = add(sidecars, own);
        maxInto(initMax, sidecars);
      } else {
        maxInto(initMax, add(own, sidecars));
      }
    }
  }
  maxInto(sum, initMax);
  if (withOverhead) {
    for (const auto& [k, v] : parseList(child(*spec, "overhead"))) {
      // Limits get the overhead only for resources that have a limit (upstream's PodLimits).
      if (onlyExisting && !sum.count(k)) continue;
      sum[k] = sum.count(k) ? sum[k] + v : v;
    }
  }
  return sum;
}

// upstream's QuotaV1Pod: terminal pods, and pods past their deletion grace period, no longer
// use compute resources (their node may be gone and never report them terminal).
bool podUsesResources(const json::object& pod, std::chrono::system_clock::time_point now) {
  const std::string phase = str(child(pod, "status"), "phase");
  if (phase == "Succeeded" || phase == "Failed") return false;
  const json::object* meta = child(pod, "metadata");
  const std::string deletion = str(meta, "deletionTimestamp");
  if (!deletion.empty() && meta) {
    const json::value* grace = meta->if_contains("deletionGracePeriodSeconds");
    std::chrono::system_clock::time_point at;
    if (grace && grace->is_int64() && parseTime(deletion, at) &&
        now > at + std::chrono::seconds(grace->as_int64()))
      return false;
  }
  return true;
}

// A quota scope selector requirement: scopeName, operator, values.
struct ScopeRequirement {
  std::string scope, op;
  std::vector<std::string> values;
};

std::vector<ScopeRequirement> scopeRequirements(const json::object& quota) {
  std::vector<ScopeRequirement> out;
  const json::object* spec = child(quota, "spec");
  if (!spec) return out;
  if (const json::array* scopes = childArray(*spec, "scopes"))
    for (const auto& s : *scopes)
      if (s.is_string()) out.push_back({std::string(s.as_string()), "Exists", {}});
  if (const json::object* sel = child(*spec, "scopeSelector"))
    if (const json::array* exprs = childArray(*sel, "matchExpressions"))
      for (const auto& e : *exprs) {
        if (!e.is_object()) continue;
        ScopeRequirement r{str(&e.as_object(), "scopeName"), str(&e.as_object(), "operator"), {}};
        if (const json::array* vals = childArray(e.as_object(), "values"))
          for (const auto& v : *vals)
            if (v.is_string()) r.values.emplace_back(v.as_string());
        out.push_back(std::move(r));
      }
  return out;
}

// A pod with affinity terms that name other namespaces (upstream's usesCrossNamespacePodAffinity).
bool crossNamespaceAffinity(const json::object& spec) {
  const json::object* affinity = child(spec, "affinity");
  if (!affinity) return false;
  for (const char* kind : {"podAffinity", "podAntiAffinity"}) {
    const json::object* a = child(*affinity, kind);
    if (!a) continue;
    auto crosses = [](const json::object& term) {
      const json::array* ns = childArray(term, "namespaces");
      return (ns && !ns->empty()) || child(term, "namespaceSelector") != nullptr;
    };
    if (const json::array* req = childArray(*a, "requiredDuringSchedulingIgnoredDuringExecution"))
      for (const auto& t : *req)
        if (t.is_object() && crosses(t.as_object())) return true;
    if (const json::array* pref = childArray(*a, "preferredDuringSchedulingIgnoredDuringExecution"))
      for (const auto& w : *pref)
        if (w.is_object())
          if (const json::object* t = child(w.as_object(), "podAffinityTerm"); t && crosses(*t))
            return true;
  }
  return false;
}

bool podMatchesScope(const ScopeRequirement& r, const json::object& pod) {
  const json::object* specPtr = child(pod, "spec");
  static const json::object kEmpty;
  const json::object& spec = specPtr ? *specPtr : kEmpty;
  if (r.scope == "Terminating" || r.scope == "NotTerminating") {
    const json::value* ads = spec.if_contains("activeDeadlineSeconds");
    const bool terminating = ads && ads->is_int64() && ads->as_int64() >= 0;
    return r.scope == "Terminating" ? terminating : !terminating;
  }
  if (r.scope == "BestEffort" || r.scope == "NotBestEffort") {
    const bool bestEffort = podQosClass(pod) == "BestEffort";
    return r.scope == "BestEffort" ? bestEffort : !bestEffort;
  }
  if (r.scope == "CrossNamespacePodAffinity") return crossNamespaceAffinity(spec);
  if (r.scope == "PriorityClass") {
    // Matched like a label selector over {PriorityClass: <class>}, the label absent when the
    // pod names no class.
    const std::string cls = str(&spec, "priorityClassName");
    const bool in = std::find(r.values.begin(), r.values.end(), cls) != r.values.end();
    if (r.op == "Exists") return !cls.empty();
    if (r.op == "DoesNotExist") return cls.empty();
    if (r.op == "In") return !cls.empty() && in;
    if (r.op == "NotIn") return cls.empty() || !in;
    return false;
  }
  return false;
}

}  // namespace

ResourceList parseList(const json::object* list) {
  ResourceList out;
  if (!list) return out;
  for (const auto& kv : *list) {
    std::optional<Quantity> q;
    if (kv.value().is_string())
      q = Quantity::parse(std::string(kv.value().as_string()));
    else if (kv.value().is_int64())
      q = Quantity::fromValue(kv.value().as_int64());
    else if (kv.value().is_uint64())
      q = Quantity::fromValue(static_cast<int64_t>(kv.value().as_uint64()));
    if (q) out[std::string(kv.key())] = *q;
  }
  return out;
}

json::object toJson(const ResourceList& list) {
  json::object out;
  for (const auto& [k, v] : list) out[k] = v.toString();
  return out;
}

std::string prettyPrint(const ResourceList& list) {
  std::string out;
  for (const auto& [k, v] : list) out += (out.empty() ? "" : ",") + k + "=" + v.toString();
  return out;
}

ResourceList add(const ResourceList& a, const ResourceList& b) {
  ResourceList out = a;
  for (const auto& [k, v] : b) {
    auto it = out.find(k);
    // Adding to nothing keeps the addend's format ("1Gi", not "1073741824").
    if (it == out.end() || it->second.isZero())
      out[k] = it == out.end() ? v : v + it->second;
    else
      it->second += v;
  }
  return out;
}

ResourceList subtractNonNegative(const ResourceList& a, const ResourceList& b) {
  ResourceList out = a;
  for (const auto& [k, v] : b) {
    auto it = out.find(k);
    Quantity diff = it == out.end() ? Quantity() - v : it->second - v;
    out[k] = diff.sign() < 0 ? Quantity() : diff;
  }
  return out;
}

ResourceList mask(const ResourceList& list, const std::vector<std::string>& names) {
  ResourceList out;
  for (const auto& n : names)
    if (auto it = list.find(n); it != list.end()) out.insert(*it);
  return out;
}

std::vector<std::string> names(const ResourceList& list) {
  std::vector<std::string> out;
  for (const auto& [k, v] : list) out.push_back(k);
  return out;
}

bool lessThanOrEqual(const ResourceList& a, const ResourceList& b,
                     std::vector<std::string>* exceeded) {
  bool ok = true;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it != b.end() && it->second < v) {
      ok = false;
      if (exceeded) exceeded->push_back(k);
    }
  }
  return ok;
}

std::string countName(const GroupResource& gr) {
  return "count/" + gr.resource + (gr.group.empty() ? "" : "." + gr.group);
}

std::vector<GroupResource> kindsOf(const std::string& name) {
  if (startsWith(name, "count/")) {
    std::string rest = name.substr(6);
    auto dot = rest.find('.');
    if (dot == std::string::npos) return {{"", rest}};
    return {{rest.substr(dot + 1), rest.substr(0, dot)}};
  }
  const GroupResource pods{"", "pods"}, services{"", "services"},
      claims{"", "persistentvolumeclaims"};
  if (accounts(pods, name)) return {pods};
  if (accounts(services, name)) return {services};
  if (accounts(claims, name)) return {claims};
  if (auto it = kLegacyCounts.find(name); it != kLegacyCounts.end()) return {{"", it->second}};
  return {};
}

bool accounts(const GroupResource& gr, const std::string& name) {
  if (name == countName(gr)) return true;
  if (!gr.group.empty()) return false;
  if (gr.resource == "pods") {
    if (kPodNames.count(name)) return true;
    if (startsWith(name, "hugepages-") || startsWith(name, "requests.hugepages-")) return true;
    return startsWith(name, "requests.") && isExtendedResource(name.substr(9));
  }
  if (gr.resource == "services")
    return name == "services" || name == "services.nodeports" || name == "services.loadbalancers";
  if (gr.resource == "persistentvolumeclaims") {
    if (name == "persistentvolumeclaims" || name == "requests.storage") return true;
    auto at = name.find(kStorageClassSuffix);
    if (at == std::string::npos) return false;
    std::string what = name.substr(at + std::string_view(kStorageClassSuffix).size());
    return what == "requests.storage" || what == "persistentvolumeclaims";
  }
  auto it = kLegacyCounts.find(name);
  return it != kLegacyCounts.end() && it->second == gr.resource;
}

std::vector<std::string> matchingNames(const GroupResource& gr,
                                       const std::vector<std::string>& hard) {
  std::vector<std::string> out;
  for (const auto& n : hard)
    if (accounts(gr, n)) out.push_back(n);
  return out;
}

bool chargedOnUpdate(const GroupResource& gr) {
  return gr.group.empty() && (gr.resource == "services" || gr.resource == "persistentvolumeclaims");
}

ResourceList podRequests(const json::object& pod, bool withOverhead) {
  return aggregate(pod, "requests", withOverhead, false);
}

ResourceList podLimits(const json::object& pod, bool withOverhead) {
  return aggregate(pod, "limits", withOverhead, true);
}

ResourceList usage(const GroupResource& gr, const json::object& obj,
                   std::chrono::system_clock::time_point now) {
  ResourceList out;
  out[countName(gr)] = one();
  if (!gr.group.empty()) return out;
  if (gr.resource == "pods") {
    if (!podUsesResources(obj, now)) return out;
    return add(out, computeUsage(podRequests(obj, true), podLimits(obj, true)));
  }
  if (gr.resource == "services") {
    out["services"] = one();
    const json::object* spec = child(obj, "spec");
    const std::string type = str(spec, "type");
    const json::array* ports = spec ? childArray(*spec, "ports") : nullptr;
    const int64_t n = ports ? static_cast<int64_t>(ports->size()) : 0;
    if (type == "NodePort") out["services.nodeports"] = Quantity::fromValue(n);
    if (type == "LoadBalancer") {
      // Without allocated node ports only the ports that name one explicitly use one.
      const json::value* alloc = spec->if_contains("allocateLoadBalancerNodePorts");
      int64_t used = n;
      if (alloc && alloc->is_bool() && !alloc->as_bool()) {
        used = 0;
        for (const auto& p : *ports)
          if (p.is_object())
            if (auto* np = p.as_object().if_contains("nodePort");
                np && np->is_int64() && np->as_int64() != 0)
              ++used;
      }
      out["services.nodeports"] = Quantity::fromValue(used);
      out["services.loadbalancers"] = one();
    }
    return out;
  }
  if (gr.resource == "persistentvolumeclaims") {
    out["persistentvolumeclaims"] = one();
    const json::object* spec = child(obj, "spec");
    std::string cls = str(spec, "storageClassName");
    if (cls.empty()) {  // the beta annotation older clients set
      const json::object* meta = child(obj, "metadata");
      cls = str(meta ? child(*meta, "annotations") : nullptr,
                "volume.beta.kubernetes.io/storage-class");
    }
    if (!cls.empty()) out[cls + kStorageClassSuffix + "persistentvolumeclaims"] = one();
    const json::object* res = spec ? child(*spec, "resources") : nullptr;
    ResourceList req = parseList(res ? child(*res, "requests") : nullptr);
    // An expansion in progress holds the larger of the request and what was allocated.
    const json::object* status = child(obj, "status");
    ResourceList allocated = parseList(status ? child(*status, "allocatedResources") : nullptr);
    std::optional<Quantity> storage;
    if (auto it = req.find("storage"); it != req.end()) storage = it->second;
    if (auto it = allocated.find("storage");
        it != allocated.end() && (!storage || *storage < it->second))
      storage = it->second;
    if (storage) {
      out["requests.storage"] = *storage;
      if (!cls.empty()) out[cls + kStorageClassSuffix + "requests.storage"] = *storage;
    }
    return out;
  }
  for (const auto& [legacy, resource] : kLegacyCounts)
    if (resource == gr.resource) out[legacy] = one();
  return out;
}

bool scopesMatch(const json::object& quota, const GroupResource& gr, const json::object& obj) {
  auto reqs = scopeRequirements(quota);
  if (reqs.empty()) return true;
  if (!(gr.group.empty() && gr.resource == "pods")) return false;
  for (const auto& r : reqs)
    if (!podMatchesScope(r, obj)) return false;
  return true;
}

std::string podConstraints(const std::vector<std::string>& required, const json::object& pod) {
  std::set<std::string> needed;
  for (const auto& r : required)
    if (kConstrainedNames.count(r)) needed.insert(r);
  if (needed.empty()) return "";
  std::map<std::string, std::set<std::string>> missing;  // resource → container names
  const json::object* spec = child(pod, "spec");
  for (const char* list : {"containers", "initContainers"}) {
    const json::array* cs = spec ? childArray(*spec, list) : nullptr;
    if (!cs) continue;
    for (const auto& c : *cs) {
      if (!c.is_object()) continue;
      ResourceList u = computeUsage(containerList(c.as_object(), "requests"),
                                    containerList(c.as_object(), "limits"));
      for (const auto& n : needed)
        if (!u.count(n)) missing[n].insert(str(&c.as_object(), "name"));
    }
  }
  std::string out;
  for (const auto& [resource, containers] : missing) {
    std::string list;
    for (const auto& c : containers) list += (list.empty() ? "" : ",") + c;
    out += (out.empty() ? "" : "; ") + resource + " for: " + list;
  }
  return out.empty() ? "" : "must specify " + out;
}

}  // namespace skiff::api::quota
