// The metrics API's pure parts: reading /metrics/resource (upstream's format and names), the
// rate rule between two scrapes, restarts, the per-node memory, and the Quantity/duration
// formats metrics-server writes.
#include "apiserver/metrics_api_parse.h"

#include <gtest/gtest.h>

#include "apiserver/metrics_api.h"
#include "apiserver/metrics_api_store.h"

namespace skiff::apiserver {
namespace {

// A kubelet's /metrics/resource as v1.32 writes it (HELP/TYPE lines, pod_* and scrape_error
// samples the API does not need, labels in its order, exponent notation, ms timestamps).
constexpr const char* kKubeletText =
    R"(# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="coredns",namespace="kube-system",pod="coredns-6799fbcd5-x2vkq"} 12.5 1733500000123
container_cpu_usage_seconds_total{container="burn",namespace="default",pod="burner"} 3.25 1733500000456
container_cpu_usage_seconds_total{container="side",namespace="default",pod="burner"} 0.001 1733500000456
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="coredns",namespace="kube-system",pod="coredns-6799fbcd5-x2vkq"} 1.6945152e+07 1733500000123
container_memory_working_set_bytes{container="burn",namespace="default",pod="burner"} 253952 1733500000456
container_memory_working_set_bytes{container="side",namespace="default",pod="burner"} 4096 1733500000456
# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="coredns",namespace="kube-system",pod="coredns-6799fbcd5-x2vkq"} 1.7334999e+09 1733499900000
container_start_time_seconds{container="burn",namespace="default",pod="burner"} 1.733499950123e+09 1733499950123
# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 4321.75 1733500000789
# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 1.073741824e+09 1733500000789
# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds
# TYPE pod_cpu_usage_seconds_total counter
pod_cpu_usage_seconds_total{namespace="default",pod="burner"} 3.251 1733500000456
# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE resource_scrape_error gauge
resource_scrape_error 0
)";

TEST(MetricsApiParse, ReadsUpstreamKubeletOutput) {
  ScrapeBatch b = parseResourceMetrics(kKubeletText, 42);
  EXPECT_EQ(b.skippedLines, 0u);
  EXPECT_EQ(b.node.cpuMs, 1733500000789);
  EXPECT_DOUBLE_EQ(b.node.cpuSeconds, 4321.75);
  EXPECT_EQ(b.node.memBytes, 1073741824u);
  ASSERT_EQ(b.pods.size(), 2u);
  // Sorted by namespace, then name.
  EXPECT_EQ(b.pods[0].ns, "default");
  EXPECT_EQ(b.pods[0].name, "burner");
  EXPECT_EQ(b.pods[1].ns, "kube-system");
  const PodPoint* burner = b.pod("default", "burner");
  ASSERT_NE(burner, nullptr);
  ASSERT_EQ(burner->containers.size(), 2u);
  EXPECT_EQ(burner->containers[0].name, "burn");
  EXPECT_DOUBLE_EQ(burner->containers[0].cpuSeconds, 3.25);
  EXPECT_EQ(burner->containers[0].cpuMs, 1733500000456);
  EXPECT_EQ(burner->containers[0].memBytes, 253952u);
  EXPECT_EQ(burner->containers[0].startMs, 1733499950123);
  EXPECT_EQ(burner->containers[1].name, "side");
  EXPECT_EQ(burner->containers[1].startMs, 0);  // not reported
  EXPECT_EQ(b.pod("kube-system", "coredns-6799fbcd5-x2vkq")->containers[0].memBytes, 16945152u);
  EXPECT_EQ(b.pod("default", "nope"), nullptr);
}

