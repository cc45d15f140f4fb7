#include "common/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <ctime>
#include <limits>
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

namespace skiff {
namespace {

// Label values escape backslash, double quote and newline; HELP escapes backslash and newline.
TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  Metrics m;
  m.describe("odd_total", "counter", "Line one\nwith \\ a backslash");
  m.increment("odd_total", {{"path", "C:\\dir"}, {"msg", "say \"hi\"\nbye"}});
  std::string text = m.render();
  EXPECT_NE(text.find("# HELP odd_total Line one\\nwith \\\\ a backslash\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("odd_total{path=\"C:\\\\dir\",msg=\"say \\\"hi\\\"\\nbye\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(Metrics::escapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(Metrics, SpecialValuesUsePrometheusSpelling) {
  EXPECT_EQ(Metrics::formatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(Metrics::formatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(Metrics::formatValue(std::nan("")), "NaN");
  EXPECT_EQ(Metrics::formatValue(3), "3");
  EXPECT_EQ(Metrics::formatValue(0.25), "0.25");
}

// Every family gets HELP and TYPE exactly once, before its samples, even when undescribed;
// families described but never used are left out.
TEST(Metrics, EveryFamilyHasHelpAndTypeOnce) {
  Metrics m;
  m.increment("a_total", {{"k", "1"}});
  m.increment("a_total", {{"k", "2"}});
  m.describe("unused_total", "counter", "never incremented");
  std::string text = m.render();
  EXPECT_EQ(text.find("# HELP a_total"), 0u) << text;
  EXPECT_EQ(text.find("# TYPE a_total counter"), text.rfind("# TYPE a_total counter"));
  EXPECT_LT(text.find("# TYPE a_total counter"), text.find("a_total{k=\"1\"} 1"));
  EXPECT_EQ(text.find("unused_total"), std::string::npos) << text;
}

// The +Inf bucket equals _count; a bucket count never decreases along the bounds.
TEST(Metrics, HistogramInfBucketEqualsCountAndIsMonotonic) {
  Metrics m;
  std::vector<double> buckets = {0.1, 1, 10};
  for (double v : {0.05, 0.1, 0.5, 2.0, 20.0, 200.0})
    m.observe("h_seconds", {{"verb", "GET"}}, v, buckets);
  std::string text = m.render();
  EXPECT_NE(text.find("h_seconds_bucket{verb=\"GET\",le=\"0.1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_bucket{verb=\"GET\",le=\"1\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_bucket{verb=\"GET\",le=\"10\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_bucket{verb=\"GET\",le=\"+Inf\"} 6\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_count{verb=\"GET\"} 6\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_sum{verb=\"GET\"} 222.65\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE h_seconds histogram\n"), std::string::npos);
}

TEST(Metrics, LabelledGaugesSetAndRemove) {
  Metrics m;
  m.describe("depth", "gauge", "Depth.");
  m.setGauge("depth", {{"name", "a"}}, 4);
  m.setGauge("depth", {{"name", "b"}}, 2);
  m.increment("depth", {{"name", "a"}}, -1);
  m.remove("depth", {{"name", "b"}});
  std::string text = m.render();
  EXPECT_NE(text.find("depth{name=\"a\"} 3\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("name=\"b\""), std::string::npos) << text;
}

// A collector's family is computed per scrape, merged in name order, and gone once its
// handle is destroyed.
TEST(Metrics, CollectorsRenderUntilTheirHandleGoes) {
  Metrics m;
  m.increment("zz_total", {});
  int calls = 0;
  {
    auto handle = m.collect("objects", "gauge", "Objects stored.", [&calls] {
      ++calls;
      return std::vector<MetricSample>{{{{"resource", "pods"}}, 3}, {{{"resource", "nodes"}}, 1}};
    });
    std::string text = m.render();
    EXPECT_NE(
        text.find(
            "# HELP objects Objects stored.\n# TYPE objects gauge\nobjects{resource=\"pods\"} 3\n"
            "objects{resource=\"nodes\"} 1\n"),
        std::string::npos)
        << text;
    EXPECT_LT(text.find("objects{"), text.find("zz_total"));
    EXPECT_EQ(calls, 1);
  }
  EXPECT_EQ(m.render().find("objects"), std::string::npos);
  EXPECT_EQ(calls, 1);
}

TEST(Metrics, ProcessMetricsArePlausible) {
  Metrics m(true);
  std::string text = m.render();
  for (const char* name :
       {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds",
        "process_open_fds", "process_max_fds", "process_virtual_memory_bytes"})
    EXPECT_NE(text.find(std::string("# TYPE ") + name), std::string::npos) << name;
  auto value = [&](const std::string& name) {
    auto pos = text.find("\n" + name + " ");
    EXPECT_NE(pos, std::string::npos) << name;
    return std::stod(text.substr(pos + name.size() + 2));
  };
  EXPECT_GT(value("process_resident_memory_bytes"), 1e5);
  double start = value("process_start_time_seconds");
  double now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(start, now - 3600);
  EXPECT_LE(start, now + 2);
  EXPECT_GE(value("process_open_fds"), 3);
  EXPECT_EQ(Metrics().render().find("process_"), std::string::npos);
}

}  // namespace
}  // namespace skiff
