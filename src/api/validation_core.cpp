// Validation of services, config data, namespaces, nodes, leases, events and other
// non-workload kinds.
#include <arpa/inet.h>

#include <algorithm>
#include <set>

#include "api/validation_internal.h"

namespace skiff::api::validation {
namespace {

bool isIP(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::string firstClusterIP(const json::object& spec) {
  const auto& ips = arr(spec, "clusterIPs");
  if (!ips.empty() && ips[0].is_string()) return std::string(ips[0].get_string());
  return str(spec, "clusterIP");
}

void validateService(const json::object& svc, const json::object* old, Errors& errs) {
  const auto& spec = obj(svc, "spec");
  std::string type = str(spec, "type");
  static const std::vector<std::string> kTypes = {"ClusterIP", "ExternalName", "LoadBalancer",
                                                  "NodePort"};
  if (type.empty()) {
    errs.required("spec.type");
  } else if (std::find(kTypes.begin(), kTypes.end(), type) == kTypes.end()) {
    errs.notSupported("spec.type", quote(type), kTypes);
  }
  const std::string clusterIP = firstClusterIP(spec);
  const bool headless = clusterIP == "None";
  const auto& ports = arr(spec, "ports");
  if (type == "ExternalName") {
    std::string en = str(spec, "externalName");
    if (en.empty()) {
      errs.required("spec.externalName");
    } else {
      for (const auto& m : validateDns1123Subdomain(en))
        errs.invalid("spec.externalName", quote(en), m);
    }
    if (!clusterIP.empty())
      errs.forbidden("spec.clusterIPs", "may not be set for ExternalName services");
  } else if (ports.empty() && !headless) {
    errs.required("spec.ports");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < ports.size(); ++i) {
    if (!ports[i].is_object()) continue;
    const auto& p = ports[i].get_object();
    std::string pp = index("spec.ports", i);
    std::string name = str(p, "name");
    if (ports.size() > 1 && name.empty()) {
      errs.required(child(pp, "name"));
    } else if (!name.empty()) {
      for (const auto& m : validateDns1123Label(name)) errs.invalid(child(pp, "name"), quote(name), m);
      if (!names.insert(name).second) errs.duplicate(child(pp, "name"), quote(name));
    }
    auto port = integer(p, "port");
    if (!port || *port == 0) {
      errs.required(child(pp, "port"));
    } else if (*port < 1 || *port > 65535) {
      errs.invalid(child(pp, "port"), std::to_string(*port), "must be between 1 and 65535, inclusive");
    }
    std::string proto = str(p, "protocol");
    if (proto.empty()) errs.required(child(pp, "protocol"));
    else if (proto != "TCP" && proto != "UDP" && proto != "SCTP")
      errs.notSupported(child(pp, "protocol"), quote(proto), {"SCTP", "TCP", "UDP"});
    auto tp = p.find("targetPort");
    if (tp != p.end() && tp->value().is_string()) {
      std::string s(tp->value().get_string());
      bool letter = std::any_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
      if (s.empty() || s.size() > 15 || !letter)
        errs.invalid(child(pp, "targetPort"), quote(s),
                     s.size() > 15 ? "must be no more than 15 characters"
                                   : "must contain at least one letter (a-z)");
    } else if (auto t = integer(p, "targetPort"); t && (*t < 1 || *t > 65535)) {
      errs.invalid(child(pp, "targetPort"), std::to_string(*t),
                   "must be between 1 and 65535, inclusive");
    }
    if (auto np = integer(p, "nodePort"); np && *np != 0 && type == "ClusterIP")
      errs.forbidden(child(pp, "nodePort"), "may not be used when `type` is 'ClusterIP'");
  }
  if (!clusterIP.empty() && !headless && !isIP(clusterIP))
    errs.invalid("spec.clusterIPs[0]", quote(clusterIP),
                 "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
  std::string sa = str(spec, "sessionAffinity");
  if (!sa.empty() && sa != "None" && sa != "ClientIP")
    errs.notSupported("spec.sessionAffinity", quote(sa), {"ClientIP", "None"});
  validateLabels(obj(spec, "selector"), "spec.selector", errs);

  if (old) {
    const auto& oldSpec = obj(*old, "spec");
    std::string oldIP = firstClusterIP(oldSpec);
    // A ClusterIP, once allocated, is immutable (except when leaving or entering ExternalName).
    if (!oldIP.empty() && str(oldSpec, "type") != "ExternalName" && type != "ExternalName") {
      const json::array* newIPs = arrPtr(spec, "clusterIPs");
      if (clusterIP.empty()) {
        errs.invalid("spec.clusterIPs[0]", goStringSlice(newIPs), "primary clusterIP can not be unset");
      } else if (clusterIP != oldIP) {
        json::array fallback{json::value(clusterIP)};
        errs.invalid("spec.clusterIPs[0]", goStringSlice(newIPs ? newIPs : &fallback),
                     "may not change once set");
      }
    }
  }
}

// Approximate decoded size of base64 data.
int64_t base64Size(const json::value& v) {
  if (!v.is_string()) return 0;
  auto s = v.get_string();
  int64_t n = static_cast<int64_t>(s.size()) / 4 * 3;
  if (s.size() >= 1 && s.back() == '=') --n;
  if (s.size() >= 2 && s[s.size() - 2] == '=') --n;
  return n;
}

constexpr int64_t kMaxDataSize = 1024 * 1024;

void validateDataKeys(const json::object& data, const std::string& path, Errors& errs) {
  for (const auto& kv : data)
    for (const auto& m : validateConfigMapKey(kv.key()))
      errs.invalid(key(path, kv.key()), quote(kv.key()), m);
}

void validateImmutableData(const json::object& o, const json::object* old,
                           std::initializer_list<const char*> fields, Errors& errs) {
  if (!old) return;
  auto it = old->find("immutable");
  if (it == old->end() || !it->value().is_bool() || !it->value().get_bool()) return;
  auto nit = o.find("immutable");
  if (nit == o.end() || !nit->value().is_bool() || !nit->value().get_bool())
    errs.forbidden("immutable", "field is immutable when `immutable` is set");
  for (const char* f : fields)
    if (obj(o, f) != obj(*old, f)) errs.forbidden(f, "field is immutable when `immutable` is set");
}

void validateConfigMap(const json::object& cm, const json::object* old, Errors& errs) {
  const auto& data = obj(cm, "data");
  const auto& binary = obj(cm, "binaryData");
  validateDataKeys(data, "data", errs);
  validateDataKeys(binary, "binaryData", errs);
  int64_t total = 0;
  for (const auto& kv : data)
    if (kv.value().is_string()) total += static_cast<int64_t>(kv.value().get_string().size());
  for (const auto& kv : binary) {
    if (data.contains(kv.key()))
      errs.invalid(key("binaryData", kv.key()), quote(kv.key()), "duplicate of key present in data");
    total += base64Size(kv.value());
  }
  if (total > kMaxDataSize) errs.tooLong("", kMaxDataSize);
  validateImmutableData(cm, old, {"data", "binaryData"}, errs);
}

void validateSecret(const json::object& s, const json::object* old, Errors& errs) {
  const auto& data = obj(s, "data");
  validateDataKeys(data, "data", errs);
  validateDataKeys(obj(s, "stringData"), "stringData", errs);
  int64_t total = 0;
  for (const auto& kv : data) total += base64Size(kv.value());
  for (const auto& kv : obj(s, "stringData"))
    if (kv.value().is_string()) total += static_cast<int64_t>(kv.value().get_string().size());
  if (total > kMaxDataSize) errs.tooLong("data", kMaxDataSize);

  auto hasKey = [&](const char* k) { return data.contains(k) || obj(s, "stringData").contains(k); };
  std::string type = str(s, "type");
  if (type == "kubernetes.io/service-account-token") {
    if (str(obj(obj(s, "metadata"), "annotations"), "kubernetes.io/service-account.name").empty())
      errs.required("metadata.annotations[kubernetes.io/service-account.name]");
  } else if (type == "kubernetes.io/dockercfg") {
    if (!hasKey(".dockercfg")) errs.required("data[.dockercfg]");
  } else if (type == "kubernetes.io/dockerconfigjson") {
    if (!hasKey(".dockerconfigjson")) errs.required("data[.dockerconfigjson]");
  } else if (type == "kubernetes.io/basic-auth") {
    if (!hasKey("username") && !hasKey("password")) {
      errs.required("data[username]");
      errs.required("data[password]");
    }
  } else if (type == "kubernetes.io/ssh-auth") {
    if (!hasKey("ssh-privatekey")) errs.required("data[ssh-privatekey]");
  } else if (type == "kubernetes.io/tls") {
    if (!hasKey("tls.crt")) errs.required("data[tls.crt]");
    if (!hasKey("tls.key")) errs.required("data[tls.key]");
  }
  if (old) {
    std::string oldType = str(*old, "type");
    if (type != oldType) errs.invalid("type", quote(type), "field is immutable");
    validateImmutableData(s, old, {"data"}, errs);
  }
}

void validateNamespace(const json::object& ns, Errors& errs) {
  const auto& fin = arr(obj(ns, "spec"), "finalizers");
  for (size_t i = 0; i < fin.size(); ++i) {
    std::string f = fin[i].is_string() ? std::string(fin[i].get_string()) : "";
    for (const auto& m : validateQualifiedName(f))
      errs.invalid(index("spec.finalizers", i), quote(f), m);
  }
}

void validateNode(const json::object& node, Errors& errs) {
  const auto& spec = obj(node, "spec");
  const auto& taints = arr(spec, "taints");
  std::set<std::string> seen;
  for (size_t i = 0; i < taints.size(); ++i) {
    if (!taints[i].is_object()) continue;
    const auto& t = taints[i].get_object();
    std::string tp = index("spec.taints", i);
    std::string k = str(t, "key");
    for (const auto& m : validateQualifiedName(k)) errs.invalid(child(tp, "key"), quote(k), m);
    std::string v = str(t, "value");
    for (const auto& m : validateLabelValue(v)) errs.invalid(child(tp, "value"), quote(v), m);
    std::string effect = str(t, "effect");
    if (effect.empty()) errs.required(child(tp, "effect"));
    else if (effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute")
      errs.notSupported(child(tp, "effect"), quote(effect),
                        {"NoSchedule", "PreferNoSchedule", "NoExecute"});
    if (!seen.insert(k + ":" + effect).second)
      errs.duplicate(tp, "core.Taint{Key:" + quote(k) + ", Effect:" + quote(effect) + "}");
  }
  std::string cidr = str(spec, "podCIDR");
  if (!cidr.empty()) {
    auto slash = cidr.find('/');
    if (slash == std::string::npos || !isIP(cidr.substr(0, slash)))
      errs.invalid("spec.podCIDR", quote(cidr), "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
  }
}

void validateLease(const json::object& lease, Errors& errs) {
  const auto& spec = obj(lease, "spec");
  if (auto d = integer(spec, "leaseDurationSeconds"); d && *d <= 0)
    errs.invalid("spec.leaseDurationSeconds", std::to_string(*d), "must be greater than 0");
  validateNonnegative(spec, "leaseTransitions", "spec", errs);
}

void validateEvent(const json::object& ev, Errors& errs) {
  const auto& io = obj(ev, "involvedObject");
  std::string ns = str(obj(ev, "metadata"), "namespace");
  std::string ioNs = str(io, "namespace");
  if (!ioNs.empty() && !ns.empty() && ioNs != ns)
    errs.invalid("involvedObject.namespace", quote(ioNs), "does not match event.namespace");
  std::string type = str(ev, "type");
  if (!type.empty() && type != "Normal" && type != "Warning")
    errs.notSupported("type", quote(type), {"Normal", "Warning"});
}

void validatePvc(const json::object& pvc, Errors& errs) {
  const auto& spec = obj(pvc, "spec");
  if (arr(spec, "accessModes").empty()) errs.required("spec.accessModes", "at least 1 access mode is required");
  const auto& requests = obj(obj(spec, "resources"), "requests");
  if (!requests.contains("storage")) errs.required("spec.resources[storage]");
  validateResourceRequirements(obj(spec, "resources"), "spec.resources", errs);
}

void validatePriorityClass(const json::object& pc, Errors& errs) {
  std::string name = str(obj(pc, "metadata"), "name");
  if (name.rfind("system-", 0) == 0 && name != "system-node-critical" &&
      name != "system-cluster-critical")
    errs.forbidden("metadata.name", "priority class names with 'system-' prefix are reserved");
  if (auto v = integer(pc, "value"); v && *v > 1000000000)
    errs.forbidden("value", "maximum allowed value of a user defined priority is 1000000000");
}

void validateRoleRef(const json::object& binding, Errors& errs) {
  const auto& ref = obj(binding, "roleRef");
  std::string kind = str(ref, "kind");
  if (str(ref, "name").empty()) errs.required("roleRef.name");
  if (kind != "Role" && kind != "ClusterRole")
    errs.notSupported("roleRef.kind", quote(kind), {"ClusterRole", "Role"});
  if (str(ref, "apiGroup") != "rbac.authorization.k8s.io")
    errs.notSupported("roleRef.apiGroup", quote(str(ref, "apiGroup")), {"rbac.authorization.k8s.io"});
  const auto& subjects = arr(binding, "subjects");
  for (size_t i = 0; i < subjects.size(); ++i) {
    if (!subjects[i].is_object()) continue;
    const auto& s = subjects[i].get_object();
    std::string sp = index("subjects", i);
    if (str(s, "name").empty()) errs.required(child(sp, "name"));
    std::string sk = str(s, "kind");
    if (sk != "ServiceAccount" && sk != "User" && sk != "Group")
      errs.notSupported(child(sp, "kind"), quote(sk), {"ServiceAccount", "User", "Group"});
  }
}

}  // namespace

bool validateCoreKind(std::string_view group, std::string_view kind, const json::object& o,
                      const json::object* old, Errors& errs) {
  if (group.empty()) {
    if (kind == "Service") return validateService(o, old, errs), true;
    if (kind == "ConfigMap") return validateConfigMap(o, old, errs), true;
    if (kind == "Secret") return validateSecret(o, old, errs), true;
    if (kind == "Namespace") return validateNamespace(o, errs), true;
    if (kind == "Node") return validateNode(o, errs), true;
    if (kind == "Event") return validateEvent(o, errs), true;
    if (kind == "PersistentVolumeClaim") return validatePvc(o, errs), true;
    return false;
  }
  if (group == "coordination.k8s.io" && kind == "Lease") return validateLease(o, errs), true;
  if (group == "scheduling.k8s.io" && kind == "PriorityClass")
    return validatePriorityClass(o, errs), true;
  if (group == "rbac.authorization.k8s.io" && (kind == "RoleBinding" || kind == "ClusterRoleBinding"))
    return validateRoleRef(o, errs), true;
  return false;
}

}  // namespace skiff::api::validation
