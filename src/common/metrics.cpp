#include "common/metrics.h"

#include <fmt/format.h>

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
  std::string key = renderLabels(labels);
  // Every bucket exists from the first observation, empty ones with 0, as Prometheus expects.
  for (double upper : buckets)
    slot(name, "_bucket\t" + withLabel(key, fmt::format("le=\"{}\"", upper))).fetch_add(value <= upper ? 1 : 0);
  slot(name, "_bucket\t" + withLabel(key, "le=\"+Inf\"")).fetch_add(1);
  slot(name, "_sum\t" + key).fetch_add(value);
  slot(name, "_count\t" + key).fetch_add(1);
  {
    std::shared_lock lock(mu_);
    if (families_.at(name).type == "histogram") return;
  }
  std::unique_lock lock(mu_);
  families_[name].type = "histogram";
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
      if (auto tab = labels.find('\t'); tab != std::string::npos) {
        std::string series = name + labels.substr(0, tab), l = labels.substr(tab + 1);
        out += l.empty() ? fmt::format("{} {}\n", series, v) : fmt::format("{}{{{}}} {}\n", series, l, v);
        continue;
      }
      out += labels.empty() ? fmt::format("{} {}\n", name, v)
                            : fmt::format("{}{{{}}} {}\n", name, labels, v);
    }
  }
  return out;
}

}  // namespace skiff
