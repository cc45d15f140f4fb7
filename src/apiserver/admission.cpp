#include "apiserver/admission.h"

#include <boost/json.hpp>
#include <chrono>
#include <random>
#include <thread>

#include "apiserver/auth/certificate_admission.h"
#include "apiserver/auth/node_restriction.h"
#include "apiserver/auth/rbac_escalation.h"
#include "apiserver/limit_ranger.h"
#include "apiserver/resource_quota_admission.h"
#include "apiserver/resource_store.h"
#include "apiserver/service_account_admission.h"
#include "apiserver/storage_admission.h"
#include "apiserver/strategy.h"
#include "common/api_error.h"
#include "common/ids.h"

namespace skiff::apiserver {

namespace json = boost::json;

namespace {
const char* kNamespaces = "/registry/core/namespaces/";
const char* kServices = "/registry/core/services/";
const char* kLimitRanges = "/registry/core/limitranges/";
const char* kResourceQuotas = "/registry/core/resourcequotas/";
const char* kStorageClasses = "/registry/storage.k8s.io/storageclasses/";

std::string str(const json::object& obj, std::string_view field) {
  const json::value* v = obj.if_contains(field);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// DefaultTolerationSeconds (upstream's admission plugin of that name): without it a pod on a
// node that stops reporting would be evicted by the taint eviction controller the moment the
// node is tainted; with it every pod rides out a short outage for N seconds. A toleration
// that already covers the taint (same key or an empty key = all keys, NoExecute or an empty
// effect = all effects) wins, whatever its operator or tolerationSeconds, as upstream.
void addDefaultTolerations(json::object& pod, int64_t notReadySeconds, int64_t unreachableSeconds) {
  json::value* specValue = pod.if_contains("spec");
  if (!specValue || !specValue->is_object()) return;  // validation reports the missing spec
  json::object& spec = specValue->as_object();
  json::value& tolValue = spec["tolerations"];
  if (tolValue.is_null()) tolValue.emplace_array();
  if (!tolValue.is_array()) return;  // malformed: leave it to validation
  json::array& tolerations = tolValue.as_array();
  auto covered = [&](std::string_view taintKey) {
    for (const auto& t : tolerations) {
      const json::object* tol = t.if_object();
      if (!tol) continue;
      std::string key = str(*tol, "key"), effect = str(*tol, "effect");
      if ((key == taintKey || key.empty()) && (effect == "NoExecute" || effect.empty()))
        return true;
    }
    return false;
  };
  bool notReady = covered("node.kubernetes.io/not-ready");
  bool unreachable = covered("node.kubernetes.io/unreachable");
  auto toleration = [](const char* key, int64_t seconds) {
    return json::object{{"key", key},
                        {"operator", "Exists"},
                        {"effect", "NoExecute"},
                        {"tolerationSeconds", seconds}};
  };
  if (!notReady) tolerations.push_back(toleration("node.kubernetes.io/not-ready", notReadySeconds));
  if (!unreachable)
    tolerations.push_back(toleration("node.kubernetes.io/unreachable", unreachableSeconds));
}
}  // namespace

// Priority (upstream's admission plugin of that name): a pod naming a PriorityClass gets
// that class's value and preemption policy in spec.priority/preemptionPolicy, which the
// scheduler's preemption reads; an unknown class is refused. Without a class, a
// globalDefault PriorityClass applies if there is one (else defaulting's priority 0 stays).
void Admission::resolvePriority(json::object& pod) {
  json::value* specValue = pod.if_contains("spec");
  if (!specValue || !specValue->is_object()) return;
  json::object& spec = specValue->as_object();
  std::string className = str(spec, "priorityClassName");
  const std::string prefix = "/registry/scheduling.k8s.io/priorityclasses/";
  auto& classes = caches_.cacheFor(prefix);
  std::shared_ptr<const json::object> cls;
  if (className.empty()) {
    auto page = classes.list(prefix, "", 0, nullptr, 0);
    for (const auto& [key, c] : page.items)
      if (auto* g = c->if_contains("globalDefault"); g && g->is_bool() && g->as_bool()) cls = c;
    if (!cls) return;
    if (auto* m = cls->if_contains("metadata"); m && m->is_object())
      spec["priorityClassName"] = str(m->as_object(), "name");
  } else {
    cls = classes.get(prefix + className);
    if (!cls) {
      caches_.syncWithStore();  // created a moment ago?
      cls = classes.get(prefix + className);
    }
  }
  int64_t value = 0;
  std::string policy = "PreemptLowerPriority";
  if (cls) {
    if (auto* v = cls->if_contains("value"); v && v->is_number()) value = v->to_number<int64_t>();
    if (auto p = str(*cls, "preemptionPolicy"); !p.empty()) policy = p;
  } else if (className == "system-node-critical") {
    value = 2000001000;  // the built-in classes upstream creates at bootstrap
  } else if (className == "system-cluster-critical") {
    value = 2000000000;
  } else {
    std::string name;
    if (auto* m = pod.if_contains("metadata"); m && m->is_object())
      name = str(m->as_object(), "name");
    throw forbidden("pods", name, "no PriorityClass with name " + className + " was found");
  }
  spec["priority"] = value;
  if (!spec.contains("preemptionPolicy")) spec["preemptionPolicy"] = policy;
}

Admission::Admission(CacheHub& caches, AdmissionOptions options)
    : caches_(caches), options_(std::move(options)), rbac_(caches), node_(caches) {}

void Admission::admitRbacWrite(const api::ResourceInfo& info, const json::object& obj,
                               const json::object* old, const UserInfo* user) const {
  rbac::confirmNoEscalation(rbac_, info, obj, old, user);
}

void Admission::admitCertificateRequestCreate(const api::ResourceInfo& info, json::object& obj,
                                              const UserInfo* user) const {
  rbac::admitCertificateRequestCreate(info, obj, user);
}

void Admission::admitCertificateRequestUpdate(const api::ResourceInfo& info,
                                              const std::string& subresource,
                                              const json::object& obj, const json::object& old,
                                              const UserInfo* user) const {
  rbac::admitCertificateRequestUpdate(rbac_, info, subresource, obj, old, user);
}

void Admission::admitNodeWrite(const api::ResourceInfo& info, const std::string& operation,
                               const std::string& subresource, const std::string& name,
                               const json::object* obj, const json::object* old,
                               const UserInfo* user) const {
  rbac::admitNodeWrite(info, operation, subresource, name, obj, old, user);
}

void Admission::requireLiveNamespace(const std::string& ns) {
  auto& namespaces = caches_.cacheFor(kNamespaces);
  auto obj = namespaces.get(kNamespaces + ns);
  if (!obj) {
    caches_.syncWithStore();  // it may have been created a moment ago
    obj = namespaces.get(kNamespaces + ns);
  }
  if (!obj) throw notFound("namespaces", ns);
  const json::value* status = obj->if_contains("status");
  if (status && status->is_object() && str(status->as_object(), "phase") == "Terminating") {
    ApiError e(
        403, "Forbidden",
        "unable to create new content in namespace " + ns + " because it is being terminated");
    e.detailName = ns;
    e.detailKind = "namespaces";
    throw e;
  }
}

void Admission::admitCreate(const api::ResourceInfo& info, json::object& obj, bool dryRun) {
  if (info.namespaced) {
    const auto& meta = obj.at("metadata").as_object();
    requireLiveNamespace(str(meta, "namespace"));
  }
  admitStorageCreate(info, obj);
  const api::KindStrategy* strategy = strategyOf(info);
  if (!strategy) return;
  if (strategy->admitsServiceAddresses && !dryRun) allocateServiceAddresses(obj);
  if (strategy->admitsPodScheduling) {
    resolvePriority(obj);
    addDefaultTolerations(obj, options_.defaultNotReadyTolerationSeconds,
                          options_.defaultUnreachableTolerationSeconds);
    applyLimitRangeDefaults(obj);
    if (options_.serviceAccount && info.plural == "pods")
      admitPodServiceAccount(
          obj,
          [this](const std::string& ns, const std::string& name) {
            return serviceAccount(ns, name);
          },
          [] { return randomNameSuffix(5); });
  }
}

// The ServiceAccount a pod names, from the cache (then the store). The `default` account is
// created by the serviceaccount controller right after its namespace, so a pod created at once
// in a new namespace would race it; for `default` only, this waits up to 2 s for it. (Upstream
// refuses and lets the client retry; kubectl does not.) The wait blocks the caller's thread:
// in `skiff server` the controller writes in process, so it does not need this loop.
std::shared_ptr<const json::object> Admission::serviceAccount(const std::string& ns,
                                                              const std::string& name) {
  const std::string prefix = "/registry/core/serviceaccounts/";
  auto& accounts = caches_.cacheFor(prefix);
  const std::string key = prefix + ns + "/" + name;
  if (auto sa = accounts.get(key)) return sa;
  caches_.syncWithStore();
  if (auto sa = accounts.get(key)) return sa;
  if (name != "default") return nullptr;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    caches_.syncWithStore();
    if (auto sa = accounts.get(key)) return sa;
  }
  return nullptr;
}

std::vector<ObjectPtr> Admission::limitRanges(const std::string& ns) {
  std::vector<ObjectPtr> out;
  auto page = caches_.cacheFor(kLimitRanges).list(kLimitRanges + ns + "/", "", 0, nullptr, 0);
  for (auto& [key, lr] : page.items) out.push_back(lr);
  return out;
}

// LimitRanger's mutating half (upstream runs it before validation, so defaulted values are
// validated like the client's own). The pod's QoS class was computed from what the client
// sent (prepareForCreate); defaults can change it, as upstream computes it after admission.
void Admission::applyLimitRangeDefaults(json::object& pod) {
  const json::value* meta = pod.if_contains("metadata");
  if (!meta || !meta->is_object()) return;
  bool changed = false;
  for (const auto& range : limitRanges(str(meta->as_object(), "namespace")))
    changed = limitranger::applyPodDefaults(*range, pod) || changed;
  if (!changed) return;
  if (json::value* status = pod.if_contains("status"); status && status->is_object())
    status->as_object()["qosClass"] = api::podQosClass(pod);
}

void Admission::admitLimitsAndQuota(const api::ResourceInfo& info, const std::string& subresource,
                                    const json::object& obj, const json::object* old, bool dryRun) {
  if (!info.namespaced || !subresource.empty()) return;
  const json::value* metaValue = obj.if_contains("metadata");
  if (!metaValue || !metaValue->is_object()) return;
  const json::object& meta = metaValue->as_object();
  // Upstream's LimitRanger leaves objects being deleted alone, and pod updates (containers'
  // resources are immutable).
  const json::value* oldMeta = old ? old->if_contains("metadata") : nullptr;
  const bool deleting =
      oldMeta && oldMeta->is_object() && oldMeta->as_object().contains("deletionTimestamp");
  const bool pod = info.group.empty() && info.plural == "pods" && !old;
  const bool claim = info.group.empty() && info.plural == "persistentvolumeclaims";
  if ((pod || claim) && !deleting) {
    for (const auto& range : limitRanges(str(meta, "namespace"))) {
      std::string why =
          pod ? limitranger::validatePod(*range, obj) : limitranger::validateClaim(*range, obj);
      if (!why.empty()) throw forbidden(info.qualifiedResource(), str(meta, "name"), why);
    }
  }
  chargeQuotas(info, obj, old, dryRun);
}

// Charges the write to the namespace's quotas. Each quota is read from the store (not the
// cache: a charge must build on the latest usage) and written back with a compare-and-swap
// on its revision; a lost race reads the quotas not yet charged again and re-checks them,
// as upstream's quota evaluator retries conflicting quotas.
void Admission::chargeQuotas(const api::ResourceInfo& info, const json::object& obj,
                             const json::object* old, bool dryRun) {
  if (!store_) return;
  const api::quota::GroupResource gr{info.group, info.plural};
  if (old && !api::quota::chargedOnUpdate(gr)) return;
  const json::value* metaValue = obj.if_contains("metadata");
  if (!metaValue || !metaValue->is_object()) return;
  const std::string ns = str(metaValue->as_object(), "namespace");
  const std::string name = str(metaValue->as_object(), "name");
  auto page = caches_.cacheFor(kResourceQuotas).list(kResourceQuotas + ns + "/", "", 0, nullptr, 0);
  if (page.items.empty()) return;  // the common case: no quota in the namespace
  std::set<std::string> charged;
  for (int attempt = 0; attempt < kMaxCasRetries; ++attempt) {
    std::vector<std::string> keys;
    std::vector<json::object> quotas;
    std::vector<int64_t> revisions;
    for (const auto& [key, cached] : page.items) {
      if (charged.count(key)) continue;
      auto kv = store_->get(key);
      if (!kv) continue;  // deleted meanwhile
      auto quota = CacheHub::decodeObject(*kv);
      if (!quota) continue;
      keys.push_back(key);
      quotas.push_back(std::move(*quota));
      revisions.push_back(kv->modRevision);
    }
    const std::vector<size_t> changed =
        quotaadmission::charge(quotas, gr, info.qualifiedResource(), name, obj, old);
    if (dryRun) return;
    bool lost = false;
    for (size_t i : changed) {
      const std::string value = encodeForStorage(quotas[i]);
      if (store_->update(keys[i], value, revisions[i]).succeeded)
        charged.insert(keys[i]);
      else
        lost = true;
    }
    if (!lost) return;
  }
  throw conflict("resourcequotas", "", "too many conflicting quota updates; please try again");
}

namespace {
// Upstream's normalizeClusterIPs for an update: a client that changed or cleared only the
// singular clusterIP meant the plural too, so validation then sees (and refuses) the change
// of the primary address instead of storing two fields that disagree.
void normalizeClusterIPs(json::object& spec, const json::object& oldSpec) {
  const std::string ip = str(spec, "clusterIP"), oldIp = str(oldSpec, "clusterIP");
  const json::value* ips = spec.if_contains("clusterIPs");
  const json::value* oldIps = oldSpec.if_contains("clusterIPs");
  const bool emptyIps = !ips || !ips->is_array() || ips->as_array().empty();
  if (oldIps && oldIps->is_array() && !oldIps->as_array().empty() && emptyIps && ip == oldIp) {
    spec["clusterIPs"] = *oldIps;  // an old client that left the plural out
    return;
  }
  if (ip == oldIp) return;
  const bool sameIps = (ips ? *ips : json::value()) == (oldIps ? *oldIps : json::value());
  if (!sameIps) return;  // both changed: validation judges them
  if (!oldIp.empty() && ip.empty())
    spec.erase("clusterIPs");
  else
    spec["clusterIPs"] = json::array{json::value(ip)};
}
}  // namespace

std::vector<ObjectPtr> Admission::storageClasses() {
  std::vector<ObjectPtr> out;
  auto page = caches_.cacheFor(kStorageClasses).list(kStorageClasses, "", 0, nullptr, 0);
  for (auto& [key, c] : page.items) out.push_back(c);
  return out;
}

// DefaultStorageClass and StorageObjectInUseProtection (storage_admission.h).
void Admission::admitStorageCreate(const api::ResourceInfo& info, json::object& obj) {
  if (!info.group.empty()) return;
  if (info.plural == "persistentvolumeclaims") {
    if (options_.defaultStorageClass) storageadmission::setDefaultClass(obj, storageClasses());
    if (options_.storageObjectInUseProtection)
      storageadmission::addProtectionFinalizer(obj, "kubernetes.io/pvc-protection");
  } else if (info.plural == "persistentvolumes" && options_.storageObjectInUseProtection) {
    storageadmission::addProtectionFinalizer(obj, "kubernetes.io/pv-protection");
  }
}

void Admission::admitUpdate(const api::ResourceInfo& info, json::object& obj,
                            const json::object& old) {
  if (options_.persistentVolumeClaimResize && info.group.empty() &&
      info.plural == "persistentvolumeclaims")
    storageadmission::checkResize(obj, old, [this](const std::string& name) {
      return caches_.cacheFor(kStorageClasses).get(kStorageClasses + name);
    });
  if (const api::KindStrategy* strategy = strategyOf(info);
      strategy && strategy->admitsServiceAddresses) {
    // clusterIP is immutable once allocated; keep it when the client left it out.
    auto* spec = obj.if_contains("spec");
    auto* oldSpec = old.if_contains("spec");
    if (spec && spec->is_object() && oldSpec && oldSpec->is_object()) {
      for (const char* f : {"clusterIP", "clusterIPs"}) {
        if (!spec->as_object().contains(f))
          if (auto* v = oldSpec->as_object().if_contains(f)) spec->as_object()[f] = *v;
      }
      normalizeClusterIPs(spec->as_object(), oldSpec->as_object());
      updateNodePorts(spec->as_object(), oldSpec->as_object());
    }
  }
}

namespace {
bool needsNodePorts(const json::object& spec) {
  std::string type = str(spec, "type");
  return type == "NodePort" || type == "LoadBalancer";
}
// Whether missing node ports are allocated: a LoadBalancer with
// allocateLoadBalancerNodePorts false gets none (its load balancer does not use them), but
// keeps those the user asked for and, on update, those it already had (KEP-1864).
bool allocatesNodePorts(const json::object& spec) {
  if (str(spec, "type") == "NodePort") return true;
  if (str(spec, "type") != "LoadBalancer") return false;
  auto* v = spec.if_contains("allocateLoadBalancerNodePorts");
  return !(v && v->is_bool() && !v->as_bool());
}
// Upstream's NeedsHealthCheck: only a LoadBalancer that keeps client addresses has one.
bool needsHealthCheck(const json::object& spec) {
  return str(spec, "type") == "LoadBalancer" && str(spec, "externalTrafficPolicy") == "Local";
}
bool hasPort(const json::object& spec, const char* field) {
  auto* v = spec.if_contains(field);
  return v && v->is_int64() && v->as_int64() != 0;
}
// The old port entry serving the same port and protocol, whose nodePort an update keeps.
const json::object* samePort(const json::object& oldSpec, const json::object& port) {
  auto* ports = oldSpec.if_contains("ports");
  if (!ports || !ports->is_array()) return nullptr;
  for (auto& p : ports->as_array())
    if (p.is_object() && p.as_object().if_contains("port") &&
        p.as_object().at("port") == port.at("port") &&
        str(p.as_object(), "protocol") == str(port, "protocol"))
      return &p.as_object();
  return nullptr;
}
}  // namespace

// Upstream's update rules for type-dependent ports: a Service that needs node ports keeps
// the ones its old ports had and gets new ones for new ports; one that no longer needs them
// loses those it did not change (dropTypeDependentFields); the same for healthCheckNodePort.
void Admission::updateNodePorts(json::object& spec, const json::object& oldSpec) {
  if (auto* ports = spec.if_contains("ports"); ports && ports->is_array()) {
    for (auto& pv : ports->as_array()) {
      if (!pv.is_object() || !pv.as_object().contains("port")) continue;
      auto& port = pv.as_object();
      const json::object* old = samePort(oldSpec, port);
      if (needsNodePorts(spec)) {
        if (hasPort(port, "nodePort")) continue;
        if (old && hasPort(*old, "nodePort"))
          port["nodePort"] = old->at("nodePort");
        else if (allocatesNodePorts(spec))
          port["nodePort"] = allocateNodePort();
      } else if (old && port.contains("nodePort") && old->contains("nodePort") &&
                 port.at("nodePort") == old->at("nodePort")) {
        port.erase("nodePort");
      }
    }
  }
  if (needsHealthCheck(spec)) {
    if (!hasPort(spec, "healthCheckNodePort"))
      spec["healthCheckNodePort"] = hasPort(oldSpec, "healthCheckNodePort")
                                        ? oldSpec.at("healthCheckNodePort")
                                        : json::value(allocateNodePort());
  } else if (spec.contains("healthCheckNodePort") && oldSpec.contains("healthCheckNodePort") &&
             spec.at("healthCheckNodePort") == oldSpec.at("healthCheckNodePort")) {
    spec.erase("healthCheckNodePort");
  }
}

void Admission::allocateServiceAddresses(json::object& service) {
  json::value& specValue = service["spec"];
  if (!specValue.is_object()) specValue.emplace_object();
  json::object& spec = specValue.as_object();
  std::string type = str(spec, "type");
  if (type == "ExternalName") return;
  std::string ip = str(spec, "clusterIP");
  if (ip.empty()) {
    ip = allocateClusterIp();
    spec["clusterIP"] = ip;
  }
  if (!spec.contains("clusterIPs")) spec["clusterIPs"] = json::array{json::value(ip)};
  if (allocatesNodePorts(spec)) {
    if (auto* ports = spec.if_contains("ports"); ports && ports->is_array())
      for (auto& p : ports->as_array())
        if (p.is_object() && !p.as_object().contains("nodePort"))
          p.as_object()["nodePort"] = allocateNodePort();
  }
  if (type == "LoadBalancer" && str(spec, "externalTrafficPolicy") == "Local") {
    auto* hc = spec.if_contains("healthCheckNodePort");
    if (!hc || (hc->is_int64() && hc->as_int64() == 0))
      spec["healthCheckNodePort"] = allocateNodePort();
  }
}

std::string Admission::allocateClusterIp() {
  std::lock_guard lock(allocMu_);
  std::set<std::string> used = recentIps_;
  auto page = caches_.cacheFor(kServices).list(kServices, "", 0, nullptr, 0);
  for (const auto& [key, svc] : page.items)
    if (auto* spec = svc->if_contains("spec"); spec && spec->is_object())
      used.insert(str(spec->as_object(), "clusterIP"));
  // 10.43.0.0/16 without .0.0 and .0.1 (the `kubernetes` service), random like upstream.
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<int> pick(2, 65534);
  for (int attempt = 0; attempt < 65536; ++attempt) {
    int n = pick(rng);
    std::string ip = "10.43." + std::to_string(n / 256) + "." + std::to_string(n % 256);
    if (!used.count(ip)) {
      recentIps_.insert(ip);
      if (recentIps_.size() > 1024) recentIps_.erase(recentIps_.begin());
      return ip;
    }
  }
  throw internalError("failed to allocate a service IP: range is full");
}

int64_t Admission::allocateNodePort() {
  std::lock_guard lock(allocMu_);
  std::set<int64_t> used = recentPorts_;
  auto page = caches_.cacheFor(kServices).list(kServices, "", 0, nullptr, 0);
  for (const auto& [key, svc] : page.items) {
    auto* spec = svc->if_contains("spec");
    if (!spec || !spec->is_object()) continue;
    if (auto* hc = spec->as_object().if_contains("healthCheckNodePort"); hc && hc->is_int64())
      used.insert(hc->as_int64());
    auto* ports = spec->as_object().if_contains("ports");
    if (!ports || !ports->is_array()) continue;
    for (const auto& p : ports->as_array())
      if (p.is_object())
        if (auto* np = p.as_object().if_contains("nodePort"); np && np->is_int64())
          used.insert(np->as_int64());
  }
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> pick(options_.nodePortMin, options_.nodePortMax);
  for (int attempt = 0; attempt < 100000; ++attempt) {
    int64_t port = pick(rng);
    if (!used.count(port)) {
      recentPorts_.insert(port);
      return port;
    }
  }
  throw internalError("failed to allocate a node port: range is full");
}

void Admission::admitPodSecurity(const api::ResourceInfo& info, const std::string& subresource,
                                 const json::object& obj, const json::object* old,
                                 const UserInfo* user, std::vector<std::string>& warnings,
                                 std::vector<std::pair<std::string, std::string>>& audit) {
  if (!user) return;  // the server's own writes
  auto annotate = [&audit](const char* key, std::string value) {
    audit.emplace_back(std::string("pod-security.kubernetes.io/") + key, std::move(value));
  };
  const podsecurity::Options& opts = options_.podSecurity;
  auto metaOf = [](const json::object& o) -> const json::object* {
    const json::value* m = o.if_contains("metadata");
    return m && m->is_object() ? &m->as_object() : nullptr;
  };
  auto labelsOf = [&](const json::object& o) -> const json::object* {
    const json::object* m = metaOf(o);
    const json::value* l = m ? m->if_contains("labels") : nullptr;
    return l && l->is_object() ? &l->as_object() : nullptr;
  };
  const json::object* meta = metaOf(obj);
  const std::string name = meta ? str(*meta, "name") : "";

  if (info.group.empty() && info.plural == "namespaces") {
    if (!subresource.empty()) return;
    std::vector<podsecurity::LabelError> errs, oldErrs;
    podsecurity::Policy policy = podsecurity::policyFromLabels(labelsOf(obj), opts.defaults, &errs);
    podsecurity::Policy oldPolicy;
    if (old) oldPolicy = podsecurity::policyFromLabels(labelsOf(*old), opts.defaults, &oldErrs);
    if (!errs.empty() && (!old || oldErrs.empty() || errs != oldErrs)) {
      std::vector<StatusCause> causes;
      for (const auto& e : errs) {
        std::string value;
        for (char c : e.value)
          value += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
        causes.push_back({"FieldValueInvalid", "Invalid value: \"" + value + "\": " + e.detail,
                          "metadata.labels[" + e.label + "]"});
      }
      throw invalid("Namespace", "", name, std::move(causes));
    }
    const bool exempt = opts.exemptNamespaces.count(name) > 0;
    if (!old) {
      if (exempt)
        if (auto w =
                podsecurity::exemptNamespaceWarning(name, policy, opts.defaults, labelsOf(obj));
            !w.empty())
          warnings.push_back(w);
      return;
    }
    // Existing pods are dry-run only when enforce tightened to a non-privileged level.
    if (policy.enforce == oldPolicy.enforce ||
        policy.enforce.level == podsecurity::Level::Privileged)
      return;
    if (policy.enforce.version == oldPolicy.enforce.version &&
        policy.enforce.level <= oldPolicy.enforce.level)
      return;
    if (exempt) {
      if (auto w = podsecurity::exemptNamespaceWarning(name, policy, opts.defaults, labelsOf(obj));
          !w.empty())
        warnings.push_back(w);
      return;
    }
    const std::string prefix = std::string("/registry/core/pods/") + name + "/";
    auto page = caches_.cacheFor("/registry/core/pods/").list(prefix, "", 0, nullptr, 0);
    std::vector<const json::object*> pods;
    for (const auto& [key, pod] : page.items) pods.push_back(pod.get());
    for (auto& w : podsecurity::checkExistingPods(name, policy.enforce, pods))
      warnings.push_back(std::move(w));
    return;
  }

  const bool isPod = info.group.empty() && info.plural == "pods";
  const json::object* podMeta = nullptr;
  const json::object* podSpec = nullptr;
  if (isPod) {
    // Upstream ignores exec, attach, binding, eviction, log, portforward, proxy and status.
    if (!subresource.empty() && subresource != "ephemeralcontainers") return;
    if (old && !podsecurity::significantPodUpdate(obj, *old)) return;
    podMeta = meta;
    const json::value* s = obj.if_contains("spec");
    podSpec = s && s->is_object() ? &s->as_object() : nullptr;
  } else {
    const json::object* templ = nullptr;
    if (!podsecurity::podTemplateOf(info.group, info.plural, obj, &templ)) return;
    if (!subresource.empty() || !templ) return;
    podMeta = metaOf(*templ);
    const json::value* s = templ->if_contains("spec");
    podSpec = s && s->is_object() ? &s->as_object() : nullptr;
  }
  const std::string ns = meta ? str(*meta, "namespace") : "";
  if (opts.exemptNamespaces.count(ns)) return annotate("exempt", "namespace");
  auto nsObj = caches_.cacheFor(kNamespaces).get(kNamespaces + ns);
  const json::object* nsLabels = nsObj ? labelsOf(*nsObj) : nullptr;
  const podsecurity::Policy policy = podsecurity::policyFromLabels(nsLabels, opts.defaults);
  if (policy.fullyPrivileged()) {
    if (isPod) annotate("enforce-policy", policy.enforce.str());
    return;
  }
  std::vector<podsecurity::Violation> enforced;
  if (isPod) {
    annotate("enforce-policy", policy.enforce.str());
    enforced = podsecurity::evaluate(policy.enforce, podMeta, podSpec);
    if (!enforced.empty())
      throw forbidden("pods", name,
                      "violates PodSecurity \"" + policy.enforce.str() +
                          "\": " + podsecurity::forbiddenDetail(enforced));
  }
  // Each mode's result is reused by the next with the same level and version, as upstream.
  auto resultFor = [&](const podsecurity::LevelVersion& lv) {
    return isPod && lv == policy.enforce ? enforced : podsecurity::evaluate(lv, podMeta, podSpec);
  };
  if (policy.audit.level != podsecurity::Level::Privileged)
    if (auto v = resultFor(policy.audit); !v.empty())
      annotate("audit-violations", "would violate PodSecurity \"" + policy.audit.str() +
                                       "\": " + podsecurity::forbiddenDetail(v));
  if (policy.warn.level == podsecurity::Level::Privileged) return;
  auto violations = resultFor(policy.warn);
  if (!violations.empty())
    warnings.push_back("would violate PodSecurity \"" + policy.warn.str() +
                       "\": " + podsecurity::forbiddenDetail(violations));
}

}  // namespace skiff::apiserver
