// Upstream's replica calculator rules, step by step (see the header). The interesting part
// is what happens to pods without a usable sample: pods being deleted or failed are
// ignored; pending pods, and CPU samples that may still show start-up load, count as
// "unready"; pods the metrics API has no sample for are "missing". A first ratio is taken
// over the pods with samples only; when pods were left out, the ratio is recomputed with
// the conservative guess (missing pods use 0 on a scale-up and 100 % of their request on a
// scale-down; unready pods 0 on a scale-up), and the scale is changed only when the guess
// points the same way as the first ratio.
#include "controller/hpa_replica_calculator.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "api/quantity.h"
#include "common/ids.h"
#include "controller/controller_utils.h"

namespace skiff::controller::hpa {
namespace {

namespace json = boost::json;
using Pods = std::vector<const json::object*>;

std::chrono::milliseconds parseWindow(std::string_view text) {
  // metav1.Duration as Go prints it: "15s", "1m0s", "15.011s", "500ms".
  double total = 0, num = 0, frac = 0;
  bool inFrac = false;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      if (inFrac) {
        num += (c - '0') * frac;
        frac /= 10;
      } else {
        num = num * 10 + (c - '0');
      }
      ++i;
      continue;
    }
    if (c == '.') {
      inFrac = true;
      frac = 0.1;
      ++i;
      continue;
    }
    double unit = 0;
    if (text.substr(i, 2) == "ms")
      unit = 1e-3, i += 2;
    else if (text.substr(i, 2) == "us" || text.substr(i, 2) == "µs")
      unit = 1e-6, i += 2;
    else if (text.substr(i, 2) == "ns")
      unit = 1e-9, i += 2;
    else if (c == 'h')
      unit = 3600, ++i;
    else if (c == 'm')
      unit = 60, ++i;
    else if (c == 's')
      unit = 1, ++i;
    else
      return std::chrono::seconds(15);  // malformed: metrics-server's default window
    total += num * unit;
    num = 0;
    inFrac = false;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(total * 1000));
}

std::optional<int64_t> usageMilli(const json::object& container, const std::string& resource) {
  const json::value* v = api::valueAt(container, {"usage", resource});
  if (!v || !v->is_string()) return std::nullopt;
  auto q = api::Quantity::parse(v->get_string());
  if (!q) return std::nullopt;
  return q->milliValue();
}

struct Groups {
  int readyPodCount = 0;
  std::set<std::string> unready, missing, ignored;
};

// Upstream's groupPods.
Groups groupPods(const Pods& pods, const PodMetricsInfo& metrics, const std::string& resource,
                 const CalculatorOptions& options, Clock::WallTime now) {
  Groups g;
  for (const json::object* pod : pods) {
    const std::string name = nameOf(*pod);
    const std::string phase = podPhase(*pod);
    if (isBeingDeleted(*pod) || phase == "Failed") {
      g.ignored.insert(name);
      continue;
    }
    if (phase == "Pending") {
      g.unready.insert(name);
      continue;
    }
    auto metric = metrics.find(name);
    if (metric == metrics.end()) {
      g.missing.insert(name);
      continue;
    }
    if (resource == "cpu") {
      // CPU samples taken while a pod starts up (JIT, caches) overstate its steady load.
      const json::object* ready = findCondition(*pod, "Ready");
      Clock::WallTime start, transition;
      bool unready;
      if (!ready || !parseTime(stringAt(*pod, {"status", "startTime"}), start)) {
        unready = true;
      } else {
        if (!parseTime(stringAt(*ready, {"lastTransitionTime"}), transition)) transition = {};
        const bool readyFalse = stringAt(*ready, {"status"}) == "False";
        if (start + options.cpuInitializationPeriod > now) {
          // Within the initialization period: only a sample taken a full window after the
          // pod became ready counts.
          unready = readyFalse || metric->second.timestamp < transition + metric->second.window;
        } else {
          // Later: ignored only if the pod is unready and has never been ready (its Ready
          // condition changed within the readiness delay of its start).
          unready = readyFalse && start + options.initialReadinessDelay > transition;
        }
      }
      if (unready) {
        g.unready.insert(name);
        continue;
      }
    }
    ++g.readyPodCount;
  }
  return g;
}

void removeMetrics(PodMetricsInfo& metrics, const std::set<std::string>& pods) {
  for (const auto& p : pods) metrics.erase(p);
}

struct UtilizationRatio {
  double ratio;
  int32_t utilization;
  int64_t rawAverage;
};

