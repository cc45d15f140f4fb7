// HPA normalization: the downscale window and fixed scale-up limit without spec.behavior;
// stabilization windows, Pods/Percent policies and selectPolicy with it; min/max replicas.
#include "controller/hpa_behavior.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace skiff::controller::hpa {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
const Clock::WallTime t0 = FakeClock::defaultStart();

TEST(HpaBehavior, DefaultsOfABehavior) {
  EXPECT_FALSE(parseBehavior(json::object{}).has_value());
  auto b = parseBehavior(json::parse(R"({"behavior":{}})").as_object());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->scaleUp.stabilizationWindowSeconds, 0);
  EXPECT_EQ(b->scaleUp.selectPolicy, "Max");
  ASSERT_EQ(b->scaleUp.policies.size(), 2u);
  EXPECT_EQ(b->scaleUp.policies[0].type, "Pods");
  EXPECT_EQ(b->scaleUp.policies[0].value, 4);
  EXPECT_EQ(b->scaleUp.policies[1].type, "Percent");
  EXPECT_EQ(b->scaleUp.policies[1].value, 100);
  EXPECT_EQ(b->scaleUp.policies[1].periodSeconds, 15);
  EXPECT_FALSE(b->scaleDown.stabilizationWindowSeconds.has_value());  // the controller's flag
  ASSERT_EQ(b->scaleDown.policies.size(), 1u);
  EXPECT_EQ(b->scaleDown.policies[0].type, "Percent");
  auto custom = parseBehavior(json::parse(R"({"behavior":{"scaleDown":{
      "stabilizationWindowSeconds":60,"selectPolicy":"Min",
      "policies":[{"type":"Pods","value":1,"periodSeconds":30}]}}})")
                                  .as_object());
  EXPECT_EQ(custom->scaleDown.stabilizationWindowSeconds, 60);
  EXPECT_EQ(custom->scaleDown.selectPolicy, "Min");
  EXPECT_EQ(custom->scaleDown.policies.size(), 1u);
}

TEST(HpaBehavior, PolicyLimits) {
  auto none = [](int32_t) { return 0; };
  ScalingRules up{0, "Max", {{"Pods", 4, 15}, {"Percent", 100, 15}}};
  EXPECT_EQ(scaleUpLimit(10, up, none, none), 20);
  up.selectPolicy = "Min";
  EXPECT_EQ(scaleUpLimit(10, up, none, none), 14);
  up.selectPolicy = "Disabled";
  EXPECT_EQ(scaleUpLimit(10, up, none, none), 10);
  ScalingRules pct{0, "Max", {{"Percent", 10, 15}}};
  EXPECT_EQ(scaleUpLimit(1, pct, none, none), 2);  // rounded up: ceil(1.1)

  ScalingRules down{std::nullopt, "Max", {{"Pods", 2, 60}, {"Percent", 50, 60}}};
  EXPECT_EQ(scaleDownLimit(10, down, none, none), 5);  // the bigger change
  down.selectPolicy = "Min";
  EXPECT_EQ(scaleDownLimit(10, down, none, none), 8);
  down.selectPolicy = "Disabled";
  EXPECT_EQ(scaleDownLimit(10, down, none, none), 10);
  // Changes made within the period count: 3 removed already → the period began at 13.
  down.selectPolicy = "Max";
  EXPECT_EQ(scaleDownLimit(10, down, none, [](int32_t) { return 3; }), 6);
}

TEST(HpaBehavior, WithoutBehaviorTheDownscaleWindowHoldsTheHighestRecommendation) {
  HpaHistory h;
  h.recordInitial("ns/a", 5, t0);
  auto n = h.normalize("ns/a", 5, 2, 1, 10, 5min, t0 + 1min);
  EXPECT_EQ(n.replicas, 5);
  EXPECT_EQ(n.ableReason, "ScaleDownStabilized");
  EXPECT_EQ(n.ableMessage,
            "recent recommendations were higher than current one, applying the highest recent "
            "recommendation");
  EXPECT_FALSE(n.limited);
  n = h.normalize("ns/a", 5, 2, 1, 10, 5min, t0 + 5min + 1s);  // the 5 left the window
  EXPECT_EQ(n.replicas, 2);
  EXPECT_EQ(n.ableReason, "ReadyForNewScale");
  EXPECT_EQ(n.limitedReason, "DesiredWithinRange");
  h.forget("ns/a");
  EXPECT_EQ(h.normalize("ns/a", 5, 2, 1, 10, 5min, t0 + 6min).replicas, 2);
}

