// A minimal Prometheus metrics registry: labelled counters, rendered in text format at
// /metrics by every component. Names follow upstream (apiserver_request_total, ...).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

namespace skiff {

class Metrics {
 public:
  static Metrics& global();
  // Adds `delta` to the counter `name` with the given label pairs.
  void increment(const std::string& name, const std::vector<std::pair<std::string, std::string>>& labels,
                 double delta = 1);
  void setGauge(const std::string& name, double value);
  // Records `value` in the histogram `name` (cumulative buckets with upper bounds `buckets`,
  // plus _sum and _count), as Prometheus client libraries do.
  void observe(const std::string& name, const std::vector<std::pair<std::string, std::string>>& labels,
               double value, const std::vector<double>& buckets);
  // Upstream's ExponentialBuckets(start, factor, count).
  static std::vector<double> exponentialBuckets(double start, double factor, int count);
  void describe(const std::string& name, const std::string& type, const std::string& help);
  std::string render() const;

 private:
  // One labelled histogram: per-bucket counts (not cumulative; summed when rendered).
  struct Histogram {
    std::vector<double> upper;
    std::unique_ptr<std::atomic<double>[]> counts;  // upper.size() + 1 (the +Inf bucket)
    std::atomic<double> sum{0}, count{0};
  };
  struct Family {
    std::string type = "counter", help;
    // rendered label set → value; values are atomics so the hot path takes a shared lock only.
    std::map<std::string, std::unique_ptr<std::atomic<double>>> series;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  std::atomic<double>& slot(const std::string& name, const std::string& labels);
  Histogram& histogram(const std::string& name, const std::string& labels, const std::vector<double>& buckets);
  mutable std::shared_mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace skiff
