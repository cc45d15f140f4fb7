// Table printers for workload resources: apps (deployments, replicasets, statefulsets,
// daemonsets, controllerrevisions), batch (jobs, cronjobs), autoscaling and policy.
#include <cctype>

#include "api/table_printers_internal.h"

namespace skiff::api::tables {
namespace {

TableColumn containersColumn() { return col("Containers", "string", 1); }
TableColumn imagesColumn() { return col("Images", "string", 1); }
TableColumn selectorColumn() { return col("Selector", "string", 1); }

const json::array& templateContainers(const json::object& o) {
  return arr(at(o, {"spec", "template", "spec"}), "containers");
}

const json::object* selectorOf(const json::object& spec) {
  auto it = spec.find("selector");
  if (it == spec.end() || !it->value().is_object()) return nullptr;
  return &it->value().get_object();
}

json::array deploymentCells(const json::object& d, Clock::time_point now) {
  const auto& spec = obj(d, "spec");
  const auto& status = obj(d, "status");
  auto [names, images] = containerCells(templateContainers(d));
  return json::array{
      str(obj(d, "metadata"), "name"),
      std::to_string(num(status, "readyReplicas")) + "/" + std::to_string(num(spec, "replicas")),
      num(status, "updatedReplicas"),
      num(status, "availableReplicas"),
      age(d, now),
      names,
      images,
      selectorString(obj(spec, "selector"))};
}

json::array replicaSetCells(const json::object& rs, Clock::time_point now) {
  const auto& spec = obj(rs, "spec");
  const auto& status = obj(rs, "status");
  auto [names, images] = containerCells(templateContainers(rs));
  return json::array{str(obj(rs, "metadata"), "name"),
                     num(spec, "replicas"),
                     num(status, "replicas"),
                     num(status, "readyReplicas"),
                     age(rs, now),
                     names,
                     images,
                     formatLabelSelector(selectorOf(spec))};
}

json::array statefulSetCells(const json::object& ss, Clock::time_point now) {
  auto [names, images] = containerCells(templateContainers(ss));
  return json::array{str(obj(ss, "metadata"), "name"),
                     std::to_string(num(obj(ss, "status"), "readyReplicas")) + "/" +
                         std::to_string(num(obj(ss, "spec"), "replicas")),
                     age(ss, now), names, images};
}

json::array daemonSetCells(const json::object& ds, Clock::time_point now) {
  const auto& spec = obj(ds, "spec");
  const auto& status = obj(ds, "status");
  auto [names, images] = containerCells(templateContainers(ds));
  return json::array{str(obj(ds, "metadata"), "name"),
                     num(status, "desiredNumberScheduled"),
                     num(status, "currentNumberScheduled"),
                     num(status, "numberReady"),
                     num(status, "updatedNumberScheduled"),
                     num(status, "numberAvailable"),
                     formatLabels(obj(at(spec, {"template", "spec"}), "nodeSelector")),
                     age(ds, now),
                     names,
                     images,
                     formatLabelSelector(selectorOf(spec))};
}

// Upstream hasJobCondition: the first condition of the type decides.
bool jobCondition(const json::object& status, std::string_view type) {
  for (const auto& c : arr(status, "conditions")) {
    if (!c.is_object() || str(c.get_object(), "type") != type) continue;
    return str(c.get_object(), "status") == "True";
  }
  return false;
}

json::array jobCells(const json::object& job, Clock::time_point now) {
  const auto& spec = obj(job, "spec");
  const auto& status = obj(job, "status");
  const int64_t succeeded = num(status, "succeeded");
  std::string completions;
  if (has(spec, "completions")) {
    completions = std::to_string(succeeded) + "/" + std::to_string(num(spec, "completions"));
  } else if (num(spec, "parallelism") > 1) {
    completions = std::to_string(succeeded) + "/1 of " + std::to_string(num(spec, "parallelism"));
  } else {
    completions = std::to_string(succeeded) + "/1";
  }
  std::string duration;
  auto start = parseTime(str(status, "startTime"));
  if (start) {
    auto end = parseTime(str(status, "completionTime"));
    auto d = (end ? *end : now) - *start;
    duration = humanDuration(std::chrono::duration_cast<std::chrono::seconds>(d));
  }
  std::string state;
  if (jobCondition(status, "Complete"))
    state = "Complete";
  else if (jobCondition(status, "Failed"))
    state = "Failed";
  else if (has(obj(job, "metadata"), "deletionTimestamp"))
    state = "Terminating";
  else if (jobCondition(status, "Suspended"))
    state = "Suspended";
  else if (jobCondition(status, "FailureTarget"))
    state = "FailureTarget";
  else
    state = "Running";
  auto [names, images] = containerCells(templateContainers(job));
  return json::array{str(obj(job, "metadata"), "name"),
                     state,
                     completions,
                     duration,
                     age(job, now),
                     names,
                     images,
                     formatLabelSelector(selectorOf(spec))};
}

json::array cronJobCells(const json::object& cj, Clock::time_point now) {
  const auto& spec = obj(cj, "spec");
  const auto& status = obj(cj, "status");
  std::string last =
      has(status, "lastScheduleTime") ? since(str(status, "lastScheduleTime"), now) : "<none>";
  std::string tz = has(spec, "timeZone") ? str(spec, "timeZone") : "<none>";
  std::string suspend = "<unset>";
  if (has(spec, "suspend")) suspend = boolean(spec, "suspend") ? "True" : "False";
  const auto& jobSpec = at(spec, {"jobTemplate", "spec"});
  auto [names, images] = containerCells(arr(at(jobSpec, {"template", "spec"}), "containers"));
  return json::array{str(obj(cj, "metadata"), "name"),
                     str(spec, "schedule"),
                     tz,
                     suspend,
                     static_cast<int64_t>(arr(status, "active").size()),
                     last,
                     age(cj, now),
                     names,
                     images,
                     formatLabelSelector(selectorOf(jobSpec))};
}

json::array controllerRevisionCells(const json::object& cr, Clock::time_point now) {
  std::string controller = "<none>";
  for (const auto& r : arr(obj(cr, "metadata"), "ownerReferences")) {
    if (!r.is_object() || !boolean(r.get_object(), "controller")) continue;
    const auto& ref = r.get_object();
    std::string apiVersion = str(ref, "apiVersion");
    auto slash = apiVersion.find('/');
    std::string group = slash == std::string::npos ? "" : apiVersion.substr(0, slash);
    std::string gk = str(ref, "kind") + (group.empty() ? "" : "." + group);
    for (auto& c : gk) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    controller = gk.empty() ? str(ref, "name") : gk + "/" + str(ref, "name");
    break;
  }
  return json::array{str(obj(cr, "metadata"), "name"), controller, num(cr, "revision"),
                     age(cr, now)};
}

// ---- autoscaling ----

std::string metricCurrent(const json::object* current, std::string_view field) {
  if (!current || !has(*current, field)) return "<unknown>";
  return quantityString(current->at(field));
}

std::string formatHpaMetrics(const json::array& specs, const json::array& statuses) {
  if (specs.empty()) return "<none>";
  std::vector<std::string> list;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!specs[i].is_object()) continue;
    const auto& spec = specs[i].get_object();
    std::string type = str(spec, "type");
    const json::object* st = nullptr;
    if (i < statuses.size() && statuses[i].is_object()) st = &statuses[i].get_object();
    auto source = [&](std::string_view key) { return obj(spec, key); };
    auto statusCurrent = [&](std::string_view key) -> const json::object* {
      if (!st || !has(*st, key)) return nullptr;
      return &obj(obj(*st, key), "current");
    };
    if (type == "Resource" || type == "ContainerResource") {
      std::string key = type == "Resource" ? "resource" : "containerResource";
      const auto& src = source(key);
      const auto& target = obj(src, "target");
      const json::object* cur = statusCurrent(key);
      if (has(target, "averageValue")) {
        list.push_back(str(src, "name") + ": " + metricCurrent(cur, "averageValue") + "/" +
                       quantityString(target.at("averageValue")));
      } else {
        std::string current = cur && has(*cur, "averageUtilization")
                                  ? std::to_string(num(*cur, "averageUtilization")) + "%"
                                  : "<unknown>";
        std::string tgt = has(target, "averageUtilization")
                              ? std::to_string(num(target, "averageUtilization")) + "%"
                              : "<auto>";
        list.push_back(str(src, "name") + ": " + current + "/" + tgt);
      }
    } else if (type == "Pods") {
      const auto& target = obj(source("pods"), "target");
      list.push_back(
          metricCurrent(statusCurrent("pods"), "averageValue") + "/" +
          (has(target, "averageValue") ? quantityString(target.at("averageValue")) : "0"));
    } else if (type == "Object" || type == "External") {
      std::string key = type == "Object" ? "object" : "external";
      const auto& target = obj(source(key), "target");
      if (has(target, "averageValue")) {
        list.push_back(metricCurrent(statusCurrent(key), "averageValue") + "/" +
                       quantityString(target.at("averageValue")) + " (avg)");
      } else {
        list.push_back(metricCurrent(statusCurrent(key), "value") + "/" +
                       (has(target, "value") ? quantityString(target.at("value")) : "0"));
      }
    } else {
      list.push_back("<unknown type>");
    }
  }
  const size_t max = 2;
  if (list.size() > max) {
    size_t more = list.size() - max;
    list.resize(max);
    return join(list, ", ") + " + " + std::to_string(more) + " more...";
  }
  return join(list, ", ");
}

