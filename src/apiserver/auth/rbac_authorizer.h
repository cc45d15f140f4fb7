// RBAC (upstream's RBACAuthorizer and DefaultRuleResolver) over the watch cache's Roles,
// ClusterRoles, RoleBindings and ClusterRoleBindings.
#pragma once

#include <array>
#include <mutex>

#include "apiserver/auth/authorizer.h"
#include "apiserver/auth/rbac_index.h"

namespace skiff::apiserver::rbac {

class RbacAuthorizer final : public Authorizer {
 public:
  explicit RbacAuthorizer(CacheHub& caches);

  // Allow with upstream's reason (`RBAC: allowed by ClusterRoleBinding "b" of ClusterRole
  // "r" to User "u"`) when a rule of a binding that applies allows it; else NoOpinion, the
  // reason naming unresolvable roles (`RBAC: clusterrole.rbac.authorization.k8s.io "x" not
  // found`).
  AuthorizationResult authorize(const AuthorizationAttributes& attributes) const override;

  struct Rules {
    std::vector<PolicyRule> rules;
    std::vector<std::string> errors;  // role references that did not resolve
  };
  // Every rule that applies to `user` in `ns` (upstream's RulesFor).
  Rules rulesFor(const UserInfo& user, const std::string& ns) const;

  // The current index (rebuilt first when an RBAC object changed since the last one).
  std::shared_ptr<const RbacIndex> index() const;

 private:
  CacheHub& caches_;
  std::array<ResourceCache*, 4> sources_;  // roles, clusterroles, rolebindings, clusterrolebindings
  mutable std::mutex mu_;
  mutable std::shared_ptr<const RbacIndex> index_;
  mutable std::array<int64_t, 4> builtAt_{-1, -1, -1, -1};
};

// The decision for a request from a set of rules (what RbacAuthorizer does per binding).
AuthorizationResult authorizeWith(const RbacIndex& index, const AuthorizationAttributes& a);
RbacAuthorizer::Rules rulesWith(const RbacIndex& index, const UserInfo& user,
                                const std::string& ns);

}  // namespace skiff::apiserver::rbac
