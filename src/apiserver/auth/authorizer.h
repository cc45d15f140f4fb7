// The seam between authentication and authorization (upstream's authorizer.Attributes and
// authorizer.Authorizer). Authentication settles `HttpRequest::client` (the user); the API
// server builds these attributes for each request from its RequestInfo and asks the
// configured authorizers in turn (system:masters, Node, RBAC): the first Allow or Deny wins,
// NoOpinion from all of them is a 403.
#pragma once

#include <memory>
#include <string>

#include "net/http_types.h"

namespace skiff::apiserver {

class CacheHub;

using UserInfo = net::ClientIdentity;

struct AuthorizationAttributes {
  const UserInfo* user = nullptr;
  // Resource requests: get list watch create update patch delete deletecollection (and
  // the special verbs: impersonate, bind, escalate, approve, use, ...). Non-resource
  // requests: the lower-case HTTP method as upstream maps it (get, post, put, ...).
  std::string verb;
  bool resourceRequest = false;
  std::string apiGroup, apiVersion, resource, subresource, namespace_, name;
  std::string path;  // the request path (what non-resource rules match)
  // list/watch/deletecollection: the request's raw ?fieldSelector= (KEP-4601, authorize
  // with selectors; the Node authorizer lets a node list only its own pods).
  std::string fieldSelector;
};

enum class Decision { Allow, Deny, NoOpinion };

struct AuthorizationResult {
  Decision decision = Decision::NoOpinion;
  std::string reason;  // appended to the 403 message when not empty, as upstream does
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual AuthorizationResult authorize(const AuthorizationAttributes& attributes) const = 0;
};

// RBAC over the watch cache's Roles, ClusterRoles, RoleBindings and ClusterRoleBindings
// (rbac_authorizer.cpp).
std::unique_ptr<Authorizer> makeRbacAuthorizer(CacheHub& caches);

}  // namespace skiff::apiserver
