// The RBAC objects indexed by subject, so deciding a request costs a few hash lookups
// (the user's name and each of its groups, cluster-wide and in the request's namespace)
// and the rules of the bindings found, not a scan of every binding as upstream's lister
// walk does. Immutable once built: the authorizer swaps in a new index when an RBAC object
// changes (rare next to requests).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "apiserver/auth/rbac_rules.h"
#include "apiserver/watch_cache.h"

namespace skiff::apiserver::rbac {

// The four kinds' objects as read from the watch cache (any order).
struct RbacObjects {
  std::vector<ObjectPtr> roles, clusterRoles, roleBindings, clusterRoleBindings;
};

struct Binding {
  bool cluster = false;  // ClusterRoleBinding (else RoleBinding)
  std::string name, namespace_;
  std::string roleKind, roleName;
  // The referenced role's rules; null when it cannot be resolved (then `error` says why,
  // in upstream's words).
  std::shared_ptr<const std::vector<PolicyRule>> rules;
  std::string error;
  // Per subject, the reason an allow through it gives, in upstream's words: RBAC: allowed
  // by ClusterRoleBinding "b" of ClusterRole "r" to User "u". Made when the index is built,
  // so an allowed request copies one string (composing it cost ~1 % of a get's CPU).
  std::vector<std::string> allowedReasons;
};

class RbacIndex {
 public:
  static std::shared_ptr<const RbacIndex> build(const RbacObjects& objects);

  struct Grant {
    const Binding* binding;
    size_t subject;  // the first of the binding's subjects that names the user
  };
  // The bindings that apply to `user` in `ns` (empty: cluster-wide only), in upstream's
  // visiting order: ClusterRoleBindings, then the namespace's RoleBindings, each by name.
  std::vector<Grant> grantsFor(const UserInfo& user, const std::string& ns) const;

  // A role reference's rules as upstream's GetRoleReferenceRules resolves them; null and
  // `error` set when it cannot.
  std::shared_ptr<const std::vector<PolicyRule>> roleRules(const std::string& kind,
                                                           const std::string& name,
                                                           const std::string& ns,
                                                           std::string* error) const;

 private:
  using RulesPtr = std::shared_ptr<const std::vector<PolicyRule>>;
  std::unordered_map<std::string, RulesPtr> clusterRoles_;  // name
  std::unordered_map<std::string, RulesPtr> roles_;         // ns/name
  std::vector<Binding> bindings_;  // ClusterRoleBindings by name, then RoleBindings by ns/name
  // "u:<user>" / "g:<group>" (prefixed by "<ns>\n" for RoleBindings) → (binding, subject).
  // A request looks its user and groups up by views (SubjectView), building no key string.
  struct SubjectView {
    std::string_view ns;  // empty: cluster-wide
    char kind;            // 'u' or 'g'
    std::string_view name;
  };
  struct SubjectKeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const noexcept;
    size_t operator()(const SubjectView& subject) const noexcept;
  };
  struct SubjectKeyEqual {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
    bool operator()(const SubjectView& s, std::string_view key) const noexcept;
    bool operator()(std::string_view key, const SubjectView& s) const noexcept {
      return (*this)(s, key);
    }
  };
  std::unordered_map<std::string, std::vector<std::pair<uint32_t, uint32_t>>, SubjectKeyHash,
                     SubjectKeyEqual>
      grants_;
};

}  // namespace skiff::apiserver::rbac
