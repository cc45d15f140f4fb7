#include "apiserver/auth/node_restriction.h"

#include <boost/json.hpp>

#include "api/json_access.h"
#include "apiserver/auth/node_authorizer.h"
#include "common/api_error.h"

namespace skiff::apiserver::rbac {

namespace json = boost::json;

namespace {

constexpr const char* kMirrorAnnotation = "kubernetes.io/config.mirror";

// What a mirror pod may not reference (upstream refuses them all): the first kind found.
std::string referencedKind(const json::object& pod) {
  const json::object& spec = api::objectOrEmpty(pod, {"spec"});
  if (!api::stringField(spec, "serviceAccountName").empty()) return "a service account";
  bool secrets = !api::arrayOrEmpty(spec, {"imagePullSecrets"}).empty(), configmaps = false,
       pvcs = false;
  for (const auto& v : api::arrayOrEmpty(spec, {"volumes"})) {
    if (!v.is_object()) continue;
    const json::object& vol = v.as_object();
    secrets |= vol.contains("secret");
    configmaps |= vol.contains("configMap");
    pvcs |= vol.contains("persistentVolumeClaim") || vol.contains("ephemeral");
    for (const auto& src : api::arrayOrEmpty(vol, {"projected", "sources"})) {
      if (!src.is_object()) continue;
      secrets |= src.as_object().contains("secret");
      configmaps |= src.as_object().contains("configMap");
    }
  }
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"})
    for (const auto& c : api::arrayOrEmpty(spec, {list})) {
      if (!c.is_object()) continue;
      for (const auto& from : api::arrayOrEmpty(c.as_object(), {"envFrom"})) {
        if (!from.is_object()) continue;
        secrets |= from.as_object().contains("secretRef");
        configmaps |= from.as_object().contains("configMapRef");
      }
      for (const auto& env : api::arrayOrEmpty(c.as_object(), {"env"})) {
        if (!env.is_object()) continue;
        secrets |= api::objectAt(env.as_object(), {"valueFrom", "secretKeyRef"}) != nullptr;
        configmaps |= api::objectAt(env.as_object(), {"valueFrom", "configMapKeyRef"}) != nullptr;
      }
    }
  if (secrets) return "secrets";
  if (configmaps) return "configmaps";
  if (pvcs) return "persistentvolumeclaims";
  return {};
}

std::string nodeNameOf(const json::object* pod) {
  return pod ? api::stringAt(*pod, {"spec", "nodeName"}) : "";
}

}  // namespace

void admitNodeWrite(const api::ResourceInfo& info, const std::string& operation,
                    const std::string& subresource, const std::string& name,
                    const json::object* obj, const json::object* old, const UserInfo* user) {
  std::string node;
  if (!user || !NodeAuthorizer::nodeIdentity(*user, node)) return;
  const std::string qualified = info.qualifiedResource();
  auto refuse = [&](const std::string& why) { throw forbidden(qualified, name, why); };
  if (node.empty()) refuse("could not determine node from user " + goQuote(user->user));
  const std::string quotedNode = goQuote(node);

  if (info.group.empty() && info.plural == "pods") {
    if (subresource == "status") {
      if (operation != "UPDATE") refuse("unexpected operation " + goQuote(operation));
      if (nodeNameOf(old) != node)
        refuse("node " + quotedNode +
               " can only update pod status for pods with spec.nodeName set to itself");
      return;
    }
    if (!subresource.empty() && subresource != "eviction")
      refuse("unexpected pod subresource " + goQuote(subresource) +
             ", only 'status' and 'eviction' are allowed");
    if (operation == "DELETE") {
      if (nodeNameOf(old) != node)
        refuse("node " + quotedNode + " can only delete pods with spec.nodeName set to itself");
      return;
    }
    if (operation != "CREATE")
      refuse("unexpected operation " + goQuote(operation) + ", node " + quotedNode +
             " can only create and delete mirror pods");
    if (!api::objectOrEmpty(*obj, {"metadata", "annotations"}).contains(kMirrorAnnotation))
      refuse("pod does not have " + goQuote(kMirrorAnnotation) + " annotation, node " + quotedNode +
             " can only create mirror pods");
    if (nodeNameOf(obj) != node)
      refuse("node " + quotedNode + " can only create pods with spec.nodeName set to itself");
    const json::array& owners = api::arrayOrEmpty(*obj, {"metadata", "ownerReferences"});
    if (owners.size() > 1)
      refuse("node " + quotedNode +
             " can only create pods with a single owner reference set to itself");
    if (owners.empty() || !owners[0].is_object() ||
        api::stringField(owners[0].as_object(), "kind") != "Node" ||
        api::stringField(owners[0].as_object(), "name") != node)
      refuse("node " + quotedNode + " can only create pods with an owner reference set to itself");
    if (auto kind = referencedKind(*obj); !kind.empty())
      refuse("node " + quotedNode + " can not create pods that reference " + kind);
    return;
  }
  if (info.group.empty() && info.plural == "nodes") {
    if (name != node)
      refuse("node " + quotedNode + " is not allowed to modify node " + goQuote(name));
    return;
  }
  if (info.group.empty() && info.plural == "persistentvolumeclaims") {
    if (subresource != "status") refuse("may only update PVC status");
    return;
  }
  if (info.group == "coordination.k8s.io" && info.plural == "leases") {
    if (api::stringAt(obj ? *obj : *old, {"metadata", "namespace"}) != "kube-node-lease")
      refuse("can only access leases in the \"kube-node-lease\" system namespace");
    if (name != node)
      refuse("can only access node lease with the same name as the requesting node");
    return;
  }
  if (info.group == "storage.k8s.io" && info.plural == "csinodes") {
    if (name != node) refuse("can only access CSINode with the same name as the requesting node");
  }
}

}  // namespace skiff::apiserver::rbac
