// Custom resource schemas: pruning, defaulting, validation messages (upstream's wording), the
// JSONPath subset of printer columns, and CRD validation.
#include "api/structural_schema.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/defaults.h"
#include "api/jsonpath.h"
#include "api/validation.h"

namespace json = boost::json;
using namespace skiff::api;

namespace {

const char* kSchema = R"({
  "type": "object",
  "properties": {
    "spec": {
      "type": "object",
      "required": ["color"],
      "properties": {
        "color": {"type": "string", "enum": ["red", "blue"]},
        "replicas": {"type": "integer", "minimum": 0, "default": 1},
        "name": {"type": "string", "maxLength": 3, "pattern": "^[a-z]+$"},
        "ratio": {"type": "number", "maximum": 1, "exclusiveMaximum": true},
        "port": {"x-kubernetes-int-or-string": true},
        "items": {"type": "array", "maxItems": 2, "items": {"type": "integer"}},
        "set": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        "when": {"type": "string", "format": "date-time"},
        "nested": {"type": "object", "default": {}, "properties": {"level": {"type": "integer", "default": 5}}},
        "maybe": {"type": "string", "nullable": true},
        "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                     "properties": {"spec": {"type": "object", "properties": {"x": {"type": "integer"}}}}}
      }
    }
  }
})";

std::shared_ptr<const StructuralNode> schema() {
  return compileSchema(json::parse(kSchema).as_object());
}

std::vector<std::string> messages(const std::string& spec) {
  json::object obj{{"apiVersion", "example.com/v1"},
                   {"kind", "Widget"},
                   {"metadata", {{"name", "w"}}},
                   {"spec", json::parse(spec)}};
  std::vector<std::string> out;
  for (const auto& c : validateBySchema(obj, *schema())) out.push_back(c.field + ": " + c.message);
  return out;
}

TEST(StructuralSchema, PrunesUnknownFieldsButKeepsTypeMetaAndPreservedSubtrees) {
  json::object obj =
      json::parse(R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},
    "spec":{"color":"red","bogus":1,"free":{"any":{"thing":true}},"ports":[{"name":"a","extra":2}],
    "template":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"x":1,"y":2}}},"top":1})")
          .as_object();
  auto pruned = pruneBySchema(obj, *schema());
  EXPECT_EQ(pruned, (std::vector<std::string>{"spec.bogus", "spec.ports[0].extra",
                                              "spec.template.spec.y", "top"}));
  EXPECT_EQ(json::serialize(obj.at("spec").at("free")), R"({"any":{"thing":true}})");
  EXPECT_TRUE(obj.at("spec").at("template").as_object().contains("kind"));
  EXPECT_TRUE(obj.contains("apiVersion"));
}

TEST(StructuralSchema, DropsNullsOfNonNullableFields) {
  json::object obj =
      json::parse(R"({"spec":{"color":"red","replicas":null,"maybe":null}})").as_object();
  pruneBySchema(obj, *schema());
  EXPECT_FALSE(obj.at("spec").as_object().contains("replicas"));
  EXPECT_TRUE(obj.at("spec").as_object().contains("maybe"));
}

TEST(StructuralSchema, DefaultsTopDownIncludingInsideDefaults) {
  json::object obj = json::parse(R"({"spec":{"color":"red"}})").as_object();
  defaultBySchema(obj, *schema());
  EXPECT_EQ(obj.at("spec").at("replicas"), json::value(1));
  EXPECT_EQ(json::serialize(obj.at("spec").at("nested")), R"({"level":5})");
  json::object given = json::parse(R"({"spec":{"color":"red","replicas":3}})").as_object();
  defaultBySchema(given, *schema());
  EXPECT_EQ(given.at("spec").at("replicas"), json::value(3));
}

