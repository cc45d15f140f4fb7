// The garbage collector against the real API server: owner references are written by hand
// (no workload controllers run here), owners are deleted with each propagation policy.
#include "unit/controller/test_env.h"

namespace skiff::controller::testing {

namespace json = boost::json;
using client::resources::configMaps;
using client::resources::pods;
using client::resources::replicaSets;

namespace {

json::object ownerRef(const json::object& owner, const std::string& apiVersion,
                      const std::string& kind, bool block = false) {
  json::object ref{
      {"apiVersion", apiVersion}, {"kind", kind}, {"name", nameOf(owner)}, {"uid", uidOf(owner)}};
  if (block) ref["blockOwnerDeletion"] = true;
  return ref;
}

json::object makeConfigMap(const std::string& name, json::array owners = {},
                           json::array finalizers = {}) {
  json::object meta{{"name", name}};
  if (!owners.empty()) meta["ownerReferences"] = std::move(owners);
  if (!finalizers.empty()) meta["finalizers"] = std::move(finalizers);
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", std::move(meta)}};
}

json::object makePod(const std::string& name, json::array owners) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", json::object{{"name", name}, {"ownerReferences", std::move(owners)}}},
          {"spec", json::object{{"containers",
                                 json::array{json::object{{"name", "c"}, {"image", "busybox"}}}}}}};
}

bool exists(client::RestClient& c, const client::Resource& r, const std::string& ns,
            const std::string& name) {
  try {
    c.get(r, ns, name);
    return true;
  } catch (const ApiError& e) {
    if (e.code() == 404) return false;
    throw;
  }
}

json::object policy(const std::string& p) {
  return {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", p}};
}

bool hasFinalizerNamed(const json::object& obj, const std::string& name) {
  if (const json::array* f = arrayAt(obj, {"metadata", "finalizers"}))
    for (const auto& v : *f)
      if (v.is_string() && v.as_string() == name) return true;
  return false;
}

}  // namespace

TEST(GarbageCollector, BackgroundDeletesPodsOfDeletedReplicaSet) {
  ControllerEnv env({"garbagecollector"});
  auto ns = freshNamespace(env.c(), "gc-bg");
  json::object rs =
      json::parse(R"({"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web"},
    "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
    "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}})")
          .as_object();
  rs = env.c().create(replicaSets, ns, rs);
  for (const char* name : {"web-1", "web-2"})
    env.c().create(pods, ns, makePod(name, {ownerRef(rs, "apps/v1", "ReplicaSet", true)}));
  env.c().create(pods, ns, makePod("unowned", {}));

  env.c().remove(replicaSets, ns, "web");  // no policy: apps/v1 defaults to background
  EXPECT_FALSE(exists(env.c(), replicaSets, ns, "web"))
      << "background deletion removes the owner at once";
  ASSERT_TRUE(eventually([&] { return listItems(env.c(), pods, ns).size() == 1; }));
  EXPECT_TRUE(exists(env.c(), pods, ns, "unowned"));
}

TEST(GarbageCollector, OrphanKeepsDependentsAndStripsReferences) {
  ControllerEnv env({"garbagecollector"});
  auto ns = freshNamespace(env.c(), "gc-orphan");
  auto owner = env.c().create(configMaps, ns, makeConfigMap("owner"));
  auto other = env.c().create(configMaps, ns, makeConfigMap("other"));
  env.c().create(configMaps, ns, makeConfigMap("dep-1", {ownerRef(owner, "v1", "ConfigMap")}));
  env.c().create(configMaps, ns,
                 makeConfigMap("dep-2", {ownerRef(owner, "v1", "ConfigMap"),
                                         ownerRef(other, "v1", "ConfigMap")}));

  auto answer = env.c().remove(configMaps, ns, "owner", policy("Orphan"));
  EXPECT_TRUE(hasFinalizerNamed(answer, "orphan"));
  EXPECT_TRUE(isBeingDeleted(answer));
  ASSERT_TRUE(eventually([&] { return !exists(env.c(), configMaps, ns, "owner"); }));
  auto dep1 = env.c().get(configMaps, ns, "dep-1");
  EXPECT_EQ(arrayAt(dep1, {"metadata", "ownerReferences"}), nullptr);
  auto dep2 = env.c().get(configMaps, ns, "dep-2");
  const json::array* refs = arrayAt(dep2, {"metadata", "ownerReferences"});
  ASSERT_NE(refs, nullptr);
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ(stringAt(refs->at(0).as_object(), {"uid"}), uidOf(other));
}

