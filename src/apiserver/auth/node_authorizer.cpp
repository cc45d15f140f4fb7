#include "apiserver/auth/node_authorizer.h"

#include <algorithm>
#include <boost/json.hpp>

#include "api/json_access.h"
#include "apiserver/auth/bootstrap_policy.h"
#include "apiserver/auth/rbac_authorizer.h"

namespace skiff::apiserver::rbac {

namespace json = boost::json;

namespace {

constexpr const char* kPods = "/registry/core/pods/";
constexpr const char* kPvcs = "/registry/core/persistentvolumeclaims/";

using Visit = std::function<bool(const std::string& kind, const std::string& name)>;

// Calls visit(kind, name) for what the pod references, as upstream's graph populator adds
// edges: its ServiceAccount, image pull secrets, secrets and configmaps of volumes
// (projected ones too), env and envFrom of every container, and PVCs (ephemeral volumes
// name theirs <pod>-<volume>). Stops when visit returns true.
bool visitPodReferences(const json::object& pod, const Visit& visit) {
  const json::object& spec = api::objectOrEmpty(pod, {"spec"});
  if (auto sa = api::stringField(spec, "serviceAccountName");
      !sa.empty() && visit("serviceaccount", sa))
    return true;
  for (const auto& s : api::arrayOrEmpty(spec, {"imagePullSecrets"}))
    if (s.is_object() && visit("secret", api::stringField(s.as_object(), "name"))) return true;
  const std::string podName = api::stringAt(pod, {"metadata", "name"});
  for (const auto& v : api::arrayOrEmpty(spec, {"volumes"})) {
    if (!v.is_object()) continue;
    const json::object& vol = v.as_object();
    if (auto n = api::stringAt(vol, {"secret", "secretName"}); !n.empty() && visit("secret", n))
      return true;
    if (auto n = api::stringAt(vol, {"configMap", "name"}); !n.empty() && visit("configmap", n))
      return true;
    if (auto n = api::stringAt(vol, {"persistentVolumeClaim", "claimName"});
        !n.empty() && visit("pvc", n))
      return true;
    if (vol.contains("ephemeral") && visit("pvc", podName + "-" + api::stringField(vol, "name")))
      return true;
    for (const auto& src : api::arrayOrEmpty(vol, {"projected", "sources"})) {
      if (!src.is_object()) continue;
      if (auto n = api::stringAt(src.as_object(), {"secret", "name"});
          !n.empty() && visit("secret", n))
        return true;
      if (auto n = api::stringAt(src.as_object(), {"configMap", "name"});
          !n.empty() && visit("configmap", n))
        return true;
    }
    for (const char* driver : {"csi", "cephfs", "cinder", "flexVolume", "iscsi", "rbd", "azureFile",
                               "scaleIO", "storageos"}) {
      if (auto n = api::stringAt(vol, {driver, "nodePublishSecretRef", "name"});
          !n.empty() && visit("secret", n))
        return true;
      if (auto n = api::stringAt(vol, {driver, "secretRef", "name"});
          !n.empty() && visit("secret", n))
        return true;
    }
  }
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    for (const auto& c : api::arrayOrEmpty(spec, {list})) {
      if (!c.is_object()) continue;
      for (const auto& from : api::arrayOrEmpty(c.as_object(), {"envFrom"})) {
        if (!from.is_object()) continue;
        if (auto n = api::stringAt(from.as_object(), {"secretRef", "name"});
            !n.empty() && visit("secret", n))
          return true;
        if (auto n = api::stringAt(from.as_object(), {"configMapRef", "name"});
            !n.empty() && visit("configmap", n))
          return true;
      }
      for (const auto& env : api::arrayOrEmpty(c.as_object(), {"env"})) {
        if (!env.is_object()) continue;
        if (auto n = api::stringAt(env.as_object(), {"valueFrom", "secretKeyRef", "name"});
            !n.empty() && visit("secret", n))
          return true;
        if (auto n = api::stringAt(env.as_object(), {"valueFrom", "configMapKeyRef", "name"});
            !n.empty() && visit("configmap", n))
          return true;
      }
    }
  }
  return false;
}

std::vector<PolicyRule> staticNodeRules() {
  for (const auto& role : bootstrapClusterRoles())
    if (api::stringAt(role, {"metadata", "name"}) == "system:node") return rulesOf(role);
  return {};
}

bool oneOf(const std::string& verb, std::initializer_list<const char*> verbs) {
  return std::any_of(verbs.begin(), verbs.end(), [&](const char* v) { return verb == v; });
}

}  // namespace

