#include "api/strategic_merge_patch.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/patch_error.h"

namespace skiff::api {
namespace {

boost::json::value j(std::string_view s) { return boost::json::parse(s); }

// A cut-down OpenAPI v2 definitions document with the patch metadata of the real Pod,
// Deployment and ObjectMeta shapes.
const boost::json::object& definitions() {
  static const boost::json::object defs = j(R"({
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {"type": "object", "properties": {
      "name": {"type": "string"},
      "labels": {"type": "object", "additionalProperties": {"type": "string"}},
      "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
      "finalizers": {"type": "array", "items": {"type": "string"},
                     "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"},
      "ownerReferences": {"type": "array",
                          "items": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference"},
                          "x-kubernetes-patch-merge-key": "uid", "x-kubernetes-patch-strategy": "merge"}}},
    "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference": {"type": "object", "properties": {
      "uid": {"type": "string"}, "name": {"type": "string"}}},
    "io.k8s.api.apps.v1.Deployment": {"type": "object", "properties": {
      "metadata": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
      "spec": {"$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"}}},
    "io.k8s.api.apps.v1.DeploymentSpec": {"type": "object", "properties": {
      "replicas": {"type": "integer"},
      "strategy": {"$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy",
                   "x-kubernetes-patch-strategy": "retainKeys"},
      "template": {"$ref": "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"}}},
    "io.k8s.api.apps.v1.DeploymentStrategy": {"type": "object", "properties": {
      "type": {"type": "string"},
      "rollingUpdate": {"$ref": "#/definitions/io.k8s.api.apps.v1.RollingUpdateDeployment"}}},
    "io.k8s.api.apps.v1.RollingUpdateDeployment": {"type": "object", "properties": {
      "maxSurge": {"type": "string"}, "maxUnavailable": {"type": "string"}}},
    "io.k8s.api.core.v1.PodTemplateSpec": {"type": "object", "properties": {
      "metadata": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
      "spec": {"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec"}}},
    "io.k8s.api.core.v1.Pod": {"type": "object", "properties": {
      "metadata": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
      "spec": {"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec"}}},
    "io.k8s.api.core.v1.PodSpec": {"type": "object", "properties": {
      "containers": {"type": "array", "items": {"$ref": "#/definitions/io.k8s.api.core.v1.Container"},
                     "x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map",
                     "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
      "volumes": {"type": "array", "items": {"$ref": "#/definitions/io.k8s.api.core.v1.Volume"},
                  "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge,retainKeys"},
      "tolerations": {"type": "array", "items": {"$ref": "#/definitions/io.k8s.api.core.v1.Toleration"},
                      "x-kubernetes-list-type": "atomic"},
      "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"},
                       "x-kubernetes-map-type": "atomic"}}},
    "io.k8s.api.core.v1.Container": {"type": "object", "properties": {
      "name": {"type": "string"}, "image": {"type": "string"},
      "args": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "atomic"},
      "env": {"type": "array", "items": {"$ref": "#/definitions/io.k8s.api.core.v1.EnvVar"},
              "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"},
      "ports": {"type": "array", "items": {"$ref": "#/definitions/io.k8s.api.core.v1.ContainerPort"},
                "x-kubernetes-patch-merge-key": "containerPort", "x-kubernetes-patch-strategy": "merge"}}},
    "io.k8s.api.core.v1.EnvVar": {"type": "object", "properties": {
      "name": {"type": "string"}, "value": {"type": "string"}}},
    "io.k8s.api.core.v1.ContainerPort": {"type": "object", "properties": {
      "containerPort": {"type": "integer"}, "protocol": {"type": "string"}}},
    "io.k8s.api.core.v1.Volume": {"type": "object", "properties": {
      "name": {"type": "string"}, "emptyDir": {"type": "object"}, "configMap": {"type": "object"}}},
    "io.k8s.api.core.v1.Toleration": {"type": "object", "properties": {
      "key": {"type": "string"}, "effect": {"type": "string"}}}
  })")
                                              .as_object();
  return defs;
}

