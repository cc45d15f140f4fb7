// ResourceStore behaviour against the memory Store: the generic REST semantics every
// resource shares (metadata, CAS, status/spec separation, deletion, lists).
#include "apiserver/resource_store.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/managed_fields_text.h"
#include "api/protobuf_codec.h"
#include "api/type_check.h"
#include "apiserver/content.h"
#include "apiserver/table.h"
#include "common/api_error.h"
#include "resource_store_fixture.h"

namespace skiff::apiserver {
namespace {

namespace json = boost::json;

class ResourceStoreTest : public testing::ResourceStoreFixture {
 protected:
  json::object create(const std::string& plural, const std::string& body,
                      const std::string& group = "", const std::string& ns = "default") {
    RequestContext ctx;
    return *resources.create(info(plural, group), ns, json::parse(body), ctx);
  }
  static std::string rv(const json::object& o) {
    return std::string(o.at("metadata").at("resourceVersion").as_string());
  }
  int statusOf(const std::function<void()>& fn) {
    try {
      fn();
    } catch (const ApiError& e) {
      return e.code();
    }
    return 0;
  }
};

const char* kDeployment = R"({"metadata":{"name":"web","labels":{"app":"web"}},
  "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
  "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}}})";

TEST_F(ResourceStoreTest, CreateFillsServerOwnedMetadata) {
  auto obj = create("deployments", kDeployment, "apps");
  const auto& meta = obj.at("metadata").as_object();
  EXPECT_EQ(meta.at("uid").as_string().size(), 36u);
  EXPECT_TRUE(meta.contains("creationTimestamp"));
  EXPECT_EQ(meta.at("generation").as_int64(), 1);
  EXPECT_EQ(meta.at("namespace").as_string(), "default");
  EXPECT_EQ(rv(obj), std::to_string(store->currentRevision()));
}

TEST_F(ResourceStoreTest, GenerateNameAppendsRandomSuffix) {
  auto obj = create("configmaps", R"({"metadata":{"generateName":"cfg-"}})");
  std::string name(obj.at("metadata").at("name").as_string());
  EXPECT_EQ(name.rfind("cfg-", 0), 0u);
  EXPECT_EQ(name.size(), 9u);
}

TEST_F(ResourceStoreTest, DuplicateCreateIsAlreadyExists) {
  create("configmaps", R"({"metadata":{"name":"a"}})");
  EXPECT_EQ(statusOf([&] { create("configmaps", R"({"metadata":{"name":"a"}})"); }), 409);
}

TEST_F(ResourceStoreTest, CreateInMissingNamespaceIsNotFound) {
  EXPECT_EQ(statusOf([&] { create("configmaps", R"({"metadata":{"name":"a"}})", "", "nope"); }),
            404);
}

TEST_F(ResourceStoreTest, StaleUpdateConflicts) {
  auto obj = create("configmaps", R"({"metadata":{"name":"a"},"data":{"k":"1"}})");
  RequestContext ctx;
  json::object changed = obj;
  changed["data"].as_object()["k"] = "2";
  resources.update(info("configmaps"), "default", "a", "", changed, ctx);
  changed["data"].as_object()["k"] = "3";  // still carries the old resourceVersion
  EXPECT_EQ(
      statusOf([&] { resources.update(info("configmaps"), "default", "a", "", changed, ctx); }),
      409);
}

TEST_F(ResourceStoreTest, NoOpUpdateKeepsResourceVersion) {
  auto obj = create("configmaps", R"({"metadata":{"name":"a"},"data":{"k":"1"}})");
  RequestContext ctx;
  auto same = *resources.update(info("configmaps"), "default", "a", "", obj, ctx);
  EXPECT_EQ(rv(same), rv(obj));
}

TEST_F(ResourceStoreTest, MainUpdateIgnoresStatusAndBumpsGenerationOnSpecChange) {
  auto obj = create("deployments", kDeployment, "apps");
  RequestContext ctx;
  json::object changed = obj;
  changed["spec"].as_object()["replicas"] = 5;
  changed["status"] = json::object{{"replicas", 99}};
  auto updated = *resources.update(info("deployments", "apps"), "default", "web", "", changed, ctx);
  EXPECT_EQ(updated.at("metadata").at("generation").as_int64(), 2);
  EXPECT_FALSE(updated.contains("status") && updated.at("status").as_object().contains("replicas"));
}

TEST_F(ResourceStoreTest, StatusUpdateChangesOnlyStatus) {
  auto obj = create("deployments", kDeployment, "apps");
  RequestContext ctx;
  json::object changed = obj;
  changed["spec"].as_object()["replicas"] = 7;
  changed["status"] = json::object{{"replicas", 2}};
  auto updated =
      *resources.update(info("deployments", "apps"), "default", "web", "status", changed, ctx);
  EXPECT_EQ(updated.at("spec").at("replicas").as_int64(), 2);
  EXPECT_EQ(updated.at("status").at("replicas").as_int64(), 2);
  EXPECT_EQ(updated.at("metadata").at("generation").as_int64(), 1);
}

// Like upstream's status strategy, a status write checks metadata only: a stored spec that
// today's rules refuse (written before they existed) does not block status updates, while a
// main update of the same object is refused.
TEST_F(ResourceStoreTest, StatusWriteDoesNotRevalidateTheStoredSpec) {
  store->create(
      "/registry/core/pods/default/old",
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"old","namespace":"default",)"
      R"("uid":"u1","creationTimestamp":"2026-01-01T00:00:00Z"},"spec":{"containers":[]}})");
  caches.syncWithStore();
  RequestContext ctx;
  json::object pod = resources.get(info("pods"), "default", "old");
  pod["status"] = json::object{{"phase", "Running"}};
  auto updated = resources.update(info("pods"), "default", "old", "status", pod, ctx);
  EXPECT_EQ(updated->at("status").at("phase"), "Running");
  json::object relabeled = *updated;
  relabeled["metadata"].as_object()["labels"] = json::object{{"a", "b"}};
  EXPECT_EQ(statusOf([&] { resources.update(info("pods"), "default", "old", "", relabeled, ctx); }),
            422);
}

TEST_F(ResourceStoreTest, NoOpStatusWriteKeepsResourceVersion) {
  auto obj = create("deployments", kDeployment, "apps");
  RequestContext ctx;
  json::object changed = obj;
  changed["status"] = json::object{{"replicas", 2}};
  auto first =
      *resources.update(info("deployments", "apps"), "default", "web", "status", changed, ctx);
  auto again =
      *resources.update(info("deployments", "apps"), "default", "web", "status", first, ctx);
  EXPECT_EQ(rv(again), rv(first));
  EXPECT_NE(rv(first), rv(obj));
}

// The watch cache keeps managedFields as text (api/managed_fields_text.h, a quarter of a
// pod's cached size); every answer shows the list, writes read it as the list, and a
// client's own string there is still refused.
TEST_F(ResourceStoreTest, CachedManagedFieldsAreTextButEveryAnswerShowsTheList) {
  const auto& deployments = info("deployments", "apps");
  UserInfo user;
  user.user = "alice";
  RequestContext ctx;
  ctx.user = &user;
  ctx.fieldManager = "creator";
  resources.create(deployments, "default", json::parse(kDeployment), ctx);
  ObjectPtr cached = resources.getShared(deployments, "default", "web");
  ASSERT_NE(api::packedManagedFields(*cached), nullptr);
  const auto managerOf = [](const json::value& obj) {
    return std::string(obj.at("metadata").at("managedFields").at(0).at("manager").as_string());
  };
  // JSON and protobuf answers, list items and Table rows.
  EXPECT_EQ(managerOf(json::parse(objectResponse(200, *cached, {}).body)), "creator");
  ResponseFormat protobuf;
  protobuf.protobuf = true;
  EXPECT_EQ(managerOf(api::decodeProtobufObject(objectResponse(200, *cached, protobuf).body)),
            "creator");
  auto listed = resources.listObjects(deployments, "default", {});
  const json::value list = json::parse(ResourceStore::serializeList(deployments, listed));
  EXPECT_EQ(managerOf(list.at("items").at(0)), "creator");
  const std::vector<const json::object*> rows{cached.get()};
  for (const char* include : {"Metadata", "Object"}) {
    const json::value table =
        json::parse(serializeTable(deployments, rows, include, json::object(), {}));
    EXPECT_EQ(managerOf(table.at("rows").at(0).at("object")), "creator") << include;
  }
  // The store's text holds the list too.
  const json::value stored =
      json::parse(store->get(resources.key(deployments, "default", "web"))->value);
  EXPECT_EQ(managerOf(stored), "creator");

  // A client sending back what it read changes nothing: same resourceVersion.
  json::object read = resources.get(deployments, "default", "web");
  EXPECT_TRUE(read.at("metadata").at("managedFields").is_array());
  auto again = resources.update(deployments, "default", "web", "", json::value(read), ctx);
  EXPECT_EQ(rv(*again), rv(read));
  // A JSON patch addresses the list's entries.
  bool created = false;
  auto patched = resources.patch(
      deployments, "default", "web", "", "application/json-patch+json",
      R"([{"op":"test","path":"/metadata/managedFields/0/manager","value":"creator"},
          {"op":"add","path":"/metadata/labels/x","value":"y"}])",
      ctx, created);
  EXPECT_NE(rv(*patched), rv(read));
  // A patch that breaks a type names the patched object, as clients see it, in its message.
  try {
    resources.patch(deployments, "default", "web", "", "application/merge-patch+json",
                    R"({"spec":{"replicas":"many"}})", ctx, created);
    ADD_FAILURE() << "a string replicas was accepted";
  } catch (const ApiError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(R"(managedFields\":[{)"), std::string::npos) << message;
  }
  // A client's string is its own and refused, as upstream's decoder does.
  json::object sent = read;
  sent["metadata"].as_object()["managedFields"] = "[]";
  try {
    resources.update(deployments, "default", "web", "", json::value(sent), ctx);
    ADD_FAILURE() << "a string managedFields was accepted";
  } catch (const api::DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot unmarshal string into Go struct field "
                                         "ObjectMeta.metadata.managedFields"),
              std::string::npos)
        << e.what();
  }
}

