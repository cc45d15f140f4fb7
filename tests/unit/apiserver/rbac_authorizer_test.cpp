// RBAC over a real watch cache: bindings and their subjects, namespaces, non-resource
// rules, unresolvable roles, escalation prevention on writes, the access reviews and the
// bootstrap policy's reconciliation.
#include "api/json_access.h"
#include "apiserver/auth/access_review.h"
#include "apiserver/auth/bootstrap_policy.h"
#include "common/api_error.h"
#include "unit/apiserver/resource_store_fixture.h"

namespace skiff::apiserver::testing {
namespace {

namespace json = boost::json;
using rbac::RbacAuthorizer;

json::object parse(const std::string& text) { return json::parse(text).as_object(); }

class Rbac : public ResourceStoreFixture {
 protected:
  void SetUp() override {
    ResourceStoreFixture::SetUp();
    RequestContext ctx;
    resources.create(info("namespaces"), "", json::parse(R"({"metadata":{"name":"other"}})"), ctx);
  }
  const RbacAuthorizer& authz() { return admission.rbac(); }
  const api::ResourceInfo& rbacInfo(const std::string& plural) {
    return info(plural, "rbac.authorization.k8s.io");
  }
  // Creates as the server itself (no user), or as `as`.
  ObjectPtr make(const std::string& plural, const std::string& ns, const std::string& body,
                 const UserInfo* as = nullptr) {
    RequestContext ctx;
    ctx.user = as;
    return resources.create(rbacInfo(plural), ns, json::parse(body), ctx);
  }
  void clusterRole(const std::string& name, const std::string& rules) {
    make("clusterroles", "", R"({"metadata":{"name":")" + name + R"("},"rules":)" + rules + "}");
  }
  void role(const std::string& ns, const std::string& name, const std::string& rules) {
    make("roles", ns, R"({"metadata":{"name":")" + name + R"("},"rules":)" + rules + "}");
  }
  void binding(const std::string& ns, const std::string& name, const std::string& roleKind,
               const std::string& roleName, const std::string& subjects) {
    std::string body = R"({"metadata":{"name":")" + name +
                       R"("},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":")" +
                       roleKind + R"(","name":")" + roleName + R"("},"subjects":)" + subjects + "}";
    make(ns.empty() ? "clusterrolebindings" : "rolebindings", ns, body);
  }
  AuthorizationResult can(const UserInfo& user, const std::string& verb,
                          const std::string& resource, const std::string& ns,
                          const std::string& group = "", const std::string& name = "") {
    AuthorizationAttributes a;
    a.user = &user;
    a.resourceRequest = true;
    a.verb = verb;
    a.resource = resource;
    a.namespace_ = ns;
    a.apiGroup = group;
    a.name = name;
    return authz().authorize(a);
  }
  bool allowed(const UserInfo& user, const std::string& verb, const std::string& resource,
               const std::string& ns, const std::string& group = "") {
    return can(user, verb, resource, ns, group).decision == Decision::Allow;
  }
};

const std::string kPodReader =
    R"([{"verbs":["get","list"],"apiGroups":[""],"resources":["pods"]}])";

TEST_F(Rbac, ClusterRoleBindingGrantsEverywhereWithUpstreamReason) {
  clusterRole("pod-reader", kPodReader);
  binding("", "readers", "ClusterRole", "pod-reader",
          R"([{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"alice"}])");
  UserInfo alice{"alice", {"system:authenticated"}, "", {}};
  auto r = can(alice, "get", "pods", "default");
  EXPECT_EQ(r.decision, Decision::Allow);
  EXPECT_EQ(
      r.reason,
      R"(RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to User "alice")");
  EXPECT_TRUE(allowed(alice, "list", "pods", "other"));
  EXPECT_TRUE(allowed(alice, "list", "pods", ""));  // all namespaces
  EXPECT_FALSE(allowed(alice, "delete", "pods", "default"));
  UserInfo bob{"bob", {}, "", {}};
  EXPECT_EQ(can(bob, "get", "pods", "default").decision, Decision::NoOpinion);
  EXPECT_EQ(can(bob, "get", "pods", "default").reason, "");
}

