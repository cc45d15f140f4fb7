// Pods and PodMetrics for the HorizontalPodAutoscaler tests.
#pragma once
#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"

namespace skiff::controller::testing::hpa {

namespace json = boost::json;

struct PodSpec {
  std::string name;
  std::string cpuRequest = "1";  // "" for none
  std::string phase = "Running";
  bool ready = true;
  Clock::WallTime start{};       // status.startTime
  Clock::WallTime transition{};  // the Ready condition's lastTransitionTime
  bool deleting = false;
  std::string app = "web";
};

inline json::object pod(const PodSpec& p, const std::string& ns = "default") {
  json::object resources;
  if (!p.cpuRequest.empty()) resources["requests"] = json::object{{"cpu", p.cpuRequest}};
  json::object meta{{"name", p.name}, {"namespace", ns}, {"labels", json::object{{"app", p.app}}}};
  if (p.deleting) meta["deletionTimestamp"] = formatTime(p.start);
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", meta},
      {"spec", json::object{{"containers",
                             json::array{json::object{{"name", "c"}, {"resources", resources}}}}}},
      {"status",
       json::object{{"phase", p.phase},
                    {"startTime", formatTime(p.start)},
                    {"conditions", json::array{json::object{
                                       {"type", "Ready"},
                                       {"status", p.ready ? "True" : "False"},
                                       {"lastTransitionTime", formatTime(p.transition)}}}}}}};
}

// A PodMetricsList with one container "c" per pod using `cpu`.
inline json::object podMetrics(const std::vector<std::pair<std::string, std::string>>& usage,
                               Clock::WallTime at, const std::string& window = "15s",
                               const std::string& ns = "default") {
  json::array items;
  for (const auto& [name, cpu] : usage)
    items.push_back(json::object{
        {"metadata", json::object{{"name", name}, {"namespace", ns}}},
        {"timestamp", formatTime(at)},
        {"window", window},
        {"containers",
         json::array{json::object{{"name", "c"},
                                  {"usage", json::object{{"cpu", cpu}, {"memory", "10Mi"}}}}}}});
  return json::object{
      {"kind", "PodMetricsList"}, {"apiVersion", "metrics.k8s.io/v1beta1"}, {"items", items}};
}

}  // namespace skiff::controller::testing::hpa