PatchSchema deployment() { return PatchSchema(&definitions(), "io.k8s.api.apps.v1.Deployment"); }
PatchSchema pod() { return PatchSchema(&definitions(), "io.k8s.api.core.v1.Pod"); }

boost::json::value apply(std::string_view original, std::string_view patch,
                         const PatchSchema& schema = pod()) {
  return applyStrategicMergePatch(j(original), j(patch), schema);
}

ApiError failure(std::string_view original, std::string_view patch,
                 const PatchSchema& schema = pod()) {
  try {
    apply(original, patch, schema);
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "patch applied: " << patch;
  return ApiError(0, "", "");
}

bool hasDirectiveKeys(const boost::json::value& v) {
  if (const auto* o = v.if_object()) {
    for (const auto& kv : *o) {
      std::string_view k = kv.key();
      if (k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") ||
          k.starts_with("$deleteFromPrimitiveList/") || hasDirectiveKeys(kv.value())) {
        return true;
      }
    }
  } else if (const auto* a = v.if_array()) {
    for (const auto& e : *a) {
      if (hasDirectiveKeys(e)) return true;
    }
  }
  return false;
}

const char* kTwoContainers = R"({"spec":{"containers":[
    {"name":"web","image":"nginx:1","ports":[{"containerPort":80}]},
    {"name":"sidecar","image":"envoy"}]}})";

TEST(PatchSchema, FollowsRefsToFieldMetadata) {
  PatchSchema::FieldMeta meta;
  auto spec = pod().field("spec");
  auto containers = spec.field("containers", &meta);
  EXPECT_EQ(meta.patchStrategies, std::vector<std::string>{"merge"});
  EXPECT_EQ(meta.patchMergeKey, "name");
  EXPECT_EQ(meta.listType, "map");
  EXPECT_EQ(meta.listMapKeys, std::vector<std::string>{"name"});
  EXPECT_EQ(containers.items().name(), "io.k8s.api.core.v1.Container");
  spec.field("volumes", &meta);
  EXPECT_EQ(meta.patchStrategies, (std::vector<std::string>{"merge", "retainKeys"}));
}

TEST(PatchSchema, UnknownRootOrFieldHasNoMetadata) {
  EXPECT_FALSE(PatchSchema(&definitions(), "no.such.Kind").known());
  EXPECT_FALSE(PatchSchema(nullptr, "io.k8s.api.core.v1.Pod").known());
  PatchSchema::FieldMeta meta;
  EXPECT_FALSE(pod().field("spec").field("nope", &meta).known());
  EXPECT_TRUE(meta.patchStrategies.empty());
}

TEST(PatchSchema, MapValuesUseAdditionalProperties) {
  EXPECT_TRUE(pod().field("metadata").field("labels").field("anything").known());
}

TEST(StrategicMergePatch, DeploymentContainerPatchMergesIntoNamedContainer) {
  auto original = j(R"({"spec":{"replicas":2,"template":{"spec":{"containers":[
      {"name":"web","image":"nginx:1","ports":[{"containerPort":80}]},
      {"name":"sidecar","image":"envoy"}]}}}})");
  auto result = applyStrategicMergePatch(
      original,
      j(R"({"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:2"}]}}}})"),
      deployment());
  EXPECT_EQ(result, j(R"({"spec":{"replicas":2,"template":{"spec":{"containers":[
      {"name":"web","image":"nginx:2","ports":[{"containerPort":80}]},
      {"name":"sidecar","image":"envoy"}]}}}})"));
}

// kubernetes.io "Update API Objects in Place Using kubectl patch": the new container comes
// first, the existing one after it.
TEST(StrategicMergePatch, NewListElementIsPlacedBeforeServerOnlyElements) {
  EXPECT_EQ(apply(R"({"spec":{"containers":[{"name":"patch-demo-ctr","image":"nginx"}]}})",
                  R"({"spec":{"containers":[{"name":"patch-demo-ctr-2","image":"redis"}]}})"),
            j(R"({"spec":{"containers":[{"name":"patch-demo-ctr-2","image":"redis"},
                                          {"name":"patch-demo-ctr","image":"nginx"}]}})"));
}

