// Synthetic usage of hollow pods: annotations, defaults and counters growing at the rate.
#include "agent/hollow_usage.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace skiff::agent {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

json::object podWith(json::object annotations) {
  return json::object{{"metadata", json::object{{"name", "p"}, {"annotations", annotations}}}};
}

TEST(SyntheticUsage, QuantitiesAndAnnotations) {
  EXPECT_EQ(parseCpuNanoCores("250m"), 250'000'000u);
  EXPECT_EQ(parseCpuNanoCores("1.5"), 1'500'000'000u);
  EXPECT_EQ(parseCpuNanoCores("0"), 0u);
  EXPECT_FALSE(parseCpuNanoCores("-1"));
  EXPECT_FALSE(parseCpuNanoCores("lots"));
  EXPECT_EQ(parseMemoryBytes("64Mi"), 64u << 20);
  EXPECT_EQ(parseMemoryBytes("1G"), 1'000'000'000u);
  EXPECT_FALSE(parseMemoryBytes("64MB"));

  SyntheticPodUsage defaults{10'000'000, 1024};
  auto u = syntheticUsageOf(
      podWith({{kSyntheticCpuAnnotation, "250m"}, {kSyntheticMemoryAnnotation, "64Mi"}}), defaults);
  EXPECT_EQ(u.cpuNanoCores, 250'000'000u);
  EXPECT_EQ(u.memoryBytes, 64u << 20);
  // A malformed annotation falls back to the default; so does a missing one.
  u = syntheticUsageOf(podWith({{kSyntheticCpuAnnotation, "fast"}}), defaults);
  EXPECT_EQ(u.cpuNanoCores, 10'000'000u);
  EXPECT_EQ(u.memoryBytes, 1024u);
  u = syntheticUsageOf(json::object{{"metadata", 5}}, defaults);  // junk: no crash
  EXPECT_EQ(u.cpuNanoCores, 10'000'000u);
}

TEST(SyntheticUsage, CountersGrowAtTheirRate) {
  SyntheticCounters c;
  auto t0 = SyntheticCounters::Clock::time_point{} + std::chrono::hours(1000);
  // A new key starts as if it had run since `since`.
  EXPECT_EQ(c.advance("p", 250'000'000, t0, t0 - 4s), 1'000'000'000u);
  EXPECT_EQ(c.advance("p", 250'000'000, t0 + 2s, t0), 1'500'000'000u);
  // The rate changes: the next interval grows at the new one, the past stays.
  EXPECT_EQ(c.advance("p", 1'000'000'000, t0 + 4s, t0), 2'000'000'000u);
  EXPECT_EQ(c.advance("p", 1'000'000'000, t0 + 5s, t0), 3'000'000'000u);
  // Time going backwards never lowers the counter.
  EXPECT_EQ(c.advance("p", 1'000'000'000, t0 + 1s, t0), 3'000'000'000u);
  EXPECT_EQ(c.size(), 1u);
  c.prune(60s, t0 + 120s);
  EXPECT_EQ(c.size(), 0u);
}

}  // namespace
}  // namespace skiff::agent