// A status patch changes status only, whatever else it names, and answers with the whole
// object; a JSON patch to status may still test or address any path of the object.
TEST_F(ResourceStoreTest, StatusPatchChangesOnlyStatusAndAnswersTheWholeObject) {
  create("deployments", kDeployment, "apps");
  RequestContext ctx;
  bool created = false;
  for (const char* type :
       {"application/merge-patch+json", "application/strategic-merge-patch+json"}) {
    auto patched =
        resources.patch(info("deployments", "apps"), "default", "web", "status", type,
                        R"({"spec":{"replicas":9},"status":{"replicas":3}})", ctx, created);
    EXPECT_EQ(patched->at("spec").at("replicas").as_int64(), 2) << type;
    EXPECT_EQ(patched->at("spec").at("template").at("spec").at("containers").as_array().size(), 1u)
        << type;
    EXPECT_EQ(patched->at("status").at("replicas").as_int64(), 3) << type;
    EXPECT_EQ(api::objectJson(*patched),
              json::serialize(resources.get(info("deployments", "apps"), "default", "web")))
        << type;
  }
  auto patched = resources.patch(
      info("deployments", "apps"), "default", "web", "status", "application/json-patch+json",
      R"([{"op":"test","path":"/spec/replicas","value":2},{"op":"replace","path":"/status/replicas","value":4}])",
      ctx, created);
  EXPECT_EQ(patched->at("status").at("replicas").as_int64(), 4);
  EXPECT_EQ(patched->at("spec").at("replicas").as_int64(), 2);
}

