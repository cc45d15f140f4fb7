#include "api/conversion.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/api_error.h"

namespace skiff::api {
namespace {

namespace json = boost::json;
const auto& registry = ResourceRegistry::builtin();

TEST(Conversion, SecretStringDataFoldsIntoDataAndIsDropped) {
  const auto& secrets = *registry.find("", "v1", "secrets");
  auto s = json::parse(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},
    "data":{"a":"b2xk","keep":"eA=="},"stringData":{"a":"new","user":"admin"}})")
               .as_object();
  foldWriteOnlyFields(secrets, s);
  EXPECT_FALSE(s.contains("stringData"));
  EXPECT_EQ(s.at("data").at("a"), "bmV3");  // stringData wins over data for a key
  EXPECT_EQ(s.at("data").at("user"), "YWRtaW4=");
  EXPECT_EQ(s.at("data").at("keep"), "eA==");
  auto only = json::parse(R"({"stringData":{"k":"v"}})").as_object();
  foldWriteOnlyFields(secrets, only);
  EXPECT_EQ(json::serialize(only), R"({"data":{"k":"dg=="}})");
  auto wrong = json::parse(R"({"stringData":{"k":5}})").as_object();
  try {
    foldWriteOnlyFields(secrets, wrong);
    ADD_FAILURE() << "a number in stringData must be refused";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 400);
    EXPECT_STREQ(e.what(),
                 "Secret in version \"v1\" cannot be handled as a Secret: json: cannot "
                 "unmarshal number into Go struct field Secret.stringData of type string");
  }
  // Other kinds keep a field of that name.
  auto cm = json::parse(R"({"stringData":{"k":"v"}})").as_object();
  foldWriteOnlyFields(*registry.find("", "v1", "configmaps"), cm);
  EXPECT_TRUE(cm.contains("stringData"));
}

TEST(Conversion, HpaV2CpuMetricBecomesV1TargetAndBack) {
  auto v2 = json::parse(R"({"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler",
    "metadata":{"name":"web"},"spec":{"maxReplicas":5,"metrics":[
    {"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":70}}},
    {"type":"Resource","resource":{"name":"memory","target":{"type":"AverageValue","averageValue":"1Gi"}}}]}})")
                .as_object();
  auto v1 = convertObject(v2, *registry.find("autoscaling", "v1", "horizontalpodautoscalers"));
  EXPECT_EQ(v1.at("apiVersion"), "autoscaling/v1");
  EXPECT_EQ(v1.at("spec").at("targetCPUUtilizationPercentage"), 70);
  EXPECT_FALSE(v1.at("spec").as_object().contains("metrics"));
  auto back = convertObject(v1, *registry.find("autoscaling", "v2", "horizontalpodautoscalers"));
  EXPECT_EQ(back.at("spec").at("metrics").as_array().size(), 2u);
  EXPECT_FALSE(back.at("metadata").as_object().contains("annotations"));
}

TEST(Conversion, CoreEventFieldsRenameForEventsGroup) {
  auto core = json::parse(R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"e"},
    "involvedObject":{"kind":"Pod","name":"p"},"message":"hello","count":3,"reason":"Started"})")
                  .as_object();
  auto events = convertObject(core, *registry.find("events.k8s.io", "v1", "events"));
  EXPECT_EQ(events.at("note"), "hello");
  EXPECT_EQ(events.at("regarding").at("name"), "p");
  EXPECT_EQ(events.at("deprecatedCount"), 3);
  EXPECT_EQ(events.at("reason"), "Started");
  auto back = convertObject(events, *registry.find("", "v1", "events"));
  EXPECT_EQ(back, core);
}

TEST(Conversion, SharedStorageResourcesPointAtTheirStorageVersion) {
  const auto* v1 = registry.find("autoscaling", "v1", "horizontalpodautoscalers");
  const auto* v2 = registry.find("autoscaling", "v2", "horizontalpodautoscalers");
  EXPECT_EQ(&v1->storageInfo(), v2);
  EXPECT_EQ(v1->storagePrefix(), v2->storagePrefix());
  EXPECT_EQ(registry.find("events.k8s.io", "v1", "events")->storagePrefix(),
            registry.find("", "v1", "events")->storagePrefix());
}

}  // namespace
}  // namespace skiff::api
