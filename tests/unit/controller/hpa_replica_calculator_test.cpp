// The HPA replica calculator's rules (upstream's replica_calculator_test.go cases, reduced):
// tolerance, missing samples, not-yet-ready pods, ignored pods, requests, AverageValue.
#include "controller/hpa_replica_calculator.h"

#include <gtest/gtest.h>

#include "unit/controller/hpa_test_util.h"

namespace skiff::controller::hpa {
namespace {

using namespace std::chrono_literals;
namespace t = testing::hpa;
namespace json = boost::json;
using t::PodSpec;

const Clock::WallTime kNow = FakeClock::defaultStart() + 24h;

struct Fixture {
  std::vector<json::object> pods;
  PodMetricsInfo metrics;
  CalculatorOptions options;

  // A pod started 10 min ago and ready since 9 min ago (past the CPU initialization period).
  void add(PodSpec p, std::optional<int64_t> usageMilli) {
    if (p.start == Clock::WallTime{}) p.start = kNow - 10min;
    if (p.transition == Clock::WallTime{}) p.transition = kNow - 9min;
    pods.push_back(t::pod(p));
    if (usageMilli) metrics[p.name] = PodMetric{*usageMilli, kNow - 5s, 15s};
  }
  std::vector<const json::object*> ptrs() const {
    std::vector<const json::object*> out;
    for (const auto& p : pods) out.push_back(&p);
    return out;
  }
  ReplicaProposal utilization(int32_t current, int32_t target) {
    return resourceReplicas(current, target, "cpu", "", metrics, ptrs(), options, kNow);
  }
};

TEST(HpaReplicaCalculator, ScalesUpByTheRatioOfUsageToTarget) {
  Fixture f;
  for (auto n : {"a", "b", "c"}) f.add({.name = n}, 900);  // 90 % of 1 cpu, target 50 %
  auto p = f.utilization(3, 50);
  EXPECT_EQ(p.replicas, 6);  // ceil(1.8 × 3)
  EXPECT_EQ(p.utilization, 90);
  EXPECT_EQ(p.rawAverage, 900);
}

TEST(HpaReplicaCalculator, WithinToleranceKeepsTheScale) {
  Fixture f;
  for (auto n : {"a", "b", "c"}) f.add({.name = n}, 540);  // ratio 1.08
  EXPECT_EQ(f.utilization(3, 50).replicas, 3);
  f.options.tolerance = 0.05;
  EXPECT_EQ(f.utilization(3, 50).replicas, 4);  // ceil(1.08 × 3)
}

TEST(HpaReplicaCalculator, ScalesDown) {
  Fixture f;
  for (auto n : {"a", "b", "c", "d"}) f.add({.name = n}, 100);  // 10 % of 50 %
  EXPECT_EQ(f.utilization(4, 50).replicas, 1);                  // ceil(0.2 × 4)
}

TEST(HpaReplicaCalculator, MissingSamplesCountAsFullRequestOnScaleDown) {
  Fixture f;
  for (auto n : {"a", "b", "c"}) f.add({.name = n}, 100);
  f.add({.name = "d"}, std::nullopt);
  // Without the rule: ceil(0.2 × 3) = 1. With d at 100 %: (300 + 1000) / 4000 = 32 %.
  auto p = f.utilization(4, 50);
  EXPECT_EQ(p.replicas, 3);  // ceil(0.64 × 4)
  EXPECT_EQ(p.utilization, 10);
}

TEST(HpaReplicaCalculator, MissingSamplesCountAsZeroOnScaleUpAndMayCancelIt) {
  Fixture f;
  f.add({.name = "a"}, 1000);  // 200 % of the 50 % target
  for (auto n : {"b", "c", "d"}) f.add({.name = n}, std::nullopt);
  // With b, c, d at 0: 25 % → ratio 0.5 points down: no change rather than a scale-down.
  EXPECT_EQ(f.utilization(4, 50).replicas, 4);

  Fixture g;
  g.add({.name = "a"}, 1000);
  g.add({.name = "b"}, 1000);
  g.add({.name = "c"}, std::nullopt);           // 2000 / 3000 = 66 % → 1.32
  EXPECT_EQ(g.utilization(3, 50).replicas, 4);  // ceil(1.32 × 3)
}

TEST(HpaReplicaCalculator, MissingSamplesOnScaleDownUseTheTargetAbove100Percent) {
  Fixture f;
  f.add({.name = "a"}, 200);  // 20 % of a 150 % target
  f.add({.name = "b"}, std::nullopt);
  // b counts as 150 %: (200 + 1500) / 2000 = 85 % → 0.566 → ceil(1.13) = 2: no change.
  EXPECT_EQ(f.utilization(2, 150).replicas, 2);
}

TEST(HpaReplicaCalculator, PendingPodsCountAsZeroOnScaleUp) {
  Fixture f;
  f.add({.name = "a"}, 600);
  f.add({.name = "b"}, 600);
  f.add({.name = "c", .phase = "Pending"}, std::nullopt);
  // 120 % of target over the ready pods, but with c at 0: 1200/3000 = 40 %: direction flips.
  EXPECT_EQ(f.utilization(3, 50).replicas, 3);

  Fixture g;
  g.add({.name = "a"}, 1000);
  g.add({.name = "b"}, 1000);
  g.add({.name = "c", .phase = "Pending"}, std::nullopt);
  EXPECT_EQ(g.utilization(3, 50).replicas, 4);  // 2000/3000 = 66 % → ceil(1.32 × 3)
}

TEST(HpaReplicaCalculator, PendingPodsDoNotHoldBackAScaleDown) {
  Fixture f;
  f.add({.name = "a"}, 100);
  f.add({.name = "b"}, 100);
  f.add({.name = "c", .phase = "Pending"}, std::nullopt);
  EXPECT_EQ(f.utilization(3, 50).replicas, 1);  // ceil(0.2 × 2): only ready pods count
}

TEST(HpaReplicaCalculator, CpuSamplesOfStartingPodsAreIgnored) {
  Fixture f;
  f.add({.name = "a"}, 1000);
  // Started a minute ago, ready 10 s ago, sampled 5 s ago over a 15 s window: the sample
  // may include start-up work, so b counts as unready (0 on a scale-up).
  f.add({.name = "b", .start = kNow - 1min, .transition = kNow - 10s}, 3000);
  EXPECT_EQ(f.utilization(2, 50).replicas, 2);  // (1000 + 0) / 2000 = 50 %: within tolerance
  // The same pod ready a minute ago: its sample counts.
  Fixture g;
  g.add({.name = "a"}, 1000);
  g.add({.name = "b", .start = kNow - 2min, .transition = kNow - 1min}, 3000);
  EXPECT_EQ(g.utilization(2, 50).replicas, 8);  // 200 % average → ceil(4 × 2)
}

TEST(HpaReplicaCalculator, UnreadyPodsThatWereNeverReadyAreIgnoredAfterInitialization) {
  Fixture f;
  f.add({.name = "a"}, 1000);
  // Unready, and its Ready condition last changed within 30 s of its start: never ready.
  f.add({.name = "b", .ready = false, .transition = kNow - 10min + 10s}, 2000);
  EXPECT_EQ(f.utilization(2, 50).replicas, 2);  // b at 0: 1000/2000 = 50 %
  // Unready after having been ready (a later transition): its sample counts.
  Fixture g;
  g.add({.name = "a"}, 1000);
  g.add({.name = "b", .ready = false, .transition = kNow - 5min}, 2000);
  EXPECT_EQ(g.utilization(2, 50).replicas, 6);  // 150 % → 3 × 2
}

TEST(HpaReplicaCalculator, DeletedAndFailedPodsAreIgnored) {
  Fixture f;
  f.add({.name = "a"}, 500);
  f.add({.name = "b", .phase = "Failed"}, std::nullopt);
  f.add({.name = "c", .deleting = true}, 5000);
  EXPECT_EQ(f.utilization(1, 50).replicas, 1);  // only a, at target; c's sample dropped
}

TEST(HpaReplicaCalculator, Errors) {
  Fixture none;
  try {
    none.utilization(1, 50);
    FAIL();
  } catch (const HpaError& e) {
    EXPECT_STREQ(e.what(), "no pods returned by selector while calculating replica count");
  }

  Fixture unready;
  unready.add({.name = "a", .phase = "Pending"}, std::nullopt);
  try {
    unready.utilization(1, 50);
    FAIL();
  } catch (const HpaError& e) {
    EXPECT_STREQ(e.what(), "did not receive metrics for targeted pods (pods might be unready)");
  }

  Fixture noRequest;
  noRequest.add({.name = "a", .cpuRequest = ""}, 100);
  try {
    noRequest.utilization(1, 50);
    FAIL();
  } catch (const HpaError& e) {
    EXPECT_STREQ(e.what(), "missing request for cpu in container c of Pod a");
  }
}

TEST(HpaReplicaCalculator, AverageValueTargets) {
  Fixture f;
  f.add({.name = "a"}, 1000);
  f.add({.name = "b"}, 1000);
  auto p = rawResourceReplicas(2, 500, "cpu", f.metrics, f.ptrs(), f.options, kNow);
  EXPECT_EQ(p.replicas, 4);
  EXPECT_EQ(p.rawAverage, 1000);
  EXPECT_EQ(rawResourceReplicas(2, 950, "cpu", f.metrics, f.ptrs(), f.options, kNow).replicas, 2);
  // A missing sample on a scale-down counts as the target.
  f.add({.name = "c"}, std::nullopt);
  // (1000 + 1000 + 4000) / 3 = 2000 → ratio 0.5 → ceil(0.5 × 3); without it ceil(0.25 × 2) = 1.
  EXPECT_EQ(rawResourceReplicas(3, 4000, "cpu", f.metrics, f.ptrs(), f.options, kNow).replicas, 2);
}

TEST(HpaReplicaCalculator, PodMetricsFromTheMetricsApi) {
  json::object list = t::podMetrics({{"a", "250m"}, {"b", "1500000000n"}}, kNow, "1m0s");
  auto m = podMetricsFromList(list, "cpu");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m["a"].value, 250);
  EXPECT_EQ(m["b"].value, 1500);
  EXPECT_EQ(m["a"].window, 60s);
  EXPECT_EQ(m["a"].timestamp, kNow);
  EXPECT_EQ(podMetricsFromList(list, "memory")["a"].value, 10LL * 1024 * 1024 * 1000);
  // A pod missing the resource is left out; a named container is taken alone.
  list["items"].as_array()[0].as_object()["containers"].as_array()[0].as_object()["usage"] =
      json::object{{"memory", "1Mi"}};
  EXPECT_EQ(podMetricsFromList(list, "cpu").count("a"), 0u);
  EXPECT_EQ(podMetricsFromList(list, "cpu", "c").at("b").value, 1500);
  EXPECT_THROW(podMetricsFromList(list, "cpu", "other"), HpaError);
  try {
    podMetricsFromList(json::object{{"items", json::array{}}}, "cpu");
    FAIL();
  } catch (const HpaError& e) {
    EXPECT_STREQ(e.what(), "no metrics returned from resource metrics API");
  }
}

}  // namespace
}  // namespace skiff::controller::hpa