TEST_F(ResourceStoreTest, FinalizersHoldDeletionUntilRemoved) {
  create("configmaps", R"({"metadata":{"name":"held","finalizers":["example.com/hold"]}})");
  RequestContext ctx;
  bool gone = true;
  auto obj = resources.remove(info("configmaps"), "default", "held", {}, ctx, gone);
  EXPECT_FALSE(gone);
  EXPECT_TRUE(obj.at("metadata").as_object().contains("deletionTimestamp"));
  auto current = resources.get(info("configmaps"), "default", "held");
  current["metadata"].as_object().erase("finalizers");
  resources.update(info("configmaps"), "default", "held", "", current, ctx);
  EXPECT_EQ(statusOf([&] { resources.get(info("configmaps"), "default", "held"); }), 404);
}

TEST_F(ResourceStoreTest, ScheduledPodDeletionIsGraceful) {
  create(
      "pods",
      R"({"metadata":{"name":"p"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}]}})");
  RequestContext ctx;
  bool gone = true;
  auto obj = resources.remove(info("pods"), "default", "p", {}, ctx, gone);
  EXPECT_FALSE(gone);
  EXPECT_EQ(obj.at("metadata").at("deletionGracePeriodSeconds").as_int64(), 30);
  DeleteOptions now;
  now.gracePeriodSeconds = 0;
  resources.remove(info("pods"), "default", "p", now, ctx, gone);
  EXPECT_TRUE(gone);
}

