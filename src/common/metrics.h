// A minimal Prometheus metrics registry: labelled counters, rendered in text format at
// /metrics by every component. Names follow upstream (apiserver_request_total, ...).
#pragma once

#include <map>
#include <mutex>
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
  void describe(const std::string& name, const std::string& type, const std::string& help);
  std::string render() const;

 private:
  struct Family {
    std::string type = "counter", help;
    std::map<std::string, double> series;  // rendered label set → value
  };
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace skiff
