#include "apiserver/auth/rbac_index.h"

#include <algorithm>
#include <boost/json.hpp>

#include "api/json_access.h"
#include "common/hash.h"

namespace skiff::apiserver::rbac {

namespace json = boost::json;

namespace {

std::string nameOf(const json::object& obj) { return api::stringAt(obj, {"metadata", "name"}); }
std::string namespaceOf(const json::object& obj) {
  return api::stringAt(obj, {"metadata", "namespace"});
}

// What a binding subject matches: "u:<user name>" or "g:<group>"; empty when nothing
// (an unknown kind, a ServiceAccount without a namespace in a ClusterRoleBinding).
std::string subjectKey(const json::object& subject, const std::string& bindingNamespace) {
  const std::string kind = api::stringField(subject, "kind");
  const std::string name = api::stringField(subject, "name");
  if (kind == "User") return "u:" + name;
  if (kind == "Group") return "g:" + name;
  if (kind == "ServiceAccount") {
    std::string ns = api::stringField(subject, "namespace");
    if (ns.empty()) ns = bindingNamespace;  // a RoleBinding's own namespace, as upstream
    if (ns.empty()) return {};
    return "u:system:serviceaccount:" + ns + ":" + name;
  }
  return {};
}

std::string describeSubject(const json::object& subject, const std::string& bindingNamespace) {
  const std::string kind = api::stringField(subject, "kind");
  const std::string name = api::stringField(subject, "name");
  if (kind == "ServiceAccount") {
    std::string ns = api::stringField(subject, "namespace");
    return kind + " " + goQuote(name + "/" + (ns.empty() ? bindingNamespace : ns));
  }
  return kind + " " + goQuote(name);
}

std::vector<ObjectPtr> sortedByKey(std::vector<ObjectPtr> objects) {
  std::sort(objects.begin(), objects.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    return std::make_pair(namespaceOf(*a), nameOf(*a)) <
           std::make_pair(namespaceOf(*b), nameOf(*b));
  });
  return objects;
}

// The reason an allow through `b` to the subject described as `who` gives.
std::string allowedReason(const Binding& b, const std::string& who) {
  if (b.cluster)
    return "RBAC: allowed by ClusterRoleBinding " + goQuote(b.name) + " of " + b.roleKind + " " +
           goQuote(b.roleName) + " to " + who;
  return "RBAC: allowed by RoleBinding " + goQuote(b.name + "/" + b.namespace_) + " of " +
         b.roleKind + " " + goQuote(b.roleName) + " to " + who;
}

}  // namespace

std::shared_ptr<const RbacIndex> RbacIndex::build(const RbacObjects& objects) {
  auto index = std::make_shared<RbacIndex>();
  for (const auto& role : objects.clusterRoles)
    index->clusterRoles_[nameOf(*role)] = std::make_shared<std::vector<PolicyRule>>(rulesOf(*role));
  for (const auto& role : objects.roles)
    index->roles_[namespaceOf(*role) + "/" + nameOf(*role)] =
        std::make_shared<std::vector<PolicyRule>>(rulesOf(*role));

  auto add = [&](const json::object& obj, bool cluster) {
    Binding b;
    b.cluster = cluster;
    b.name = nameOf(obj);
    b.namespace_ = cluster ? "" : namespaceOf(obj);
    b.roleKind = api::stringAt(obj, {"roleRef", "kind"});
    b.roleName = api::stringAt(obj, {"roleRef", "name"});
    b.rules = index->roleRules(b.roleKind, b.roleName, b.namespace_, &b.error);
    const auto ordinal = static_cast<uint32_t>(index->bindings_.size());
    const json::array& subjects = api::arrayOrEmpty(obj, {"subjects"});
    for (uint32_t i = 0; i < subjects.size(); ++i) {
      if (!subjects[i].is_object()) {
        b.allowedReasons.emplace_back();  // never granted: it has no key
        continue;
      }
      const json::object& s = subjects[i].as_object();
      b.allowedReasons.push_back(allowedReason(b, describeSubject(s, b.namespace_)));
      std::string key = subjectKey(s, b.namespace_);
      if (key.empty()) continue;
      if (!cluster) key = b.namespace_ + "\n" + key;
      auto& list = index->grants_[key];
      // A binding naming the same subject twice is found once, by its first mention.
      if (list.empty() || list.back().first != ordinal) list.emplace_back(ordinal, i);
    }
    index->bindings_.push_back(std::move(b));
  };
  for (const auto& b : sortedByKey(objects.clusterRoleBindings)) add(*b, true);
  for (const auto& b : sortedByKey(objects.roleBindings)) add(*b, false);
  return index;
}

