// Impersonation (upstream's impersonation filter): Impersonate-User, -Group, -Uid and
// -Extra-<key> headers let an authorized requester act as another user. Each requested
// user, group, uid and extra value is checked with verb "impersonate" (users, groups,
// serviceaccounts in "", uids and userextras in authentication.k8s.io).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "apiserver/auth/authorizer.h"
#include "net/http_types.h"

namespace skiff::apiserver::auth {

struct ImpersonationRequest {
  std::string user;  // empty: none requested
  std::vector<std::string> groups;
  std::optional<std::string> uid;
  std::map<std::string, std::vector<std::string>> extra;
  bool any() const { return !user.empty() || !groups.empty() || uid || !extra.empty(); }
};

// The Impersonate-* headers of a request (repeated headers arrive joined by ", ").
ImpersonationRequest parseImpersonation(const net::HttpRequest& req);

// nullopt without impersonation headers; else the user to act as. Throws upstream's 500
// when groups/uid/extra come without a user, and its 403 for the first value the
// requester may not impersonate.
std::optional<UserInfo> impersonate(const net::HttpRequest& req, const UserInfo& requester,
                                    const Authorizer& authorizer);

}  // namespace skiff::apiserver::auth
