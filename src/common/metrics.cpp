#include "common/metrics.h"

#include <fmt/format.h>

#include <mutex>

namespace skiff {

Metrics& Metrics::global() {
  static Metrics metrics;
  return metrics;
}

void Metrics::increment(const std::string& name,
                        const std::vector<std::pair<std::string, std::string>>& labels,
                        double delta) {
  std::string key;
  for (const auto& [k, v] : labels) {
    if (!key.empty()) key += ",";
    key += k + "=\"" + v + "\"";
  }
  slot(name, key).fetch_add(delta, std::memory_order_relaxed);
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
  }
  return out;
}

}  // namespace skiff
