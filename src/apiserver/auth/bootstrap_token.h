// Bootstrap tokens (upstream's bootstrap authenticator): "<id>.<secret>" matched against the
// Secret kube-system/bootstrap-token-<id> of type bootstrap.kubernetes.io/token, so a
// joining node can authenticate before it has a certificate.
#pragma once

#include <string_view>

#include "apiserver/auth/token_authenticator.h"

namespace skiff::apiserver::auth {

// NotMine for anything but a usable bootstrap token (upstream answers "not authenticated"
// without an error); Authenticated as system:bootstrap:<id> in system:bootstrappers and the
// Secret's auth-extra-groups.
TokenResult authenticateBootstrapToken(std::string_view token, const ObjectLookup& lookup,
                                       int64_t now);

}  // namespace skiff::apiserver::auth
