#include "api/field_set.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/openapi.h"

namespace json = boost::json;
using namespace skiff::api;

namespace {

const FieldSchemas::Node* schemaOf(std::string_view group, std::string_view version,
                                   std::string_view kind) {
  auto def = OpenApi::instance().definitionFor(group, version, kind);
  EXPECT_TRUE(def.has_value());
  return FieldSchemas::builtin().root(*def);
}

FieldSet parseSet(std::string_view text) {
  FieldSet s;
  EXPECT_TRUE(FieldSet::fromFieldsV1(json::parse(text), s)) << text;
  return s;
}

const char* kDeployment = R"({
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
    "template": {"metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
      "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {},
        "ports": [{"containerPort": 80}], "args": ["a", "b"]}]}}},
  "status": {}
})";

}  // namespace

TEST(FieldSet, RoundTripsFieldsV1WithSelfMarkerFirstAndUpstreamOrder) {
  // Elements sort fields < keys < values < indices whatever order they arrive in.
  FieldSet s = parseSet(
      R"({"i:2":{},"i:10":{},"v:\"x\"":{},"k:{\"name\":\"a\"}":{".":{},"f:b":{}},"f:z":{}})");
  EXPECT_EQ(s.serialize(),
            R"({"f:z":{},"k:{\"name\":\"a\"}":{".":{},"f:b":{}},"v:\"x\"":{},"i:2":{},"i:10":{}})");
  FieldSet bad;
  EXPECT_FALSE(FieldSet::fromFieldsV1(json::parse(R"({"x:y":{}})"), bad));
  EXPECT_FALSE(FieldSet::fromFieldsV1(json::parse(R"({"f:a":1})"), bad));
}

TEST(FieldSet, UnionDifferenceIntersection) {
  FieldSet a = parseSet(R"({"f:spec":{"f:replicas":{},"f:paused":{}}})");
  FieldSet b = parseSet(R"({"f:spec":{"f:replicas":{}},"f:metadata":{"f:labels":{"f:x":{}}}})");
  FieldSet u = a;
  u.unionWith(b);
  EXPECT_EQ(u.serialize(),
            R"({"f:metadata":{"f:labels":{"f:x":{}}},"f:spec":{"f:paused":{},"f:replicas":{}}})");
  FieldSet d = a;
  d.subtract(b);
  EXPECT_EQ(d.serialize(), R"({"f:spec":{"f:paused":{}}})");
  EXPECT_EQ(a.intersection(b).serialize(), R"({"f:spec":{"f:replicas":{}}})");
  // A removed member keeps its children; a node left with nothing goes.
  FieldSet m = parseSet(R"({"f:labels":{".":{},"f:a":{}}})");
  m.subtract(parseSet(R"({"f:labels":{"f:a":{}}})"));
  EXPECT_EQ(m.serialize(), R"({"f:labels":{}})");
}

TEST(FieldSet, MemberPathsPrintAsUpstreamPaths) {
  FieldSet s = parseSet(R"({"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{
      "k:{\"name\":\"c\"}":{"f:image":{}}}}},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{}}},
      "f:metadata":{"f:finalizers":{"v:\"x\"":{}}}})");
  std::vector<std::string> paths = s.memberPaths();
  std::vector<std::string> want = {".metadata.finalizers[=\"x\"]", ".spec.replicas",
                                   ".spec.ports[containerPort=80,protocol=\"TCP\"]",
                                   ".spec.template.spec.containers[name=\"c\"].image"};
  EXPECT_EQ(paths, want);
}

TEST(FieldSet, CreateRecordsEverythingSetWithSelfOnlyWhereTheEmptyObjectHadNothing) {
  const json::object obj = json::parse(kDeployment).as_object();
  FieldScope scope;
  scope.skipStatus = true;
  Comparison c = compareObjects(nullptr, obj, schemaOf("apps", "v1", "Deployment"), scope);
  // metadata.name/namespace, apiVersion/kind and status are not recorded; spec, strategy,
  // template, template metadata/spec and containers exist in an empty Deployment (no "."),
  // labels, rollingUpdate, the container and its ports do not. selector is atomic, args too.
  EXPECT_EQ(
      c.added.serialize(),
      R"({"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},)"
      R"("f:strategy":{"f:rollingUpdate":{".":{},"f:maxSurge":{}},"f:type":{}},"f:template":{)"
      R"("f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{)"
      R"("k:{\"name\":\"nginx\"}":{".":{},"f:args":{},"f:image":{},"f:name":{},"f:ports":{".":{},)"
      R"("k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}},"f:resources":{}}}}}}})");
  EXPECT_TRUE(c.modified.empty());
  EXPECT_TRUE(c.removed.empty());
}