UtilizationRatio utilizationRatio(const PodMetricsInfo& metrics,
                                  const std::map<std::string, int64_t>& requests,
                                  int32_t targetUtilization) {
  int64_t metricsTotal = 0, requestsTotal = 0, entries = 0;
  for (const auto& [pod, metric] : metrics) {
    auto r = requests.find(pod);
    if (r == requests.end()) continue;  // a sample for a pod the selector no longer matches
    metricsTotal += metric.value;
    requestsTotal += r->second;
    ++entries;
  }
  if (requestsTotal == 0) throw HpaError("no metrics returned matched known pods");
  const auto utilization = static_cast<int32_t>(metricsTotal * 100 / requestsTotal);
  return {static_cast<double>(utilization) / targetUtilization, utilization,
          metricsTotal / entries};
}

std::pair<double, int64_t> usageRatio(const PodMetricsInfo& metrics, int64_t target) {
  int64_t total = 0;
  for (const auto& [pod, metric] : metrics) total += metric.value;
  const int64_t average = total / static_cast<int64_t>(metrics.size());
  return {static_cast<double>(average) / static_cast<double>(target), average};
}

Clock::WallTime firstTimestamp(const PodMetricsInfo& metrics) {
  return metrics.empty() ? Clock::WallTime{} : metrics.begin()->second.timestamp;
}

int32_t ceilReplicas(double v) { return static_cast<int32_t>(std::ceil(v)); }

}  // namespace

PodMetricsInfo podMetricsFromList(const json::object& list, const std::string& resource,
                                  const std::string& container) {
  PodMetricsInfo out;
  const json::array* items = api::arrayAt(list, {"items"});
  if (!items || items->empty()) throw HpaError("no metrics returned from resource metrics API");
  for (const auto& item : *items) {
    if (!item.is_object()) continue;
    const json::object& m = item.as_object();
    const json::array* containers = api::arrayAt(m, {"containers"});
    if (!containers || containers->empty()) continue;
    int64_t sum = 0;
    bool missing = false, found = false;
    for (const auto& c : *containers) {
      if (!c.is_object()) continue;
      if (!container.empty() && stringAt(c.as_object(), {"name"}) != container) continue;
      found = true;
      auto v = usageMilli(c.as_object(), resource);
      if (!v) {
        missing = true;
        break;
      }
      sum += *v;
    }
    if (!found && !container.empty())
      throw HpaError("failed to get container metrics: container " + container +
                     " not present in metrics for pod " + namespaceOf(m) + "/" + nameOf(m));
    if (missing || !found) continue;
    PodMetric pm;
    pm.value = sum;
    parseTime(stringAt(m, {"timestamp"}), pm.timestamp);
    pm.window = parseWindow(stringAt(m, {"window"}));
    out[nameOf(m)] = pm;
  }
  return out;
}

std::map<std::string, int64_t> podRequests(const Pods& pods, const std::string& resource,
                                           const std::string& container) {
  std::map<std::string, int64_t> requests;
  for (const json::object* pod : pods) {
    int64_t sum = 0;
    std::vector<const json::object*> containers;
    if (const json::array* cs = arrayAt(*pod, {"spec", "containers"}))
      for (const auto& c : *cs)
        if (c.is_object()) containers.push_back(&c.as_object());
    // Sidecars (init containers with restartPolicy Always) run beside the app and count.
    if (const json::array* cs = arrayAt(*pod, {"spec", "initContainers"}))
      for (const auto& c : *cs)
        if (c.is_object() && stringAt(c.as_object(), {"restartPolicy"}) == "Always")
          containers.push_back(&c.as_object());
    for (const json::object* c : containers) {
      const std::string cname = stringAt(*c, {"name"});
      if (!container.empty() && cname != container) continue;
      const json::value* v = valueAt(*c, {"resources", "requests", resource});
      std::optional<api::Quantity> q;
      if (v && v->is_string()) q = api::Quantity::parse(v->get_string());
      if (v && v->is_number()) q = api::Quantity::fromValue(v->to_number<int64_t>());
      if (!q)
        throw HpaError("missing request for " + resource + " in container " + cname + " of Pod " +
                       nameOf(*pod));
      sum += q->milliValue();
    }
    requests[nameOf(*pod)] = sum;
  }
  return requests;
}