TEST(StrategicMergePatch, MergedElementsFollowPatchOrderAmongServerElements) {
  auto result =
      apply(R"({"spec":{"containers":[{"name":"a"},{"name":"b"},{"name":"c"}]}})",
            R"({"spec":{"containers":[{"name":"c","image":"x"},{"name":"a","image":"y"}]}})");
  EXPECT_EQ(
      result,
      j(R"({"spec":{"containers":[{"name":"b"},{"name":"c","image":"x"},{"name":"a","image":"y"}]}})"));
}

TEST(StrategicMergePatch, ListWithoutStrategyIsReplaced) {
  EXPECT_EQ(
      apply(
          R"({"spec":{"tolerations":[{"key":"a"}],"containers":[{"name":"w","args":["x","y"]}]}})",
          R"({"spec":{"tolerations":[{"key":"b"}],"containers":[{"name":"w","args":["z"]}]}})"),
      j(R"({"spec":{"tolerations":[{"key":"b"}],"containers":[{"name":"w","args":["z"]}]}})"));
}

TEST(StrategicMergePatch, NestedMergeListsMergeByTheirOwnKey) {
  EXPECT_EQ(
      apply(
          R"({"spec":{"containers":[{"name":"w","env":[{"name":"A","value":"1"}],"ports":[{"containerPort":80}]}]}})",
          R"({"spec":{"containers":[{"name":"w","env":[{"name":"A","value":"2"}],"ports":[{"containerPort":443}]}]}})"),
      j(R"({"spec":{"containers":[{"name":"w","env":[{"name":"A","value":"2"}],
                                          "ports":[{"containerPort":443},{"containerPort":80}]}]}})"));
}

TEST(StrategicMergePatch, MapsMergeAndNullDeletes) {
  EXPECT_EQ(apply(R"({"metadata":{"name":"p","labels":{"a":"1","b":"2"}}})",
                  R"({"metadata":{"labels":{"b":null,"c":"3"},"annotations":{"x":null}}})"),
            j(R"({"metadata":{"name":"p","labels":{"a":"1","c":"3"},"annotations":{}}})"));
}

TEST(StrategicMergePatch, PrimitiveMergeListIsAUnion) {
  EXPECT_EQ(
      apply(R"({"metadata":{"finalizers":["a","b"]}})", R"({"metadata":{"finalizers":["b","c"]}})"),
      j(R"({"metadata":{"finalizers":["a","b","c"]}})"));
}

TEST(StrategicMergePatch, DeleteFromPrimitiveListRemovesValues) {
  EXPECT_EQ(apply(R"({"metadata":{"finalizers":["a","b","c"]}})",
                  R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a","c"]}})"),
            j(R"({"metadata":{"finalizers":["b"]}})"));
}

TEST(StrategicMergePatch, DeleteFromPrimitiveListOfMissingListAddsNothing) {
  EXPECT_EQ(
      apply(R"({"metadata":{}})", R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}})"),
      j(R"({"metadata":{}})"));
}

TEST(StrategicMergePatch, PatchDeleteElementRemovesListEntry) {
  EXPECT_EQ(
      apply(kTwoContainers, R"({"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}})"),
      j(R"({"spec":{"containers":[{"name":"web","image":"nginx:1","ports":[{"containerPort":80}]}]}})"));
}

TEST(StrategicMergePatch, PatchReplaceElementReplacesWholeList) {
  EXPECT_EQ(apply(kTwoContainers,
                  R"({"spec":{"containers":[{"name":"only","image":"x"},{"$patch":"replace"}]}})"),
            j(R"({"spec":{"containers":[{"name":"only","image":"x"}]}})"));
}

TEST(StrategicMergePatch, PatchReplaceInMapReplacesTheMap) {
  EXPECT_EQ(apply(R"({"metadata":{"labels":{"a":"1","b":"2"}}})",
                  R"({"metadata":{"labels":{"$patch":"replace","c":"3"}}})"),
            j(R"({"metadata":{"labels":{"c":"3"}}})"));
}

