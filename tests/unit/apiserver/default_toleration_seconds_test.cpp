// DefaultTolerationSeconds admission: pods created without a NoExecute toleration for the
// node-lifecycle taints get one with the configured seconds; existing ones are respected.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "resource_store_fixture.h"

namespace skiff::apiserver {
namespace {

namespace json = boost::json;

class DefaultTolerationSecondsTest : public testing::ResourceStoreFixture {
 protected:
  DefaultTolerationSecondsTest()
      : ResourceStoreFixture(AdmissionOptions{.defaultNotReadyTolerationSeconds = 11,
                                              .defaultUnreachableTolerationSeconds = 22}) {}
  // Creates a pod with `tolerations` (JSON) and returns its stored tolerations.
  json::array createWith(const std::string& name, const std::string& tolerations) {
    std::string body = R"({"metadata":{"name":")" + name +
                       R"("},"spec":{"containers":[{"name":"c","image":"x"}])" +
                       (tolerations.empty() ? "" : ",\"tolerations\":" + tolerations) + "}}";
    RequestContext ctx;
    auto pod = resources.create(*registry.find("", "v1", "pods"), "default",
                                json::parse(body).as_object(), ctx);
    return pod->at("spec").at("tolerations").as_array();
  }
  static const json::object* find(const json::array& tols, const std::string& key) {
    for (const auto& t : tols)
      if (t.as_object().contains("key") && t.as_object().at("key").as_string() == key)
        return &t.as_object();
    return nullptr;
  }
};

TEST_F(DefaultTolerationSecondsTest, AddsBothTolerationsWithConfiguredSeconds) {
  auto tols = createWith("plain", "");
  ASSERT_EQ(tols.size(), 2u);
  auto* nr = find(tols, "node.kubernetes.io/not-ready");
  auto* ur = find(tols, "node.kubernetes.io/unreachable");
  ASSERT_TRUE(nr && ur);
  EXPECT_EQ(nr->at("operator").as_string(), "Exists");
  EXPECT_EQ(nr->at("effect").as_string(), "NoExecute");
  EXPECT_EQ(nr->at("tolerationSeconds").as_int64(), 11);
  EXPECT_EQ(ur->at("tolerationSeconds").as_int64(), 22);
}

TEST_F(DefaultTolerationSecondsTest, KeepsAnExistingTolerationForTheTaint) {
  auto tols = createWith(
      "own",
      R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":5},
                 {"key":"other","operator":"Exists","effect":"NoSchedule"}])");
  ASSERT_EQ(tols.size(), 3u);
  EXPECT_EQ(find(tols, "node.kubernetes.io/unreachable")->at("tolerationSeconds").as_int64(), 5);
  EXPECT_EQ(find(tols, "node.kubernetes.io/not-ready")->at("tolerationSeconds").as_int64(), 11);
}

TEST_F(DefaultTolerationSecondsTest, EmptyEffectOrKeyCoversTheTaints) {
  // No effect = every effect: covers unreachable, not not-ready.
  auto tols =
      createWith("noeffect", R"([{"key":"node.kubernetes.io/unreachable","operator":"Exists"}])");
  EXPECT_EQ(tols.size(), 2u);
  EXPECT_FALSE(find(tols, "node.kubernetes.io/unreachable")->contains("tolerationSeconds"));
  // No key with Exists = tolerates everything: nothing added.
  tols = createWith("all", R"([{"operator":"Exists"}])");
  EXPECT_EQ(tols.size(), 1u);
  // A NoSchedule toleration for the key does not cover NoExecute.
  tols = createWith(
      "nosched",
      R"([{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoSchedule"}])");
  EXPECT_EQ(tols.size(), 3u);
}

}  // namespace
}  // namespace skiff::apiserver