json::array hpaCells(const json::object& hpa, Clock::time_point now) {
  const auto& spec = obj(hpa, "spec");
  const auto& status = obj(hpa, "status");
  const auto& ref = obj(spec, "scaleTargetRef");
  std::string metrics;
  if (spec.contains("targetCPUUtilizationPercentage") || !spec.contains("metrics")) {
    // autoscaling/v1 carries a single CPU utilization target.
    std::string cur = has(status, "currentCPUUtilizationPercentage")
                          ? std::to_string(num(status, "currentCPUUtilizationPercentage")) + "%"
                          : "<unknown>";
    metrics = has(spec, "targetCPUUtilizationPercentage")
                  ? "cpu: " + cur + "/" +
                        std::to_string(num(spec, "targetCPUUtilizationPercentage")) + "%"
                  : "<none>";
  } else {
    metrics = formatHpaMetrics(arr(spec, "metrics"), arr(status, "currentMetrics"));
  }
  std::string minPods =
      has(spec, "minReplicas") ? std::to_string(num(spec, "minReplicas")) : "<unset>";
  return json::array{str(obj(hpa, "metadata"), "name"),
                     str(ref, "kind") + "/" + str(ref, "name"),
                     metrics,
                     minPods,
                     num(spec, "maxReplicas"),
                     num(status, "currentReplicas"),
                     age(hpa, now)};
}

