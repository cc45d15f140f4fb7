// LimitRanger admission: container defaults and their annotation, and the min/max/ratio
// checks of containers, pods and claims with upstream's messages.
#include "apiserver/limit_ranger.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace skiff::apiserver::limitranger {
namespace {

namespace json = boost::json;

json::object parse(std::string_view s) { return json::parse(s).as_object(); }

json::object range(std::string_view limits) {
  return parse(std::string(R"({"metadata":{"name":"lr"},"spec":{"limits":)") + std::string(limits) +
               "}}");
}

TEST(LimitRangerTest, DefaultsOnlyWhatIsMissingAndAnnotates) {
  auto lr = range(R"([{"type":"Container","default":{"cpu":"500m","memory":"256Mi"},
                       "defaultRequest":{"cpu":"0.1"}}])");
  auto pod = parse(R"({"metadata":{"name":"p"},"spec":{
    "initContainers":[{"name":"init"}],
    "containers":[{"name":"app","resources":{"limits":{"cpu":"1"}}}]}})");
  ASSERT_TRUE(applyPodDefaults(lr, pod));
  const auto& app = pod.at("spec").at("containers").at(0).at("resources");
  EXPECT_EQ(json::serialize(app),
            R"({"limits":{"cpu":"1","memory":"256Mi"},"requests":{"cpu":"100m"}})");
  EXPECT_EQ(pod.at("metadata").at("annotations").at(kAnnotation).as_string(),
            "LimitRanger plugin set: cpu request for container app; memory limit for container "
            "app; cpu request for init container init; cpu, memory limit for init container init");
  // A pod that already says everything gets nothing (and no annotation).
  auto full = parse(R"({"metadata":{"name":"f"},"spec":{"containers":[{"name":"c","resources":{
    "limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"1"}}}]}})");
  EXPECT_FALSE(applyPodDefaults(lr, full));
  EXPECT_FALSE(full.at("metadata").as_object().contains("annotations"));
  // Pod-type items have no defaults.
  auto podOnly = range(R"([{"type":"Pod","max":{"cpu":"2"}}])");
  auto bare = parse(R"({"metadata":{"name":"b"},"spec":{"containers":[{"name":"c"}]}})");
  EXPECT_FALSE(applyPodDefaults(podOnly, bare));
}

TEST(LimitRangerTest, ContainerMinMaxAndRatioMessages) {
  auto lr = range(R"([{"type":"Container","min":{"cpu":"100m"},"max":{"cpu":"1","memory":"1Gi"},
                       "maxLimitRequestRatio":{"cpu":"4"}}])");
  auto pod = [](std::string_view resources) {
    return parse(std::string(R"({"spec":{"containers":[{"name":"c","resources":)") +
                 std::string(resources) + "}]}}");
  };
  EXPECT_EQ(
      validatePod(lr, pod(R"({"requests":{"cpu":"200m"},"limits":{"cpu":"500m","memory":"1Gi"}})")),
      "");
  EXPECT_EQ(
      validatePod(lr, pod(R"({"requests":{"cpu":"600m"},"limits":{"cpu":"2","memory":"1Gi"}})")),
      "maximum cpu usage per Container is 1, but limit is 2");
  EXPECT_EQ(
      validatePod(lr, pod(R"({"requests":{"cpu":"50m"},"limits":{"cpu":"500m","memory":"1Gi"}})")),
      "[minimum cpu usage per Container is 100m, but request is 50m, cpu max limit to "
      "request ratio per Container is 4, but provided ratio is 10.000000]");
  EXPECT_EQ(validatePod(lr, pod(R"({"requests":{"cpu":"200m"},"limits":{"cpu":"500m"}})")),
            "maximum memory usage per Container is 1Gi.  No limit is specified");
  EXPECT_EQ(validatePod(lr, pod(R"({"limits":{"cpu":"500m","memory":"1Gi"}})")),
            "[minimum cpu usage per Container is 100m.  No request is specified, cpu max limit to "
            "request ratio per Container is 4, but no request is specified or request is 0]");
}

TEST(LimitRangerTest, PodLimitsApplyToTheSumAndDuplicatesAreReportedOnce) {
  auto lr = range(R"([{"type":"Pod","max":{"memory":"1Gi"}},
                      {"type":"Container","max":{"cpu":"1"}}])");
  auto pod = parse(R"({"spec":{"containers":[
    {"name":"a","resources":{"limits":{"cpu":"2","memory":"768Mi"}}},
    {"name":"b","resources":{"limits":{"cpu":"2","memory":"768Mi"}}}]}})");
  EXPECT_EQ(validatePod(lr, pod),
            "[maximum memory usage per Pod is 1Gi, but limit is 1536Mi, maximum cpu usage per "
            "Container is 1, but limit is 2]");
}

TEST(LimitRangerTest, ClaimsAreBoundOnTheirStorageRequest) {
  auto lr = range(
      R"([{"type":"PersistentVolumeClaim","min":{"storage":"1Gi"},"max":{"storage":"10Gi"}}])");
  auto claim = [](std::string_view storage) {
    return parse(std::string(R"({"spec":{"resources":{"requests":{"storage":")") +
                 std::string(storage) + "\"}}}}");
  };
  EXPECT_EQ(validateClaim(lr, claim("5Gi")), "");
  EXPECT_EQ(validateClaim(lr, claim("20Gi")),
            "maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi");
  EXPECT_EQ(validateClaim(lr, claim("500Mi")),
            "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi");
}

}  // namespace
}  // namespace skiff::apiserver::limitranger
