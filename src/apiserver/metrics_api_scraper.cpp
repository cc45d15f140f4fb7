#include "apiserver/metrics_api_scraper.h"

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <vector>

#include "api/json_access.h"
#include "api/resource_registry.h"
#include "apiserver/kubelet_proxy.h"
#include "apiserver/metrics_api_store.h"
#include "apiserver/resource_store.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/thread_name.h"

namespace skiff::apiserver {

namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

MetricsScraper::MetricsScraper(ResourceStore& resources, KubeletProxy& kubelets,
                               MetricsStore& store, MetricsApiOptions options)
    : resources_(resources), kubelets_(kubelets), store_(store), options_(options) {
  auto& m = Metrics::global();
  m.describe("skiff_metrics_scrape_duration_seconds", "gauge",
             "How long the last scrape of every node's /metrics/resource took");
  m.describe("skiff_metrics_scrape_nodes", "gauge",
             "Nodes in the last scrape pass, by result (success, failure)");
  m.describe("skiff_metrics_scrape_bytes", "gauge",
             "Response bytes read from kubelets in the last scrape pass");
  m.describe("skiff_metrics_store_bytes", "gauge",
             "Memory the metrics API holds for the points of all nodes");
}

MetricsScraper::~MetricsScraper() { stop(); }

void MetricsScraper::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void MetricsScraper::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MetricsScraper::run() {
  setThreadName("metrics-scrape");
  std::unique_lock lock(mu_);
  while (!stopping_) {
    // As metrics-server: the first pass right away, then one per resolution from its start.
    const auto started = std::chrono::steady_clock::now();
    lock.unlock();
    try {
      scrapeOnce();
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("metrics scrape pass failed: {}", e.what());
    }
    lock.lock();
    cv_.wait_until(lock, started + options_.resolution, [this] { return stopping_; });
  }
}

ScrapeStats MetricsScraper::scrapeOnce() {
  const auto started = std::chrono::steady_clock::now();
  const auto* info = api::ResourceRegistry::builtin().find("", "v1", "nodes");
  auto page = resources_.cache(*info).list(resources_.listPrefix(*info, ""), "", 0, nullptr, 0);
  std::vector<ObjectPtr> nodes;
  nodes.reserve(page.items.size());
  for (auto& [key, obj] : page.items) nodes.push_back(std::move(obj));

  // metrics-server's scrape timeout: 90 % of the resolution.
  const auto timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.resolution * 9 / 10);
  std::atomic<size_t> next{0}, succeeded{0}, bytes{0};
  std::mutex resultMu;
  std::set<std::string> ok, failedNow;
  std::vector<std::pair<std::string, std::string>> errors;  // node, message
  auto worker = [&] {
    for (size_t i; (i = next++) < nodes.size();) {
      const auto& node = *nodes[i];
      const std::string name = api::stringAt(node, {"metadata", "name"});
      try {
        std::string body =
            kubelets_.getWhole(node, "/metrics/resource", timeout, options_.maxBodyBytes);
        bytes += body.size();
        ScrapeBatch batch = parseResourceMetrics(body, nowMs());
        if (batch.skippedLines > 0)
          SKIFF_LOG_DEBUG("metrics scrape node={} skipped {} malformed lines", name,
                          batch.skippedLines);
        store_.store(name, std::move(batch));
        ++succeeded;
        std::lock_guard lock(resultMu);
        ok.insert(name);
      } catch (const std::exception& e) {
        std::lock_guard lock(resultMu);
        failedNow.insert(name);
        errors.emplace_back(name, e.what());
      }
    }
  };
  const size_t threads = std::min(options_.parallelism, nodes.size());
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  if (threads > 0) worker();  // this thread is one of them
  for (auto& t : pool) t.join();

  // Failed and deleted nodes lose their points (two new ones are needed for a rate).
  store_.retain(ok);
  std::set<std::string> names;
  for (const auto& n : nodes) names.insert(api::stringAt(*n, {"metadata", "name"}));
  kubelets_.retainSessions(names);

  ScrapeStats stats;
  stats.nodes = nodes.size();
  stats.succeeded = succeeded;
  stats.failed = nodes.size() - stats.succeeded;
  stats.bytesRead = bytes;
  stats.storeBytes = store_.bytes();
  stats.took = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  {
    std::lock_guard lock(mu_);
    // A node's failure is logged when it starts failing, its recovery when it ends: a dead
    // node among thousands does not write a line every resolution.
    for (const auto& [name, message] : errors)
      if (!failing_.count(name))
        SKIFF_LOG_WARN("metrics scrape failed node={} error={}", name, message);
    for (const auto& name : failing_)
      if (ok.count(name)) SKIFF_LOG_INFO("metrics scrape recovered node={}", name);
    failing_ = std::move(failedNow);
    last_ = stats;
  }
  auto& m = Metrics::global();
  m.setGauge("skiff_metrics_scrape_duration_seconds",
             static_cast<double>(stats.took.count()) / 1e6);
  m.setGauge("skiff_metrics_scrape_nodes", {{"result", "success"}},
             static_cast<double>(stats.succeeded));
  m.setGauge("skiff_metrics_scrape_nodes", {{"result", "failure"}},
             static_cast<double>(stats.failed));
  m.setGauge("skiff_metrics_scrape_bytes", static_cast<double>(stats.bytesRead));
  m.setGauge("skiff_metrics_store_bytes", static_cast<double>(stats.storeBytes));
  SKIFF_LOG_DEBUG("metrics scrape nodes={} ok={} bytes={} store_bytes={} took_ms={}", stats.nodes,
                  stats.succeeded, stats.bytesRead, stats.storeBytes, stats.took.count() / 1000);
  return stats;
}

ScrapeStats MetricsScraper::lastScrape() const {
  std::lock_guard lock(mu_);
  return last_;
}

}  // namespace skiff::apiserver
