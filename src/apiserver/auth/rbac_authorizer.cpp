#include "apiserver/auth/rbac_authorizer.h"

namespace skiff::apiserver {

namespace rbac {

namespace {

constexpr const char* kPrefixes[4] = {
    "/registry/rbac.authorization.k8s.io/roles/",
    "/registry/rbac.authorization.k8s.io/clusterroles/",
    "/registry/rbac.authorization.k8s.io/rolebindings/",
    "/registry/rbac.authorization.k8s.io/clusterrolebindings/",
};

// Upstream's utilerrors.NewAggregate(...).Error(): one message alone, several in brackets.
std::string aggregate(const std::vector<std::string>& errors) {
  if (errors.size() == 1) return errors[0];
  std::string out = "[";
  for (size_t i = 0; i < errors.size(); ++i) out += (i ? ", " : "") + errors[i];
  return out + "]";
}

}  // namespace

RbacAuthorizer::RbacAuthorizer(CacheHub& caches) : caches_(caches) {
  for (size_t i = 0; i < 4; ++i) sources_[i] = &caches_.cacheFor(kPrefixes[i]);
}

std::shared_ptr<const RbacIndex> RbacAuthorizer::index() const {
  std::array<int64_t, 4> revisions;
  for (size_t i = 0; i < 4; ++i) revisions[i] = sources_[i]->lastRevision();
  std::lock_guard lock(mu_);
  if (index_ && revisions == builtAt_) return index_;
  // Revisions read before listing: a change that lands while we list makes the next
  // request rebuild again, never miss it.
  RbacObjects objects;
  std::vector<ObjectPtr>* targets[4] = {&objects.roles, &objects.clusterRoles,
                                        &objects.roleBindings, &objects.clusterRoleBindings};
  for (size_t i = 0; i < 4; ++i) {
    auto page = sources_[i]->list("", "", 0, nullptr, caches_.observedRevision());
    targets[i]->reserve(page.items.size());
    for (auto& item : page.items) targets[i]->push_back(std::move(item.second));
  }
  index_ = RbacIndex::build(objects);
  builtAt_ = revisions;
  return index_;
}

AuthorizationResult authorizeWith(const RbacIndex& index, const AuthorizationAttributes& a) {
  static const UserInfo kNobody;
  const UserInfo& user = a.user ? *a.user : kNobody;
  std::vector<std::string> errors;
  for (const auto& grant : index.grantsFor(user, a.namespace_)) {
    const Binding& b = *grant.binding;
    if (!b.rules) {
      errors.push_back(b.error);
      continue;
    }
    for (const auto& rule : *b.rules)
      if (ruleAllows(a, rule)) return {Decision::Allow, b.allowedReasons[grant.subject]};
  }
  AuthorizationResult result;
  if (!errors.empty()) result.reason = "RBAC: " + aggregate(errors);
  return result;
}

RbacAuthorizer::Rules rulesWith(const RbacIndex& index, const UserInfo& user,
                                const std::string& ns) {
  RbacAuthorizer::Rules out;
  for (const auto& grant : index.grantsFor(user, ns)) {
    if (!grant.binding->rules) {
      out.errors.push_back(grant.binding->error);
      continue;
    }
    out.rules.insert(out.rules.end(), grant.binding->rules->begin(), grant.binding->rules->end());
  }
  return out;
}

AuthorizationResult RbacAuthorizer::authorize(const AuthorizationAttributes& a) const {
  return authorizeWith(*index(), a);
}

RbacAuthorizer::Rules RbacAuthorizer::rulesFor(const UserInfo& user, const std::string& ns) const {
  return rulesWith(*index(), user, ns);
}

}  // namespace rbac

std::unique_ptr<Authorizer> makeRbacAuthorizer(CacheHub& caches) {
  return std::make_unique<rbac::RbacAuthorizer>(caches);
}

}  // namespace skiff::apiserver
