// The metrics API's scraper: one thread that, every resolution, reads /metrics/resource of
// every Node in the watch cache, up to `parallelism` at a time, into a MetricsStore. A node
// that fails (unreachable, a non-2xx answer, timeout) loses its points, as metrics-server
// replaces its whole store with each pass; deleted nodes are dropped with their TLS
// sessions. Pass statistics go to Metrics::global() (skiff_metrics_scrape_*).
#pragma once

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "apiserver/metrics_api.h"

namespace skiff::apiserver {

class MetricsScraper {
 public:
  MetricsScraper(ResourceStore& resources, KubeletProxy& kubelets, MetricsStore& store,
                 MetricsApiOptions options);
  ~MetricsScraper();

  void start();
  void stop();
  ScrapeStats scrapeOnce();
  ScrapeStats lastScrape() const;

 private:
  void run();

  ResourceStore& resources_;
  KubeletProxy& kubelets_;
  MetricsStore& store_;
  MetricsApiOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
  ScrapeStats last_;
  std::set<std::string> failing_;  // nodes whose last scrape failed (log on change only)
};

}  // namespace skiff::apiserver
