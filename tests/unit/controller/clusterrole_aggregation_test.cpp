// ClusterRole aggregation over fakes: the union of the matched roles' rules (selectors in
// order, roles by name, each rule once), kept current as roles come, change and go, and
// no write when nothing changed.
#include "unit/controller/fake_env.h"

namespace skiff::controller::testing {

namespace json = boost::json;

namespace {

const client::Resource kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles"};

json::object role(const std::string& name, const std::string& labelsJson,
                  const std::string& rulesJson, const std::string& aggregation = "") {
  std::string text =
      R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":")" +
      name + R"(","labels":)" + labelsJson + R"(},"rules":)" + rulesJson;
  if (!aggregation.empty())
    text += R"(,"aggregationRule":{"clusterRoleSelectors":)" + aggregation + "}";
  return json::parse(text + "}").as_object();
}

struct AggregationEnv : ControllerTestEnv {
  AggregationEnv() : ControllerTestEnv("clusterrole-aggregation") { reflectWrites(); }
  std::string rulesOf(const std::string& name) {
    return json::serialize(api::arrayOrEmpty(*api->object("clusterroles", "", name), {"rules"}));
  }
};

const char* kGetPods = R"({"verbs":["get"],"apiGroups":[""],"resources":["pods"]})";
const char* kListJobs = R"({"verbs":["list"],"apiGroups":["batch"],"resources":["jobs"]})";

}  // namespace

TEST(ClusterRoleAggregation, UnionOfMatchedRolesEachRuleOnce) {
  AggregationEnv env;
  env.add(kClusterRoles, role("view", "{}", "[]", R"([{"matchLabels":{"agg-view":"true"}}])"));
  env.add(kClusterRoles, role("b-jobs", R"({"agg-view":"true"})",
                              std::string("[") + kListJobs + "," + kGetPods + "]"));
  env.add(kClusterRoles,
          role("a-pods", R"({"agg-view":"true"})", std::string("[") + kGetPods + "]"));
  env.add(kClusterRoles, role("unrelated", R"({"other":"true"})",
                              R"([{"verbs":["*"],"apiGroups":["*"],"resources":["*"]}])"));
  env.sync();
  // a-pods before b-jobs (by name); b-jobs' get pods is already there.
  EXPECT_EQ(env.rulesOf("view"), std::string("[") + kGetPods + "," + kListJobs + "]");
  EXPECT_EQ(env.writes(), (std::vector<std::string>{"patch clusterroles"}));

  // Nothing changed: no write.
  env.api->clearActions();
  env.update(kClusterRoles, role("unrelated", R"({"other":"true"})", "[]"));
  env.sync();
  EXPECT_TRUE(env.writes().empty());

  // A matched role that goes takes its rules along.
  env.remove(kClusterRoles, *env.api->object("clusterroles", "", "a-pods"));
  env.sync();
  EXPECT_EQ(env.rulesOf("view"), std::string("[") + kListJobs + "," + kGetPods + "]");
  // A label removed: not matched anymore.
  env.update(kClusterRoles, role("b-jobs", "{}", std::string("[") + kListJobs + "]"));
  env.sync();
  EXPECT_EQ(env.rulesOf("view"), "[]");
}

TEST(ClusterRoleAggregation, ChainedAggregationAndSelfExcluded) {
  AggregationEnv env;
  // edit aggregates into admin, as the bootstrap roles do; view selects itself too.
  env.add(kClusterRoles, role("admin", "{}", "[]", R"([{"matchLabels":{"to-admin":"true"}}])"));
  env.add(kClusterRoles,
          role("edit", R"({"to-admin":"true"})", "[]", R"([{"matchLabels":{"to-edit":"true"}}])"));
  env.add(kClusterRoles, role("selfish", R"({"to-self":"true"})", std::string("[") + kGetPods + "]",
                              R"([{"matchLabels":{"to-self":"true"}}])"));
  env.add(kClusterRoles, role("jobs", R"({"to-edit":"true"})", std::string("[") + kListJobs + "]"));
  env.sync();
  EXPECT_EQ(env.rulesOf("edit"), std::string("[") + kListJobs + "]");
  EXPECT_EQ(env.rulesOf("admin"), std::string("[") + kListJobs + "]");
  // A role never aggregates itself: selfish matches only itself, so it ends empty.
  EXPECT_EQ(env.rulesOf("selfish"), "[]");
}

}  // namespace skiff::controller::testing