TEST_F(ResourceStoreTest, SystemNamespacesCannotBeDeleted) {
  RequestContext ctx;
  bool gone = false;
  EXPECT_EQ(statusOf([&] { resources.remove(info("namespaces"), "", "default", {}, ctx, gone); }),
            403);
}

TEST_F(ResourceStoreTest, DeletedNamespaceTerminatesAndRefusesNewContent) {
  create("namespaces", R"({"metadata":{"name":"team"}})", "", "");
  RequestContext ctx;
  bool gone = true;
  auto ns = resources.remove(info("namespaces"), "", "team", {}, ctx, gone);
  EXPECT_FALSE(gone);
  EXPECT_EQ(ns.at("status").at("phase"), "Terminating");
  EXPECT_EQ(statusOf([&] { create("configmaps", R"({"metadata":{"name":"late"}})", "", "team"); }),
            403);
}

TEST_F(ResourceStoreTest, TerminatingNamespaceGoesOnlyWhenItsFinalizersAreRemoved) {
  create("namespaces", R"({"metadata":{"name":"team"}})", "", "");
  RequestContext ctx;
  bool gone = true;
  resources.remove(info("namespaces"), "", "team", {}, ctx, gone);
  auto ns = resources.get(info("namespaces"), "", "team");
  ns["metadata"].as_object()["labels"] = json::object{{"touched", "yes"}};
  resources.update(info("namespaces"), "", "team", "", ns, ctx);  // still has "kubernetes"
  EXPECT_EQ(statusOf([&] { resources.get(info("namespaces"), "", "team"); }), 0);
  ns = resources.get(info("namespaces"), "", "team");
  ns["spec"].as_object()["finalizers"] = json::array();
  resources.update(info("namespaces"), "", "team", "", ns, ctx);  // not through /finalize
  EXPECT_EQ(statusOf([&] { resources.get(info("namespaces"), "", "team"); }), 0);
  auto current = resources.readForUpdate(info("namespaces"), "/registry/core/namespaces/team");
  ASSERT_TRUE(current);
  json::object finalized = current->first;
  finalized["spec"].as_object()["finalizers"] = json::array();
  resources.commitUpdate(info("namespaces"), "/registry/core/namespaces/team", finalized,
                         current->first, current->second, "finalize", ctx);
  EXPECT_EQ(statusOf([&] { resources.get(info("namespaces"), "", "team"); }), 404);
}

