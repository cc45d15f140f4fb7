// The authorization.k8s.io/v1 reviews, answered by the server and never stored:
// SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectAccessReview (can this user do
// that?) and SelfSubjectRulesReview (what may the requesting user do in a namespace?).
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "apiserver/auth/rbac_authorizer.h"

namespace skiff::apiserver::rbac {

// The decision the server's authorizers would take: system:masters, then `node` (the Node
// authorizer; may be null), then RBAC.
AuthorizationResult reviewDecision(const RbacIndex& index, const Authorizer* node,
                                   const AuthorizationAttributes& a);

// Evaluates a review object of `kind` (the decoded body) posted by `requester` to
// namespace `urlNamespace` (LocalSubjectAccessReview only); returns it with its status.
// Throws upstream's 400/422 for bad input.
boost::json::object evaluateReview(const RbacAuthorizer& rbac, const Authorizer* node,
                                   const std::string& kind, boost::json::object review,
                                   const UserInfo& requester, const std::string& urlNamespace);

}  // namespace skiff::apiserver::rbac
