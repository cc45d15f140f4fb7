// Pod spec validation (upstream ValidatePodSpec and ValidatePodUpdate, the commonly hit parts).
#include <algorithm>
#include <map>
#include <set>

#include "api/quantity.h"
#include "api/validation_internal.h"

namespace skiff::api::validation {
namespace {

std::string valueString(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  if (v.is_double()) return json::serialize(v);
  return json::serialize(v);
}

void validatePortNumber(const json::object& o, std::string_view field, const std::string& path,
                        bool requiredField, Errors& errs) {
  auto v = integer(o, field);
  if (!v || *v == 0) {
    if (requiredField) errs.required(child(path, field));
    return;
  }
  if (*v < 1 || *v > 65535)
    errs.invalid(child(path, field), std::to_string(*v), "must be between 1 and 65535, inclusive");
}

void validateProtocol(const json::object& o, const std::string& path, Errors& errs) {
  std::string proto = str(o, "protocol");
  if (proto.empty()) {
    errs.required(child(path, "protocol"));
  } else if (proto != "TCP" && proto != "UDP" && proto != "SCTP") {
    errs.notSupported(child(path, "protocol"), quote(proto), {"SCTP", "TCP", "UDP"});
  }
}

}  // namespace

std::vector<std::string> portNameErrors(const std::string& name) {
  std::vector<std::string> out;
  if (name.size() > 15) out.push_back("must be no more than 15 characters");
  bool charset = !name.empty();
  bool letter = false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) charset = false;
    if (c >= 'a' && c <= 'z') letter = true;
  }
  if (!charset)
    out.push_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (!letter) out.push_back("must contain at least one letter (a-z)");
  if (name.find("--") != std::string::npos) out.push_back("must not contain consecutive hyphens");
  if (!name.empty() && (name.front() == '-' || name.back() == '-'))
    out.push_back("must not begin or end with a hyphen");
  return out;
}

namespace {

// Upstream's validateMountPropagation: a known mode, and Bidirectional (mounts made in the
// container show up on the host) only for privileged containers, which could mount anything
// on the host anyway.
void validateMountPropagation(const json::object& mount, const json::object& container,
                              const std::string& path, Errors& errs) {
  auto* v = mount.if_contains("mountPropagation");
  if (!v || !v->is_string()) return;
  std::string mode(v->get_string());
  if (mode != "Bidirectional" && mode != "HostToContainer" && mode != "None") {
    errs.notSupported(path, quote(mode), {"Bidirectional", "HostToContainer", "None"});
    return;
  }
  const auto* sc = objPtr(container, "securityContext");
  const auto* priv = sc ? sc->if_contains("privileged") : nullptr;
  bool privileged = priv && priv->is_bool() && priv->get_bool();
  if (mode == "Bidirectional" && !privileged)
    errs.forbidden(path,
                   "Bidirectional mount propagation is available only to privileged containers");
}

void validateEnum(const json::object& o, std::string_view field, const std::string& path,
                  const std::vector<std::string>& allowed, bool requiredField, Errors& errs);

// The pod securityContext's group fields the kubelet acts on (volume ownership, supplemental
// groups): upstream's IsValidGroupID and the fsGroupChangePolicy enum.
void validatePodSecurityGroups(const json::object& sc, const std::string& path, Errors& errs) {
  auto checkGid = [&](const json::value& v, const std::string& p) {
    if (!v.is_int64()) return;  // type errors are the schema check's
    int64_t gid = v.as_int64();
    if (gid < 0 || gid > 2147483647)
      errs.invalid(p, std::to_string(gid), "must be between 0 and 2147483647, inclusive");
  };
  if (const auto* fsGroup = sc.if_contains("fsGroup")) checkGid(*fsGroup, child(path, "fsGroup"));
  const auto& groups = arr(sc, "supplementalGroups");
  for (size_t i = 0; i < groups.size(); ++i)
    checkGid(groups[i], index(child(path, "supplementalGroups"), i));
  validateEnum(sc, "fsGroupChangePolicy", path, {"Always", "OnRootMismatch"}, false, errs);
}

void validateContainer(const json::object& c, const std::string& path, std::set<std::string>& names,
                       Errors& errs) {
  std::string name = str(c, "name");
  if (name.empty()) {
    errs.required(child(path, "name"));
  } else {
    for (const auto& m : validateDns1123Label(name))
      errs.invalid(child(path, "name"), quote(name), m);
    if (!names.insert(name).second) errs.duplicate(child(path, "name"), quote(name));
  }
  if (str(c, "image").empty()) errs.required(child(path, "image"));
  std::string pull = str(c, "imagePullPolicy");
  if (pull.empty()) {
    errs.required(child(path, "imagePullPolicy"));
  } else if (pull != "Always" && pull != "IfNotPresent" && pull != "Never") {
    errs.notSupported(child(path, "imagePullPolicy"), quote(pull),
                      {"Always", "IfNotPresent", "Never"});
  }
  const auto& ports = arr(c, "ports");
  std::set<std::string> portNames;
  for (size_t i = 0; i < ports.size(); ++i) {
    if (!ports[i].is_object()) continue;
    const auto& p = ports[i].get_object();
    std::string pp = index(child(path, "ports"), i);
    std::string pname = str(p, "name");
    if (!pname.empty()) {
      for (const auto& m : portNameErrors(pname)) errs.invalid(child(pp, "name"), quote(pname), m);
      if (!portNames.insert(pname).second) errs.duplicate(child(pp, "name"), quote(pname));
    }
    validatePortNumber(p, "containerPort", pp, true, errs);
    validatePortNumber(p, "hostPort", pp, false, errs);
    validateProtocol(p, pp, errs);
  }
  const auto& env = arr(c, "env");
  for (size_t i = 0; i < env.size(); ++i) {
    if (!env[i].is_object()) continue;
    if (str(env[i].get_object(), "name").empty())
      errs.required(child(index(child(path, "env"), i), "name"));
  }
  if (const auto* res = objPtr(c, "resources"))
    validateResourceRequirements(*res, child(path, "resources"), errs);
  const auto& mounts = arr(c, "volumeMounts");
  for (size_t i = 0; i < mounts.size(); ++i) {
    if (!mounts[i].is_object()) continue;
    std::string mp = index(child(path, "volumeMounts"), i);
    if (str(mounts[i].get_object(), "name").empty()) errs.required(child(mp, "name"));
    if (str(mounts[i].get_object(), "mountPath").empty()) errs.required(child(mp, "mountPath"));
    validateMountPropagation(mounts[i].get_object(), c, child(mp, "mountPropagation"), errs);
  }
}

void validateEnum(const json::object& o, std::string_view field, const std::string& path,
                  const std::vector<std::string>& allowed, bool requiredField, Errors& errs) {
  std::string v = str(o, field);
  if (v.empty()) {
    if (requiredField) errs.required(child(path, field));
    return;
  }
  for (const auto& a : allowed)
    if (a == v) return;
  errs.notSupported(child(path, field), quote(v), allowed);
}

}  // namespace

