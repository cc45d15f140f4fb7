// RBAC rule semantics as upstream's RuleAllows and Covers: a table of requests against
// rules (verbs, groups, resources and subresources, names, non-resource URLs, "*" forms),
// and the covering check and message pieces behind escalation prevention.
#include "apiserver/auth/rbac_rules.h"

#include <gtest/gtest.h>

namespace skiff::apiserver::rbac {
namespace {

AuthorizationAttributes resourceRequest(std::string verb, std::string group, std::string resource,
                                        std::string subresource = "", std::string name = "") {
  AuthorizationAttributes a;
  a.resourceRequest = true;
  a.verb = std::move(verb);
  a.apiGroup = std::move(group);
  a.resource = std::move(resource);
  a.subresource = std::move(subresource);
  a.name = std::move(name);
  return a;
}

AuthorizationAttributes urlRequest(std::string verb, std::string path) {
  AuthorizationAttributes a;
  a.verb = std::move(verb);
  a.path = std::move(path);
  return a;
}

TEST(RbacRuleAllows, Table) {
  struct Case {
    const char* what;
    PolicyRule rule;
    AuthorizationAttributes request;
    bool allowed;
  };
  const std::vector<Case> cases = {
      {"exact", {{"get"}, {""}, {"pods"}}, resourceRequest("get", "", "pods"), true},
      {"other verb", {{"get"}, {""}, {"pods"}}, resourceRequest("list", "", "pods"), false},
      {"verb star", {{"*"}, {""}, {"pods"}}, resourceRequest("delete", "", "pods"), true},
      {"other group", {{"get"}, {"apps"}, {"pods"}}, resourceRequest("get", "", "pods"), false},
      {"group star",
       {{"get"}, {"*"}, {"deployments"}},
       resourceRequest("get", "apps", "deployments"),
       true},
      {"resource star", {{"get"}, {""}, {"*"}}, resourceRequest("get", "", "secrets"), true},
      {"resource star covers subresources",
       {{"get"}, {""}, {"*"}},
       resourceRequest("get", "", "pods", "log"),
       true},
      {"resource does not cover its subresource",
       {{"get"}, {""}, {"pods"}},
       resourceRequest("get", "", "pods", "log"),
       false},
      {"resource/subresource",
       {{"get"}, {""}, {"pods/log"}},
       resourceRequest("get", "", "pods", "log"),
       true},
      {"resource/subresource is not the resource",
       {{"get"}, {""}, {"pods/log"}},
       resourceRequest("get", "", "pods"),
       false},
      {"*/subresource",
       {{"get"}, {""}, {"*/scale"}},
       resourceRequest("get", "", "deployments", "scale"),
       true},
      {"*/subresource other subresource",
       {{"get"}, {""}, {"*/scale"}},
       resourceRequest("get", "", "deployments", "status"),
       false},
      {"*/subresource not the resource",
       {{"get"}, {""}, {"*/scale"}},
       resourceRequest("get", "", "deployments"),
       false},
      // Upstream has no resource/* wildcard: "pods/*" names a subresource called "*".
      {"resource/* is literal",
       {{"get"}, {""}, {"pods/*"}},
       resourceRequest("get", "", "pods", "log"),
       false},
      {"resource/* literal match",
       {{"get"}, {""}, {"pods/*"}},
       resourceRequest("get", "", "pods", "*"),
       true},
      {"resourceNames match",
       {{"get"}, {""}, {"configmaps"}, {"a", "b"}},
       resourceRequest("get", "", "configmaps", "", "b"),
       true},
      {"resourceNames other name",
       {{"get"}, {""}, {"configmaps"}, {"a"}},
       resourceRequest("get", "", "configmaps", "", "c"),
       false},
      {"resourceNames never match an unnamed request (list)",
       {{"list"}, {""}, {"configmaps"}, {"a"}},
       resourceRequest("list", "", "configmaps"),
       false},
      {"resourceNames never match create",
       {{"create"}, {""}, {"configmaps"}, {"a"}},
       resourceRequest("create", "", "configmaps"),
       false},
      {"resource rule does not match a URL",
       {{"get"}, {"*"}, {"*"}},
       urlRequest("get", "/healthz"),
       false},
      {"url exact", {{"get"}, {}, {}, {}, {"/healthz"}}, urlRequest("get", "/healthz"), true},
      {"url exact other",
       {{"get"}, {}, {}, {}, {"/healthz"}},
       urlRequest("get", "/healthz/etcd"),
       false},
      {"url prefix star",
       {{"get"}, {}, {}, {}, {"/healthz/*"}},
       urlRequest("get", "/healthz/etcd"),
       true},
      {"url prefix star needs the prefix",
       {{"get"}, {}, {}, {}, {"/apis/*"}},
       urlRequest("get", "/api/v1"),
       false},
      {"url star", {{"get"}, {}, {}, {}, {"*"}}, urlRequest("get", "/anything"), true},
      {"url verb", {{"get"}, {}, {}, {}, {"*"}}, urlRequest("post", "/anything"), false},
      {"url rule does not match a resource",
       {{"get"}, {}, {}, {}, {"*"}},
       resourceRequest("get", "", "pods"),
       false},
  };
  for (const auto& c : cases) EXPECT_EQ(ruleAllows(c.request, c.rule), c.allowed) << c.what;
}

TEST(RbacCovers, AtomsAndWildcards) {
  const std::vector<PolicyRule> owner = {{{"get", "list"}, {""}, {"pods", "*/status"}},
                                         {{"*"}, {"apps"}, {"deployments"}},
                                         {{"get"}, {}, {}, {}, {"/healthz/*"}}};
  EXPECT_TRUE(covers(owner, {{{"get"}, {""}, {"pods"}}}));
  EXPECT_TRUE(covers(owner, {{{"list"}, {""}, {"pods/status", "services/status"}}}));
  EXPECT_TRUE(covers(owner, {{{"delete", "patch"}, {"apps"}, {"deployments"}, {"x"}}}));
  EXPECT_TRUE(covers(owner, {{{"get"}, {}, {}, {}, {"/healthz/etcd"}}}));
  EXPECT_TRUE(covers(owner, {}));

  std::vector<PolicyRule> missing;
  EXPECT_FALSE(covers(
      owner, {{{"get", "delete"}, {""}, {"pods", "secrets"}}, {{"get"}, {}, {}, {}, {"/metrics"}}},
      &missing));
  // get pods is held; delete pods, get/delete secrets and /metrics are not.
  ASSERT_EQ(missing.size(), 4u);
  EXPECT_EQ(missing[0], (PolicyRule{{"delete"}, {""}, {"pods"}}));
  EXPECT_EQ(missing[1], (PolicyRule{{"get"}, {""}, {"secrets"}}));
  EXPECT_EQ(missing[3], (PolicyRule{{"get"}, {}, {}, {}, {"/metrics"}}));
  // An owner limited to names does not cover the unnamed permission.
  EXPECT_FALSE(covers({{{"get"}, {""}, {"configmaps"}, {"a"}}}, {{{"get"}, {""}, {"configmaps"}}}));
  EXPECT_TRUE(covers({{{"get"}, {""}, {"configmaps"}, {"a", "b"}}},
                     {{{"get"}, {""}, {"configmaps"}, {"b"}}}));
}

TEST(RbacCovers, CompactStringAsUpstream) {
  std::vector<PolicyRule> missing;
  covers({}, {{{"get", "list"}, {""}, {"pods"}}, {{"get"}, {}, {}, {}, {"/metrics"}}}, &missing);
  auto compacted = compactRules(missing);
  ASSERT_EQ(compacted.size(), 2u);
  EXPECT_EQ(compactString(compacted[1]),
            R"({APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]})");
  EXPECT_EQ(compactString(compacted[0]), R"({NonResourceURLs:["/metrics"], Verbs:["get"]})");
  EXPECT_EQ(
      compactString({{"get"}, {"apps"}, {"deployments"}, {"web"}}),
      R"({APIGroups:["apps"], Resources:["deployments"], ResourceNames:["web"], Verbs:["get"]})");
  EXPECT_EQ(goQuotedList({}), "[]");
  EXPECT_EQ(goQuotedList({"system:masters", "a\"b"}), R"(["system:masters" "a\"b"])");
}

}  // namespace
}  // namespace skiff::apiserver::rbac
