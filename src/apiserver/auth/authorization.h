// The authorizer chain of --authorization-mode (upstream's union authorizer): members of
// system:masters are always allowed first; then each mode in order, the first Allow or Deny
// decides, and NoOpinion from all of them is a 403.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "apiserver/auth/authorizer.h"

namespace skiff::apiserver::auth {

// Modes: RBAC, Node (upstream's node authorizer, auth/node_authorizer.h),
// AlwaysAllow, AlwaysDeny. Throws std::invalid_argument for an unknown or repeated mode.
std::unique_ptr<Authorizer> makeAuthorizerChain(const std::vector<std::string>& modes,
                                                CacheHub& caches);
// The same over authorizers built elsewhere (tests), after the system:masters one.
std::unique_ptr<Authorizer> makeAuthorizerChain(std::vector<std::unique_ptr<Authorizer>> modes);
std::unique_ptr<Authorizer> makeAlwaysAllowAuthorizer();

}  // namespace skiff::apiserver::auth