std::shared_ptr<const std::vector<PolicyRule>> RbacIndex::roleRules(const std::string& kind,
                                                                    const std::string& name,
                                                                    const std::string& ns,
                                                                    std::string* error) const {
  if (kind == "Role") {
    auto it = roles_.find(ns + "/" + name);
    if (it != roles_.end()) return it->second;
    if (error) *error = "role.rbac.authorization.k8s.io " + goQuote(name) + " not found";
    return nullptr;
  }
  if (kind == "ClusterRole") {
    auto it = clusterRoles_.find(name);
    if (it != clusterRoles_.end()) return it->second;
    if (error) *error = "clusterrole.rbac.authorization.k8s.io " + goQuote(name) + " not found";
    return nullptr;
  }
  if (error) *error = "unsupported role reference kind: " + goQuote(kind);
  return nullptr;
}

// The same bytes as the stored key "<ns>\n<kind>:<name>" (no "<ns>\n" when cluster-wide),
// hashed piece by piece.
size_t RbacIndex::SubjectKeyHash::operator()(std::string_view key) const noexcept {
  return static_cast<size_t>(fnv1a(key));
}
size_t RbacIndex::SubjectKeyHash::operator()(const SubjectView& s) const noexcept {
  uint64_t h = kFnvOffsetBasis;
  if (!s.ns.empty()) h = fnv1a("\n", fnv1a(s.ns, h));
  const char tag[2] = {s.kind, ':'};
  return static_cast<size_t>(fnv1a(s.name, fnv1a(std::string_view(tag, 2), h)));
}
bool RbacIndex::SubjectKeyEqual::operator()(const SubjectView& s,
                                            std::string_view key) const noexcept {
  if (!s.ns.empty()) {
    if (!key.starts_with(s.ns) || key.size() <= s.ns.size() || key[s.ns.size()] != '\n')
      return false;
    key.remove_prefix(s.ns.size() + 1);
  }
  return key.size() == s.name.size() + 2 && key[0] == s.kind && key[1] == ':' &&
         key.substr(2) == s.name;
}

std::vector<RbacIndex::Grant> RbacIndex::grantsFor(const UserInfo& user,
                                                   const std::string& ns) const {
  std::vector<std::pair<uint32_t, uint32_t>> found;
  auto collect = [&](const SubjectView& subject) {
    auto it = grants_.find(subject);
    if (it != grants_.end()) found.insert(found.end(), it->second.begin(), it->second.end());
  };
  auto lookups = [&](std::string_view in) {
    collect({in, 'u', user.user});
    for (const auto& g : user.groups) collect({in, 'g', g});
  };
  lookups("");
  if (!ns.empty()) lookups(ns);
  // Binding order, and per binding the first subject that applies (upstream's appliesTo).
  std::sort(found.begin(), found.end());
  std::vector<Grant> out;
  out.reserve(found.size());
  for (size_t i = 0; i < found.size(); ++i) {
    if (i > 0 && found[i].first == found[i - 1].first) continue;
    out.push_back({&bindings_[found[i].first], found[i].second});
  }
  return out;
}

}  // namespace skiff::apiserver::rbac