TEST(StrategicMergePatch, PatchDeleteInMapEmptiesTheMap) {
  EXPECT_EQ(apply(R"({"metadata":{"name":"p","labels":{"a":"1"}}})",
                  R"({"metadata":{"labels":{"$patch":"delete"}}})"),
            j(R"({"metadata":{"name":"p","labels":{}}})"));
}

TEST(StrategicMergePatch, PatchReplaceAtTopLevelReplacesDocument) {
  EXPECT_EQ(apply(R"({"a":1,"b":2})", R"({"$patch":"replace","c":{"d":null}})"), j(R"({"c":{}})"));
}

TEST(StrategicMergePatch, RetainKeysDropsUnlistedFields) {
  auto result =
      apply(R"({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%"}}}})",
            R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}})", deployment());
  EXPECT_EQ(result, j(R"({"spec":{"strategy":{"type":"Recreate"}}})"));
}

TEST(StrategicMergePatch, RetainKeysRejectsPatchFieldsNotListed) {
  auto e =
      failure(R"({"spec":{"strategy":{"type":"RollingUpdate"}}})",
              R"({"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":{"maxSurge":"1"}}}})",
              deployment());
  EXPECT_EQ(e.code(), 400);
  EXPECT_STREQ(e.what(), "invalid patch format of retainKeys");
}

TEST(StrategicMergePatch, RetainKeysMustBeAList) {
  auto e = failure(R"({"spec":{}})", R"({"spec":{"$retainKeys":"type"}})");
  EXPECT_EQ(e.code(), 400);
  EXPECT_STREQ(e.what(), "invalid patch format of retainKeys");
}

TEST(StrategicMergePatch, SetElementOrderReordersMergedList) {
  EXPECT_EQ(apply(R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]}})",
                  R"({"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}]}})"),
            j(R"({"spec":{"containers":[{"name":"b"},{"name":"a"}]}})"));
}

// What kubectl apply sends when a container is added between two existing ones.
TEST(StrategicMergePatch, SetElementOrderPlacesNewElement) {
  EXPECT_EQ(
      apply(R"({"spec":{"containers":[{"name":"a","image":"1"},{"name":"b","image":"2"}]}})",
            R"({"spec":{"$setElementOrder/containers":[{"name":"a"},{"name":"c"},{"name":"b"}],
                              "containers":[{"name":"c","image":"3"}]}})"),
      j(R"({"spec":{"containers":[{"name":"a","image":"1"},{"name":"c","image":"3"},{"name":"b","image":"2"}]}})"));
}

TEST(StrategicMergePatch, SetElementOrderOrdersPrimitiveList) {
  EXPECT_EQ(
      apply(R"({"metadata":{"finalizers":["x","y"]}})",
            R"({"metadata":{"$setElementOrder/finalizers":["z","y","x"],"finalizers":["z"]}})"),
      j(R"({"metadata":{"finalizers":["z","y","x"]}})"));
}

TEST(StrategicMergePatch, SetElementOrderContradictingPatchFails) {
  auto e = failure(R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]}})",
                   R"({"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}],
                               "containers":[{"name":"a","image":"1"},{"name":"b","image":"2"}]}})");
  EXPECT_EQ(e.code(), 500);
}

TEST(StrategicMergePatch, SetElementOrderMustBeAList) {
  auto e =
      failure(R"({"spec":{"containers":[]}})", R"({"spec":{"$setElementOrder/containers":"a"}})");
  EXPECT_EQ(e.code(), 500);
  EXPECT_STREQ(e.what(), "expected a []interface {}, but received a string");
}

TEST(StrategicMergePatch, ElementWithoutMergeKeyFails) {
  auto e = failure(kTwoContainers, R"({"spec":{"containers":[{"image":"x"}]}})");
  EXPECT_EQ(e.code(), 500);
  EXPECT_STREQ(e.what(), "map: map[image:x] does not contain declared merge key: name");
}

TEST(StrategicMergePatch, UnknownPatchDirectiveInMapFails) {
  auto e = failure(R"({"metadata":{}})", R"({"metadata":{"$patch":"merge","a":1}})");
  EXPECT_EQ(e.code(), 500);
  EXPECT_STREQ(e.what(), "unknown patch type: merge in map: map[$patch:merge a:1]");
}

