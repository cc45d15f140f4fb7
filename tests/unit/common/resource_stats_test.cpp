// The /metrics/resource text and /stats/summary JSON renderings.
#include "common/resource_stats.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

using namespace skiff;

namespace {

NodeResourceStats sampleStats() {
  NodeResourceStats s;
  s.nodeName = "n1";
  s.startTimeMs = 1767225600000;  // 2026-01-01T00:00:00Z
  s.usage.timeMs = 1767225660123;
  s.usage.cpuCoreNanos = 254'050'927'655;
  s.usage.cpuNanoCores = 1'500'000'000;
  s.usage.workingSetBytes = 863531008;
  s.usage.availableBytes = 1000;
  PodResourceStats p;
  p.ns = "default";
  p.name = "web";
  p.uid = "u1";
  p.startTimeMs = 1767225601000;
  p.usage.timeMs = 1767225660123;
  p.usage.cpuCoreNanos = 3'000'000'000;
  p.usage.workingSetBytes = 2048;
  ContainerResourceStats b{"b", 1767225602500, p.usage};
  b.usage.cpuCoreNanos = 2'000'000'000;
  ContainerResourceStats a{"a", 1767225602000, p.usage};
  a.usage.cpuCoreNanos = 1'000'000'000;
  a.usage.cpuNanoCores = 250'000'000;
  p.containers = {b, a};
  PodResourceStats other = p;
  other.ns = "a-ns";
  other.name = "x\"y";  // label values are escaped
  other.containers.clear();
  s.pods = {p, other};
  return s;
}

TEST(ResourceMetrics, UpstreamNamesLabelsAndTimestamps) {
  auto text = renderResourceMetrics(sampleStats());
  for (const char* family :
       {"container_cpu_usage_seconds_total counter", "container_memory_working_set_bytes gauge",
        "container_start_time_seconds gauge", "node_cpu_usage_seconds_total counter",
        "node_memory_working_set_bytes gauge", "pod_cpu_usage_seconds_total counter",
        "pod_memory_working_set_bytes gauge", "resource_scrape_error gauge"})
    EXPECT_NE(text.find(std::string("# TYPE ") + family + "\n"), std::string::npos) << family;
  EXPECT_NE(text.find("# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed "
                      "by the node in core-seconds\n"),
            std::string::npos);
  EXPECT_NE(text.find("container_cpu_usage_seconds_total{container=\"a\",namespace=\"default\","
                      "pod=\"web\"} 1 1767225660123\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("container_start_time_seconds{container=\"b\",namespace=\"default\","
                      "pod=\"web\"} 1.7672256025e+09 1767225602500\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("node_cpu_usage_seconds_total 254.050927655 1767225660123\n"),
            std::string::npos);
  EXPECT_NE(text.find("pod_memory_working_set_bytes{namespace=\"a-ns\",pod=\"x\\\"y\"} 2048 "
                      "1767225660123\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nresource_scrape_error 0\n"), std::string::npos);
  // Series sorted by label values: container a before b, namespace a-ns before default.
  EXPECT_LT(text.find("{container=\"a\""), text.find("{container=\"b\""));
  EXPECT_LT(text.find("pod_cpu_usage_seconds_total{namespace=\"a-ns\""),
            text.find("pod_cpu_usage_seconds_total{namespace=\"default\""));
  // Families in name order.
  EXPECT_LT(text.find("# TYPE container_start_time_seconds"),
            text.find("# TYPE node_cpu_usage_seconds_total"));
  EXPECT_LT(text.find("# TYPE pod_memory_working_set_bytes"),
            text.find("# TYPE resource_scrape_error"));
}

TEST(ResourceMetrics, IncompleteContainersAreLeftOutAndErrorsReported) {
  auto s = sampleStats();
  s.pods[0].containers[0].usage.workingSetBytes.reset();
  s.scrapeError = true;
  auto text = renderResourceMetrics(s);
  EXPECT_EQ(text.find("container=\"b\""), std::string::npos);
  EXPECT_NE(text.find("container=\"a\""), std::string::npos);
  EXPECT_NE(text.find("\nresource_scrape_error 1\n"), std::string::npos);
  NodeResourceStats empty;
  auto e = renderResourceMetrics(empty);
  EXPECT_EQ(e.find("node_cpu_usage_seconds_total "), std::string::npos);  // no sample, no crash
  EXPECT_NE(e.find("resource_scrape_error 0"), std::string::npos);
}

TEST(StatsSummary, ShapeAsUpstream) {
  auto j = renderStatsSummary(sampleStats());
  auto& node = j.at("node").as_object();
  EXPECT_EQ(node.at("nodeName").as_string(), "n1");
  EXPECT_EQ(node.at("startTime").as_string(), "2026-01-01T00:00:00Z");
  EXPECT_EQ(node.at("cpu").at("usageNanoCores").as_uint64(), 1'500'000'000u);
  EXPECT_EQ(node.at("cpu").at("time").as_string(), "2026-01-01T00:01:00Z");
  EXPECT_EQ(node.at("memory").at("availableBytes").as_uint64(), 1000u);
  auto& pod = j.at("pods").as_array().at(0).as_object();
  EXPECT_EQ(pod.at("podRef").at("uid").as_string(), "u1");
  EXPECT_EQ(pod.at("cpu").at("usageCoreNanoSeconds").as_uint64(), 3'000'000'000u);
  EXPECT_FALSE(pod.at("cpu").as_object().contains("usageNanoCores"));  // no rate yet
  auto& c = pod.at("containers").as_array().at(1).as_object();
  EXPECT_EQ(c.at("name").as_string(), "a");
  EXPECT_EQ(c.at("startTime").as_string(), "2026-01-01T00:00:02Z");
  EXPECT_EQ(c.at("cpu").at("usageNanoCores").as_uint64(), 250'000'000u);
  EXPECT_EQ(c.at("memory").at("workingSetBytes").as_uint64(), 2048u);
}

}  // namespace

namespace {
TEST(ResourceMetrics, ValuesFormattedAsGo) {
  NodeResourceStats s;
  s.usage.timeMs = 1;
  s.usage.cpuCoreNanos = 500'000'000;  // 0.5
  s.usage.workingSetBytes = 67108864;  // 64Mi: exponent form, as Go's 'g'
  auto text = renderResourceMetrics(s);
  EXPECT_NE(text.find("node_cpu_usage_seconds_total 0.5 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("node_memory_working_set_bytes 6.7108864e+07 1\n"), std::string::npos);
  s.usage.workingSetBytes = 123456;
  s.usage.cpuCoreNanos = 10'000;  // 1e-05
  text = renderResourceMetrics(s);
  EXPECT_NE(text.find("node_memory_working_set_bytes 123456 1\n"), std::string::npos);
  EXPECT_NE(text.find("node_cpu_usage_seconds_total 1e-05 1\n"), std::string::npos) << text;
}
}  // namespace
