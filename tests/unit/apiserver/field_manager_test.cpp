#include "apiserver/field_manager.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/managed_fields_text.h"
#include "common/api_error.h"
#include "resource_store_fixture.h"

namespace json = boost::json;
using namespace skiff;
using namespace skiff::apiserver;

namespace {

constexpr const char* kApply = "application/apply-patch+yaml";

class FieldManagerTest : public skiff::apiserver::testing::ResourceStoreFixture {
 protected:
  const api::ResourceInfo& deployments() { return info("deployments", "apps"); }

  ObjectPtr apply(const std::string& manager, const std::string& yaml, bool force = false) {
    RequestContext ctx;
    ctx.fieldManager = manager;
    ctx.force = force;
    bool created = false;
    return resources.patch(deployments(), "default", "web", "", kApply, yaml, ctx, created);
  }

  static std::string config(int replicas, const std::string& extraLabel = "") {
    return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: "
           "web\n" +
           (extraLabel.empty() ? std::string() : "    " + extraLabel + "\n") +
           "spec:\n  replicas: " + std::to_string(replicas) +
           "\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n"
           "      labels: {app: web}\n    spec:\n      containers:\n      - name: c\n        "
           "image: busybox\n";
  }

  // The list as an array (objects the cache keeps hold it as text, api/managed_fields_text.h).
  static json::array managed(const json::object& obj) {
    json::value scratch;
    const json::value* list = api::managedFieldsList(obj.at("metadata").as_object(), scratch);
    return list && list->is_array() ? list->as_array() : json::array();
  }
  static std::string fieldsOf(const json::object& obj, const std::string& manager) {
    for (const auto& e : managed(obj))
      if (e.at("manager") == json::value(manager)) return json::serialize(e.at("fieldsV1"));
    return "";
  }
};

}  // namespace

TEST(FieldManagerName, UserAgentPrefix) {
  EXPECT_EQ(managerFromUserAgent("kubectl/v1.32.0 (linux/amd64) kubernetes/abc"), "kubectl");
  EXPECT_EQ(managerFromUserAgent("kube-controller-manager/v1.32"), "kube-controller-manager");
  EXPECT_EQ(managerFromUserAgent("curl"), "curl");
  EXPECT_EQ(managerFromUserAgent(std::string(200, 'a')).size(), 128u);
  EXPECT_EQ(managerFromUserAgent("a\tb/1"), "ab");
}

TEST_F(FieldManagerTest, CreateRecordsAnUpdateEntryAndUpdatesMoveOwnership) {
  RequestContext ctx;
  ctx.fieldManager = "creator";
  ObjectPtr created =
      resources.create(deployments(), "default", json::parse(R"({"apiVersion":"apps/v1",
      "kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},"spec":{"replicas":1,
      "selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
      "spec":{"containers":[{"name":"c","image":"busybox"}]}}}})"),
                       ctx);
  ASSERT_EQ(managed(*created).size(), 1u);
  const json::array list = managed(*created);
  const json::object& entry = list[0].as_object();
  EXPECT_EQ(entry.at("manager"), "creator");
  EXPECT_EQ(entry.at("operation"), "Update");
  EXPECT_EQ(entry.at("apiVersion"), "apps/v1");
  EXPECT_EQ(entry.at("fieldsType"), "FieldsV1");
  EXPECT_NE(fieldsOf(*created, "creator").find(R"("f:replicas":{})"), std::string::npos);

  RequestContext scaler;
  scaler.fieldManager = "scaler";
  bool wasCreated = false;
  ObjectPtr scaled =
      resources.patch(deployments(), "default", "web", "", "application/merge-patch+json",
                      R"({"spec":{"replicas":5}})", scaler, wasCreated);
  EXPECT_EQ(fieldsOf(*scaled, "scaler"), R"({"f:spec":{"f:replicas":{}}})");
  EXPECT_EQ(fieldsOf(*scaled, "creator").find("f:replicas"), std::string::npos);

  // A write that changes nothing keeps the object (and its managedFields) as they are.
  ObjectPtr again =
      resources.patch(deployments(), "default", "web", "", "application/merge-patch+json",
                      R"({"spec":{"replicas":5}})", scaler, wasCreated);
  EXPECT_EQ(again->at("metadata").at("resourceVersion"),
            scaled->at("metadata").at("resourceVersion"));
}