ReplicaProposal resourceReplicas(int32_t currentReplicas, int32_t targetUtilization,
                                 const std::string& resource, const std::string& container,
                                 PodMetricsInfo metrics, const Pods& pods,
                                 const CalculatorOptions& options, Clock::WallTime now) {
  if (pods.empty()) throw HpaError("no pods returned by selector while calculating replica count");
  const Clock::WallTime timestamp = firstTimestamp(metrics);
  Groups g = groupPods(pods, metrics, resource, options, now);
  removeMetrics(metrics, g.ignored);
  removeMetrics(metrics, g.unready);
  if (metrics.empty())
    throw HpaError("did not receive metrics for targeted pods (pods might be unready)");
  const auto requests = podRequests(pods, resource, container);
  const UtilizationRatio first = utilizationRatio(metrics, requests, targetUtilization);
  ReplicaProposal out{currentReplicas, first.utilization, first.rawAverage, timestamp};

  const bool scaleUpWithUnready = !g.unready.empty() && first.ratio > 1.0;
  if (!scaleUpWithUnready && g.missing.empty()) {
    if (std::abs(1.0 - first.ratio) > options.tolerance)
      out.replicas = ceilReplicas(first.ratio * g.readyPodCount);
    return out;
  }
  if (!g.missing.empty()) {
    if (first.ratio < 1.0) {
      // Scale-down: a pod without a sample is taken to use its whole request (or the
      // target, when the target is above 100 %), so the guess never speeds up a scale-down.
      const int64_t fallback = std::max<int64_t>(100, targetUtilization);
      for (const auto& p : g.missing) metrics[p] = PodMetric{requests.at(p) * fallback / 100};
    } else if (first.ratio > 1.0) {
      for (const auto& p : g.missing) metrics[p] = PodMetric{0};  // scale-up: it uses nothing
    }
  }
  if (scaleUpWithUnready)
    for (const auto& p : g.unready) metrics[p] = PodMetric{0};

  const double ratio = utilizationRatio(metrics, requests, targetUtilization).ratio;
  if (std::abs(1.0 - ratio) <= options.tolerance || (first.ratio < 1.0 && ratio > 1.0) ||
      (first.ratio > 1.0 && ratio < 1.0))
    return out;  // within tolerance, or the guess reversed the direction: no change
  const int32_t replicas = ceilReplicas(ratio * static_cast<double>(metrics.size()));
  if ((ratio < 1.0 && replicas > currentReplicas) || (ratio > 1.0 && replicas < currentReplicas))
    return out;
  out.replicas = replicas;
  return out;
}

ReplicaProposal rawResourceReplicas(int32_t currentReplicas, int64_t targetAverageMilli,
                                    const std::string& resource, PodMetricsInfo metrics,
                                    const Pods& pods, const CalculatorOptions& options,
                                    Clock::WallTime now) {
  if (pods.empty()) throw HpaError("no pods returned by selector while calculating replica count");
  if (targetAverageMilli <= 0) throw HpaError("the average value target must be positive");
  const Clock::WallTime timestamp = firstTimestamp(metrics);
  Groups g = groupPods(pods, metrics, resource, options, now);
  removeMetrics(metrics, g.ignored);
  removeMetrics(metrics, g.unready);
  if (metrics.empty())
    throw HpaError("did not receive metrics for targeted pods (pods might be unready)");
  const auto [firstRatio, average] = usageRatio(metrics, targetAverageMilli);
  ReplicaProposal out{currentReplicas, 0, average, timestamp};

  const bool scaleUpWithUnready = !g.unready.empty() && firstRatio > 1.0;
  if (!scaleUpWithUnready && g.missing.empty()) {
    if (std::abs(1.0 - firstRatio) > options.tolerance)
      out.replicas = ceilReplicas(firstRatio * g.readyPodCount);
    return out;
  }
  if (!g.missing.empty()) {
    if (firstRatio < 1.0)
      for (const auto& p : g.missing) metrics[p] = PodMetric{targetAverageMilli};
    else if (firstRatio > 1.0)
      for (const auto& p : g.missing) metrics[p] = PodMetric{0};
  }
  if (scaleUpWithUnready)
    for (const auto& p : g.unready) metrics[p] = PodMetric{0};
  const double ratio = usageRatio(metrics, targetAverageMilli).first;
  if (std::abs(1.0 - ratio) <= options.tolerance || (firstRatio < 1.0 && ratio > 1.0) ||
      (firstRatio > 1.0 && ratio < 1.0))
    return out;
  const int32_t replicas = ceilReplicas(ratio * static_cast<double>(metrics.size()));
  if ((ratio < 1.0 && replicas > currentReplicas) || (ratio > 1.0 && replicas < currentReplicas))
    return out;
  out.replicas = replicas;
  return out;
}

}  // namespace skiff::controller::hpa