TEST(StructuralSchema, ValidObjectHasNoCauses) {
  EXPECT_TRUE(messages(R"({"color":"red","replicas":2,"name":"ab","port":"http","items":[1,2],
    "labels":{"a":"b"},"when":"2026-01-02T03:04:05Z","ratio":0.5,"maybe":null})")
                  .empty());
  EXPECT_TRUE(messages(R"({"color":"blue","port":80,"replicas":2.0})").empty());
}

TEST(StructuralSchema, MessagesAreUpstreams) {
  EXPECT_EQ(messages(R"({"color":"pink"})"),
            (std::vector<std::string>{
                R"(spec.color: Unsupported value: "pink": supported values: "red", "blue")"}));
  EXPECT_EQ(messages(R"({})"), (std::vector<std::string>{"spec.color: Required value"}));
  EXPECT_EQ(
      messages(R"({"color":"red","replicas":"x"})"),
      (std::vector<std::string>{
          R"(spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string")"}));
  EXPECT_EQ(
      messages(R"({"color":"red","replicas":1.5})"),
      (std::vector<std::string>{
          R"(spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number")"}));
  EXPECT_EQ(messages(R"({"color":"red","replicas":-1})"),
            (std::vector<std::string>{"spec.replicas: Invalid value: -1: spec.replicas in body "
                                      "should be greater than or equal to 0"}));
  EXPECT_EQ(messages(R"({"color":"red","ratio":1})"),
            (std::vector<std::string>{
                "spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1"}));
  EXPECT_EQ(messages(R"({"color":"red","name":"AB"})"),
            (std::vector<std::string>{
                R"(spec.name: Invalid value: "AB": spec.name in body should match '^[a-z]+$')"}));
  EXPECT_EQ(messages(R"({"color":"red","name":"abcd"})"),
            (std::vector<std::string>{"spec.name: Too long: must have at most 3 bytes"}));
  EXPECT_EQ(messages(R"({"color":"red","items":[1,2,3]})"),
            (std::vector<std::string>{"spec.items: Too many: 3: must have at most 2 items"}));
  EXPECT_EQ(
      messages(R"({"color":"red","items":[1,"a"]})"),
      (std::vector<std::string>{
          R"(spec.items[1]: Invalid value: "string": spec.items[1] in body must be of type integer: "string")"}));
  EXPECT_EQ(
      messages(R"({"color":"red","port":true})"),
      (std::vector<std::string>{
          R"(spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean")"}));
  EXPECT_EQ(
      messages(R"({"color":"red","labels":{"a":1}})"),
      (std::vector<std::string>{
          R"(spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer")"}));
  EXPECT_EQ(
      messages(R"({"color":"red","when":"yesterday"})"),
      (std::vector<std::string>{
          R"(spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday")"}));
  EXPECT_EQ(messages(R"({"color":"red","set":["a","a"]})"),
            (std::vector<std::string>{R"(spec.set[1]: Duplicate value: "a")"}));
  EXPECT_EQ(messages(R"({"color":"red","ports":[{"name":"a"},{"name":"a","port":1}]})"),
            (std::vector<std::string>{R"(spec.ports[1]: Duplicate value: {"name":"a"})"}));
  EXPECT_EQ(messages(R"({"color":"red","template":{"spec":{}}})"),
            (std::vector<std::string>{"spec.template.apiVersion: Required value: must not be empty",
                                      "spec.template.kind: Required value: must not be empty"}));
}

TEST(StructuralSchema, PatternsOnHugeStringsNeitherCrashNorStall) {
  // Backtracking engines recurse per character on such patterns; RE2 runs in linear time.
  auto node = compileSchema(json::parse(R"({"type":"object","properties":{"spec":{"type":"object",
    "properties":{"s":{"type":"string","pattern":"^(a|aa)*$"},"b":{"type":"string","format":"byte"}}}}})")
                                .as_object());
  std::string big(1 << 20, 'a');
  json::object obj{{"spec", {{"s", big + "b"}, {"b", std::string(1 << 20, 'A') + "="}}}};
  auto causes = validateBySchema(obj, *node);
  ASSERT_EQ(causes.size(), 2u);
  EXPECT_EQ(causes[0].field, "spec.s");
  EXPECT_EQ(causes[1].field, "spec.b");
  EXPECT_THROW(compileSchema(json::parse(R"({"type":"string","pattern":"(unclosed"})").as_object()),
               std::invalid_argument);
}

TEST(JsonPath, FieldsIndexesWildcardsFilters) {
  json::value doc = json::parse(R"({"spec":{"replicas":3,"a.b":1},"status":{"conditions":[
    {"type":"Ready","status":"True"},{"type":"Synced","status":"False"}],"list":[1,2,3]}})");
  auto one = [&](std::string_view path) {
    auto p = JsonPath::parse(path);
    if (!p) return std::string("<parse error>");
    auto found = p->find(doc);
    std::string out;
    for (auto* v : found) out += (out.empty() ? "" : ",") + json::serialize(*v);
    return out;
  };
  EXPECT_EQ(one(".spec.replicas"), "3");
  EXPECT_EQ(one("{.spec.replicas}"), "3");
  EXPECT_EQ(one(".spec['a.b']"), "1");
  EXPECT_EQ(one(".status.list[1]"), "2");
  EXPECT_EQ(one(".status.list[-1]"), "3");
  EXPECT_EQ(one(".status.list[*]"), "1,2,3");
  EXPECT_EQ(one(R"(.status.conditions[?(@.type=="Ready")].status)"), "\"True\"");
  EXPECT_EQ(one(R"(.status.conditions[?(@.type!="Ready")].type)"), "\"Synced\"");
  EXPECT_EQ(one(".spec.missing"), "");
  EXPECT_EQ(one(".spec..x"), "<parse error>");
  EXPECT_EQ(JsonPath::parse(".spec.replicas")->fields(),
            (std::vector<std::string>{"spec", "replicas"}));
  EXPECT_FALSE(JsonPath::parse(".status.list[0]")->fields());
}

std::vector<std::string> crdMessages(const std::string& yamlish) {
  json::object crd = json::parse(yamlish).as_object();
  applyDefaults("apiextensions.k8s.io", "CustomResourceDefinition", crd);
  std::vector<std::string> out;
  for (const auto& c :
       validateObject("apiextensions.k8s.io", "CustomResourceDefinition", crd, nullptr))
    out.push_back(c.field + ": " + c.message);
  return out;
}

TEST(CrdValidation, AcceptsAWellFormedCrdAndDefaultsNames) {
  const char* good = R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"widgets.example.com"},
    "spec":{"group":"example.com","scope":"Namespaced","names":{"plural":"widgets","kind":"Widget"},
      "versions":[{"name":"v1","served":true,"storage":true,
        "schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"type":"object"}}}}}]}})";
  EXPECT_TRUE(crdMessages(good).empty());
  json::object crd = json::parse(good).as_object();
  applyDefaults("apiextensions.k8s.io", "CustomResourceDefinition", crd);
  EXPECT_EQ(crd.at("spec").at("names").at("singular"), json::value("widget"));
  EXPECT_EQ(crd.at("spec").at("names").at("listKind"), json::value("WidgetList"));
  EXPECT_EQ(crd.at("spec").at("conversion").at("strategy"), json::value("None"));
}

TEST(CrdValidation, RefusesBadNamesVersionsSchemasAndCel) {
  auto msgs = crdMessages(R"({"metadata":{"name":"things.example.com"},
    "spec":{"group":"example.com","scope":"Namespaced","names":{"plural":"widgets","kind":"Widget"},
      "versions":[{"name":"v1","served":true,"storage":true,
        "schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"properties":{}},
          "status":{"type":"object","x-kubernetes-validations":[{"rule":"true"}]}}}},
        "additionalPrinterColumns":[{"name":"X","type":"float","jsonPath":".spec.x"}]},
        {"name":"v1","served":true,"storage":true}]}})");
  auto has = [&](const std::string& m) {
    return std::find(msgs.begin(), msgs.end(), m) != msgs.end();
  };
  EXPECT_TRUE(has(
      R"(metadata.name: Invalid value: "things.example.com": must be spec.names.plural+"."+spec.group)"));
  EXPECT_TRUE(
      has("spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not "
          "be empty for specified object fields"));
  EXPECT_TRUE(has(
      R"(spec.versions[0].additionalPrinterColumns[0].type: Unsupported value: "float": supported values: "integer", "number", "string", "boolean", "date")"));
  EXPECT_TRUE(has(R"(spec.versions[1].name: Duplicate value: "v1")"));
  EXPECT_TRUE(has("spec.versions[1].schema.openAPIV3Schema: Required value: schemas are required"));
  EXPECT_TRUE(
      has("spec.versions: Invalid value: 2 storage versions: must have exactly one version marked "
          "as storage version"));
  EXPECT_TRUE(msgs.size() == 6) << "a CEL rule inside the subset compiles: " << msgs.size();
  auto cel = crdMessages(R"J({"metadata":{"name":"widgets.example.com"},
    "spec":{"group":"example.com","scope":"Namespaced","names":{"plural":"widgets","kind":"Widget"},
      "versions":[{"name":"v1","served":true,"storage":true,
        "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-validations":[
          {"rule":"self.spec.x.isSorted()"},{"rule":"true","messageExpression":"'m'"}]}}}]}})J");
  ASSERT_EQ(cel.size(), 2u);
  EXPECT_EQ(
      cel[0],
      "spec.versions[0].schema.openAPIV3Schema.x-kubernetes-validations[0].rule: Invalid value: "
      "\"self.spec.x.isSorted()\": compilation failed: the function isSorted() is not supported");
  EXPECT_EQ(
      cel[1],
      "spec.versions[0].schema.openAPIV3Schema.x-kubernetes-validations[1].messageExpression: "
      "Forbidden: messageExpression is not supported by this server (skiff)");
}

