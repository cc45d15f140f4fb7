#include "apiserver/auth/rbac_escalation.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "api/json_access.h"
#include "common/api_error.h"

namespace skiff::apiserver::rbac {

namespace json = boost::json;

namespace {

constexpr const char* kGroup = "rbac.authorization.k8s.io";

bool inMasters(const UserInfo& user) {
  return std::find(user.groups.begin(), user.groups.end(), "system:masters") != user.groups.end();
}

// May `user` use the special verb (escalate, bind) on that role? (RBAC only: masters were
// let through before, and the other authorizers grant no such verbs.)
bool mayUseVerb(const RbacIndex& index, const UserInfo& user, const std::string& verb,
                const std::string& resource, const std::string& ns, const std::string& name) {
  AuthorizationAttributes a;
  a.user = &user;
  a.verb = verb;
  a.resourceRequest = true;
  a.apiGroup = kGroup;
  a.apiVersion = "*";
  a.resource = resource;
  a.namespace_ = ns;
  a.name = name;
  return authorizeWith(index, a).decision == Decision::Allow;
}

bool sameJson(const json::object& a, const json::object* b, const char* key) {
  const json::value* x = a.if_contains(key);
  const json::value* y = b ? b->if_contains(key) : nullptr;
  if (!x || !y) return !x && !y;
  return *x == *y;
}

bool hasAggregationRule(const json::object& role) {
  const json::value* rule = role.if_contains("aggregationRule");
  if (!rule || !rule->is_object()) return false;
  const json::value* selectors = rule->as_object().if_contains("clusterRoleSelectors");
  return selectors && selectors->is_array() && !selectors->as_array().empty();
}

// Upstream's IsOnlyMutatingGCFields: an update that touches only ownerReferences or
// finalizers (what the garbage collector writes) is never an escalation.
bool onlyGcFields(const json::object& obj, const json::object* old) {
  if (!old) return false;
  json::object a = obj, b = *old;
  for (json::object* o : {&a, &b}) {
    if (json::value* meta = o->if_contains("metadata"); meta && meta->is_object()) {
      meta->as_object().erase("ownerReferences");
      meta->as_object().erase("finalizers");
      meta->as_object().erase("resourceVersion");
      meta->as_object().erase("managedFields");
    }
  }
  return a == b;
}

}  // namespace

std::string escalationError(const RbacIndex& index, const UserInfo& user, const std::string& ns,
                            const std::vector<PolicyRule>& rules) {
  if (user.user.empty() && user.groups.empty()) return "no user on request";
  RbacAuthorizer::Rules owner = rulesWith(index, user, ns);
  std::vector<PolicyRule> missing;
  if (covers(owner.rules, rules, &missing)) return {};
  std::set<std::string> descriptions;  // sorted and unique, as upstream's sets.String
  for (const auto& rule : compactRules(missing)) descriptions.insert(compactString(rule));
  std::string msg = "user " + goQuote(user.user) + " (groups=" + goQuotedList(user.groups) +
                    ") is attempting to grant RBAC permissions not currently held:";
  for (const auto& d : descriptions) msg += "\n" + d;
  if (!owner.errors.empty()) {
    // Upstream prints a []error holding one aggregate: "[e]", or "[[e1, e2]]".
    std::string errors = owner.errors.size() == 1 ? owner.errors[0] : "[";
    if (owner.errors.size() > 1) {
      for (size_t i = 0; i < owner.errors.size(); ++i) errors += (i ? ", " : "") + owner.errors[i];
      errors += "]";
    }
    msg += "; resolution errors: [" + errors + "]";
  }
  return msg;
}

void confirmNoEscalation(const RbacAuthorizer& rbac, const api::ResourceInfo& info,
                         const json::object& obj, const json::object* old, const UserInfo* user) {
  if (info.group != kGroup || !user || inMasters(*user)) return;
  const std::string& resource = info.plural;
  const std::string name = api::stringAt(obj, {"metadata", "name"});
  const std::string ns = info.namespaced ? api::stringAt(obj, {"metadata", "namespace"}) : "";
  const std::string qualified = info.qualifiedResource();
  if (onlyGcFields(obj, old)) return;
  auto index = rbac.index();

  if (resource == "roles" || resource == "clusterroles") {
    // The URL names the role on updates only (a create posts to the collection).
    if (mayUseVerb(*index, *user, "escalate", resource, ns, old ? name : "")) return;
    if (auto why = escalationError(*index, *user, ns, rulesOf(obj)); !why.empty())
      throw forbidden(qualified, name, why);
    // An aggregationRule may gather any rule: setting one takes every permission.
    if (resource == "clusterroles" && hasAggregationRule(obj) &&
        !(old && sameJson(obj, old, "aggregationRule"))) {
      const std::vector<PolicyRule> everything = {{{"*"}, {"*"}, {"*"}, {}, {}},
                                                  {{"*"}, {}, {}, {}, {"*"}}};
      if (!escalationError(*index, *user, ns, everything).empty())
        throw forbidden(qualified, name,
                        "must have cluster-admin privileges to use the aggregationRule");
    }
    return;
  }
  if (resource != "rolebindings" && resource != "clusterrolebindings") return;
  // A reference validation will refuse anyway is left to validation, as upstream does.
  if (api::stringAt(obj, {"roleRef", "apiGroup"}) != kGroup) return;
  const std::string roleKind = api::stringAt(obj, {"roleRef", "kind"});
  const std::string roleName = api::stringAt(obj, {"roleRef", "name"});
  const std::string roleResource = roleKind == "ClusterRole" ? "clusterroles"
                                   : roleKind == "Role"      ? "roles"
                                                             : "";
  if (!roleResource.empty() && mayUseVerb(*index, *user, "bind", roleResource, ns, roleName))
    return;
  std::string error;
  auto rules = index->roleRules(roleKind, roleName, ns, &error);
  if (!rules) throw forbidden(qualified, name, error);
  if (auto why = escalationError(*index, *user, ns, *rules); !why.empty())
    throw forbidden(qualified, name, why);
}

}  // namespace skiff::apiserver::rbac
