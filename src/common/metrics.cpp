#include "common/metrics.h"

#include <fmt/format.h>

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
  std::lock_guard lock(mu_);
  families_[name].series[key] += delta;
}

void Metrics::setGauge(const std::string& name, double value) {
  std::lock_guard lock(mu_);
  auto& family = families_[name];
  family.type = "gauge";
  family.series[""] = value;
}

void Metrics::describe(const std::string& name, const std::string& type, const std::string& help) {
  std::lock_guard lock(mu_);
  auto& family = families_[name];
  family.type = type;
  family.help = help;
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    if (!family.help.empty()) out += fmt::format("# HELP {} {}\n", name, family.help);
    out += fmt::format("# TYPE {} {}\n", name, family.type);
    for (const auto& [labels, value] : family.series)
      out += labels.empty() ? fmt::format("{} {}\n", name, value)
                            : fmt::format("{}{{{}}} {}\n", name, labels, value);
  }
  return out;
}

}  // namespace skiff