TEST(StrategicMergePatch, MergeDirectiveInListIsNotSupported) {
  auto e = failure(kTwoContainers, R"({"spec":{"containers":[{"$patch":"merge"}]}})");
  EXPECT_STREQ(e.what(), "merging lists cannot yet be specified in the patch");
}

TEST(StrategicMergePatch, ListOfListsIsInvalid) {
  auto e = failure(R"({"metadata":{"finalizers":[]}})", R"({"metadata":{"finalizers":[["a"]]}})");
  EXPECT_EQ(e.code(), 422);
  EXPECT_EQ(e.reason(), "Invalid");
}

TEST(StrategicMergePatch, MixedElementTypesFail) {
  auto e = failure(R"({"metadata":{"finalizers":["a"]}})", R"({"metadata":{"finalizers":[1]}})");
  EXPECT_EQ(e.code(), 500);
}

TEST(StrategicMergePatch, DirectivesNeverReachTheResult) {
  auto result = apply(R"({})", R"({"spec":{
      "$setElementOrder/containers":[{"name":"a"}],
      "containers":[{"name":"a","env":[{"name":"X","$patch":"delete"}]}],
      "volumes":[{"name":"v","$retainKeys":["name","emptyDir"],"emptyDir":{}}],
      "nodeSelector":{"$patch":"replace","k":"v"}},
      "metadata":{"$deleteFromPrimitiveList/finalizers":["f"],"labels":{"$patch":"delete"}}})");
  EXPECT_FALSE(hasDirectiveKeys(result)) << boost::json::serialize(result);
  EXPECT_EQ(result, j(R"({"spec":{"containers":[{"name":"a","env":[]}],
                                   "volumes":[{"name":"v","emptyDir":{}}],"nodeSelector":{"k":"v"}},
                          "metadata":{"labels":{}}})"));
}

TEST(StrategicMergePatch, UnknownSchemaReplacesLists) {
  EXPECT_EQ(apply(kTwoContainers, R"({"spec":{"containers":[{"name":"web","image":"nginx:2"}]}})",
                  PatchSchema()),
            j(R"({"spec":{"containers":[{"name":"web","image":"nginx:2"}]}})"));
}

TEST(StrategicMergePatch, UnknownSchemaStillHonoursMapDirectives) {
  EXPECT_EQ(apply(R"({"a":{"x":1,"y":2},"b":{"z":1}})",
                  R"({"a":{"$patch":"replace","w":3},"b":{"$patch":"delete"}})", PatchSchema()),
            j(R"({"a":{"w":3},"b":{}})"));
}

TEST(StrategicMergePatch, ValueOfDifferentTypeReplaces) {
  EXPECT_EQ(
      apply(R"({"metadata":{"labels":"odd"}})", R"({"metadata":{"labels":{"a":"1","b":null}}})"),
      j(R"({"metadata":{"labels":{"a":"1"}}})"));
}

TEST(StrategicMergePatch, NullPatchChangesNothing) {
  EXPECT_EQ(apply(R"({"a":1})", "null"), j(R"({"a":1})"));
}

TEST(StrategicMergePatch, NonObjectPatchIsBadRequest) {
  auto e = failure(R"({"a":1})", R"([{"op":"add"}])");
  EXPECT_EQ(e.code(), 400);
  EXPECT_STREQ(e.what(),
               "json: cannot unmarshal array into Go value of type map[string]interface {}");
}

TEST(StrategicMergePatch, NonObjectDocumentIsBadRequest) {
  EXPECT_EQ(failure("[1]", R"({"a":1})").code(), 400);
}

TEST(StrategicMergePatch, OriginalIsNotModified) {
  auto original = j(kTwoContainers);
  auto copy = original;
  applyStrategicMergePatch(
      original, j(R"({"spec":{"containers":[{"name":"web","$patch":"delete"}]}})"), pod());
  EXPECT_EQ(original, copy);
}

}  // namespace
}  // namespace skiff::api