TEST(HpaBehavior, WithoutBehaviorScaleUpIsLimitedAndMinMaxApply) {
  HpaHistory h;
  auto n = h.normalize("k", 1, 10, 1, 20, 5min, t0);
  EXPECT_EQ(n.replicas, 4);  // max(2 × 1, 4)
  EXPECT_TRUE(n.limited);
  EXPECT_EQ(n.limitedReason, "ScaleUpLimit");
  EXPECT_EQ(n.limitedMessage,
            "the desired replica count is increasing faster than the maximum scale rate");
  n = h.normalize("k2", 1, 10, 1, 3, 5min, t0);
  EXPECT_EQ(n.replicas, 3);
  EXPECT_EQ(n.limitedReason, "TooManyReplicas");
  EXPECT_EQ(n.limitedMessage, "the desired replica count is more than the maximum replica count");
  n = h.normalize("k3", 3, 0, 2, 10, 0ms, t0);
  EXPECT_EQ(n.replicas, 2);
  EXPECT_TRUE(n.limited);
  EXPECT_EQ(n.limitedReason, "TooFewReplicas");
  EXPECT_EQ(n.limitedMessage, "the desired replica count is less than the minimum replica count");
}

TEST(HpaBehavior, ScaleUpPoliciesCountRecentScaleEvents) {
  HpaHistory h;
  Behavior b{{0, "Max", {{"Pods", 4, 60}}}, {0, "Max", {{"Percent", 100, 15}}}};
  auto n = h.normalizeWithBehavior("k", b, 1, 10, 1, 20, t0);
  EXPECT_EQ(n.replicas, 5);
  EXPECT_EQ(n.limitedReason, "ScaleUpLimit");
  h.recordScaleEvent("k", b, 1, 5, t0);
  // 30 s later the 4 added still count: the period began at 1, so at most 5.
  n = h.normalizeWithBehavior("k", b, 5, 10, 1, 20, t0 + 30s);
  EXPECT_EQ(n.replicas, 5);
  EXPECT_TRUE(n.limited);
  // Once the period passed, 4 more.
  n = h.normalizeWithBehavior("k", b, 5, 10, 1, 20, t0 + 61s);
  EXPECT_EQ(n.replicas, 9);
  n = h.normalizeWithBehavior("k", b, 5, 10, 1, 7, t0 + 62s);
  EXPECT_EQ(n.replicas, 7);
  EXPECT_EQ(n.limitedReason, "TooManyReplicas");
}

TEST(HpaBehavior, StabilizationWindowsPerDirection) {
  HpaHistory h;
  Behavior b{{60, "Max", {{"Percent", 100, 15}}}, {60, "Max", {{"Percent", 100, 15}}}};
  h.recordInitial("k", 2, t0);
  // Scale-up held back to the lowest recommendation of the last 60 s (2).
  auto n = h.normalizeWithBehavior("k", b, 2, 8, 1, 20, t0 + 10s);
  EXPECT_EQ(n.replicas, 2);
  EXPECT_EQ(n.ableReason, "ScaleUpStabilized");
  EXPECT_EQ(n.ableMessage,
            "recent recommendations were lower than current one, applying the lowest recent "
            "recommendation");
  n = h.normalizeWithBehavior("k", b, 2, 8, 1, 20, t0 + 61s);  // 2 left the window; 8 remains
  EXPECT_EQ(n.replicas, 4);                                    // 100 % per 15 s
  EXPECT_EQ(n.ableReason, "ReadyForNewScale");
  EXPECT_EQ(n.limitedReason, "ScaleUpLimit");
  // Scale-down held by the highest of the last 60 s (8).
  n = h.normalizeWithBehavior("k", b, 4, 1, 1, 20, t0 + 70s);
  EXPECT_EQ(n.replicas, 4);
  EXPECT_EQ(n.ableReason, "ScaleDownStabilized");
  n = h.normalizeWithBehavior("k", b, 4, 1, 1, 20, t0 + 200s);
  EXPECT_EQ(n.replicas, 1);
}

TEST(HpaBehavior, ScaleDownPoliciesAndDisabled) {
  HpaHistory h;
  Behavior b{{0, "Max", {{"Percent", 100, 15}}}, {0, "Max", {{"Pods", 1, 60}}}};
  auto n = h.normalizeWithBehavior("k", b, 5, 1, 1, 20, t0);
  EXPECT_EQ(n.replicas, 4);
  EXPECT_EQ(n.limitedReason, "ScaleDownLimit");
  EXPECT_EQ(n.limitedMessage,
            "the desired replica count is decreasing faster than the maximum scale rate");
  h.recordScaleEvent("k", b, 5, 4, t0);
  EXPECT_EQ(h.normalizeWithBehavior("k", b, 4, 1, 1, 20, t0 + 10s).replicas, 4);
  EXPECT_EQ(h.normalizeWithBehavior("k", b, 4, 1, 1, 20, t0 + 61s).replicas, 3);
  b.scaleDown.selectPolicy = "Disabled";
  n = h.normalizeWithBehavior("k", b, 4, 1, 1, 20, t0 + 200s);
  EXPECT_EQ(n.replicas, 4);
  EXPECT_TRUE(n.limited);
  // Below minReplicas is TooFewReplicas when the policy would allow more.
  Behavior fast{{0, "Max", {{"Percent", 100, 15}}}, {0, "Max", {{"Percent", 100, 15}}}};
  n = h.normalizeWithBehavior("j", fast, 5, 0, 2, 20, t0);
  EXPECT_EQ(n.replicas, 2);
  EXPECT_EQ(n.limitedReason, "TooFewReplicas");
}

}  // namespace
}  // namespace skiff::controller::hpa
