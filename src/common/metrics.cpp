#include "common/metrics.h"

#include <fmt/format.h>

#include <algorithm>

#include <mutex>

namespace skiff {

Metrics& Metrics::global() {
  static Metrics metrics;
  return metrics;
}

namespace {
std::string renderLabels(const std::vector<std::pair<std::string, std::string>>& labels) {
  std::string key;
  for (const auto& [k, v] : labels) {
    if (!key.empty()) key += ",";
    key += k + "=\"" + v + "\"";
  }
  return key;
}
std::string withLabel(const std::string& labels, const std::string& extra) {
  return labels.empty() ? extra : labels + "," + extra;
}
}  // namespace

void Metrics::increment(const std::string& name,
                        const std::vector<std::pair<std::string, std::string>>& labels,
                        double delta) {
  slot(name, renderLabels(labels)).fetch_add(delta, std::memory_order_relaxed);
}

std::atomic<double>& Metrics::slot(const std::string& name, const std::string& labels) {
  {
    std::shared_lock lock(mu_);
    auto family = families_.find(name);
    if (family != families_.end()) {
      auto it = family->second.series.find(labels);
      if (it != family->second.series.end()) return *it->second;
    }
  }
  std::unique_lock lock(mu_);
  auto& value = families_[name].series[labels];
  if (!value) value = std::make_unique<std::atomic<double>>(0);
  return *value;
}

void Metrics::setGauge(const std::string& name, double value) {
  slot(name, "").store(value, std::memory_order_relaxed);
  std::unique_lock lock(mu_);
  families_[name].type = "gauge";
}


void Metrics::observe(const std::string& name,
                      const std::vector<std::pair<std::string, std::string>>& labels, double value,
                      const std::vector<double>& buckets) {
  // One lookup and one bucket per observation (the scheduler observes twice per pod): the
  // cumulative counts Prometheus expects are summed when rendered.
  Histogram& h = histogram(name, renderLabels(labels), buckets);
  size_t bucket = std::lower_bound(h.upper.begin(), h.upper.end(), value) - h.upper.begin();
  h.counts[bucket].fetch_add(1, std::memory_order_relaxed);
  h.sum.fetch_add(value, std::memory_order_relaxed);
  h.count.fetch_add(1, std::memory_order_relaxed);
}

Metrics::Histogram& Metrics::histogram(const std::string& name, const std::string& labels,
                                       const std::vector<double>& buckets) {
  {
    std::shared_lock lock(mu_);
    auto family = families_.find(name);
    if (family != families_.end()) {
      auto it = family->second.histograms.find(labels);
      if (it != family->second.histograms.end()) return *it->second;
    }
  }
  std::unique_lock lock(mu_);
  auto& family = families_[name];
  family.type = "histogram";
  auto& h = family.histograms[labels];
  if (!h) {
    h = std::make_unique<Histogram>();
    h->upper = buckets;
    std::sort(h->upper.begin(), h->upper.end());
    h->counts = std::make_unique<std::atomic<double>[]>(buckets.size() + 1);
  }
  return *h;
}

std::vector<double> Metrics::exponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  for (int i = 0; i < count; ++i, start *= factor) out.push_back(start);
  return out;
}

void Metrics::describe(const std::string& name, const std::string& type, const std::string& help) {
  std::unique_lock lock(mu_);
  auto& family = families_[name];
  family.type = type;
  family.help = help;
}

std::string Metrics::render() const {
  std::shared_lock lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    if (!family.help.empty()) out += fmt::format("# HELP {} {}\n", name, family.help);
    out += fmt::format("# TYPE {} {}\n", name, family.type);
    for (const auto& [labels, value] : family.series) {
      double v = value->load(std::memory_order_relaxed);
      out += labels.empty() ? fmt::format("{} {}\n", name, v)
                            : fmt::format("{}{{{}}} {}\n", name, labels, v);
    }
    // Every bucket is listed from the first observation, empty ones with 0, in increasing
    // order with cumulative counts, as Prometheus expects.
    for (const auto& [labels, h] : family.histograms) {
      double cumulative = 0;
      for (size_t i = 0; i <= h->upper.size(); ++i) {
        cumulative += h->counts[i].load(std::memory_order_relaxed);
        std::string le = i < h->upper.size() ? fmt::format("le=\"{}\"", h->upper[i]) : "le=\"+Inf\"";
        out += fmt::format("{}_bucket{{{}}} {}\n", name, withLabel(labels, le), cumulative);
      }
      std::string braces = labels.empty() ? "" : "{" + labels + "}";
      out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, braces, h->sum.load(std::memory_order_relaxed),
                         name, braces, h->count.load(std::memory_order_relaxed));
    }
  }
  return out;
}

}  // namespace skiff
