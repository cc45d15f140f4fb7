// The garbage collector and the namespace controller follow the resources API discovery
// reports (custom resources appear and disappear at run time), here over fakes: a
// StaticDiscovery the test edits, the fake API, no server.
#include "controller/discovery.h"

#include "unit/client/test_server.h"
#include "unit/controller/fake_env.h"

namespace skiff::controller::testing {
namespace {

namespace json = boost::json;

const client::Resource kWidgets{"example.com", "v1", "widgets"};

DiscoveredResource widgets() {
  return {"example.com", "v1", "widgets",
          "Widget",      true, {"create", "delete", "deletecollection", "get", "list", "watch"}};
}
DiscoveredResource gizmos() {
  return {"example.com", "v1", "gizmos",
          "Gizmo",       true, {"create", "delete", "get", "list", "watch"}};
}

json::object widget(const std::string& name, const std::string& ownerUid = "") {
  json::object w{{"apiVersion", "example.com/v1"},
                 {"kind", "Widget"},
                 {"metadata", {{"name", name}, {"namespace", "ns"}}}};
  if (!ownerUid.empty())
    w["metadata"].as_object()["ownerReferences"] = json::array{json::object{
        {"apiVersion", "example.com/v1"}, {"kind", "Gizmo"}, {"name", "g"}, {"uid", ownerUid}}};
  return w;
}

}  // namespace

TEST(GarbageCollectorDiscovery, CollectsCustomResourcesWhoseOwnerIsGone) {
  ControllerTestEnv env("garbagecollector");
  env.discovery->add(widgets());
  env.discovery->add(gizmos());
  env.runPeriodic();  // the monitors follow discovery
  env.add(kWidgets, widget("orphan", "gone-uid"));
  env.sync();
  // The owner's kind comes from discovery too: a live GET of the Gizmo says it is gone.
  EXPECT_EQ(env.writes(), std::vector<std::string>{"delete widgets"});
  EXPECT_FALSE(env.api->object("widgets", "ns", "orphan"));
}

TEST(GarbageCollectorDiscovery, MonitorsFollowResourcesAppearingAndGoing) {
  ControllerTestEnv env("garbagecollector");
  env.discovery->add(gizmos());
  env.add(kWidgets, widget("early", "gone-uid"));  // no monitor for widgets yet
  env.sync();
  EXPECT_TRUE(env.writes().empty());

  env.discovery->add(widgets());  // the CRD was created
  env.runPeriodic();              // the 30 s resync: the new informer replays what it has
  env.sync();
  EXPECT_EQ(env.writes(), std::vector<std::string>{"delete widgets"});

  env.api->clearActions();
  env.discovery->remove("example.com", "widgets");  // the CRD was deleted
  env.runPeriodic();
  env.add(kWidgets, widget("late", "gone-uid"));  // a straggling event is ignored
  env.sync();
  EXPECT_TRUE(env.writes().empty());
}

TEST(GarbageCollectorDiscovery, FailingDiscoveryKeepsTheMonitors) {
  ControllerTestEnv env("garbagecollector");
  env.discovery->add(widgets());
  env.discovery->add(gizmos());
  env.runPeriodic();
  env.discovery->failWith("connection refused");
  env.runPeriodic();  // nothing changes
  env.add(kWidgets, widget("orphan", "gone-uid"));
  env.sync();
  EXPECT_EQ(env.writes(), std::vector<std::string>{"delete widgets"});
}

namespace {

struct NamespaceEnv : ControllerTestEnv {
  NamespaceEnv() : ControllerTestEnv("namespace") {
    // Only what the test is about: a namespaced built-in and the custom resource.
    discovery->set({{"",
                     "v1",
                     "configmaps",
                     "ConfigMap",
                     true,
                     {"delete", "deletecollection", "get", "list", "watch"}},
                    widgets()});
    reflectWrites();
  }
  void terminate(const std::string& name) {
    add(client::resources::namespaces,
        json::object{{"apiVersion", "v1"},
                     {"kind", "Namespace"},
                     {"metadata", {{"name", name}, {"deletionTimestamp", formatTime(clock.now())}}},
                     {"spec", {{"finalizers", json::array{"kubernetes"}}}}});
  }
};

}  // namespace

TEST(NamespaceControllerDiscovery, EmptiesCustomResourcesThenFinalizes) {
  NamespaceEnv env;
  env.api->seed("widgets", widget("w1"));
  env.api->seed("configmaps", json::object{{"apiVersion", "v1"},
                                           {"kind", "ConfigMap"},
                                           {"metadata", {{"name", "c"}, {"namespace", "ns"}}}});
  env.terminate("ns");
  env.sync();
  EXPECT_EQ(env.writes(),
            (std::vector<std::string>{"deletecollection configmaps", "deletecollection widgets",
                                      "update namespaces/status", "update namespaces/finalize"}));
  EXPECT_TRUE(env.api->objects("widgets", "ns").empty());
}

TEST(NamespaceControllerDiscovery, DiscoveryFailureIsReportedAndRetried) {
  NamespaceEnv env;
  env.discovery->failWith("the server is currently unable to handle the request");
  env.terminate("ns");
  env.sync();
  auto ns = *env.api->object("namespaces", "", "ns");
  auto* c = findCondition(ns, "NamespaceDeletionDiscoveryFailure");
  ASSERT_TRUE(c);
  EXPECT_EQ(stringAt(*c, {"status"}), "True");
  EXPECT_EQ(stringAt(*c, {"reason"}), "DiscoveryFailed");
  // The sync failed: retried after the queue's backoff, and done once discovery answers.
  env.discovery->failWith("");
  env.step(std::chrono::milliseconds(5));
  env.sync();
  EXPECT_EQ(env.writes().back(), "update namespaces/finalize");
}

// ServerDiscovery against the real API server: the legacy documents, each resource once at
// its group's preferred version, subresources left out.
TEST(ServerDiscovery, ReadsTheServedResources) {
  auto client = client::testing::newClient();
  ServerDiscovery discovery(*client);
  auto all = discovery.resources();
  auto find = [&](const std::string& group,
                  const std::string& resource) -> const DiscoveredResource* {
    for (auto& r : all)
      if (r.group == group && r.resource == resource) return &r;
    return nullptr;
  };
  auto* pods = find("", "pods");
  ASSERT_TRUE(pods);
  EXPECT_EQ(pods->version, "v1");
  EXPECT_EQ(pods->kind, "Pod");
  EXPECT_TRUE(pods->namespaced);
  EXPECT_TRUE(pods->supports("list") && pods->supports("delete") && pods->supports("watch"));
  auto* deployments = find("apps", "deployments");
  ASSERT_TRUE(deployments);
  EXPECT_EQ(deployments->version, "v1");
  auto* nodes = find("", "nodes");
  ASSERT_TRUE(nodes);
  EXPECT_FALSE(nodes->namespaced);
  EXPECT_FALSE(find("", "pods/status"));
  int hpas = 0;
  for (auto& r : all) hpas += r.group == "autoscaling" && r.resource == "horizontalpodautoscalers";
  EXPECT_EQ(hpas, 1);
  // events.k8s.io events are core events stored once: walking both would see each twice.
  auto* events = find("events.k8s.io", "events");
  ASSERT_TRUE(events);
  EXPECT_TRUE(events->aliasOfAnotherResource());
  EXPECT_FALSE(find("", "events")->aliasOfAnotherResource());
}

}  // namespace skiff::controller::testing