std::string intOrString(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return "N/A";
  if (it->value().is_string()) return std::string(it->value().get_string());
  return std::to_string(num(o, key));
}

json::array pdbCells(const json::object& pdb, Clock::time_point now) {
  const auto& spec = obj(pdb, "spec");
  return json::array{str(obj(pdb, "metadata"), "name"), intOrString(spec, "minAvailable"),
                     intOrString(spec, "maxUnavailable"),
                     num(obj(pdb, "status"), "disruptionsAllowed"), age(pdb, now)};
}

}  // namespace

void registerWorkloadPrinters(PrinterMap& m) {
  m["apps/deployments"] = {{nameColumn(), col("Ready", "string"), col("Up-to-date", "string"),
                            col("Available", "string"), ageColumn(), containersColumn(),
                            imagesColumn(), selectorColumn()},
                           deploymentCells};
  m["apps/replicasets"] = {
      {nameColumn(), col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"),
       ageColumn(), containersColumn(), imagesColumn(), selectorColumn()},
      replicaSetCells};
  m["apps/statefulsets"] = {
      {nameColumn(), col("Ready", "string"), ageColumn(), containersColumn(), imagesColumn()},
      statefulSetCells};
  m["apps/daemonsets"] = {
      {nameColumn(), col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"),
       col("Up-to-date", "integer"), col("Available", "integer"), col("Node Selector", "string"),
       ageColumn(), containersColumn(), imagesColumn(), selectorColumn()},
      daemonSetCells};
  m["apps/controllerrevisions"] = {
      {nameColumn(), col("Controller", "string"), col("Revision", "string"), ageColumn()},
      controllerRevisionCells};
  m["batch/jobs"] = {{nameColumn(), col("Status", "string"), col("Completions", "string"),
                      col("Duration", "string"), ageColumn(), containersColumn(), imagesColumn(),
                      selectorColumn()},
                     jobCells};
  m["batch/cronjobs"] = {
      {nameColumn(), col("Schedule", "string"), col("Timezone", "string"),
       col("Suspend", "boolean"), col("Active", "integer"), col("Last Schedule", "string"),
       ageColumn(), containersColumn(), imagesColumn(), selectorColumn()},
      cronJobCells};
  TablePrinter hpa{
      {nameColumn(), col("Reference", "string"), col("Targets", "string"), col("MinPods", "string"),
       col("MaxPods", "string"), col("Replicas", "string"), ageColumn()},
      hpaCells};
  m["autoscaling/horizontalpodautoscalers"] = hpa;
  m["policy/poddisruptionbudgets"] = {
      {nameColumn(), col("Min Available", "string"), col("Max Unavailable", "string"),
       col("Allowed Disruptions", "integer"), ageColumn()},
      pdbCells};
}

}  // namespace skiff::api::tables
