// The namespace controller against the real API server: a deleted namespace is emptied,
// reports what keeps it, and goes once its content is gone.
#include "unit/controller/test_env.h"

namespace skiff::controller::testing {

namespace json = boost::json;
using client::resources::configMaps;
using client::resources::namespaces;

namespace {

bool namespaceGone(client::RestClient& c, const std::string& ns) {
  try {
    c.get(namespaces, "", ns);
    return false;
  } catch (const ApiError& e) {
    if (e.code() == 404) return true;
    throw;
  }
}

}  // namespace

TEST(NamespaceController, DeletesContentThenTheNamespace) {
  ControllerEnv env({"namespace"});
  auto ns = freshNamespace(env.c(), "ns-del");
  env.c().create(configMaps, ns, client::testing::configMap("a", "1"));
  env.c().create(configMaps, ns, client::testing::configMap("b", "2"));
  env.c().create(
      client::resources::secrets, ns,
      json::object{
          {"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", json::object{{"name", "s"}}}});
  env.c().create(client::resources::pods, ns,
                 json::parse(R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}})")
                     .as_object());
  env.c().create(client::resources::leases, ns,
                 json::object{{"apiVersion", "coordination.k8s.io/v1"},
                              {"kind", "Lease"},
                              {"metadata", json::object{{"name", "l"}}}});

  auto answer = env.c().remove(namespaces, "", ns);
  EXPECT_EQ(stringAt(answer, {"status", "phase"}), "Terminating");
  ASSERT_TRUE(eventually([&] { return namespaceGone(env.c(), ns); }));
}

TEST(NamespaceController, ContentWithFinalizersKeepsTheNamespace) {
  ControllerEnv env({"namespace"});
  auto ns = freshNamespace(env.c(), "ns-hold");
  json::object held = client::testing::configMap("held", "1");
  held["metadata"].as_object()["finalizers"] = json::array{"test.skiff.io/hold"};
  env.c().create(configMaps, ns, held);
  env.c().create(configMaps, ns, client::testing::configMap("plain", "1"));
  env.c().remove(namespaces, "", ns);

  auto conditionMessage = [&](const std::string& type) {
    auto obj = env.c().get(namespaces, "", ns);
    const json::object* c = findCondition(obj, type);
    return c ? stringAt(*c, {"status"}) + " " + stringAt(*c, {"reason"}) + ": " +
                   stringAt(*c, {"message"})
             : std::string();
  };
  ASSERT_TRUE(eventually([&] {
    return conditionMessage("NamespaceContentRemaining") ==
           "True SomeResourcesRemain: Some resources are remaining: configmaps. has 1 resource "
           "instances";
  })) << conditionMessage("NamespaceContentRemaining");
  EXPECT_EQ(conditionMessage("NamespaceFinalizersRemaining"),
            "True SomeFinalizersRemain: Some content in the namespace has finalizers remaining: "
            "test.skiff.io/hold in 1 resource instances");
  EXPECT_EQ(
      conditionMessage("NamespaceDeletionContentFailure"),
      "False ContentDeleted: All content successfully deleted, may be waiting on finalization");
  EXPECT_EQ(conditionMessage("NamespaceDeletionDiscoveryFailure"),
            "False ResourcesDiscovered: All resources successfully discovered");
  auto held2 = env.c().get(configMaps, ns, "held");
  EXPECT_TRUE(isBeingDeleted(held2));
  EXPECT_FALSE(namespaceGone(env.c(), ns));

  env.c().patch(configMaps, ns, "held", client::PatchType::Merge,
                json::parse(R"({"metadata":{"finalizers":null}})"));
  ASSERT_TRUE(eventually([&] { return namespaceGone(env.c(), ns); }, std::chrono::seconds(8)));
}

}  // namespace skiff::controller::testing