NodeAuthorizer::NodeAuthorizer(CacheHub& caches)
    : caches_(caches),
      pods_(caches.cacheFor(kPods)),
      pvcs_(caches.cacheFor(kPvcs)),
      nodeRules_(staticNodeRules()) {}

namespace {
// Does a raw field selector pin spec.nodeName to `node` (one of its AND-ed terms)?
bool selectsNode(const std::string& selector, const std::string& node) {
  size_t start = 0;
  while (start <= selector.size()) {
    size_t comma = selector.find(',', start);
    if (comma == std::string::npos) comma = selector.size();
    std::string term = selector.substr(start, comma - start);
    for (const char* op : {"spec.nodeName==", "spec.nodeName="})
      if (term.starts_with(op) && term.substr(std::string_view(op).size()) == node) return true;
    start = comma + 1;
  }
  return false;
}
}  // namespace

bool NodeAuthorizer::nodeIdentity(const UserInfo& user, std::string& nodeName) {
  if (std::find(user.groups.begin(), user.groups.end(), "system:nodes") == user.groups.end())
    return false;
  constexpr std::string_view prefix = "system:node:";
  nodeName = std::string_view(user.user).starts_with(prefix) ? user.user.substr(prefix.size()) : "";
  return true;
}

bool NodeAuthorizer::related(const std::string& node, const std::string& kind,
                             const std::string& ns, const std::string& name) const {
  // Pods bound to the node; for a PV, the PVCs they use that are bound to it.
  // The cache indexes pods by spec.nodeName: only this node's pods (in `ns` unless a PV) are read.
  const std::string prefix = kind == "pv" ? std::string(kPods) : std::string(kPods) + ns + "/";
  auto pods = pods_.listIndexed(node, prefix, 0, nullptr, caches_.observedRevision());
  for (const auto& [key, pod] : pods.items) {
    const std::string podNs = api::stringAt(*pod, {"metadata", "namespace"});
    if (kind != "pv" && podNs != ns) continue;
    bool found = visitPodReferences(*pod, [&](const std::string& k, const std::string& n) {
      if (kind == "pv") {
        if (k != "pvc") return false;
        auto pvc = pvcs_.get(std::string(kPvcs) + podNs + "/" + n);
        return pvc && api::stringAt(*pvc, {"spec", "volumeName"}) == name;
      }
      return k == kind && n == name;
    });
    if (found) return true;
  }
  return false;
}

AuthorizationResult NodeAuthorizer::authorizeGraph(const std::string& node, const std::string& kind,
                                                   const AuthorizationAttributes& a) const {
  if (a.name.empty()) return {Decision::NoOpinion, "No Object name found"};
  if (!related(node, kind, a.namespace_, a.name))
    return {Decision::NoOpinion,
            "no relationship found between node '" + node + "' and this object"};
  return {Decision::Allow, ""};
}

