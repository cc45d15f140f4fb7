// Escalation prevention for writes of Roles, ClusterRoles, RoleBindings and
// ClusterRoleBindings, as upstream's policy-based RBAC storage: a writer may only grant
// permissions it holds itself, unless it may `escalate` the role or `bind` the role a
// binding references. Members of system:masters are exempt.
#pragma once

#include <boost/json/object.hpp>

#include "api/resource_registry.h"
#include "apiserver/auth/rbac_authorizer.h"

namespace skiff::apiserver::rbac {

// Throws upstream's 403 when `user` may not make this write (old: the stored object of an
// update, else null). `user` null is a write the server makes itself (bootstrap policy),
// which is exempt; a user without a name is a request without identity.
void confirmNoEscalation(const RbacAuthorizer& rbac, const api::ResourceInfo& info,
                         const boost::json::object& obj, const boost::json::object* old,
                         const UserInfo* user);

// Upstream's ConfirmNoEscalation: empty when `user`'s RBAC rules in `ns` cover `rules`,
// else the reason (`user "x" (groups=[...]) is attempting to grant RBAC permissions not
// currently held:\n{...}`).
std::string escalationError(const RbacIndex& index, const UserInfo& user, const std::string& ns,
                            const std::vector<PolicyRule>& rules);

}  // namespace skiff::apiserver::rbac