TEST(StructuralSchema, CelRulesWithMessagesFieldPathsAndTransitions) {
  auto node = compileSchema(json::parse(R"J({"type":"object","properties":{"spec":{"type":"object",
    "x-kubernetes-validations":[
      {"rule":"self.min <= self.max","message":"min must not exceed max"},
      {"rule":"has(self.mode)","fieldPath":".mode","reason":"FieldValueRequired"}],
    "properties":{"min":{"type":"integer"},"max":{"type":"integer"},
      "mode":{"type":"string","x-kubernetes-validations":[{"rule":"self == oldSelf","message":"Value is immutable"}]}}}}})J")
                                .as_object());
  auto messagesOf = [](const std::vector<skiff::StatusCause>& causes) {
    std::vector<std::string> out;
    for (const auto& c : causes) out.push_back(c.field + ": " + c.message);
    return out;
  };
  json::object bad{{"spec", {{"min", 5}, {"max", 1}}}};
  EXPECT_EQ(messagesOf(validateBySchema(bad, *node)),
            (std::vector<std::string>{R"(spec: Invalid value: "object": min must not exceed max)",
                                      "spec.mode: Required value: failed rule: has(self.mode)"}));
  json::object old{{"spec", {{"min", 1}, {"max", 2}, {"mode", "a"}}}};
  json::object changed{{"spec", {{"min", 1}, {"max", 2}, {"mode", "b"}}}};
  EXPECT_TRUE(validateBySchema(changed, *node).empty()) << "transition rules run on updates only";
  EXPECT_EQ(
      messagesOf(validateBySchema(changed, *node, &old)),
      (std::vector<std::string>{R"(spec.mode: Invalid value: "string": Value is immutable)"}));
}

}  // namespace