TEST_F(FieldManagerTest, ClientsMayClearButNotCorruptManagedFields) {
  RequestContext ctx;
  ctx.fieldManager = "m";
  resources.create(deployments(), "default", json::parse(R"({"apiVersion":"apps/v1",
      "kind":"Deployment","metadata":{"name":"web"},"spec":{"selector":{"matchLabels":{"a":"b"}},
      "template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}})"),
                   ctx);
  bool created = false;
  ObjectPtr kept = resources.patch(
      deployments(), "default", "web", "", "application/merge-patch+json",
      R"({"metadata":{"managedFields":[{"operation":"Bogus"}],"labels":{"x":"y"}}})", ctx, created);
  EXPECT_EQ(managed(*kept).size(), 1u);
  EXPECT_NE(fieldsOf(*kept, "m").find("f:x"), std::string::npos);
  ObjectPtr cleared =
      resources.patch(deployments(), "default", "web", "", "application/merge-patch+json",
                      R"({"metadata":{"managedFields":[{}]}})", ctx, created);
  EXPECT_FALSE(cleared->at("metadata").as_object().contains("managedFields"));
}

TEST_F(FieldManagerTest, ApplyConflictsNameTheOwnerUnlessForced) {
  apply("a", config(2));
  try {
    apply("b", config(3));
    FAIL() << "expected a conflict";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 409);
    EXPECT_EQ(e.reason(), "Conflict");
    EXPECT_EQ(std::string(e.what()),
              "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas");
    ASSERT_EQ(e.causes.size(), 1u);
    EXPECT_EQ(e.causes[0].type, "FieldManagerConflict");
    EXPECT_EQ(e.causes[0].message, "conflict with \"a\"");
    EXPECT_EQ(e.causes[0].field, ".spec.replicas");
  }
  // The same value is no conflict: both own it.
  ObjectPtr shared = apply("b", config(2));
  EXPECT_NE(fieldsOf(*shared, "a").find("f:replicas"), std::string::npos);
  EXPECT_NE(fieldsOf(*shared, "b").find("f:replicas"), std::string::npos);

  ObjectPtr forced = apply("b", config(4), true);
  EXPECT_EQ(forced->at("spec").at("replicas"), 4);
  EXPECT_EQ(fieldsOf(*forced, "a").find("f:replicas"), std::string::npos);
  EXPECT_NE(fieldsOf(*forced, "b").find("f:replicas"), std::string::npos);
}

TEST_F(FieldManagerTest, ConflictWithAnUpdaterNamesItsVersionAndPluralCounts) {
  apply("a", config(2, "tier: x"));
  RequestContext ctx;
  ctx.fieldManager = "editor";
  bool created = false;
  resources.patch(deployments(), "default", "web", "", "application/merge-patch+json",
                  R"({"metadata":{"labels":{"tier":"y"}},"spec":{"replicas":7}})", ctx, created);
  try {
    apply("a", config(2, "tier: x"));
    FAIL() << "expected a conflict";
  } catch (const ApiError& e) {
    EXPECT_EQ(std::string(e.what()),
              "Apply failed with 2 conflicts: conflicts with \"editor\" using apps/v1:\n"
              "- .metadata.labels.tier\n- .spec.replicas");
    EXPECT_EQ(e.causes.size(), 2u);
  }
}

TEST_F(FieldManagerTest, DroppingAFieldFromTheConfigurationRemovesIt) {
  apply("a", config(2, "tier: x"));
  ObjectPtr after = apply("a", config(2));
  EXPECT_FALSE(after->at("metadata").at("labels").as_object().contains("tier"));
  // Unless another manager owns it too.
  apply("a", config(2, "tier: x"));
  apply("b",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    tier: x\n");
  ObjectPtr kept = apply("a", config(2));
  EXPECT_EQ(kept->at("metadata").at("labels").at("tier"), "x");
}

TEST_F(FieldManagerTest, ApplyRefusesAnotherKindAndManagedFields) {
  try {
    apply("a", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n");
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 400);
    EXPECT_EQ(std::string(e.what()), "invalid object type: /v1, Kind=Pod");
  }
  try {
    apply("a",
          "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  managedFields: []\n");
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 400);
    EXPECT_EQ(std::string(e.what()), "metadata.managedFields must be nil");
  }
}

TEST_F(FieldManagerTest, KubectlTakesOverFieldsOfItsLastClientSideApply) {
  const api::ResourceInfo& cms = info("configmaps");
  RequestContext csa;
  csa.fieldManager = "kubectl-client-side-apply";
  resources.create(cms, "default", json::parse(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"c","annotations":{"kubectl.kubernetes.io/last-applied-configuration":
      "{\"apiVersion\":\"v1\",\"data\":{\"a\":\"1\"},\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}\n"}},
      "data":{"a":"1"}})"),
                   csa);
  const std::string config =
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: \"2\"\n";
  auto applyAs = [&](const std::string& manager) {
    RequestContext ctx;
    ctx.fieldManager = manager;
    bool created = false;
    return resources.patch(cms, "default", "c", "", kApply, config, ctx, created);
  };
  EXPECT_THROW(applyAs("someone-else"), ApiError);
  ObjectPtr taken = applyAs("kubectl");
  EXPECT_EQ(taken->at("data").at("a"), "2");
  EXPECT_EQ(fieldsOf(*taken, "kubectl"), R"({"f:data":{"f:a":{}}})");
  // The annotation follows what kubectl applied, so a later client-side apply diffs right.
  const std::string annotation(taken->at("metadata")
                                   .at("annotations")
                                   .at("kubectl.kubernetes.io/last-applied-configuration")
                                   .as_string());
  EXPECT_NE(annotation.find(R"("a":"2")"), std::string::npos);
}