AuthorizationResult NodeAuthorizer::authorize(const AuthorizationAttributes& a) const {
  std::string node;
  if (!a.user || !nodeIdentity(*a.user, node)) return {};
  if (node.empty()) return {Decision::NoOpinion, "unknown node for user " + goQuote(a.user->user)};
  if (a.resourceRequest) {
    const std::string& r = a.resource;
    if (a.apiGroup.empty() && r == "pods" && a.subresource.empty()) {
      // KEP-4601 (on by default since 1.32): a node gets only the pods bound to it and
      // lists/watches pods only through a spec.nodeName=<itself> field selector.
      if (a.verb == "get") {
        if (a.name.empty()) return {Decision::NoOpinion, "No Object name found"};
        auto pod = pods_.get(std::string(kPods) + a.namespace_ + "/" + a.name);
        if (!pod || api::stringAt(*pod, {"spec", "nodeName"}) != node)
          return {Decision::NoOpinion,
                  "no relationship found between node '" + node + "' and this object"};
        return {Decision::Allow, ""};
      }
      if (a.verb == "list" || a.verb == "watch") {
        if (!selectsNode(a.fieldSelector, node))
          return {Decision::NoOpinion,
                  "can only list/watch pods with spec.nodeName field selector"};
        return {Decision::Allow, ""};
      }
    }
    if (a.apiGroup.empty() && (r == "secrets" || r == "configmaps")) {
      if (!oneOf(a.verb, {"get", "list", "watch"}))
        return {Decision::NoOpinion, "can only read resources of this type"};
      if (!a.subresource.empty()) return {Decision::NoOpinion, "cannot read subresource"};
      if (a.namespace_.empty())
        return {Decision::NoOpinion, "can only read namespaced object of this type"};
      return authorizeGraph(node, r == "secrets" ? "secret" : "configmap", a);
    }
    if (a.apiGroup.empty() && (r == "persistentvolumeclaims" || r == "persistentvolumes")) {
      const std::string kind = r == "persistentvolumes" ? "pv" : "pvc";
      if (kind == "pvc" && a.subresource == "status") {
        if (!oneOf(a.verb, {"get", "update", "patch"}))
          return {Decision::NoOpinion, "can only get, update or patch the status of this type"};
        return authorizeGraph(node, kind, a);
      }
      if (a.verb != "get")
        return {Decision::NoOpinion, "can only get individual resources of this type"};
      if (!a.subresource.empty()) return {Decision::NoOpinion, "cannot get subresource"};
      return authorizeGraph(node, kind, a);
    }
    if (a.apiGroup.empty() && r == "serviceaccounts") {
      if (a.verb != "create" || a.name.empty())
        return {Decision::NoOpinion, "can only create tokens for individual service accounts"};
      if (a.subresource != "token")
        return {Decision::NoOpinion, "can only create token subresource of serviceaccount"};
      return authorizeGraph(node, "serviceaccount", a);
    }
    if (a.apiGroup == "coordination.k8s.io" && r == "leases") {
      if (!oneOf(a.verb, {"get", "create", "update", "patch", "delete"}))
        return {Decision::NoOpinion, "can only get, create, update, patch, or delete a node lease"};
      if (a.namespace_ != "kube-node-lease")
        return {Decision::NoOpinion,
                "can only access leases in the \"kube-node-lease\" system namespace"};
      if (a.verb != "create" && a.name != node)
        return {Decision::NoOpinion,
                "can only access node lease with the same name as the requesting node"};
      return {Decision::Allow, ""};
    }
    if (a.apiGroup == "storage.k8s.io" && r == "csinodes") {
      if (!oneOf(a.verb, {"get", "create", "update", "patch", "delete"}))
        return {Decision::NoOpinion, "can only get, create, update, patch, or delete a CSINode"};
      if (!a.subresource.empty())
        return {Decision::NoOpinion, "cannot authorize CSINode subresources"};
      if (a.verb != "create" && a.name != node)
        return {Decision::NoOpinion,
                "can only access CSINode with the same name as the requesting node"};
      return {Decision::Allow, ""};
    }
  }
  // Other resources are not subdivided: the static node rules decide.
  for (const auto& rule : nodeRules_)
    if (ruleAllows(a, rule)) return {Decision::Allow, ""};
  return {};
}

}  // namespace skiff::apiserver::rbac

namespace skiff::apiserver {
std::unique_ptr<Authorizer> makeNodeAuthorizer(CacheHub& caches) {
  return std::make_unique<rbac::NodeAuthorizer>(caches);
}
}  // namespace skiff::apiserver