TEST_F(ResourceStoreTest, PaginatedListIsOneSnapshot) {
  for (int i = 0; i < 5; ++i)
    create("configmaps", R"({"metadata":{"name":"c)" + std::to_string(i) + R"("}})");
  ListOptions page;
  page.limit = 2;
  auto first = resources.list(info("configmaps"), "default", page);
  EXPECT_EQ(first.at("items").as_array().size(), 2u);
  create("configmaps", R"({"metadata":{"name":"c9"}})");  // after the snapshot
  size_t total = first.at("items").as_array().size();
  std::string token(first.at("metadata").at("continue").as_string());
  while (!token.empty()) {
    page.continueToken = token;
    auto next = resources.list(info("configmaps"), "default", page);
    total += next.at("items").as_array().size();
    auto* c = next.at("metadata").as_object().if_contains("continue");
    token = c ? std::string(c->as_string()) : "";
  }
  EXPECT_EQ(total, 5u);
}

TEST_F(ResourceStoreTest, ContinueAfterCompactionIsExpired) {
  for (int i = 0; i < 3; ++i)
    create("configmaps", R"({"metadata":{"name":"c)" + std::to_string(i) + R"("}})");
  ListOptions page;
  page.limit = 1;
  auto first = resources.list(info("configmaps"), "default", page);
  create("configmaps", R"({"metadata":{"name":"later"}})");
  store->compact(store->currentRevision());
  page.continueToken = std::string(first.at("metadata").at("continue").as_string());
  EXPECT_EQ(statusOf([&] { resources.list(info("configmaps"), "default", page); }), 410);
}

TEST_F(ResourceStoreTest, LabelAndFieldSelectorsFilterLists) {
  create("configmaps", R"({"metadata":{"name":"a","labels":{"tier":"front"}}})");
  create("configmaps", R"({"metadata":{"name":"b","labels":{"tier":"back"}}})");
  ListOptions o;
  o.labelSelector = "tier notin (back)";
  auto list = resources.list(info("configmaps"), "default", o);
  ASSERT_EQ(list.at("items").as_array().size(), 1u);
  o.labelSelector.clear();
  o.fieldSelector = "metadata.name!=a";
  list = resources.list(info("configmaps"), "default", o);
  ASSERT_EQ(list.at("items").as_array().size(), 1u);
  EXPECT_EQ(list.at("items").as_array()[0].at("metadata").at("name").as_string(), "b");
  o.fieldSelector = "spec.nodeName=x";  // not a configmap field
  EXPECT_EQ(statusOf([&] { resources.list(info("configmaps"), "default", o); }), 400);
}

TEST_F(ResourceStoreTest, ServicesGetClusterIps) {
  auto a = create("services", R"({"metadata":{"name":"a"},"spec":{"ports":[{"port":80}]}})");
  auto b = create("services",
                  R"({"metadata":{"name":"b"},"spec":{"type":"NodePort","ports":[{"port":80}]}})");
  std::string ipA(a.at("spec").at("clusterIP").as_string()),
      ipB(b.at("spec").at("clusterIP").as_string());
  EXPECT_EQ(ipA.rfind("10.43.", 0), 0u);
  EXPECT_NE(ipA, ipB);
  int64_t nodePort = b.at("spec").at("ports").as_array()[0].at("nodePort").as_int64();
  EXPECT_GE(nodePort, 30000);
  EXPECT_LE(nodePort, 32767);
}

