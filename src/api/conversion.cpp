#include "api/conversion.h"

#include <boost/json.hpp>

#include "api/json_access.h"
#include "common/api_error.h"
#include "common/base64.h"

namespace skiff::api {

namespace json = boost::json;

namespace {

// v2 metrics that v1 cannot express travel in this annotation (as upstream does), so a
// round trip through v1 loses nothing.
constexpr const char* kMetricsAnnotation = "autoscaling.alpha.kubernetes.io/metrics";

json::object* objectField(json::object& o, std::string_view k) {
  json::value* v = o.if_contains(k);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

json::object& annotations(json::object& obj) {
  json::value& meta = obj["metadata"];
  if (!meta.is_object()) meta.emplace_object();
  json::value& ann = meta.as_object()["annotations"];
  if (!ann.is_object()) ann.emplace_object();
  return ann.as_object();
}

void dropEmptyAnnotations(json::object& obj) {
  if (json::object* meta = objectField(obj, "metadata"))
    if (json::object* ann = objectField(*meta, "annotations"); ann && ann->empty())
      meta->erase("annotations");
}

bool isCpuUtilization(const json::value& metric) {
  if (!metric.is_object()) return false;
  const auto& m = metric.as_object();
  const json::value* type = m.if_contains("type");
  const json::value* resource = m.if_contains("resource");
  if (!type || *type != "Resource" || !resource || !resource->is_object()) return false;
  const json::value* name = resource->as_object().if_contains("name");
  const json::value* target = resource->as_object().if_contains("target");
  return name && *name == "cpu" && target && target->is_object() &&
         target->as_object().if_contains("averageUtilization");
}

json::object hpaV2ToV1(json::object obj) {
  obj["apiVersion"] = "autoscaling/v1";
  if (json::object* spec = objectField(obj, "spec")) {
    json::array others;
    if (json::value* metrics = spec->if_contains("metrics"); metrics && metrics->is_array()) {
      for (const auto& m : metrics->as_array()) {
        if (isCpuUtilization(m) && !spec->contains("targetCPUUtilizationPercentage"))
          (*spec)["targetCPUUtilizationPercentage"] =
              m.at("resource").at("target").at("averageUtilization");
        else
          others.push_back(m);
      }
      spec->erase("metrics");
    }
    spec->erase("behavior");
    if (!others.empty()) annotations(obj)[kMetricsAnnotation] = json::serialize(others);
  }
  if (json::object* status = objectField(obj, "status")) {
    if (json::value* current = status->if_contains("currentMetrics");
        current && current->is_array()) {
      for (const auto& m : current->as_array()) {
        if (!m.is_object()) continue;
        const json::value* res = m.as_object().if_contains("resource");
        if (res && res->is_object() && res->as_object().if_contains("name") &&
            res->as_object().at("name") == "cpu")
          if (auto* cur = res->as_object().if_contains("current"); cur && cur->is_object())
            if (auto* u = cur->as_object().if_contains("averageUtilization"))
              (*status)["currentCPUUtilizationPercentage"] = *u;
      }
    }
    status->erase("currentMetrics");
    status->erase("conditions");
  }
  return obj;
}

json::object hpaV1ToV2(json::object obj) {
  obj["apiVersion"] = "autoscaling/v2";
  json::array metrics;
  if (json::object* spec = objectField(obj, "spec")) {
    if (json::value* target = spec->if_contains("targetCPUUtilizationPercentage")) {
      metrics.push_back(
          json::object{{"type", "Resource"},
                       {"resource",
                        {{"name", "cpu"},
                         {"target", {{"type", "Utilization"}, {"averageUtilization", *target}}}}}});
      spec->erase("targetCPUUtilizationPercentage");
    }
    json::object& ann = annotations(obj);
    if (json::value* extra = ann.if_contains(kMetricsAnnotation); extra && extra->is_string()) {
      boost::system::error_code ec;
      json::value parsed = json::parse(extra->as_string(), ec);
      if (!ec && parsed.is_array())
        for (auto& m : parsed.as_array()) metrics.push_back(std::move(m));
      ann.erase(kMetricsAnnotation);
    }
    dropEmptyAnnotations(obj);
    if (!metrics.empty()) (*objectField(obj, "spec"))["metrics"] = std::move(metrics);
  }
  if (json::object* status = objectField(obj, "status")) {
    if (json::value* u = status->if_contains("currentCPUUtilizationPercentage")) {
      (*status)["currentMetrics"] = json::array{
          json::object{{"type", "Resource"},
                       {"resource", {{"name", "cpu"}, {"current", {{"averageUtilization", *u}}}}}}};
      status->erase("currentCPUUtilizationPercentage");
    }
  }
  return obj;
}

// core/v1 field ↔ events.k8s.io/v1 field.
constexpr std::pair<const char*, const char*> kEventFields[] = {
    {"involvedObject", "regarding"},
    {"message", "note"},
    {"source", "deprecatedSource"},
    {"firstTimestamp", "deprecatedFirstTimestamp"},
    {"lastTimestamp", "deprecatedLastTimestamp"},
    {"count", "deprecatedCount"},
    {"reportingComponent", "reportingController"},
};

json::object renameEventFields(json::object obj, bool toEventsGroup) {
  obj["apiVersion"] = toEventsGroup ? "events.k8s.io/v1" : "v1";
  for (const auto& [core, events] : kEventFields) {
    const char* from = toEventsGroup ? core : events;
    const char* to = toEventsGroup ? events : core;
    if (json::value* v = obj.if_contains(from)) {
      json::value moved = std::move(*v);
      obj.erase(from);
      obj[to] = std::move(moved);
    }
  }
  return obj;
}

}  // namespace

json::object convertObject(const json::object& obj, const ResourceInfo& target) {
  std::string from;
  if (const json::value* v = obj.if_contains("apiVersion"); v && v->is_string())
    from = std::string(v->as_string());
  const std::string to = target.apiVersion();
  if (from == to) return obj;
  if (target.kind == "HorizontalPodAutoscaler") {
    if (to == "autoscaling/v1" && from == "autoscaling/v2") return hpaV2ToV1(obj);
    if (to == "autoscaling/v2" && from == "autoscaling/v1") return hpaV1ToV2(obj);
  }
  if (target.kind == "Event") {
    if (to == "events.k8s.io/v1" && from == "v1") return renameEventFields(obj, true);
    if (to == "v1" && from == "events.k8s.io/v1") return renameEventFields(obj, false);
  }
  json::object copy = obj;
  copy["apiVersion"] = to;
  return copy;
}

void foldWriteOnlyFields(const ResourceInfo& info, json::object& obj) {
  if (!info.group.empty() || info.kind != "Secret") return;
  auto it = obj.find("stringData");
  if (it == obj.end()) return;
  json::value stringData = std::move(it->value());
  obj.erase(it);
  if (stringData.is_null()) return;
  auto typeError = [&](const json::value& got, const char* wanted) {
    return badRequest(
        "Secret in version \"v1\" cannot be handled as a Secret: json: cannot "
        "unmarshal " +
        goJsonTypeName(got) + " into Go struct field Secret.stringData of type " + wanted);
  };
  if (!stringData.is_object()) throw typeError(stringData, "map[string]string");
  auto& data = obj["data"];
  if (!data.is_object()) data = json::object();
  for (auto& kv : stringData.as_object()) {
    if (!kv.value().is_string()) throw typeError(kv.value(), "string");
    data.as_object()[kv.key()] = base64Encode(std::string_view(kv.value().as_string()));
  }
}

}  // namespace skiff::api
