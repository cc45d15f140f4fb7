#include "common/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace skiff {
namespace {

TEST(Metrics, CountersRenderInPrometheusTextFormat) {
  Metrics m;
  m.describe("requests_total", "counter", "Requests served.");
  m.increment("requests_total", {{"code", "200"}, {"verb", "GET"}});
  m.increment("requests_total", {{"code", "200"}, {"verb", "GET"}}, 2);
  m.setGauge("objects", 7);
  std::string text = m.render();
  EXPECT_NE(text.find("# TYPE requests_total counter"), std::string::npos);
  EXPECT_NE(text.find("requests_total{code=\"200\",verb=\"GET\"} 3"), std::string::npos);
  EXPECT_NE(text.find("# TYPE objects gauge\nobjects 7"), std::string::npos);
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) m.increment("hits_total", {{"k", "v"}});
    });
  for (auto& t : threads) t.join();
  EXPECT_NE(m.render().find("hits_total{k=\"v\"} 40000"), std::string::npos);
}

}  // namespace
}  // namespace skiff

TEST(Metrics, HistogramRendersCumulativeBuckets) {
  skiff::Metrics m;
  auto buckets = skiff::Metrics::exponentialBuckets(0.001, 10, 3);  // 0.001 0.01 0.1
  ASSERT_EQ(buckets.size(), 3u);
  m.observe("x_seconds", {{"result", "ok"}}, 0.005, buckets);
  m.observe("x_seconds", {{"result", "ok"}}, 0.05, buckets);
  m.observe("x_seconds", {{"result", "ok"}}, 5, buckets);
  auto text = m.render();
  EXPECT_NE(text.find("# TYPE x_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("x_seconds_bucket{result=\"ok\",le=\"0.001\"} 0"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{result=\"ok\",le=\"0.01\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{result=\"ok\",le=\"0.1\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{result=\"ok\",le=\"+Inf\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_count{result=\"ok\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_sum{result=\"ok\"} 5.055"), std::string::npos) << text;
}

// A value on a bound counts in that bucket (le: less or equal); an unlabelled histogram
// renders without braces on _sum/_count; buckets come in increasing order.
TEST(Metrics, HistogramBoundsAreInclusiveAndBucketsOrdered) {
  skiff::Metrics m;
  auto buckets = skiff::Metrics::exponentialBuckets(0.001, 2, 12);  // 0.001 ... 2.048
  m.observe("y_seconds", {}, 0.002, buckets);
  auto text = m.render();
  EXPECT_NE(text.find("y_seconds_bucket{le=\"0.001\"} 0"), std::string::npos) << text;
  EXPECT_NE(text.find("y_seconds_bucket{le=\"0.002\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("y_seconds_count 1"), std::string::npos) << text;
  EXPECT_LT(text.find("le=\"0.256\""), text.find("le=\"1.024\""));
  EXPECT_LT(text.find("le=\"1.024\""), text.find("le=\"2.048\""));
  EXPECT_LT(text.find("le=\"2.048\""), text.find("le=\"+Inf\""));
}