TEST_F(Rbac, RoleBindingToClusterRoleIsLimitedToItsNamespace) {
  clusterRole("pod-reader", kPodReader);
  binding("default", "read", "ClusterRole", "pod-reader", R"([{"kind":"Group","name":"devs"}])");
  UserInfo dev{"carol", {"devs"}, "", {}};
  auto r = can(dev, "get", "pods", "default");
  EXPECT_EQ(r.decision, Decision::Allow);
  EXPECT_EQ(
      r.reason,
      R"(RBAC: allowed by RoleBinding "read/default" of ClusterRole "pod-reader" to Group "devs")");
  EXPECT_FALSE(allowed(dev, "get", "pods", "other"));  // a RoleBinding elsewhere does not apply
  EXPECT_FALSE(allowed(dev, "list", "pods", ""));      // nor cluster-wide
}

TEST_F(Rbac, RoleBindingToRoleOfItsNamespace) {
  role(
      "other", "cm",
      R"([{"verbs":["get"],"apiGroups":[""],"resources":["configmaps"],"resourceNames":["app"]}])");
  binding("other", "cm", "Role", "cm", R"([{"kind":"User","name":"dave"}])");
  UserInfo dave{"dave", {}, "", {}};
  EXPECT_EQ(can(dave, "get", "configmaps", "other", "", "app").decision, Decision::Allow);
  EXPECT_NE(can(dave, "get", "configmaps", "other", "", "db").decision, Decision::Allow);
  EXPECT_NE(can(dave, "list", "configmaps", "other").decision, Decision::Allow);
  EXPECT_NE(can(dave, "get", "configmaps", "default", "", "app").decision, Decision::Allow);
}

TEST_F(Rbac, ServiceAccountSubjects) {
  clusterRole("pod-reader", kPodReader);
  // Namespace given; and left out in a RoleBinding (the binding's namespace).
  binding("", "sa-crb", "ClusterRole", "pod-reader",
          R"([{"kind":"ServiceAccount","name":"robot","namespace":"other"}])");
  binding("default", "sa-rb", "ClusterRole", "pod-reader",
          R"([{"kind":"ServiceAccount","name":"local"}])");
  // Without a namespace a ClusterRoleBinding's ServiceAccount names nobody.
  binding("", "sa-nons", "ClusterRole", "pod-reader",
          R"([{"kind":"ServiceAccount","name":"ghost"}])");
  UserInfo robot{"system:serviceaccount:other:robot", {"system:serviceaccounts"}, "", {}};
  auto r = can(robot, "get", "pods", "default");
  EXPECT_EQ(r.decision, Decision::Allow);
  EXPECT_EQ(
      r.reason,
      R"(RBAC: allowed by ClusterRoleBinding "sa-crb" of ClusterRole "pod-reader" to ServiceAccount "robot/other")");
  UserInfo local{"system:serviceaccount:default:local", {}, "", {}};
  r = can(local, "get", "pods", "default");
  EXPECT_EQ(r.decision, Decision::Allow);
  EXPECT_EQ(
      r.reason,
      R"(RBAC: allowed by RoleBinding "sa-rb/default" of ClusterRole "pod-reader" to ServiceAccount "local/default")");
  UserInfo elsewhere{"system:serviceaccount:other:local", {}, "", {}};
  EXPECT_FALSE(allowed(elsewhere, "get", "pods", "default"));
  UserInfo ghost{"system:serviceaccount::ghost", {}, "", {}};
  EXPECT_FALSE(allowed(ghost, "get", "pods", "default"));
  UserInfo notSa{"robot", {}, "", {}};
  EXPECT_FALSE(allowed(notSa, "get", "pods", "default"));
}

