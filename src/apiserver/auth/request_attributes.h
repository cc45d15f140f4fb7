// The authorization attributes of a request, derived from its method, path and query as
// upstream's RequestInfoFactory does (independently of skiff's own routing, so what is
// authorized is what upstream would authorize), and the 403 that refuses them.
#pragma once

#include <string>

#include "apiserver/auth/authorizer.h"
#include "common/api_error.h"
#include "net/http_types.h"

namespace skiff::apiserver::auth {

// Verbs: GET/HEAD get, or list/watch without a name (?watch=true, or the /watch/ prefix);
// POST create; PUT update; PATCH patch; DELETE delete, deletecollection without a name;
// /proxy/ prefix proxy. Paths outside /api/V/... and /apis/G/V/...: non-resource, with the
// lower-case method as verb.
AuthorizationAttributes requestAttributes(const net::HttpRequest& req, const UserInfo& user);

// Upstream's Forbidden: `pods "x" is forbidden: User "u" cannot get resource "pods" in API
// group "" in the namespace "ns"`, `forbidden: User "u" cannot get path "/foo"`; the
// authorizer's reason after ": " when there is one. Details: name, group, kind (resource).
ApiError forbiddenError(const AuthorizationAttributes& attributes, const std::string& reason);

}  // namespace skiff::apiserver::auth
