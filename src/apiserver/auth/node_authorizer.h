// Upstream's Node authorizer: a kubelet (user system:node:NAME in group system:nodes) may
// read only the Secrets, ConfigMaps, PersistentVolumeClaims, PersistentVolumes and
// ServiceAccount tokens that pods bound to NAME reference, its own Lease and CSINode; other
// requests are judged against the static node rules (upstream's NodeRules, the
// system:node ClusterRole's). Everything else — other users — is NoOpinion.
//
// The graph is walked from the watch cache per request (the pods bound to the node, read
// through the pods cache's spec.nodeName index, then their references), not kept
// incrementally as upstream's graph is: a walk costs one pass over that node's pods.
#pragma once

#include "apiserver/auth/rbac_rules.h"
#include "apiserver/watch_cache.h"

namespace skiff::apiserver::rbac {

class NodeAuthorizer final : public Authorizer {
 public:
  explicit NodeAuthorizer(CacheHub& caches);
  AuthorizationResult authorize(const AuthorizationAttributes& a) const override;

  // "NAME" for system:node:NAME in system:nodes, "" for someone else (upstream's
  // NodeIdentity: is a node when the group is there, named by the user name's suffix).
  static bool nodeIdentity(const UserInfo& user, std::string& nodeName);

 private:
  // Is the object (kind: secret, configmap, pvc, pv, serviceaccount) referenced by a pod
  // bound to `node`?
  bool related(const std::string& node, const std::string& kind, const std::string& ns,
               const std::string& name) const;
  AuthorizationResult authorizeGraph(const std::string& node, const std::string& kind,
                                     const AuthorizationAttributes& a) const;

  CacheHub& caches_;
  ResourceCache& pods_;
  ResourceCache& pvcs_;
  std::vector<PolicyRule> nodeRules_;
};

}  // namespace skiff::apiserver::rbac

namespace skiff::apiserver {
// The Node authorizer over `caches` (for the authorizer chain: system:masters → Node → RBAC).
std::unique_ptr<Authorizer> makeNodeAuthorizer(CacheHub& caches);
}  // namespace skiff::apiserver
