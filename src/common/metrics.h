// A Prometheus metrics registry: labelled counters, gauges and histograms, plus collectors
// that produce a family's samples at scrape time, rendered in the text exposition format
// (version 0.0.4) at /metrics. Names and labels follow upstream (apiserver_request_total,
// workqueue_adds_total, kubelet_running_pods, ...). Every family should be described (HELP
// and TYPE); a family that is not gets a generic HELP line so the output stays lint-clean.
//
// Metrics::global() is the process's control-plane registry (API server, scheduler,
// controller manager, work queues: in `skiff server` they share one /metrics, so their names
// must not collide). A component that serves its own endpoint (the kubelet) keeps its own
// registry instance.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

namespace skiff {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// One sample a collector reports for its family.
struct MetricSample {
  MetricLabels labels;
  double value = 0;
};

class Metrics;

// Keeps a collector registered; unregisters it (waiting for a scrape that is calling it) when
// destroyed. Move-only.
class MetricsCollectorHandle {
 public:
  MetricsCollectorHandle() = default;
  MetricsCollectorHandle(Metrics* owner, uint64_t id) : owner_(owner), id_(id) {}
  MetricsCollectorHandle(MetricsCollectorHandle&& o) noexcept : owner_(o.owner_), id_(o.id_) {
    o.owner_ = nullptr;
  }
  MetricsCollectorHandle& operator=(MetricsCollectorHandle&& o) noexcept;
  MetricsCollectorHandle(const MetricsCollectorHandle&) = delete;
  MetricsCollectorHandle& operator=(const MetricsCollectorHandle&) = delete;
  ~MetricsCollectorHandle() { reset(); }
  void reset();

 private:
  Metrics* owner_ = nullptr;
  uint64_t id_ = 0;
};

class Metrics {
 public:
  // `processMetrics`: render process_* families (CPU, RSS, start time, fds) from /proc.
  explicit Metrics(bool processMetrics = false) : processMetrics_(processMetrics) {}
  static Metrics& global();
  // Adds `delta` to the counter (or gauge) `name` with the given label pairs.
  void increment(const std::string& name, const MetricLabels& labels, double delta = 1);
  // Sets the gauge `name` (labelled or not).
  void setGauge(const std::string& name, double value);
  void setGauge(const std::string& name, const MetricLabels& labels, double value);
  // Removes one labelled series (a gauge of something that went away).
  void remove(const std::string& name, const MetricLabels& labels);
  // Records `value` in the histogram `name` (cumulative buckets with upper bounds `buckets`,
  // plus _sum and _count), as Prometheus client libraries do.
  void observe(const std::string& name, const MetricLabels& labels, double value,
               const std::vector<double>& buckets);
  // Hot paths (work queues) keep these references instead of looking the series up on every
  // update; they stay valid for the registry's life (do not remove() such a series).
  struct Histogram;
  std::atomic<double>& series(const std::string& name, const MetricLabels& labels);
  Histogram& histogramSeries(const std::string& name, const MetricLabels& labels,
                             const std::vector<double>& buckets);
  static void observe(Histogram& h, double value);
  // Upstream's ExponentialBuckets(start, factor, count).
  static std::vector<double> exponentialBuckets(double start, double factor, int count);
  void describe(const std::string& name, const std::string& type, const std::string& help);
  // A family whose samples are computed when scraped (object counts, running pods). The
  // function runs during render(), without the registry's lock held; it must not call back
  // into this registry.
  [[nodiscard]] MetricsCollectorHandle collect(const std::string& name, const std::string& type,
                                               const std::string& help,
                                               std::function<std::vector<MetricSample>()> fn);
  std::string render() const;

  // Text-format helpers (exposed for tests and other renderers).
  static std::string escapeLabelValue(const std::string& v);
  static std::string formatValue(double v);

  // One labelled histogram: per-bucket counts (not cumulative; summed when rendered).
  struct Histogram {
    std::vector<double> upper;
    std::unique_ptr<std::atomic<double>[]> counts;  // upper.size() + 1 (the +Inf bucket)
    std::atomic<double> sum{0}, count{0};
  };

 private:
  friend class MetricsCollectorHandle;
  void unregister(uint64_t id);

  struct Family {
    std::string type = "counter", help;
    // rendered label set → value; values are atomics so the hot path takes a shared lock only.
    std::map<std::string, std::unique_ptr<std::atomic<double>>> series;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
  };
  struct Collector {
    std::string name, type, help;
    std::function<std::vector<MetricSample>()> fn;
  };
  std::atomic<double>& slot(const std::string& name, const std::string& labels);
  Histogram& histogram(const std::string& name, const std::string& labels,
                       const std::vector<double>& buckets);
  const bool processMetrics_;
  mutable std::shared_mutex mu_;
  std::map<std::string, Family> families_;
  // Held while collectors run (render) and while one is unregistered, so a handle's
  // destruction waits for a scrape that is calling its function.
  mutable std::mutex collectorsMu_;
  std::map<uint64_t, Collector> collectors_;
  uint64_t nextCollector_ = 1;
};

// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_start_time_seconds, process_open_fds, process_max_fds of this process, rendered.
std::string renderProcessMetrics();

}  // namespace skiff
