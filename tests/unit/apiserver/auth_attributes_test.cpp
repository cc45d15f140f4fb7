// Authorization attributes from requests (upstream's RequestInfoFactory), the 403 messages,
// the authorizer chain and impersonation.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <functional>

#include "apiserver/auth/authorization.h"
#include "apiserver/auth/impersonation.h"
#include "apiserver/auth/request_attributes.h"
#include "common/api_error.h"

using namespace skiff::apiserver;
using namespace skiff::apiserver::auth;
using skiff::ApiError;
using skiff::net::HttpRequest;

namespace {

const UserInfo kAnonymous{"system:anonymous", {"system:unauthenticated"}, {}, {}};

HttpRequest request(const std::string& method, const std::string& path,
                    std::multimap<std::string, std::string> query = {}) {
  HttpRequest req;
  req.method = method;
  req.path = path;
  req.target = path;
  req.query = std::move(query);
  return req;
}

AuthorizationAttributes attrs(const std::string& method, const std::string& path,
                              std::multimap<std::string, std::string> query = {}) {
  return requestAttributes(request(method, path, std::move(query)), kAnonymous);
}

std::string message(const AuthorizationAttributes& a, const std::string& reason = "") {
  return forbiddenError(a, reason).what();
}

// Allows only what the predicate accepts; records every question asked.
class RecordingAuthorizer final : public Authorizer {
 public:
  explicit RecordingAuthorizer(std::function<bool(const AuthorizationAttributes&)> allow)
      : allow_(std::move(allow)) {}
  AuthorizationResult authorize(const AuthorizationAttributes& a) const override {
    asked.push_back(a.verb + " " + a.apiGroup + "/" + a.resource +
                    (a.subresource.empty() ? "" : "/" + a.subresource) + " " + a.namespace_ + "/" +
                    a.name);
    return {allow_(a) ? Decision::Allow : Decision::NoOpinion, ""};
  }
  mutable std::vector<std::string> asked;

 private:
  std::function<bool(const AuthorizationAttributes&)> allow_;
};

}  // namespace