TEST(FieldSet, UpdateComparesOnlyWhatChanged) {
  const json::object old = json::parse(kDeployment).as_object();
  json::object now = old;
  now["spec"].as_object()["replicas"] = 3;
  now["metadata"].as_object()["labels"].as_object().erase("app");
  now["metadata"].as_object()["labels"].as_object()["tier"] = "fe";
  json::array& containers =
      now["spec"].as_object()["template"].as_object()["spec"].as_object()["containers"].as_array();
  containers[0].as_object()["args"] = json::array{"c"};
  Comparison c = compareObjects(&old, now, schemaOf("apps", "v1", "Deployment"), {});
  EXPECT_EQ(c.added.serialize(), R"({"f:metadata":{"f:labels":{"f:tier":{}}}})");
  EXPECT_EQ(
      c.modified.serialize(),
      R"({"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{"f:args":{}}}}}}})");
  EXPECT_EQ(c.removed.serialize(), R"({"f:metadata":{"f:labels":{"f:app":{}}}})");
}

TEST(FieldSet, AppliedConfigurationSetsOnlyLeavesAndItems) {
  json::object config = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p",
      "labels":{"a":"b"},"finalizers":["x"]},"spec":{"containers":[{"name":"c","image":"i",
      "resources":{}}],"nodeSelector":{}}})")
                            .as_object();
  FieldSet s = fieldsOfConfig(config, schemaOf("", "v1", "Pod"), {});
  EXPECT_EQ(
      s.serialize(),
      R"({"f:metadata":{"f:finalizers":{"v:\"x\"":{}},"f:labels":{"f:a":{}}},"f:spec":{"f:containers":{)"
      R"("k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:name":{},"f:resources":{}}},"f:nodeSelector":{}}})");
}

TEST(FieldSet, MergeAppliedFollowsTheSchema) {
  const auto* schema = schemaOf("", "v1", "Pod");
  json::value live = json::parse(R"({"metadata":{"labels":{"a":"1"},"finalizers":["x"]},
      "spec":{"containers":[{"name":"a","image":"1","args":["p","q"]},{"name":"b","image":"2"}]}})");
  json::value config = json::parse(R"({"metadata":{"labels":{"b":"2"},"finalizers":["y","x"]},
      "spec":{"containers":[{"name":"c","image":"3"},{"name":"a","image":"4","args":["r"]}]}})");
  json::value merged = mergeApplied(&live, config, schema);
  EXPECT_EQ(
      json::serialize(merged),
      R"({"metadata":{"labels":{"a":"1","b":"2"},"finalizers":["y","x"]},)"
      R"("spec":{"containers":[{"name":"c","image":"3"},{"name":"a","image":"4","args":["r"]},{"name":"b","image":"2"}]}})");
  // Live-only items keep their place; shared ones take the configuration's order.
  live = json::parse(R"(["a","b","c","d"])");
  json::value set = json::parse(R"(["d","x","b"])");
  const FieldSchemas::Node* finalizers = schemaOf("", "v1", "Pod");
  finalizers = finalizers->properties.at("metadata")->properties.at("finalizers");
  EXPECT_EQ(json::serialize(mergeApplied(&live, set, finalizers)), R"(["a","c","d","x","b"])");
}

TEST(FieldSet, PruneRemovesWhatNobodyOwnsAnyMore) {
  const auto* schema = schemaOf("", "v1", "Pod");
  json::object obj = json::parse(R"({"metadata":{"labels":{"a":"1","b":"2"}},
      "spec":{"containers":[{"name":"a","image":"1"},{"name":"b","image":"2"}]}})")
                         .as_object();
  FieldSet previous =
      parseSet(R"({"f:metadata":{"f:labels":{"f:a":{},"f:b":{}}},"f:spec":{"f:containers":{
      "k:{\"name\":\"a\"}":{".":{},"f:image":{},"f:name":{}},"k:{\"name\":\"b\"}":{".":{},"f:image":{},"f:name":{}}}}})");
  FieldSet owned = parseSet(R"({"f:metadata":{"f:labels":{"f:a":{}}},"f:spec":{"f:containers":{
      "k:{\"name\":\"a\"}":{".":{},"f:image":{},"f:name":{}}}}})");
  pruneUnowned(obj, previous, owned, schema);
  EXPECT_EQ(
      json::serialize(obj),
      R"({"metadata":{"labels":{"a":"1"}},"spec":{"containers":[{"name":"a","image":"1"}]}})");
}
