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