TEST(AuthAttributes, VerbMapping) {
  struct Case {
    std::string method, path;
    std::multimap<std::string, std::string> query;
    std::string verb;
  };
  std::vector<Case> cases = {
      {"GET", "/api/v1/namespaces/default/pods/web", {}, "get"},
      {"HEAD", "/api/v1/namespaces/default/pods/web", {}, "get"},
      {"GET", "/api/v1/namespaces/default/pods", {}, "list"},
      {"GET", "/api/v1/pods", {}, "list"},
      {"GET", "/api/v1/pods", {{"watch", "true"}}, "watch"},
      {"GET", "/api/v1/pods", {{"watch", "1"}}, "watch"},
      {"GET", "/api/v1/pods", {{"watch", "false"}}, "list"},
      {"GET", "/api/v1/watch/pods", {}, "watch"},
      {"GET", "/api/v1/watch/namespaces/default/pods/web", {}, "watch"},
      {"GET", "/api/v1/namespaces/default/pods/web", {{"watch", "true"}}, "get"},
      {"POST", "/api/v1/namespaces/default/pods", {}, "create"},
      {"PUT", "/api/v1/namespaces/default/pods/web", {}, "update"},
      {"PATCH", "/api/v1/namespaces/default/pods/web", {}, "patch"},
      {"DELETE", "/api/v1/namespaces/default/pods/web", {}, "delete"},
      {"DELETE", "/api/v1/namespaces/default/pods", {}, "deletecollection"},
      {"POST", "/api/v1/namespaces/default/pods/web/exec", {}, "create"},
      {"GET", "/apis/apps/v1/namespaces/default/deployments/d/scale", {}, "get"},
      {"GET", "/api/v1/proxy/namespaces/default/pods/web", {}, "proxy"},
      {"OPTIONS", "/api/v1/pods", {}, ""},
      {"GET", "/healthz", {}, "get"},
      {"POST", "/foo/bar", {}, "post"},
      {"PUT", "/api", {}, "put"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(attrs(c.method, c.path, c.query).verb, c.verb) << c.method << " " << c.path;
}

TEST(AuthAttributes, ResourceParts) {
  auto a = attrs("POST", "/api/v1/namespaces/default/pods/web/exec");
  EXPECT_TRUE(a.resourceRequest);
  EXPECT_EQ(a.apiGroup, "");
  EXPECT_EQ(a.apiVersion, "v1");
  EXPECT_EQ(a.namespace_, "default");
  EXPECT_EQ(a.resource, "pods");
  EXPECT_EQ(a.name, "web");
  EXPECT_EQ(a.subresource, "exec");

  a = attrs("GET", "/apis/apps/v1/deployments");
  EXPECT_EQ(a.apiGroup, "apps");
  EXPECT_EQ(a.resource, "deployments");
  EXPECT_EQ(a.namespace_, "");

  // A namespace is its own namespace; status and finalize are its subresources.
  a = attrs("GET", "/api/v1/namespaces/kube-system");
  EXPECT_EQ(a.resource, "namespaces");
  EXPECT_EQ(a.name, "kube-system");
  EXPECT_EQ(a.namespace_, "kube-system");
  a = attrs("PUT", "/api/v1/namespaces/ns1/finalize");
  EXPECT_EQ(a.resource, "namespaces");
  EXPECT_EQ(a.name, "ns1");
  EXPECT_EQ(a.subresource, "finalize");
  a = attrs("GET", "/api/v1/namespaces");
  EXPECT_EQ(a.verb, "list");
  EXPECT_EQ(a.resource, "namespaces");

  // Proxy paths keep no subresource.
  a = attrs("GET", "/api/v1/proxy/namespaces/default/pods/web/some/path");
  EXPECT_EQ(a.subresource, "");
  EXPECT_EQ(a.name, "web");
  // Deep paths: the parts past the subresource do not matter; empty segments count as parts
  // (upstream splits on every slash).
  a = attrs("GET", "/apis/apps/v1/watch/namespaces/ns/deployments/d/status/a/b/c/d/e/f");
  EXPECT_EQ(a.verb, "watch");
  EXPECT_EQ(a.apiGroup, "apps");
  EXPECT_EQ(a.namespace_, "ns");
  EXPECT_EQ(a.resource, "deployments");
  EXPECT_EQ(a.name, "d");
  EXPECT_EQ(a.subresource, "status");
  a = attrs("GET", "//api/v1/namespaces//pods/web/");
  EXPECT_EQ(a.namespace_, "");
  EXPECT_EQ(a.resource, "pods");
  EXPECT_EQ(a.name, "web");
  a = attrs("GET", "/api/v1/namespaces/ns/pods/web/log/");
  EXPECT_EQ(a.subresource, "log");

  // A list narrowed to one name by a field selector is authorized for that name.
  a = attrs("GET", "/api/v1/namespaces/default/configmaps",
            {{"fieldSelector", "metadata.name=cm1"}, {"watch", "true"}});
  EXPECT_EQ(a.verb, "watch");
  EXPECT_EQ(a.name, "cm1");

  // Non-resource paths.
  for (const char* path : {"/healthz", "/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1",
                           "/version", "/openid/v1/jwks"}) {
    a = attrs("GET", path);
    EXPECT_FALSE(a.resourceRequest) << path;
    EXPECT_EQ(a.path, path);
  }
}

TEST(AuthForbidden, MessageVariants) {
  EXPECT_EQ(message(attrs("GET", "/api/v1/namespaces/default/pods")),
            "pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" in API "
            "group \"\" in the namespace \"default\"");
  EXPECT_EQ(message(attrs("GET", "/api/v1/nodes")),
            "nodes is forbidden: User \"system:anonymous\" cannot list resource \"nodes\" in API "
            "group \"\" at the cluster scope");
  EXPECT_EQ(message(attrs("GET", "/apis/apps/v1/namespaces/prod/deployments/web")),
            "deployments.apps \"web\" is forbidden: User \"system:anonymous\" cannot get "
            "resource \"deployments\" in API group \"apps\" in the namespace \"prod\"");
  EXPECT_EQ(message(attrs("POST", "/api/v1/namespaces/default/pods/x/exec")),
            "pods \"x\" is forbidden: User \"system:anonymous\" cannot create resource "
            "\"pods/exec\" in API group \"\" in the namespace \"default\"");
  EXPECT_EQ(message(attrs("GET", "/foo")),
            "forbidden: User \"system:anonymous\" cannot get path \"/foo\"");
  EXPECT_EQ(message(attrs("GET", "/healthz"), "RBAC: nothing matched"),
            "forbidden: User \"system:anonymous\" cannot get path \"/healthz\": RBAC: nothing "
            "matched");

  ApiError e = forbiddenError(attrs("GET", "/apis/apps/v1/namespaces/prod/deployments/web"), "");
  EXPECT_EQ(e.code(), 403);
  EXPECT_EQ(e.reason(), "Forbidden");
  EXPECT_EQ(e.detailName, "web");
  EXPECT_EQ(e.detailGroup, "apps");
  EXPECT_EQ(e.detailKind, "deployments");
  auto status = e.toStatus();
  EXPECT_EQ(boost::json::serialize(status.at("details")),
            R"({"name":"web","group":"apps","kind":"deployments"})");
  ApiError path = forbiddenError(attrs("GET", "/foo"), "");
  EXPECT_FALSE(path.toStatus().contains("details"));
}

TEST(AuthChain, MastersThenModesInOrder) {
  std::vector<std::unique_ptr<Authorizer>> modes;
  modes.push_back(std::make_unique<RecordingAuthorizer>(
      [](const AuthorizationAttributes& a) { return a.user->user == "jane"; }));
  auto chain = makeAuthorizerChain(std::move(modes));
  UserInfo master{"admin", {"system:masters"}, {}, {}}, jane{"jane", {}, {}, {}},
      bob{"bob", {}, {}, {}};
  AuthorizationAttributes a = attrs("GET", "/api/v1/pods");
  a.user = &master;
  EXPECT_EQ(chain->authorize(a).decision, Decision::Allow);
  a.user = &jane;
  EXPECT_EQ(chain->authorize(a).decision, Decision::Allow);
  a.user = &bob;
  EXPECT_EQ(chain->authorize(a).decision, Decision::NoOpinion);

  std::vector<std::unique_ptr<Authorizer>> allow;
  allow.push_back(makeAlwaysAllowAuthorizer());
  EXPECT_EQ(makeAuthorizerChain(std::move(allow))->authorize(a).decision, Decision::Allow);
}

TEST(AuthImpersonation, HeadersParsed) {
  HttpRequest req = request("GET", "/api/v1/pods");
  req.headers["impersonate-user"] = "jane";
  req.headers["impersonate-group"] = "devs, qa";
  req.headers["impersonate-uid"] = "u-1";
  req.headers["impersonate-extra-scopes"] = "view, edit";
  req.headers["impersonate-extra-example.com%2fteam"] = "a";
  ImpersonationRequest r = parseImpersonation(req);
  EXPECT_EQ(r.user, "jane");
  EXPECT_EQ(r.groups, (std::vector<std::string>{"devs", "qa"}));
  EXPECT_EQ(r.uid, "u-1");
  EXPECT_EQ(r.extra.at("scopes"), (std::vector<std::string>{"view", "edit"}));
  EXPECT_EQ(r.extra.at("example.com/team"), std::vector<std::string>{"a"});
  EXPECT_FALSE(parseImpersonation(request("GET", "/")).any());
}

TEST(AuthImpersonation, EachValueIsAuthorized) {
  UserInfo admin{"admin", {"system:masters", "system:authenticated"}, {}, {}};
  RecordingAuthorizer all([](const AuthorizationAttributes&) { return true; });
  HttpRequest req = request("GET", "/api/v1/pods");
  req.headers["impersonate-user"] = "jane";
  req.headers["impersonate-group"] = "devs";
  req.headers["impersonate-uid"] = "u-1";
  req.headers["impersonate-extra-scopes"] = "view";
  auto acting = impersonate(req, admin, all);
  ASSERT_TRUE(acting);
  EXPECT_EQ(acting->user, "jane");
  EXPECT_EQ(acting->groups, (std::vector<std::string>{"devs", "system:authenticated"}));
  EXPECT_EQ(acting->uid, "u-1");
  EXPECT_EQ(acting->extra.at("scopes"), std::vector<std::string>{"view"});
  EXPECT_EQ(all.asked,
            (std::vector<std::string>{"impersonate /users /jane", "impersonate /groups /devs",
                                      "impersonate authentication.k8s.io/userextras/scopes /view",
                                      "impersonate authentication.k8s.io/uids /u-1"}));

  // A ServiceAccount: checked as serviceaccounts in its namespace, given its groups.
  HttpRequest sa = request("GET", "/api/v1/pods");
  sa.headers["impersonate-user"] = "system:serviceaccount:ci:builder";
  RecordingAuthorizer all2([](const AuthorizationAttributes&) { return true; });
  acting = impersonate(sa, admin, all2);
  EXPECT_EQ(all2.asked, std::vector<std::string>{"impersonate /serviceaccounts ci/builder"});
  EXPECT_EQ(acting->groups,
            (std::vector<std::string>{"system:serviceaccounts", "system:serviceaccounts:ci",
                                      "system:authenticated"}));

  // Impersonating anonymous keeps it unauthenticated.
  HttpRequest anon = request("GET", "/api/v1/pods");
  anon.headers["impersonate-user"] = "system:anonymous";
  EXPECT_EQ(impersonate(anon, admin, all)->groups,
            std::vector<std::string>{"system:unauthenticated"});

  EXPECT_FALSE(impersonate(request("GET", "/"), admin, all));
}

TEST(AuthImpersonation, RefusalsAreUpstreamErrors) {
  UserInfo jane{"jane", {"system:authenticated"}, {}, {}};
  RecordingAuthorizer usersOnly(
      [](const AuthorizationAttributes& a) { return a.resource == "users"; });
  HttpRequest req = request("GET", "/api/v1/pods");
  req.headers["impersonate-user"] = "bob";
  req.headers["impersonate-group"] = "system:masters";
  try {
    impersonate(req, jane, usersOnly);
    FAIL() << "expected 403";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 403);
    EXPECT_EQ(std::string(e.what()),
              "groups \"system:masters\" is forbidden: User \"jane\" cannot impersonate resource "
              "\"groups\" in API group \"\" at the cluster scope");
  }
  HttpRequest noUser = request("GET", "/api/v1/pods");
  noUser.headers["impersonate-group"] = "g";
  try {
    impersonate(noUser, jane, usersOnly);
    FAIL() << "expected 500";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 500);
    EXPECT_EQ(std::string(e.what()),
              "Internal error occurred: requested [{Group  g    }] without impersonating a user");
  }
}

// Cost per request of what the API server now does before routing (run with
// --gtest_also_run_disabled_tests; prints, asserts nothing about speed).
TEST(AuthBench, DISABLED_PerRequestCost) {
  auto time = [](const char* what, int n, const std::function<void()>& f) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) f();
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    std::printf("%-48s %8.0f ns/op\n", what, static_cast<double>(ns) / n);
  };
  std::vector<std::unique_ptr<Authorizer>> none;
  auto chain = makeAuthorizerChain(std::move(none));
  UserInfo admin{"admin", {"system:masters", "system:authenticated"}, {}, {}};
  HttpRequest req = request("GET", "/api/v1/namespaces/default/pods/web");
  time("attributes + system:masters chain (GET pod)", 200000, [&] {
    auto a = requestAttributes(req, admin);
    if (chain->authorize(a).decision != Decision::Allow) std::abort();
  });
  HttpRequest list = request("GET", "/apis/apps/v1/namespaces/default/deployments",
                             {{"watch", "true"}, {"resourceVersion", "10"}});
  time("attributes (watch deployments)", 200000, [&] { (void)requestAttributes(list, admin); });
}