// Upstream's type-dependent ports: a Service turned into a NodePort gets its node ports on
// the update, keeps them across later updates, and loses them when it goes back to
// ClusterIP; a Local LoadBalancer gets a healthCheckNodePort, which others may not set.
TEST_F(ResourceStoreTest, ServiceUpdatesAllocateAndDropTypeDependentPorts) {
  create("services", R"({"metadata":{"name":"s"},"spec":{"ports":[{"port":80}]}})");
  auto update = [&](const std::string& spec) {
    RequestContext ctx;
    json::object body = resources.get(info("services"), "default", "s");
    auto& bodySpec = body["spec"].as_object();
    json::value fields = json::parse(spec);
    for (auto& [k, v] : fields.as_object()) {
      if (v.is_null())
        bodySpec.erase(k);
      else
        bodySpec[k] = v;
    }
    return *resources.update(info("services"), "default", "s", "", body, ctx);
  };
  auto nodePortOf = [](const json::object& svc) {
    auto& p = svc.at("spec").at("ports").as_array()[0].as_object();
    return p.contains("nodePort") ? p.at("nodePort").as_int64() : 0;
  };
  auto np = update(R"({"type":"NodePort","ports":[{"port":80,"protocol":"TCP"}]})");
  int64_t allocated = nodePortOf(np);
  EXPECT_GE(allocated, 30000);
  // A later update that leaves nodePort out keeps the allocated one.
  EXPECT_EQ(nodePortOf(update(R"({"type":"NodePort","ports":[{"port":80,"protocol":"TCP"}]})")),
            allocated);
  auto lb = update(R"({"type":"LoadBalancer","externalTrafficPolicy":"Local",
                       "ports":[{"port":80,"protocol":"TCP","nodePort":)" +
                   std::to_string(allocated) + "}]}");
  ASSERT_TRUE(lb.at("spec").as_object().contains("healthCheckNodePort"));
  int64_t hc = lb.at("spec").at("healthCheckNodePort").as_int64();
  EXPECT_GE(hc, 30000);
  EXPECT_NE(hc, allocated);
  auto back = update(R"({"type":"ClusterIP","externalTrafficPolicy":null,
                         "ports":[{"port":80,"protocol":"TCP","nodePort":)" +
                     std::to_string(allocated) + "}]}");
  EXPECT_EQ(nodePortOf(back), 0);
  EXPECT_FALSE(back.at("spec").as_object().contains("healthCheckNodePort"));
  // Set by hand on a Service that does not need one: refused as upstream does.
  EXPECT_EQ(statusOf([&] {
              create("services", R"({"metadata":{"name":"bad"},"spec":{"type":"NodePort",
                "healthCheckNodePort":31000,"ports":[{"port":80}]}})");
            }),
            422);
}

// KEP-1864: a LoadBalancer with allocateLoadBalancerNodePorts false gets no node ports, keeps
// one the user asked for, and an update keeps those it had (none are released or added).
TEST_F(ResourceStoreTest, LoadBalancerWithoutNodePortAllocation) {
  auto nodePorts = [](const json::object& svc) {
    std::vector<int64_t> out;
    for (auto& p : svc.at("spec").at("ports").as_array())
      out.push_back(p.as_object().contains("nodePort") ? p.at("nodePort").as_int64() : 0);
    return out;
  };
  auto none = create("services", R"({"metadata":{"name":"lb0"},"spec":{"type":"LoadBalancer",
      "allocateLoadBalancerNodePorts":false,"ports":[{"name":"a","port":80},{"name":"b","port":81}]}})");
  EXPECT_EQ(nodePorts(none), (std::vector<int64_t>{0, 0}));
  auto chosen = create("services", R"({"metadata":{"name":"lb1"},"spec":{"type":"LoadBalancer",
      "allocateLoadBalancerNodePorts":false,"ports":[{"name":"a","port":80,"nodePort":31234},{"name":"b","port":81}]}})");
  EXPECT_EQ(nodePorts(chosen), (std::vector<int64_t>{31234, 0}));
  auto dflt = create("services", R"({"metadata":{"name":"lb2"},"spec":{"type":"LoadBalancer",
      "ports":[{"port":80}]}})");
  EXPECT_EQ(dflt.at("spec").at("allocateLoadBalancerNodePorts"), json::value(true));
  int64_t had = nodePorts(dflt)[0];
  EXPECT_GE(had, 30000);
  // Turned off later: the existing port stays when the update leaves it out; a new port gets none.
  RequestContext ctx;
  json::object body = resources.get(info("services"), "default", "lb2");
  auto& spec = body["spec"].as_object();
  spec["allocateLoadBalancerNodePorts"] = false;
  spec["ports"] = json::parse(
      R"([{"name":"a","port":80,"protocol":"TCP"},{"name":"c","port":82,"protocol":"TCP"}])");
  auto updated = *resources.update(info("services"), "default", "lb2", "", body, ctx);
  EXPECT_EQ(nodePorts(updated), (std::vector<int64_t>{had, 0}));
}

