// HorizontalPodAutoscaler (upstream pkg/registry/autoscaling/horizontalpodautoscaler):
// minReplicas 1 and, at v2, the default 80 % CPU metric.
#include <boost/json.hpp>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

namespace skiff::api {

namespace defaulting {
namespace {

void defaultHpa(json::object& hpa) {
  json::object& spec = ensureObject(hpa, "spec");
  setDefault(spec, "minReplicas", 1);
  if (str(hpa, "apiVersion") == "autoscaling/v1") return;
  auto it = spec.find("metrics");
  if (it == spec.end() || !it->value().is_array() || it->value().get_array().empty()) {
    spec["metrics"] = json::array{json::object{
        {"type", "Resource"},
        {"resource", json::object{{"name", "cpu"},
                                  {"target", json::object{{"type", "Utilization"},
                                                          {"averageUtilization", 80}}}}}}};
  }
}

}  // namespace
}  // namespace defaulting

namespace json = boost::json;

void addHpaKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "autoscaling",
                 .kind = "HorizontalPodAutoscaler",
                 .defaults = defaulting::defaultHpa});
}

}  // namespace skiff::api
