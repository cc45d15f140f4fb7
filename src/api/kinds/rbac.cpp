// Role, ClusterRole, RoleBinding, ClusterRoleBinding (upstream pkg/registry/rbac/*): names
// are path segments; bindings default subjects' apiGroup and check roleRef and subjects.
#include <boost/json.hpp>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

namespace skiff::api {

namespace defaulting {
namespace {

void defaultBindingSubjects(json::object& b) {
  forEachObject(b, "subjects", [](json::object& s) {
    std::string kind = str(s, "kind");
    if (kind == "User" || kind == "Group")
      setDefaultString(s, "apiGroup", "rbac.authorization.k8s.io");
  });
}

}  // namespace
}  // namespace defaulting

namespace validation {
namespace {

void validateRoleRef(const json::object& binding, Errors& errs) {
  const auto& ref = obj(binding, "roleRef");
  std::string kind = str(ref, "kind");
  if (str(ref, "name").empty()) errs.required("roleRef.name");
  if (kind != "Role" && kind != "ClusterRole")
    errs.notSupported("roleRef.kind", quote(kind), {"ClusterRole", "Role"});
  if (str(ref, "apiGroup") != "rbac.authorization.k8s.io")
    errs.notSupported("roleRef.apiGroup", quote(str(ref, "apiGroup")),
                      {"rbac.authorization.k8s.io"});
  const auto& subjects = arr(binding, "subjects");
  for (size_t i = 0; i < subjects.size(); ++i) {
    if (!subjects[i].is_object()) continue;
    const auto& s = subjects[i].get_object();
    std::string sp = index("subjects", i);
    if (str(s, "name").empty()) errs.required(child(sp, "name"));
    std::string sk = str(s, "kind");
    if (sk != "ServiceAccount" && sk != "User" && sk != "Group")
      errs.notSupported(child(sp, "kind"), quote(sk), {"ServiceAccount", "User", "Group"});
  }
}

}  // namespace
}  // namespace validation

namespace json = boost::json;

void addRbacKinds(std::vector<KindStrategy>& out) {
  constexpr std::string_view kGroup = "rbac.authorization.k8s.io";
  auto validateBinding = [](const json::object& o, const json::object*, validation::Errors& e) {
    validation::validateRoleRef(o, e);
  };
  out.push_back({.group = kGroup, .kind = "Role", .nameRule = NameRule::PathSegment});
  out.push_back({.group = kGroup, .kind = "ClusterRole", .nameRule = NameRule::PathSegment});
  for (std::string_view kind : {"RoleBinding", "ClusterRoleBinding"})
    out.push_back({.group = kGroup,
                   .kind = kind,
                   .defaults = defaulting::defaultBindingSubjects,
                   .validate = validateBinding,
                   .nameRule = NameRule::PathSegment});
}

}  // namespace skiff::api
