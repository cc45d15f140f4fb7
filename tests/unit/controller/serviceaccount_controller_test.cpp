#include "unit/controller/test_env.h"

namespace skiff::controller::testing {

TEST(ServiceAccountController, CreatesAndRecreatesDefault) {
  ControllerEnv env({"serviceaccount"});
  auto ns = freshNamespace(env.c(), "sa");
  auto hasDefault = [&] {
    try {
      env.c().get(client::resources::serviceAccounts, ns, "default");
      return true;
    } catch (const ApiError&) {
      return false;
    }
  };
  ASSERT_TRUE(eventually(hasDefault));
  env.c().remove(client::resources::serviceAccounts, ns, "default");
  ASSERT_TRUE(eventually(hasDefault));
}

TEST(ControllerFramework, EnabledList) {
  EXPECT_TRUE(controllerEnabled({"*"}, "replicaset"));
  EXPECT_FALSE(controllerEnabled({"*", "-replicaset"}, "replicaset"));
  EXPECT_TRUE(controllerEnabled({"replicaset"}, "replicaset"));
  EXPECT_FALSE(controllerEnabled({"deployment"}, "replicaset"));
}

TEST(ControllerUtils, SetConditionKeepsTransitionTimeWhenStatusUnchanged) {
  boost::json::object obj;
  EXPECT_TRUE(setCondition(obj, "Available", "True", "MinimumReplicasAvailable", "ok"));
  auto t = stringAt(*findCondition(obj, "Available"), {"lastTransitionTime"});
  EXPECT_FALSE(setCondition(obj, "Available", "True", "MinimumReplicasAvailable", "ok"));
  EXPECT_TRUE(setCondition(obj, "Available", "True", "MinimumReplicasAvailable", "changed"));
  EXPECT_EQ(stringAt(*findCondition(obj, "Available"), {"lastTransitionTime"}), t);
  EXPECT_TRUE(setCondition(obj, "Available", "False", "Down", "x"));
  EXPECT_EQ(stringAt(*findCondition(obj, "Available"), {"status"}), "False");
}

TEST(ControllerUtils, HashIsStableAndSafe) {
  boost::json::value a =
      boost::json::parse(R"({"spec":{"containers":[{"name":"c","image":"x"}]}})");
  boost::json::value b =
      boost::json::parse(R"({"spec":{"containers":[{"name":"c","image":"y"}]}})");
  EXPECT_EQ(computeHash(a), computeHash(a));
  EXPECT_NE(computeHash(a), computeHash(b));
  EXPECT_NE(computeHash(a), computeHash(a, 1));
  for (char ch : computeHash(a)) EXPECT_EQ(std::string("aeiou").find(ch), std::string::npos);
}

TEST(ControllerUtils, KeysAndPaths) {
  EXPECT_EQ(splitKey("ns/name"), (std::pair<std::string, std::string>{"ns", "name"}));
  EXPECT_EQ(splitKey("node-1"), (std::pair<std::string, std::string>{"", "node-1"}));
  boost::json::object o =
      boost::json::parse(R"({"spec":{"replicas":3,"paused":true}})").as_object();
  EXPECT_EQ(intAt(o, {"spec", "replicas"}), 3);
  EXPECT_EQ(intAt(o, {"spec", "missing"}, 7), 7);
  EXPECT_TRUE(boolAt(o, {"spec", "paused"}));
  EXPECT_EQ(stringAt(o, {"spec", "replicas", "deeper"}, "none"), "none");
}

}  // namespace skiff::controller::testing
