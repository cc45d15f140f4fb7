#include "apiserver/auth/authorization.h"

#include <algorithm>
#include <stdexcept>

#include "apiserver/auth/node_authorizer.h"

namespace skiff::apiserver::auth {

namespace {

class PrivilegedGroupAuthorizer final : public Authorizer {
 public:
  AuthorizationResult authorize(const AuthorizationAttributes& a) const override {
    if (a.user)
      for (const auto& g : a.user->groups)
        if (g == "system:masters") return {Decision::Allow, ""};
    return {};
  }
};

class FixedAuthorizer final : public Authorizer {
 public:
  explicit FixedAuthorizer(Decision d) : decision_(d) {}
  AuthorizationResult authorize(const AuthorizationAttributes&) const override {
    return {decision_, ""};
  }

 private:
  Decision decision_;
};

class UnionAuthorizer final : public Authorizer {
 public:
  explicit UnionAuthorizer(std::vector<std::unique_ptr<Authorizer>> members)
      : members_(std::move(members)) {}
  AuthorizationResult authorize(const AuthorizationAttributes& a) const override {
    std::string reasons;
    for (const auto& m : members_) {
      AuthorizationResult r = m->authorize(a);
      if (r.decision != Decision::NoOpinion) return r;
      if (!r.reason.empty()) reasons += (reasons.empty() ? "" : "\n") + r.reason;
    }
    return {Decision::NoOpinion, reasons};
  }

 private:
  std::vector<std::unique_ptr<Authorizer>> members_;
};

}  // namespace

std::unique_ptr<Authorizer> makeAlwaysAllowAuthorizer() {
  return std::make_unique<FixedAuthorizer>(Decision::Allow);
}

std::unique_ptr<Authorizer> makeAuthorizerChain(std::vector<std::unique_ptr<Authorizer>> modes) {
  std::vector<std::unique_ptr<Authorizer>> members;
  members.push_back(std::make_unique<PrivilegedGroupAuthorizer>());
  for (auto& m : modes) members.push_back(std::move(m));
  return std::make_unique<UnionAuthorizer>(std::move(members));
}

std::unique_ptr<Authorizer> makeAuthorizerChain(const std::vector<std::string>& modes,
                                                CacheHub& caches) {
  if (modes.empty()) throw std::invalid_argument("at least one authorization-mode must be passed");
  std::vector<std::unique_ptr<Authorizer>> members;
  std::vector<std::string> seen;
  for (const auto& mode : modes) {
    if (std::find(seen.begin(), seen.end(), mode) != seen.end())
      throw std::invalid_argument("authorization-mode " + mode +
                                  " has mode specified more than once");
    seen.push_back(mode);
    if (mode == "RBAC")
      members.push_back(makeRbacAuthorizer(caches));
    else if (mode == "Node")
      members.push_back(makeNodeAuthorizer(caches));
    else if (mode == "AlwaysAllow")
      members.push_back(std::make_unique<FixedAuthorizer>(Decision::Allow));
    else if (mode == "AlwaysDeny")
      members.push_back(std::make_unique<FixedAuthorizer>(Decision::Deny));
    else
      throw std::invalid_argument("authorization-mode \"" + mode +
                                  "\" is not a valid mode (RBAC, Node, AlwaysAllow, AlwaysDeny)");
  }
  return makeAuthorizerChain(std::move(members));
}

}  // namespace skiff::apiserver::auth