void validateResourceRequirements(const json::object& resources, const std::string& path,
                                  Errors& errs) {
  const auto& limits = obj(resources, "limits");
  const auto& requests = obj(resources, "requests");
  auto check = [&](const json::object& list, const std::string& listPath) {
    std::map<std::string, Quantity> parsed;
    for (const auto& kv : list) {
      std::string p = key(listPath, kv.key());
      std::string text = valueString(kv.value());
      auto q = Quantity::parse(text);
      if (!q) {
        errs.invalid(p, quote(text),
                     "quantities must match the regular expression "
                     "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
        continue;
      }
      if (q->sign() < 0)
        errs.invalid(p, quote(q->toString()), "must be greater than or equal to 0");
      parsed.emplace(std::string(kv.key()), *q);
    }
    return parsed;
  };
  auto lim = check(limits, child(path, "limits"));
  auto req = check(requests, child(path, "requests"));
  for (const auto& [name, q] : req) {
    auto it = lim.find(name);
    if (it != lim.end() && q > it->second)
      errs.invalid(key(child(path, "requests"), name), quote(q.toString()),
                   "must be less than or equal to " + name + " limit of " + it->second.toString());
  }
}

void validatePodSpec(const json::object& spec, const std::string& path, Errors& errs) {
  // Volumes: named DNS labels, unique.
  std::set<std::string> volumeNames;
  const auto& volumes = arr(spec, "volumes");
  for (size_t i = 0; i < volumes.size(); ++i) {
    if (!volumes[i].is_object()) continue;
    std::string vp = child(index(child(path, "volumes"), i), "name");
    std::string name = str(volumes[i].get_object(), "name");
    if (name.empty()) {
      errs.required(vp);
      continue;
    }
    for (const auto& m : validateDns1123Label(name)) errs.invalid(vp, quote(name), m);
    if (!volumeNames.insert(name).second) errs.duplicate(vp, quote(name));
  }

  // Container names are unique across init, regular and ephemeral containers.
  std::set<std::string> names;
  const auto& containers = arr(spec, "containers");
  if (containers.empty()) errs.required(child(path, "containers"));
  const auto& inits = arr(spec, "initContainers");
  for (size_t i = 0; i < inits.size(); ++i)
    if (inits[i].is_object())
      validateContainer(inits[i].get_object(), index(child(path, "initContainers"), i), names,
                        errs);
  for (size_t i = 0; i < containers.size(); ++i)
    if (containers[i].is_object())
      validateContainer(containers[i].get_object(), index(child(path, "containers"), i), names,
                        errs);

  if (const auto* psc = objPtr(spec, "securityContext"))
    validatePodSecurityGroups(*psc, child(path, "securityContext"), errs);
  validateEnum(spec, "restartPolicy", path, {"Always", "OnFailure", "Never"}, true, errs);
  validateEnum(spec, "dnsPolicy", path,
               {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"}, true, errs);
  validateNonnegative(spec, "terminationGracePeriodSeconds", path, errs);
  if (auto ads = integer(spec, "activeDeadlineSeconds"); ads && (*ads < 1 || *ads > 2147483647))
    errs.invalid(child(path, "activeDeadlineSeconds"), std::to_string(*ads),
                 "must be between 1 and 2147483647, inclusive");
  validateLabels(obj(spec, "nodeSelector"), child(path, "nodeSelector"), errs);
  std::string sa = str(spec, "serviceAccountName");
  if (!sa.empty())
    for (const auto& m : validateDns1123Subdomain(sa))
      errs.invalid(child(path, "serviceAccountName"), quote(sa), m);
  for (const char* f : {"hostname", "subdomain"}) {
    std::string v = str(spec, f);
    if (!v.empty())
      for (const auto& m : validateDns1123Label(v)) errs.invalid(child(path, f), quote(v), m);
  }
  const auto& tolerations = arr(spec, "tolerations");
  for (size_t i = 0; i < tolerations.size(); ++i) {
    if (!tolerations[i].is_object()) continue;
    const auto& t = tolerations[i].get_object();
    std::string tp = index(child(path, "tolerations"), i);
    std::string op = str(t, "operator");
    if (!op.empty() && op != "Equal" && op != "Exists")
      errs.notSupported(child(tp, "operator"), quote(op), {"Equal", "Exists"});
    if (op == "Exists" && !str(t, "value").empty())
      errs.invalid(child(tp, "operator"), quote(str(t, "value")),
                   "value must be empty when `operator` is 'Exists'");
    if (str(t, "key").empty() && op != "Exists")
      errs.invalid(child(tp, "operator"), quote(op),
                   "operator must be Exists when `key` is empty, which means \"match all values "
                   "and all keys\"");
    std::string effect = str(t, "effect");
    if (!effect.empty() && effect != "NoSchedule" && effect != "PreferNoSchedule" &&
        effect != "NoExecute")
      errs.notSupported(child(tp, "effect"), quote(effect),
                        {"NoSchedule", "PreferNoSchedule", "NoExecute"});
  }
}

void validatePodSpecUpdate(const json::object& spec, const json::object& oldSpec,
                           const std::string& path, Errors& errs) {
  // Upstream compares the new spec with the old one after copying over the fields a pod
  // update may change; anything else differing is forbidden.
  json::object munged = spec;
  auto copyImages = [&](std::string_view field) {
    auto* newList = munged.if_contains(field);
    const auto* oldList = arrPtr(oldSpec, field);
    if (!newList || !newList->is_array() || !oldList) return;
    auto& nl = newList->get_array();
    if (nl.size() != oldList->size()) return;
    for (size_t i = 0; i < nl.size(); ++i) {
      if (!nl[i].is_object() || !(*oldList)[i].is_object()) continue;
      json::value img = (*oldList)[i].get_object().contains("image")
                            ? (*oldList)[i].get_object().at("image")
                            : json::value();
      if (img.is_null())
        nl[i].get_object().erase("image");
      else
        nl[i].get_object()["image"] = img;
    }
  };
  copyImages("containers");
  copyImages("initContainers");
  auto copyField = [&](std::string_view field) {
    if (oldSpec.contains(field))
      munged[field] = oldSpec.at(field);
    else
      munged.erase(field);
  };
  copyField("activeDeadlineSeconds");
  // Tolerations may only be added to.
  const auto& oldTol = arr(oldSpec, "tolerations");
  const auto& newTol = arr(spec, "tolerations");
  if (newTol.size() >= oldTol.size() && std::equal(oldTol.begin(), oldTol.end(), newTol.begin()))
    copyField("tolerations");
  // A negative grace period may be raised to 1.
  if (auto oldGrace = integer(oldSpec, "terminationGracePeriodSeconds");
      oldGrace && *oldGrace < 0 && integer(spec, "terminationGracePeriodSeconds") == 1)
    copyField("terminationGracePeriodSeconds");
  // Ephemeral containers and scheduling gates change through their own paths.
  copyField("ephemeralContainers");
  if (arr(oldSpec, "schedulingGates").size() > arr(spec, "schedulingGates").size())
    copyField("schedulingGates");
  if (munged != oldSpec) {
    errs.forbidden(path,
                   "pod updates may not change fields other than `spec.containers[*].image`,"
                   "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                   "`spec.tolerations` (only additions to existing tolerations),"
                   "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                   "previously negative)");
  }
  if (auto oldAds = integer(oldSpec, "activeDeadlineSeconds")) {
    auto newAds = integer(spec, "activeDeadlineSeconds");
    if (!newAds) {
      errs.invalid(child(path, "activeDeadlineSeconds"), "null",
                   "must not update from a positive integer to nil value");
    } else if (*newAds > *oldAds) {
      errs.invalid(child(path, "activeDeadlineSeconds"), std::to_string(*newAds),
                   "must be less than or equal to previous value");
    }
  }
}

}  // namespace skiff::api::validation
