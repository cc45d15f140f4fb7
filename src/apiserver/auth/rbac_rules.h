// RBAC policy rules as upstream evaluates them (rbac.authorization.k8s.io/v1 PolicyRule):
// matching a request against one rule, and whether one set of rules covers another (the
// escalation check). Pure functions over plain structs, so tests need no server.
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <vector>

#include "apiserver/auth/authorizer.h"

namespace skiff::apiserver::rbac {

struct PolicyRule {
  std::vector<std::string> verbs, apiGroups, resources, resourceNames, nonResourceURLs;
  bool operator==(const PolicyRule&) const = default;
};

// Reads one rule (missing or mistyped lists are empty) and an object's "rules" array.
PolicyRule ruleFromJson(const boost::json::object& rule);
std::vector<PolicyRule> rulesOf(const boost::json::object& roleObject);
// The rule as JSON, empty lists left out (as upstream's omitempty does).
boost::json::object ruleToJson(const PolicyRule& rule);

// Upstream's RuleAllows: verbs and apiGroups match exactly or by "*"; resources by "*",
// "resource", "resource/subresource" or "*/subresource"; resourceNames, when the rule has
// any, only requests naming one of them (a list or create names nothing, so never); a
// non-resource request matches nonResourceURLs exactly or by a trailing "*" prefix.
bool ruleAllows(const AuthorizationAttributes& request, const PolicyRule& rule);

// Upstream's Covers: true when every atomic permission of `servant` (one verb, group,
// resource and name, or one verb and URL) is held by some rule of `owner`; `missing` gets
// the permissions that are not.
bool covers(const std::vector<PolicyRule>& owner, const std::vector<PolicyRule>& servant,
            std::vector<PolicyRule>* missing = nullptr);
// Upstream's CompactRules: atomic rules of one group and resource (and at most one name)
// merged into one rule with all their verbs.
std::vector<PolicyRule> compactRules(const std::vector<PolicyRule>& rules);
// Upstream's CompactString, e.g. {APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}.
std::string compactString(const PolicyRule& rule);
// Go's %q of a []string: ["a" "b"].
std::string goQuotedList(const std::vector<std::string>& items);
// Go's %q of one string.
std::string goQuote(const std::string& s);

}  // namespace skiff::apiserver::rbac