TEST_F(Rbac, NonResourceRulesOnlyThroughClusterRoleBindings) {
  clusterRole("metrics", R"([{"verbs":["get"],"nonResourceURLs":["/metrics","/debug/*"]}])");
  binding("default", "metrics-rb", "ClusterRole", "metrics", R"([{"kind":"User","name":"erin"}])");
  UserInfo erin{"erin", {}, "", {}};
  AuthorizationAttributes a;
  a.user = &erin;
  a.verb = "get";
  a.path = "/metrics";
  EXPECT_EQ(authz().authorize(a).decision, Decision::NoOpinion);
  binding("", "metrics-crb", "ClusterRole", "metrics", R"([{"kind":"User","name":"erin"}])");
  EXPECT_EQ(authz().authorize(a).decision, Decision::Allow);
  a.path = "/debug/pprof";
  EXPECT_EQ(authz().authorize(a).decision, Decision::Allow);
  a.path = "/metricsx";
  EXPECT_EQ(authz().authorize(a).decision, Decision::NoOpinion);
}

TEST_F(Rbac, MissingRoleIsNoOpinionWithReasonAndChangesAreSeen) {
  binding("", "dangling", "ClusterRole", "not-yet", R"([{"kind":"User","name":"frank"}])");
  UserInfo frank{"frank", {}, "", {}};
  auto r = can(frank, "get", "pods", "default");
  EXPECT_EQ(r.decision, Decision::NoOpinion);
  EXPECT_EQ(r.reason, R"(RBAC: clusterrole.rbac.authorization.k8s.io "not-yet" not found)");
  clusterRole("not-yet", kPodReader);  // the index follows the cache
  EXPECT_TRUE(allowed(frank, "get", "pods", "default"));
  RequestContext ctx;
  DeleteOptions d;
  bool gone = false;
  resources.remove(rbacInfo("clusterrolebindings"), "", "dangling", d, ctx, gone);
  EXPECT_FALSE(allowed(frank, "get", "pods", "default"));
}

TEST_F(Rbac, EscalationPrevention) {
  role("default", "pods", R"([{"verbs":["get","list"],"apiGroups":[""],"resources":["pods"]},
                              {"verbs":["create"],"apiGroups":["rbac.authorization.k8s.io"],"resources":["roles","rolebindings"]}])");
  binding("default", "alice-pods", "Role", "pods", R"([{"kind":"User","name":"alice"}])");
  UserInfo alice{"alice", {"system:authenticated"}, "", {}};

  // Granting what she holds is fine.
  make(
      "roles", "default",
      R"({"metadata":{"name":"sub"},"rules":[{"verbs":["get"],"apiGroups":[""],"resources":["pods"]}]})",
      &alice);
  // More than she holds is refused, with upstream's message.
  try {
    make(
        "roles", "default",
        R"({"metadata":{"name":"big"},"rules":[{"verbs":["get","delete"],"apiGroups":[""],"resources":["pods","secrets"]}]})",
        &alice);
    FAIL() << "escalation allowed";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 403);
    EXPECT_EQ(e.reason(), "Forbidden");
    EXPECT_EQ(std::string(e.what()),
              "roles.rbac.authorization.k8s.io \"big\" is forbidden: user \"alice\" "
              "(groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not "
              "currently held:\n{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\"]}\n"
              "{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"delete\"]}");
  }
  // Updates are checked too (a patch goes the same way): adding a rule she lacks is
  // refused, relabelling keeps what she holds and passes.
  {
    RequestContext ctx;
    ctx.user = &alice;
    auto sub = resources.get(rbacInfo("roles"), "default", "sub");
    sub["metadata"].as_object()["labels"] = json::object{{"team", "a"}};
    resources.update(rbacInfo("roles"), "default", "sub", "", sub, ctx);
    sub = resources.get(rbacInfo("roles"), "default", "sub");
    sub["rules"].as_array().push_back(
        json::parse(R"({"verbs":["delete"],"apiGroups":[""],"resources":["pods"]})"));
    EXPECT_THROW(resources.update(rbacInfo("roles"), "default", "sub", "", sub, ctx), ApiError);
  }
  // A binding to a role she does not hold: refused; to one she holds: fine.
  clusterRole("admin-ish", R"([{"verbs":["*"],"apiGroups":["*"],"resources":["*"]}])");
  auto bindingBody = [](const std::string& name, const std::string& roleKind,
                        const std::string& roleName) {
    return R"({"metadata":{"name":")" + name +
           R"("},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":")" + roleKind +
           R"(","name":")" + roleName + R"("},"subjects":[{"kind":"User","name":"mallory"}]})";
  };
  EXPECT_THROW(
      make("rolebindings", "default", bindingBody("b1", "ClusterRole", "admin-ish"), &alice),
      ApiError);
  make("rolebindings", "default", bindingBody("b2", "Role", "sub"), &alice);
  try {
    make("rolebindings", "default", bindingBody("b3", "Role", "absent"), &alice);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(std::string(e.what()),
              "rolebindings.rbac.authorization.k8s.io \"b3\" is forbidden: "
              "role.rbac.authorization.k8s.io \"absent\" not found");
  }
  // `bind` on that role, or `escalate` on roles, lifts the check.
  role(
      "default", "delegate",
      R"([{"verbs":["bind"],"apiGroups":["rbac.authorization.k8s.io"],"resources":["clusterroles"],"resourceNames":["admin-ish"]},
                                  {"verbs":["escalate"],"apiGroups":["rbac.authorization.k8s.io"],"resources":["roles"]}])");
  binding("default", "alice-delegate", "Role", "delegate", R"([{"kind":"User","name":"alice"}])");
  make("rolebindings", "default", bindingBody("b4", "ClusterRole", "admin-ish"), &alice);
  make(
      "roles", "default",
      R"({"metadata":{"name":"big"},"rules":[{"verbs":["*"],"apiGroups":[""],"resources":["secrets"]}]})",
      &alice);
  // system:masters is exempt; a request without identity is not.
  UserInfo admin{"admin", {"system:masters"}, "", {}};
  make("clusterroles", "",
       R"({"metadata":{"name":"m"},"rules":[{"verbs":["*"],"apiGroups":["*"],"resources":["*"]}]})",
       &admin);
  UserInfo nobody;
  try {
    make("roles", "default", R"({"metadata":{"name":"n"},"rules":[]})", &nobody);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(std::string(e.what()),
              "roles.rbac.authorization.k8s.io \"n\" is forbidden: no user on request");
  }
}

TEST_F(Rbac, AggregationRuleNeedsFullAuthority) {
  clusterRole(
      "cr-writer",
      R"([{"verbs":["create","get","list"],"apiGroups":["rbac.authorization.k8s.io"],"resources":["clusterroles"]}])");
  binding("", "cr-writer", "ClusterRole", "cr-writer", R"([{"kind":"User","name":"gina"}])");
  UserInfo gina{"gina", {}, "", {}};
  try {
    make(
        "clusterroles", "",
        R"({"metadata":{"name":"agg"},"aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{"x":"y"}}]}})",
        &gina);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(std::string(e.what()),
              "clusterroles.rbac.authorization.k8s.io \"agg\" is forbidden: must have "
              "cluster-admin privileges to use the aggregationRule");
  }
}

TEST_F(Rbac, SubjectAccessReviews) {
  clusterRole("view-ish", kPodReader);
  binding("default", "v", "ClusterRole", "view-ish", R"([{"kind":"User","name":"alice"}])");
  UserInfo admin{"admin", {"system:masters"}, "", {}};
  auto sar = [&](const std::string& spec) {
    return rbac::evaluateReview(authz(), nullptr, "SubjectAccessReview",
                                parse(R"({"spec":)" + spec + "}"), admin, "");
  };
  auto r = sar(
      R"({"user":"alice","resourceAttributes":{"verb":"get","resource":"pods","namespace":"default"}})");
  EXPECT_EQ(
      json::serialize(r["status"]),
      R"({"allowed":true,"reason":"RBAC: allowed by RoleBinding \"v/default\" of ClusterRole \"view-ish\" to User \"alice\""})");
  EXPECT_EQ(r["apiVersion"], "authorization.k8s.io/v1");
  r = sar(
      R"({"user":"alice","resourceAttributes":{"verb":"delete","resource":"pods","namespace":"default"}})");
  EXPECT_EQ(json::serialize(r["status"]), R"({"allowed":false})");
  r = sar(
      R"({"user":"alice","resourceAttributes":{"verb":"get","resource":"pods","namespace":"other"}})");
  EXPECT_EQ(json::serialize(r["status"]), R"({"allowed":false})");
  r = sar(
      R"({"user":"x","groups":["system:masters"],"nonResourceAttributes":{"verb":"get","path":"/x"}})");
  EXPECT_EQ(json::serialize(r["status"]), R"({"allowed":true})");
  try {
    sar("{}");
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 422);
    EXPECT_EQ(std::string(e.what()),
              "SubjectAccessReview.authorization.k8s.io \"\" is invalid: [spec.resourceAttributes: "
              "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes "
              "must be specified, spec.user: Invalid value: \"\": at least one of user or group "
              "must be specified]");
  }
  // SelfSubjectAccessReview: the requester.
  UserInfo alice{"alice", {}, "", {}};
  r = rbac::evaluateReview(
      authz(), nullptr, "SelfSubjectAccessReview",
      parse(
          R"({"spec":{"resourceAttributes":{"verb":"list","resource":"pods","namespace":"default"}}})"),
      alice, "");
  EXPECT_EQ(r["status"].as_object()["allowed"], true);
  // LocalSubjectAccessReview: the namespace is the URL's.
  r = rbac::evaluateReview(
      authz(), nullptr, "LocalSubjectAccessReview",
      parse(
          R"({"spec":{"user":"alice","resourceAttributes":{"verb":"get","resource":"pods","namespace":"default"}}})"),
      admin, "default");
  EXPECT_EQ(r["status"].as_object()["allowed"], true);
  EXPECT_EQ(r["metadata"].as_object()["namespace"], "default");
  try {
    rbac::evaluateReview(
        authz(), nullptr, "LocalSubjectAccessReview",
        parse(
            R"({"metadata":{"namespace":"other"},"spec":{"user":"alice","resourceAttributes":{"verb":"get","resource":"pods","namespace":"other"}}})"),
        admin, "default");
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 400);
  }
  try {
    rbac::evaluateReview(
        authz(), nullptr, "LocalSubjectAccessReview",
        parse(
            R"({"spec":{"user":"alice","resourceAttributes":{"verb":"get","resource":"pods","namespace":"other"}}})"),
        admin, "default");
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 422);
    EXPECT_NE(std::string(e.what()).find("spec.resourceAttributes.namespace: Invalid value: "
                                         "\"other\": must match metadata.namespace"),
              std::string::npos);
  }
}

TEST_F(Rbac, SelfSubjectRulesReview) {
  clusterRole("pod-reader", kPodReader);
  clusterRole("metrics", R"([{"verbs":["get"],"nonResourceURLs":["/metrics"]}])");
  binding("", "m", "ClusterRole", "metrics", R"([{"kind":"Group","name":"ops"}])");
  binding("default", "r", "ClusterRole", "pod-reader", R"([{"kind":"Group","name":"ops"}])");
  binding("default", "dangling", "ClusterRole", "gone", R"([{"kind":"Group","name":"ops"}])");
  UserInfo ops{"olga", {"ops"}, "", {}};
  auto r = rbac::evaluateReview(authz(), nullptr, "SelfSubjectRulesReview",
                                parse(R"({"spec":{"namespace":"default"}})"), ops, "");
  EXPECT_EQ(
      json::serialize(r["status"]),
      R"({"resourceRules":[{"verbs":["get","list"],"apiGroups":[""],"resources":["pods"]}],)"
      R"("nonResourceRules":[{"verbs":["get"],"nonResourceURLs":["/metrics"]}],"incomplete":false,)"
      R"("evaluationError":"clusterrole.rbac.authorization.k8s.io \"gone\" not found"})");
  r = rbac::evaluateReview(authz(), nullptr, "SelfSubjectRulesReview",
                           parse(R"({"spec":{"namespace":"other"}})"), ops, "");
  EXPECT_EQ(r["status"].as_object()["resourceRules"].as_array().size(), 0u);
  EXPECT_THROW(rbac::evaluateReview(authz(), nullptr, "SelfSubjectRulesReview",
                                    parse(R"({"spec":{}})"), ops, ""),
               ApiError);
}

TEST_F(Rbac, BootstrapPolicyReconcile) {
  rbac::reconcileBootstrapPolicy(resources, registry);
  auto view = resources.get(rbacInfo("clusterroles"), "", "view");
  EXPECT_EQ(
      api::stringAt(view, {"metadata", "labels", "rbac.authorization.k8s.io/aggregate-to-edit"}),
      "true");
  EXPECT_EQ(api::stringAt(
                view, {"metadata", "annotations", "rbac.authorization.kubernetes.io/autoupdate"}),
            "true");
  auto masters = resources.get(rbacInfo("clusterrolebindings"), "", "cluster-admin");
  EXPECT_EQ(json::serialize(masters["subjects"]),
            R"([{"kind":"Group","name":"system:masters","apiGroup":"rbac.authorization.k8s.io"}])");
  UserInfo someone{"someone", {"system:authenticated"}, "", {}};
  AuthorizationAttributes a;
  a.user = &someone;
  a.verb = "get";
  a.path = "/version";
  EXPECT_EQ(authz().authorize(a).decision, Decision::Allow);
  UserInfo scheduler{"system:kube-scheduler", {"system:authenticated"}, "", {}};
  EXPECT_TRUE(allowed(scheduler, "create", "bindings", "default"));
  EXPECT_FALSE(allowed(scheduler, "create", "secrets", "default"));

  // A user's rule added to a bootstrap role stays; a removed rule comes back.
  auto discovery = resources.get(rbacInfo("clusterroles"), "", "system:discovery");
  discovery["rules"] = json::array{
      json::object{{"verbs", json::array{"get"}}, {"nonResourceURLs", json::array{"/custom"}}}};
  RequestContext ctx;
  resources.update(rbacInfo("clusterroles"), "", "system:discovery", "", discovery, ctx);
  // autoupdate=false: left alone.
  auto basic = resources.get(rbacInfo("clusterroles"), "", "system:basic-user");
  basic["metadata"]
      .as_object()["annotations"]
      .as_object()["rbac.authorization.kubernetes.io/autoupdate"] = "false";
  basic["rules"] = json::array();
  resources.update(rbacInfo("clusterroles"), "", "system:basic-user", "", basic, ctx);

  rbac::reconcileBootstrapPolicy(resources, registry);
  discovery = resources.get(rbacInfo("clusterroles"), "", "system:discovery");
  auto rules = rbac::rulesOf(discovery);
  EXPECT_EQ(rules[0], (rbac::PolicyRule{{"get"}, {}, {}, {}, {"/custom"}}));
  EXPECT_TRUE(rbac::covers(rules, {{{"get"}, {}, {}, {}, {"/api", "/version/"}}}));
  basic = resources.get(rbacInfo("clusterroles"), "", "system:basic-user");
  EXPECT_TRUE(api::arrayOrEmpty(basic, {"rules"}).empty());

  // Reconciling what is already there changes nothing.
  auto rv = api::stringAt(discovery, {"metadata", "resourceVersion"});
  rbac::reconcileBootstrapPolicy(resources, registry);
  EXPECT_EQ(api::stringAt(resources.get(rbacInfo("clusterroles"), "", "system:discovery"),
                          {"metadata", "resourceVersion"}),
            rv);
  // A binding's subject added by a user stays, a missing one is added back.
  auto crb = resources.get(rbacInfo("clusterrolebindings"), "", "system:basic-user");
  crb["subjects"] = json::array{json::object{{"kind", "User"}, {"name", "extra"}}};
  resources.update(rbacInfo("clusterrolebindings"), "", "system:basic-user", "", crb, ctx);
  rbac::reconcileBootstrapPolicy(resources, registry);
  crb = resources.get(rbacInfo("clusterrolebindings"), "", "system:basic-user");
  EXPECT_EQ(crb["subjects"].as_array().size(), 2u);
}

// The cost of one decision with the bootstrap policy and 2,000 RoleBindings in 1,000
// namespaces (what the index is for: a scan would visit every binding per request).
TEST_F(Rbac, DecisionCostDoesNotGrowWithBindings) {
  rbac::reconcileBootstrapPolicy(resources, registry);
  clusterRole("pod-reader", kPodReader);
  RequestContext ctx;
  for (int i = 0; i < 1000; ++i) {
    const std::string ns = "ns-" + std::to_string(i);
    resources.create(info("namespaces"), "",
                     json::parse(R"({"metadata":{"name":")" + ns + R"("}})"), ctx);
    binding(ns, "a", "ClusterRole", "pod-reader",
            R"([{"kind":"User","name":"u)" + std::to_string(i) + R"("}])");
    binding(ns, "b", "ClusterRole", "edit",
            R"([{"kind":"Group","name":"g)" + std::to_string(i) + R"("}])");
  }
  UserInfo user{"u500", {"system:authenticated", "g7"}, "", {}};
  ASSERT_TRUE(allowed(user, "get", "pods", "ns-500"));
  ASSERT_FALSE(allowed(user, "get", "pods", "ns-501"));
  AuthorizationAttributes a;
  a.user = &user;
  a.resourceRequest = true;
  a.verb = "get";
  a.resource = "pods";
  a.namespace_ = "ns-500";
  constexpr int kRounds = 20000;
  auto start = std::chrono::steady_clock::now();
  int allowedCount = 0;
  for (int i = 0; i < kRounds; ++i)
    allowedCount += authz().authorize(a).decision == Decision::Allow;
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
      kRounds;
  EXPECT_EQ(allowedCount, kRounds);
  std::printf("RBAC decision: %.2f us (bootstrap policy + 2,000 RoleBindings)\n", us);
  EXPECT_LT(us, 50.0);  // generous: a scan of 2,000 bindings would cost far more
}

}  // namespace
}  // namespace skiff::apiserver::testing