TEST(GarbageCollector, ForegroundWaitsForBlockingDependents) {
  ControllerEnv env({"garbagecollector"});
  auto ns = freshNamespace(env.c(), "gc-fg");
  auto owner = env.c().create(configMaps, ns, makeConfigMap("owner"));
  // The blocking dependent holds a finalizer of its own, so it lingers while being deleted.
  env.c().create(
      configMaps, ns,
      makeConfigMap("blocker", {ownerRef(owner, "v1", "ConfigMap", true)}, {"test.skiff.io/hold"}));
  env.c().create(configMaps, ns, makeConfigMap("plain", {ownerRef(owner, "v1", "ConfigMap")}));

  auto answer = env.c().remove(configMaps, ns, "owner", policy("Foreground"));
  EXPECT_TRUE(hasFinalizerNamed(answer, "foregroundDeletion"));
  ASSERT_TRUE(eventually([&] { return !exists(env.c(), configMaps, ns, "plain"); }));
  ASSERT_TRUE(eventually([&] { return isBeingDeleted(env.c().get(configMaps, ns, "blocker")); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto waiting = env.c().get(configMaps, ns, "owner");
  EXPECT_TRUE(hasFinalizerNamed(waiting, "foregroundDeletion"))
      << "the owner waits for its blocking dependent";

  env.c().patch(configMaps, ns, "blocker", client::PatchType::Merge,
                json::parse(R"({"metadata":{"finalizers":null}})"));
  ASSERT_TRUE(eventually([&] { return !exists(env.c(), configMaps, ns, "owner"); }));
  EXPECT_FALSE(exists(env.c(), configMaps, ns, "blocker"));
}

TEST(GarbageCollector, DependentWithRemainingOwnerLosesOnlyTheDanglingReference) {
  ControllerEnv env({"garbagecollector"});
  auto ns = freshNamespace(env.c(), "gc-multi");
  auto a = env.c().create(configMaps, ns, makeConfigMap("a"));
  auto b = env.c().create(configMaps, ns, makeConfigMap("b"));
  env.c().create(
      configMaps, ns,
      makeConfigMap("shared", {ownerRef(a, "v1", "ConfigMap"), ownerRef(b, "v1", "ConfigMap")}));
  env.c().remove(configMaps, ns, "a");
  ASSERT_TRUE(eventually([&] {
    auto shared = env.c().get(configMaps, ns, "shared");
    auto refs = arrayAt(shared, {"metadata", "ownerReferences"});
    return refs && refs->size() == 1;
  }));
  auto shared = env.c().get(configMaps, ns, "shared");
  EXPECT_EQ(stringAt(arrayAt(shared, {"metadata", "ownerReferences"})->at(0).as_object(), {"uid"}),
            uidOf(b));
  env.c().remove(configMaps, ns, "b");
  ASSERT_TRUE(eventually([&] { return !exists(env.c(), configMaps, ns, "shared"); }));
}

TEST(GarbageCollector, OwnerWithAnotherUidCountsAsAbsent) {
  ControllerEnv env({"garbagecollector"});
  auto ns = freshNamespace(env.c(), "gc-uid");
  env.c().create(configMaps, ns, makeConfigMap("owner"));
  json::object stale{{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"name", "owner"},
                     {"uid", "00000000-0000-0000-0000-000000000001"}};
  env.c().create(configMaps, ns, makeConfigMap("dep", {stale}));
  // A reference to an unknown kind cannot be verified and is left alone.
  json::object unknown{{"apiVersion", "example.com/v1"},
                       {"kind", "Widget"},
                       {"name", "w"},
                       {"uid", "00000000-0000-0000-0000-000000000002"}};
  env.c().create(configMaps, ns, makeConfigMap("kept", {unknown}));
  ASSERT_TRUE(eventually([&] { return !exists(env.c(), configMaps, ns, "dep"); }));
  EXPECT_TRUE(exists(env.c(), configMaps, ns, "owner"));
  EXPECT_TRUE(exists(env.c(), configMaps, ns, "kept"));
}

TEST(GarbageCollector, CollectsOrphansLeftWhileNotRunning) {
  auto c = newClient();
  auto ns = freshNamespace(*c, "gc-restart");
  auto owner = c->create(configMaps, ns, makeConfigMap("owner"));
  c->create(configMaps, ns, makeConfigMap("dep", {ownerRef(owner, "v1", "ConfigMap")}));
  c->remove(configMaps, ns, "owner");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(exists(*c, configMaps, ns, "dep")) << "nothing collects without the controller";
  // An orphan-pending owner left behind is finished too.
  auto owner2 = c->create(configMaps, ns, makeConfigMap("owner2"));
  c->create(configMaps, ns, makeConfigMap("dep2", {ownerRef(owner2, "v1", "ConfigMap")}));
  c->remove(configMaps, ns, "owner2", policy("Orphan"));

  ControllerEnv env({"garbagecollector"});
  ASSERT_TRUE(eventually([&] { return !exists(env.c(), configMaps, ns, "dep"); }));
  ASSERT_TRUE(eventually([&] { return !exists(env.c(), configMaps, ns, "owner2"); }));
  EXPECT_EQ(arrayAt(env.c().get(configMaps, ns, "dep2"), {"metadata", "ownerReferences"}), nullptr);
}

// The API server side of propagation, without any controller.
TEST(DeletePropagation, FinalizersDefaultsAndValidation) {
  auto c = newClient();
  auto ns = freshNamespace(*c, "gc-api");
  c->create(configMaps, ns, makeConfigMap("fg"));
  auto fg = c->remove(configMaps, ns, "fg", policy("Foreground"));
  EXPECT_TRUE(hasFinalizerNamed(fg, "foregroundDeletion"));
  EXPECT_FALSE(hasFinalizerNamed(fg, "orphan"));
  // A later background delete drops the GC finalizer, and with it the object.
  c->remove(configMaps, ns, "fg", policy("Background"));
  EXPECT_FALSE(exists(*c, configMaps, ns, "fg"));

  // Legacy orphanDependents=true means Orphan.
  c->create(configMaps, ns, makeConfigMap("legacy"));
  auto legacy = c->remove(configMaps, ns, "legacy", json::object{{"orphanDependents", true}});
  EXPECT_TRUE(hasFinalizerNamed(legacy, "orphan"));

  // v1 ReplicationControllers orphan by default (upstream back-compat); nothing is given here.
  json::object rc =
      json::parse(R"({"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"rc"},
    "spec":{"replicas":0,"selector":{"app":"rc"},
    "template":{"metadata":{"labels":{"app":"rc"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}})")
          .as_object();
  c->create(client::Resource{"", "v1", "replicationcontrollers"}, ns, rc);
  auto rcAnswer = c->remove(client::Resource{"", "v1", "replicationcontrollers"}, ns, "rc");
  EXPECT_TRUE(hasFinalizerNamed(rcAnswer, "orphan"));

  c->create(configMaps, ns, makeConfigMap("bad"));
  try {
    c->remove(configMaps, ns, "bad", policy("Sideways"));
    ADD_FAILURE() << "an unknown policy must be refused";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 422);
    EXPECT_NE(std::string(e.what()).find("Unsupported value: \"Sideways\""), std::string::npos)
        << e.what();
  }
  try {
    c->remove(configMaps, ns, "bad",
              json::object{{"orphanDependents", true}, {"propagationPolicy", "Orphan"}});
    ADD_FAILURE() << "both fields must be refused";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 422);
  }
  EXPECT_TRUE(exists(*c, configMaps, ns, "bad"));

  // deletecollection applies the policy to every item.
  c->create(configMaps, ns, makeConfigMap("col-1"));
  c->create(configMaps, ns, makeConfigMap("col-2"));
  c->request("DELETE", configMaps.path(ns) + "?labelSelector=", json::serialize(policy("Orphan")));
  for (const char* name : {"col-1", "col-2"})
    EXPECT_TRUE(hasFinalizerNamed(c->get(configMaps, ns, name), "orphan")) << name;
}

}  // namespace skiff::controller::testing
