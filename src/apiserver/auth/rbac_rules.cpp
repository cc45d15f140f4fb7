#include "apiserver/auth/rbac_rules.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <map>
#include <tuple>

#include "api/go_text.h"

namespace skiff::apiserver::rbac {

namespace json = boost::json;

namespace {

std::vector<std::string> stringList(const json::object& obj, std::string_view key) {
  std::vector<std::string> out;
  const json::value* v = obj.if_contains(key);
  if (!v || !v->is_array()) return out;
  for (const auto& item : v->as_array())
    if (item.is_string()) out.emplace_back(item.as_string());
  return out;
}

bool has(const std::vector<std::string>& set, std::string_view item) {
  return std::find(set.begin(), set.end(), item) != set.end();
}

bool hasAll(const std::vector<std::string>& set, const std::vector<std::string>& items) {
  for (const auto& item : items)
    if (!has(set, item)) return false;
  return true;
}

bool matchesOrStar(const std::vector<std::string>& set, std::string_view item) {
  for (const auto& s : set)
    if (s == "*" || s == item) return true;
  return false;
}

bool resourceMatches(const PolicyRule& rule, const std::string& combined,
                     const std::string& subresource) {
  for (const auto& r : rule.resources) {
    if (r == "*" || r == combined) return true;
    // "*/subresource": that subresource of every resource. (Upstream has no "resource/*"
    // wildcard: such a rule names the subresource "*" literally.)
    if (!subresource.empty() && r.size() == subresource.size() + 2 && r.starts_with("*/") &&
        r.ends_with(subresource))
      return true;
  }
  return false;
}

bool nonResourceUrlCovers(const std::string& owner, const std::string& path) {
  if (owner == path) return true;
  if (owner.empty() || owner.back() != '*') return false;
  std::string_view prefix(owner);
  while (!prefix.empty() && prefix.back() == '*') prefix.remove_suffix(1);
  return std::string_view(path).starts_with(prefix);
}

bool resourcesCoverAll(const std::vector<std::string>& owner,
                       const std::vector<std::string>& wanted) {
  if (has(owner, "*") || hasAll(owner, wanted)) return true;
  for (const auto& path : wanted) {
    if (has(owner, path)) continue;
    auto slash = path.find('/');
    if (slash == std::string::npos) return false;
    if (!has(owner, "*/" + path.substr(slash + 1))) return false;
  }
  return true;
}

bool urlsCoverAll(const std::vector<std::string>& owner, const std::vector<std::string>& wanted) {
  for (const auto& path : wanted) {
    bool covered = false;
    for (const auto& o : owner)
      if (nonResourceUrlCovers(o, path)) {
        covered = true;
        break;
      }
    if (!covered) return false;
  }
  return true;
}

// Upstream's ruleCovers: `sub` holds at most one verb, group, resource and name.
bool ruleCovers(const PolicyRule& owner, const PolicyRule& sub) {
  const bool verbs = has(owner.verbs, "*") || hasAll(owner.verbs, sub.verbs);
  const bool groups = has(owner.apiGroups, "*") || hasAll(owner.apiGroups, sub.apiGroups);
  const bool resources = resourcesCoverAll(owner.resources, sub.resources);
  const bool urls = urlsCoverAll(owner.nonResourceURLs, sub.nonResourceURLs);
  const bool names = sub.resourceNames.empty() ? owner.resourceNames.empty()
                                               : owner.resourceNames.empty() ||
                                                     hasAll(owner.resourceNames, sub.resourceNames);
  return verbs && groups && resources && urls && names;
}

// Upstream's BreakdownRule: one rule per verb × group × resource (× name), and per verb × URL.
void breakdown(const PolicyRule& rule, std::vector<PolicyRule>& out) {
  for (const auto& group : rule.apiGroups)
    for (const auto& resource : rule.resources)
      for (const auto& verb : rule.verbs) {
        if (rule.resourceNames.empty()) {
          out.push_back({{verb}, {group}, {resource}, {}, {}});
        } else {
          for (const auto& name : rule.resourceNames)
            out.push_back({{verb}, {group}, {resource}, {name}, {}});
        }
      }
  for (const auto& url : rule.nonResourceURLs)
    for (const auto& verb : rule.verbs) out.push_back({{verb}, {}, {}, {}, {url}});
}

}  // namespace

PolicyRule ruleFromJson(const json::object& rule) {
  PolicyRule r;
  r.verbs = stringList(rule, "verbs");
  r.apiGroups = stringList(rule, "apiGroups");
  r.resources = stringList(rule, "resources");
  r.resourceNames = stringList(rule, "resourceNames");
  r.nonResourceURLs = stringList(rule, "nonResourceURLs");
  return r;
}

std::vector<PolicyRule> rulesOf(const json::object& roleObject) {
  std::vector<PolicyRule> out;
  const json::value* rules = roleObject.if_contains("rules");
  if (!rules || !rules->is_array()) return out;
  for (const auto& rule : rules->as_array())
    if (rule.is_object()) out.push_back(ruleFromJson(rule.as_object()));
  return out;
}

json::object ruleToJson(const PolicyRule& rule) {
  json::object out;
  auto put = [&](const char* key, const std::vector<std::string>& list) {
    if (list.empty()) return;
    json::array a;
    for (const auto& s : list) a.emplace_back(s);
    out[key] = std::move(a);
  };
  put("verbs", rule.verbs);
  put("apiGroups", rule.apiGroups);
  put("resources", rule.resources);
  put("resourceNames", rule.resourceNames);
  put("nonResourceURLs", rule.nonResourceURLs);
  if (!out.contains("verbs")) out["verbs"] = json::array();  // verbs is required upstream
  return out;
}

bool ruleAllows(const AuthorizationAttributes& request, const PolicyRule& rule) {
  if (!matchesOrStar(rule.verbs, request.verb)) return false;
  if (!request.resourceRequest) {
    for (const auto& url : rule.nonResourceURLs)
      if (url == "*" || nonResourceUrlCovers(url, request.path)) return true;
    return false;
  }
  if (!matchesOrStar(rule.apiGroups, request.apiGroup)) return false;
  const std::string combined =
      request.subresource.empty() ? request.resource : request.resource + "/" + request.subresource;
  if (!resourceMatches(rule, combined, request.subresource)) return false;
  return rule.resourceNames.empty() ||
         (!request.name.empty() && has(rule.resourceNames, request.name));
}

bool covers(const std::vector<PolicyRule>& owner, const std::vector<PolicyRule>& servant,
            std::vector<PolicyRule>* missing) {
  std::vector<PolicyRule> atoms;
  for (const auto& rule : servant) breakdown(rule, atoms);
  bool all = true;
  for (auto& atom : atoms) {
    bool covered = false;
    for (const auto& o : owner)
      if (ruleCovers(o, atom)) {
        covered = true;
        break;
      }
    if (!covered) {
      all = false;
      if (missing) missing->push_back(std::move(atom));
    }
  }
  return all;
}

std::vector<PolicyRule> compactRules(const std::vector<PolicyRule>& rules) {
  std::vector<PolicyRule> out;
  // group, resource, name, has a name → the merged rule (ordered, as the message sorts anyway)
  std::map<std::tuple<std::string, std::string, std::string, bool>, PolicyRule> simple;
  std::vector<std::tuple<std::string, std::string, std::string, bool>> order;
  for (const auto& rule : rules) {
    const bool isSimple = rule.resourceNames.size() <= 1 && rule.nonResourceURLs.empty() &&
                          rule.apiGroups.size() == 1 && rule.resources.size() == 1;
    if (!isSimple) {
      out.push_back(rule);
      continue;
    }
    auto key = std::make_tuple(rule.apiGroups[0], rule.resources[0],
                               rule.resourceNames.empty() ? "" : rule.resourceNames[0],
                               !rule.resourceNames.empty());
    auto it = simple.find(key);
    if (it == simple.end()) {
      simple.emplace(key, rule);
      order.push_back(key);
    } else {
      it->second.verbs.insert(it->second.verbs.end(), rule.verbs.begin(), rule.verbs.end());
    }
  }
  for (const auto& key : order) out.push_back(simple.at(key));
  return out;
}

std::string goQuote(const std::string& s) { return api::goQuote(s); }

std::string goQuotedList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += " ";
    out += goQuote(items[i]);
  }
  return out + "]";
}

std::string compactString(const PolicyRule& rule) {
  std::vector<std::string> parts;
  if (!rule.apiGroups.empty()) parts.push_back("APIGroups:" + goQuotedList(rule.apiGroups));
  if (!rule.resources.empty()) parts.push_back("Resources:" + goQuotedList(rule.resources));
  if (!rule.nonResourceURLs.empty())
    parts.push_back("NonResourceURLs:" + goQuotedList(rule.nonResourceURLs));
  if (!rule.resourceNames.empty())
    parts.push_back("ResourceNames:" + goQuotedList(rule.resourceNames));
  if (!rule.verbs.empty()) parts.push_back("Verbs:" + goQuotedList(rule.verbs));
  std::string out = "{";
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out + "}";
}

}  // namespace skiff::apiserver::rbac
