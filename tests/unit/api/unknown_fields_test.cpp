#include "api/unknown_fields.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <thread>

#include "api/openapi.h"

namespace json = boost::json;
using skiff::api::OpenApi;
using skiff::api::pruneUnknownFields;

namespace {

std::vector<std::string> prune(json::object& pod) {
  const auto& openapi = OpenApi::instance();
  auto def = openapi.definitionFor("", "v1", "Pod");
  EXPECT_TRUE(def.has_value());
  return pruneUnknownFields(pod, openapi.definitions(), *def);
}

}  // namespace

TEST(UnknownFields, PathsNameRootNestedListAndMapFields) {
  json::object pod = json::parse(R"({
    "apiVersion": "v1", "kind": "Pod", "bogus": 1,
    "metadata": {"name": "p", "labels": {"a": "b"}, "extra": true},
    "spec": {"containers": [
      {"name": "c", "image": "busybox:1.36"},
      {"name": "d", "image": "busybox:1.36", "typo": "x", "resources": {"limits": {"cpu": "1"}, "nope": {}}}
    ]}
  })")
                         .as_object();
  auto unknown = prune(pod);
  // (Erasing a member moves the object's last member into its place, so the walk order and
  // with it the order of the paths is not the document's.)
  std::sort(unknown.begin(), unknown.end());
  std::vector<std::string> want = {"bogus", "metadata.extra", "spec.containers[1].resources.nope",
                                   "spec.containers[1].typo"};
  EXPECT_EQ(unknown, want);
  // Unknown fields are gone, known ones (map values included) stay.
  EXPECT_FALSE(pod.contains("bogus"));
  EXPECT_FALSE(pod.at("metadata").as_object().contains("extra"));
  const auto& second = pod.at("spec").at("containers").as_array()[1].as_object();
  EXPECT_FALSE(second.contains("typo"));
  EXPECT_EQ(second.at("resources").at("limits").at("cpu"), "1");
  EXPECT_EQ(pod.at("metadata").at("labels").at("a"), "b");
}

TEST(UnknownFields, DropsWhatAGoRoundTripOmitsButKeepsEmptyStructs) {
  json::object pod = json::parse(R"({
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {}, "finalizers": []},
    "spec": {"nodeName": null, "containers": [{"name": "c", "image": "i"}],
             "volumes": [{"name": "v", "emptyDir": {}}]}
  })")
                         .as_object();
  EXPECT_TRUE(prune(pod).empty());
  EXPECT_FALSE(pod.at("metadata").as_object().contains("labels"));
  EXPECT_FALSE(pod.at("metadata").as_object().contains("finalizers"));
  EXPECT_FALSE(pod.at("spec").as_object().contains("nodeName"));
  EXPECT_TRUE(pod.at("spec").at("volumes").as_array()[0].as_object().contains("emptyDir"));
}

// A hand-written document: $ref chains, an allOf wrapper, an alias definition, a schema that
// refers to itself, preserve-unknown-fields and a dangling $ref.
TEST(UnknownFields, CompiledSchemasFollowRefsAliasesAndCycles) {
  json::object defs = json::parse(R"({
    "Root": {"properties": {
      "child": {"$ref": "#/definitions/Alias"},
      "wrapped": {"allOf": [{"$ref": "#/definitions/Leaf"}]},
      "tree": {"$ref": "#/definitions/Tree"},
      "free": {"x-kubernetes-preserve-unknown-fields": true},
      "dangling": {"$ref": "#/definitions/Missing"},
      "tags": {"type": "object", "additionalProperties": {"$ref": "#/definitions/Leaf"}}}},
    "Alias": {"$ref": "#/definitions/Leaf"},
    "Leaf": {"properties": {"name": {"type": "string"}}},
    "Tree": {"properties": {"value": {"type": "string"},
                            "children": {"type": "array", "items": {"$ref": "#/definitions/Tree"}}}}
  })")
                          .as_object();
  json::object obj = json::parse(R"({
    "child": {"name": "a", "x": 1},
    "wrapped": {"name": "b", "y": 2},
    "tree": {"value": "r", "children": [{"value": "c", "children": [{"value": "g", "z": 3}]}]},
    "free": {"anything": {"goes": true}},
    "dangling": {"whatever": 1},
    "tags": {"t": {"name": "n", "w": 4}},
    "top": 5
  })")
                         .as_object();
  skiff::api::FieldSchemas schemas(defs);
  auto unknown = pruneUnknownFields(obj, schemas, "Root");
  std::sort(unknown.begin(), unknown.end());
  std::vector<std::string> want = {"child.x", "tags.t.w", "top", "tree.children[0].children[0].z",
                                   "wrapped.y"};
  EXPECT_EQ(unknown, want);
  EXPECT_EQ(obj.at("free").at("anything").at("goes"), true);
  EXPECT_EQ(obj.at("dangling").at("whatever"), 1);
  EXPECT_TRUE(pruneUnknownFields(obj, schemas, "NotThere").empty());
}

// One compiled index serves concurrent writers (the API server's request threads).
TEST(UnknownFields, OneIndexServesConcurrentWalks) {
  const auto& openapi = OpenApi::instance();
  skiff::api::FieldSchemas schemas(openapi.definitions());
  const std::string def = *openapi.definitionFor("", "v1", "Pod");
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        json::object pod =
            json::parse(
                R"({"metadata":{"name":"p","x":1},"spec":{"containers":[{"name":"c","y":2}]}})")
                .as_object();
        auto unknown = pruneUnknownFields(pod, schemas, def);
        std::sort(unknown.begin(), unknown.end());
        if (unknown != std::vector<std::string>{"metadata.x", "spec.containers[0].y"}) ++wrong;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}