TEST(MetricsApiParse, ToleratesWhatItCannotRead) {
  const char* text =
      "node_cpu_usage_seconds_total 10\n"                                   // no timestamp: now
      "node_memory_working_set_bytes NaN 1000\n"                            // skipped
      "container_cpu_usage_seconds_total{namespace=\"a\",pod=\"p\"} 1 5\n"  // no container
      "container_cpu_usage_seconds_total{namespace=\"a\",pod=\"p\",container=\"c\" 1 5\n"  // open
      "container_cpu_usage_seconds_total{namespace=\"a\",pod=\"p\",container=\"c\"} -1 5\n"
      "container_cpu_usage_seconds_total{namespace=\"a\",pod=\"p\",container=\"c\"} 1 x\n"
      "container_memory_working_set_bytes{ pod = \"p\" , namespace=\"a\", container=\"c\", } "
      "   2048   7   \r\n"  // spaces, trailing comma, CRLF
      "container_memory_working_set_bytes{namespace=\"we\\\"ird\",pod=\"q\",container=\"c\"} "
      "1 7\n"
      "garbage line without value\n"
      "some_other_metric{a=\"b\"} 1 2\n"
      "\n   \n";
  ScrapeBatch b = parseResourceMetrics(text, 99);
  EXPECT_EQ(b.node.cpuMs, 99);
  EXPECT_DOUBLE_EQ(b.node.cpuSeconds, 10);
  EXPECT_FALSE(b.node.hasMemory());
  EXPECT_EQ(b.skippedLines, 5u);
  ASSERT_EQ(b.pods.size(), 2u);
  const PodPoint* p = b.pod("a", "p");
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(p->containers[0].hasCpu());
  EXPECT_EQ(p->containers[0].memBytes, 2048u);
  EXPECT_NE(b.pod("we\"ird", "q"), nullptr);
  EXPECT_EQ(parseResourceMetrics("", 1).pods.size(), 0u);
}

ScrapeBatch batch(int64_t ms, double nodeCpu, double burnCpu, int64_t startMs = 1000) {
  ScrapeBatch b;
  b.node = {ms, nodeCpu, ms, 1 << 30};
  PodPoint p;
  p.ns = "default";
  p.name = "burner";
  p.containers.push_back(ContainerPoint{"burn", startMs, ms, burnCpu, ms, 1 << 20});
  b.pods.push_back(std::move(p));
  return b;
}

TEST(MetricsApiStore, RateNeedsTwoPoints) {
  EXPECT_EQ(cpuNanocores(1000, 1.0, 3000, 2.0), 500000000);
  EXPECT_EQ(cpuNanocores(1000, 2.0, 3000, 1.0), std::nullopt);  // counter went down
  EXPECT_EQ(cpuNanocores(3000, 1.0, 3000, 2.0), std::nullopt);  // same time
  EXPECT_EQ(cpuNanocores(0, 0, 3000, 2.0), std::nullopt);       // no previous point

  MetricsStore s;
  s.store("n1", batch(10000, 100, 5));
  EXPECT_FALSE(s.nodeUsage("n1"));
  EXPECT_FALSE(s.podUsage("n1", "default", "burner"));
  s.store("n1", batch(25000, 115, 5.75));
  auto node = s.nodeUsage("n1");
  ASSERT_TRUE(node);
  EXPECT_EQ(node->usage.nanocores, 1000000000);
  EXPECT_EQ(node->usage.memoryBytes, 1u << 30);
  EXPECT_EQ(node->windowMs, 15000);
  EXPECT_EQ(node->timestampMs, 25000);
  auto pod = s.podUsage("n1", "default", "burner");
  ASSERT_TRUE(pod);
  ASSERT_EQ(pod->containers.size(), 1u);
  EXPECT_EQ(pod->containers[0].first, "burn");
  EXPECT_EQ(pod->containers[0].second.nanocores, 50000000);  // 0.75 s over 15 s
  EXPECT_EQ(pod->windowMs, 15000);
  EXPECT_FALSE(s.podUsage("n1", "default", "other"));
  EXPECT_FALSE(s.podUsage("n2", "default", "burner"));

  // The kubelet answered from its cache (same timestamps): the earlier point stays the
  // previous one, so the rate is still there.
  s.store("n1", batch(25000, 115, 5.75));
  ASSERT_TRUE(s.nodeUsage("n1"));
  EXPECT_EQ(s.nodeUsage("n1")->windowMs, 15000);
  s.store("n1", batch(40000, 145, 7.25));
  EXPECT_EQ(s.nodeUsage("n1")->usage.nanocores, 2000000000);
  EXPECT_EQ(s.podUsage("n1", "default", "burner")->containers[0].second.nanocores, 100000000);

  s.retain({"n2"});
  EXPECT_FALSE(s.nodeUsage("n1"));
  EXPECT_EQ(s.nodeCount(), 0u);
}

