#include "apiserver/service_account_admission.h"

#include <boost/json.hpp>
#include <set>

#include "common/api_error.h"

namespace skiff::apiserver {

namespace json = boost::json;

namespace {

constexpr const char* kMirrorAnnotation = "kubernetes.io/config.mirror";
constexpr const char* kEnforceMountableAnnotation = "kubernetes.io/enforce-mountable-secrets";

std::string str(const json::object* o, std::string_view key) {
  if (!o) return {};
  const json::value* v = o->if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
const json::object* child(const json::object* o, std::string_view key) {
  if (!o) return nullptr;
  const json::value* v = o->if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}
const json::array* list(const json::object* o, std::string_view key) {
  if (!o) return nullptr;
  const json::value* v = o->if_contains(key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}
// A bool field: nullopt when unset (or not a bool: validation reports that).
std::optional<bool> flag(const json::object* o, std::string_view key) {
  if (!o) return std::nullopt;
  const json::value* v = o->if_contains(key);
  if (!v || !v->is_bool()) return std::nullopt;
  return v->as_bool();
}

// The names in a list of LocalObjectReferences ({"name": ...}).
std::set<std::string> referenceNames(const json::array* refs) {
  std::set<std::string> out;
  if (!refs) return out;
  for (const auto& r : *refs)
    if (r.is_object()) out.insert(str(&r.as_object(), "name"));
  return out;
}

// Every secret a pod references, with upstream's wording of where, for the mountable-secrets
// check; visit returns false to stop.
struct SecretReference {
  std::string name;
  std::string what;  // "volume with secret.secretName=\"x\"", ...
};
std::vector<SecretReference> secretReferences(const json::object& spec) {
  std::vector<SecretReference> out;
  if (const json::array* volumes = list(&spec, "volumes")) {
    for (const auto& v : *volumes) {
      const json::object* volume = v.if_object();
      if (const json::object* secret = child(volume, "secret")) {
        std::string name = str(secret, "secretName");
        out.push_back({name, "volume with secret.secretName=\"" + name + "\""});
      }
      if (const json::array* sources = list(child(volume, "projected"), "sources")) {
        for (const auto& s : *sources) {
          if (const json::object* secret = child(s.if_object(), "secret")) {
            std::string name = str(secret, "name");
            out.push_back({name, "volume with secret.secretName=\"" + name + "\""});
          }
        }
      }
    }
  }
  auto containers = [&](const char* field, const char* label) {
    const json::array* items = list(&spec, field);
    if (!items) return;
    for (const auto& c : *items) {
      const json::object* container = c.if_object();
      const std::string cname = str(container, "name");
      if (const json::array* env = list(container, "env")) {
        for (const auto& e : *env) {
          const json::object* ref = child(child(e.if_object(), "valueFrom"), "secretKeyRef");
          if (!ref) continue;
          std::string name = str(ref, "name");
          out.push_back({name, std::string(label) + " " + cname + " with envVar " +
                                   str(e.if_object(), "name") +
                                   " referencing secret.secretName=\"" + name + "\""});
        }
      }
      if (const json::array* envFrom = list(container, "envFrom")) {
        for (const auto& e : *envFrom) {
          const json::object* ref = child(e.if_object(), "secretRef");
          if (!ref) continue;
          std::string name = str(ref, "name");
          out.push_back({name, std::string(label) + " " + cname +
                                   " with envFrom referencing secret.secretName=\"" + name + "\""});
        }
      }
    }
  };
  containers("initContainers", "init container");
  containers("containers", "container");
  containers("ephemeralContainers", "ephemeral container");
  return out;
}

bool usesTokenProjection(const json::object& spec) {
  const json::array* volumes = list(&spec, "volumes");
  if (!volumes) return false;
  for (const auto& v : *volumes)
    if (const json::array* sources = list(child(v.if_object(), "projected"), "sources"))
      for (const auto& s : *sources)
        if (child(s.if_object(), "serviceAccountToken")) return true;
  return false;
}

// The projected volume upstream's plugin adds: a bound token, the CA bundle and the
// namespace, in that order, mode 0644.
json::object apiAccessVolume(const std::string& name) {
  json::array sources{
      json::object{{"serviceAccountToken",
                    json::object{{"expirationSeconds", kApiAccessTokenExpirationSeconds},
                                 {"path", "token"}}}},
      json::object{
          {"configMap", json::object{{"name", "kube-root-ca.crt"},
                                     {"items", json::array{json::object{{"key", "ca.crt"},
                                                                        {"path", "ca.crt"}}}}}}},
      json::object{
          {"downwardAPI",
           json::object{
               {"items", json::array{json::object{
                             {"path", "namespace"},
                             {"fieldRef", json::object{{"apiVersion", "v1"},
                                                       {"fieldPath", "metadata.namespace"}}}}}}}}}};
  return json::object{
      {"name", name},
      {"projected", json::object{{"sources", std::move(sources)}, {"defaultMode", 420}}}};
}

// Mounts the token volume in every (init) container without a mount at the token path and
// adds the volume when one did; an existing kube-api-access-* volume is reused.
void mountServiceAccountToken(json::object& spec, const std::function<std::string()>& suffix) {
  std::string volumeName;
  if (const json::array* volumes = list(&spec, "volumes"))
    for (const auto& v : *volumes)
      if (std::string n = str(v.if_object(), "name"); n.starts_with(kApiAccessVolumePrefix)) {
        volumeName = n;
        break;
      }
  const bool hasVolume = !volumeName.empty();
  if (!hasVolume) volumeName = kApiAccessVolumePrefix + suffix();
  bool needed = false;
  for (const char* field : {"initContainers", "containers"}) {
    json::value* items = spec.if_contains(field);
    if (!items || !items->is_array()) continue;
    for (auto& c : items->as_array()) {
      if (!c.is_object()) continue;
      json::value& mounts = c.as_object()["volumeMounts"];
      if (mounts.is_null()) mounts.emplace_array();
      if (!mounts.is_array()) continue;  // malformed: validation says so
      bool present = false;
      for (const auto& m : mounts.as_array())
        if (str(m.if_object(), "mountPath") == kServiceAccountTokenMountPath) present = true;
      if (present) continue;
      mounts.as_array().push_back(json::object{
          {"name", volumeName}, {"readOnly", true}, {"mountPath", kServiceAccountTokenMountPath}});
      needed = true;
    }
  }
  if (hasVolume || !needed) return;
  json::value& volumes = spec["volumes"];
  if (volumes.is_null()) volumes.emplace_array();
  if (volumes.is_array()) volumes.as_array().push_back(apiAccessVolume(volumeName));
}

}  // namespace

void admitPodServiceAccount(json::object& pod, const ServiceAccountLookup& lookup,
                            const std::function<std::string()>& suffix) {
  json::value* specValue = pod.if_contains("spec");
  if (!specValue || !specValue->is_object()) return;  // validation reports the missing spec
  json::object& spec = specValue->as_object();
  const json::object* meta = child(&pod, "metadata");
  const std::string ns = str(meta, "namespace"), podName = str(meta, "name");
  auto refuse = [&](const std::string& why) { return forbidden("pods", podName, why); };

  // A mirror pod is the kubelet's copy of a static pod: changing its spec would make the
  // kubelet delete it, so it is only checked, and may reference no credentials.
  if (const json::object* annotations = child(meta, "annotations");
      annotations && annotations->contains(kMirrorAnnotation)) {
    if (!str(&spec, "serviceAccountName").empty())
      throw refuse("a mirror pod may not reference service accounts");
    if (!secretReferences(spec).empty() || !referenceNames(list(&spec, "imagePullSecrets")).empty())
      throw refuse("a mirror pod may not reference secrets");
    if (usesTokenProjection(spec))
      throw refuse("a mirror pod may not use ServiceAccountToken volume projections");
    return;
  }

  // serviceAccount is the deprecated spelling: it counts when the new field is unset, and
  // both are written back (as upstream's v1 conversion shows them).
  std::string accountName = str(&spec, "serviceAccountName");
  if (accountName.empty()) accountName = str(&spec, "serviceAccount");
  if (accountName.empty()) accountName = "default";
  spec["serviceAccountName"] = accountName;
  spec["serviceAccount"] = accountName;
  auto account = lookup(ns, accountName);
  if (!account)
    throw refuse("error looking up service account " + ns + "/" + accountName +
                 ": serviceaccount \"" + accountName + "\" not found");

  bool automount = true;
  if (auto own = flag(&spec, "automountServiceAccountToken"))
    automount = *own;
  else if (auto fromAccount = flag(account.get(), "automountServiceAccountToken"))
    automount = *fromAccount;
  if (automount) mountServiceAccountToken(spec, suffix);

  const json::array* podPullSecrets = list(&spec, "imagePullSecrets");
  if (!podPullSecrets || podPullSecrets->empty()) {
    if (const json::array* fromAccount = list(account.get(), "imagePullSecrets");
        fromAccount && !fromAccount->empty()) {
      json::array copy;
      for (const auto& r : *fromAccount)
        if (r.is_object()) copy.push_back(json::object{{"name", str(&r.as_object(), "name")}});
      spec["imagePullSecrets"] = std::move(copy);
    }
  }

  // Upstream's optional lock-down: only the account's own secrets may be used.
  const json::object* accountAnnotations = child(child(account.get(), "metadata"), "annotations");
  if (str(accountAnnotations, kEnforceMountableAnnotation) != "true") return;
  const std::set<std::string> mountable = referenceNames(list(account.get(), "secrets"));
  for (const auto& ref : secretReferences(spec))
    if (!mountable.contains(ref.name))
      throw refuse(ref.what + " is not allowed because service account " + accountName +
                   " does not reference that secret");
  const std::set<std::string> pullable = referenceNames(list(account.get(), "imagePullSecrets"));
  for (const auto& name : referenceNames(list(&spec, "imagePullSecrets")))
    if (!pullable.contains(name))
      throw refuse("image pull secret " + name + " is not allowed because service account " +
                   accountName + " does not reference that image pull secret");
}

}  // namespace skiff::apiserver