TEST_F(ResourceStoreTest, StrictFieldValidationRejectsUnknownFields) {
  RequestContext ctx;
  ctx.fieldValidation = "Strict";
  EXPECT_EQ(statusOf([&] {
              resources.create(info("configmaps"), "default",
                               json::parse(R"({"metadata":{"name":"x"},"bogus":true})"), ctx);
            }),
            400);
  RequestContext warn;
  auto obj = *resources.create(info("configmaps"), "default",
                               json::parse(R"({"metadata":{"name":"x"},"bogus":true})"), warn);
  EXPECT_FALSE(obj.contains("bogus"));
  ASSERT_EQ(warn.warnings.size(), 1u);
}

}  // namespace
// A write hands its object to the watch cache instead of the cache parsing the stored bytes:
// the cache holds the very object the write returned, stamped with the write's revision and
// equal, number kinds included, to what a parse of the stored value gives.
TEST_F(ResourceStoreTest, WriteHandsItsObjectToTheWatchCache) {
  RequestContext ctx;
  ObjectPtr written = resources.create(
      info("pods"), "default",
      json::parse(R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x"}]}})"),
      ctx);
  const std::string key = "/registry/core/pods/default/p";
  caches.syncWithStore();
  ObjectPtr cached = caches.cacheFor("/registry/core/pods/").get(key);
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached.get(), written.get());
  auto kv = store->get(key);
  ASSERT_TRUE(kv);
  EXPECT_EQ(rv(*cached), std::to_string(kv->modRevision));
  EXPECT_EQ(*cached, *CacheHub::decode(*kv));

  json::object patched = *written;
  patched["metadata"].as_object()["labels"] = json::object{{"a", "b"}};
  ObjectPtr updated = resources.update(info("pods"), "default", "p", "", patched, ctx);
  caches.syncWithStore();
  EXPECT_EQ(caches.cacheFor("/registry/core/pods/").get(key).get(), updated.get());
  EXPECT_NE(rv(*updated), rv(*written));
}

TEST(ObjectHint, NumbersTakeTheKindsAParseGives) {
  ObjectHint hint(
      json::object{{"metadata", json::object{{"name", "x"}}},
                   {"spec", json::object{{"replicas", std::uint64_t{3}},
                                         {"huge", std::uint64_t{18446744073709551615ull}},
                                         {"list", json::array{std::uint64_t{1}, -2}}}}});
  hint.committed(42);
  const json::object& obj = *hint.object();
  EXPECT_TRUE(obj.at("spec").at("replicas").is_int64());
  EXPECT_TRUE(obj.at("spec").at("huge").is_uint64());  // does not fit: stays as parsed
  EXPECT_TRUE(obj.at("spec").at("list").at(0).is_int64());
  EXPECT_EQ(obj.at("metadata").at("resourceVersion"), "42");
  EXPECT_EQ(obj, json::parse(json::serialize(obj)).as_object());
}

}  // namespace skiff::apiserver