TEST(MetricsApiStore, RestartedContainerWaitsForTwoPointsOfItsNewLife) {
  MetricsStore s;
  s.store("n1", batch(10000, 100, 50));
  s.store("n1", batch(20000, 110, 55));
  ASSERT_TRUE(s.podUsage("n1", "default", "burner"));
  // Restarted: a new start time and a counter from zero.
  s.store("n1", batch(30000, 120, 0.5, 25000));
  EXPECT_FALSE(s.podUsage("n1", "default", "burner"));
  EXPECT_TRUE(s.nodeUsage("n1"));
  s.store("n1", batch(40000, 130, 1.5, 25000));
  auto pod = s.podUsage("n1", "default", "burner");
  ASSERT_TRUE(pod);
  EXPECT_EQ(pod->containers[0].second.nanocores, 100000000);
}

TEST(MetricsApiStore, MemoryPerNodeIsSmall) {
  // 30 pods of 2 containers with realistic names, two points each: what one node costs.
  auto make = [](int64_t ms) {
    ScrapeBatch b;
    b.node = {ms, 1.0 * ms, ms, 1 << 30};
    for (int i = 0; i < 30; ++i) {
      PodPoint p;
      p.ns = "team-payments-prod";
      p.name = "checkout-api-7d9f8c6b5d-" + std::to_string(10000 + i);
      for (const char* c : {"checkout-api", "istio-proxy"})
        p.containers.push_back(ContainerPoint{c, 1000, ms, 0.001 * ms, ms, 1 << 24});
      b.pods.push_back(std::move(p));
    }
    return b;
  };
  MetricsStore s;
  s.store("node-000001", make(10000));
  s.store("node-000001", make(25000));
  const size_t bytes = s.bytes();
  // metrics-server documents up to 2 MB per node; this keeps a few KB.
  EXPECT_LT(bytes, 32u * 1024) << bytes;
  EXPECT_GT(bytes, 4u * 1024) << bytes;
  std::printf("metrics store: %zu bytes for 1 node, 30 pods, 60 containers\n", bytes);
}

TEST(MetricsApiFormat, QuantitiesAndDurationsAsMetricsServer) {
  EXPECT_EQ(cpuQuantity(12345), "12345n");
  EXPECT_EQ(cpuQuantity(0), "0");
  EXPECT_EQ(cpuQuantity(500000000), "500m");
  EXPECT_EQ(cpuQuantity(1234567890), "1234567890n");
  EXPECT_EQ(memoryQuantity(1234 * 1024), "1234Ki");
  EXPECT_EQ(memoryQuantity(1000), "1k");  // under 1024: DecimalSI, as Go canonicalizes
  EXPECT_EQ(memoryQuantity(1234567), "1234567");
  EXPECT_EQ(memoryQuantity(64u << 20), "64Mi");
  EXPECT_EQ(goDuration(15011), "15.011s");
  EXPECT_EQ(goDuration(15000), "15s");
  EXPECT_EQ(goDuration(15100), "15.1s");
  EXPECT_EQ(goDuration(60000), "1m0s");
  EXPECT_EQ(goDuration(3600000), "1h0m0s");
  EXPECT_EQ(goDuration(500), "500ms");
  EXPECT_EQ(goDuration(0), "0s");
}

}  // namespace
}  // namespace skiff::apiserver
