// Placeholder until RBAC lands: no opinion on anything, so only the authorizers before it
// (system:masters) allow a request.
#include "apiserver/auth/authorizer.h"

namespace skiff::apiserver {

namespace {
class NoOpinionAuthorizer final : public Authorizer {
 public:
  AuthorizationResult authorize(const AuthorizationAttributes&) const override { return {}; }
};
}  // namespace

std::unique_ptr<Authorizer> makeRbacAuthorizer(CacheHub&) {
  return std::make_unique<NoOpinionAuthorizer>();
}

}  // namespace skiff::apiserver
