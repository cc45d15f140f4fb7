// HorizontalPodAutoscaler controller (upstream's horizontal-pod-autoscaler controller,
// pkg/controller/podautoscaler/horizontal.go). Every --horizontal-pod-autoscaler-sync-period
// each HPA is reconciled:
//   1. the target's Scale is read through its `scale` subresource (the scaleTargetRef's
//      apiVersion/kind mapped to a resource by API discovery, so custom resources with a
//      scale subresource work too): AbleToScale, or FailedGetScale;
//   2. outside [minReplicas, maxReplicas] the scale is brought inside; a target scaled to
//      zero disables autoscaling (ScalingDisabled); otherwise
//   3. each metric proposes a replica count (hpa_replica_calculator.h, usage from the
//      metrics.k8s.io PodMetrics of the Scale's status.selector); the highest wins;
//      ScalingActive tells whether any metric worked;
//   4. the proposal is stabilized and rate limited (hpa_behavior.h): AbleToScale's reason,
//      ScalingLimited;
//   5. a changed count is written to the Scale (SuccessfulRescale / FailedRescale);
//   6. status (currentReplicas, desiredReplicas, currentMetrics, lastScaleTime, conditions)
//      is written when it changed.
// Failures become events and conditions; the HPA is simply looked at again next period,
// as upstream's fixed-interval queue does.
#include "controller/hpa_controller.h"

#include <boost/json.hpp>

#include "api/quantity.h"
#include "common/api_error.h"
#include "common/log.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"
#include "controller/discovery.h"
#include "controller/hpa_behavior.h"
#include "controller/hpa_replica_calculator.h"

namespace skiff::controller::hpa {

namespace json = boost::json;

namespace {

const client::Resource kHpas{"autoscaling", "v2", "horizontalpodautoscalers"};
const client::Resource kPodMetrics{"metrics.k8s.io", "v1beta1", "pods"};

class RestScaleClient : public ScaleClient {
 public:
  explicit RestScaleClient(client::RestClient& c) : client_(c) {}
  json::object get(const client::Resource& r, const std::string& ns,
                   const std::string& name) override {
    return client_.request("GET", r.path(ns, name, "scale"));
  }
  json::object update(const client::Resource& r, const std::string& ns,
                      const json::object& scale) override {
    return client_.request("PUT", r.path(ns, nameOf(scale), "scale"), json::serialize(scale));
  }

 private:
  client::RestClient& client_;
};

class RestMetricsClient : public MetricsClient {
 public:
  explicit RestMetricsClient(client::RestClient& c) : client_(c) {}
  json::object podMetrics(const std::string& ns, const std::string& selector) override {
    client::ListOptions o;
    o.labelSelector = selector;
    try {
      return client_.list(kPodMetrics, ns, o);
    } catch (const ApiError& e) {
      // client-go names the request in a generic 404 (no metrics API served).
      if (e.code() == 404 && e.detailName.empty())
        throw ApiError(404, e.reason(), std::string(e.what()) + " (get pods.metrics.k8s.io)");
      throw;
    }
  }

 private:
  client::RestClient& client_;
};

// One metric's outcome: a proposal with its status, or the failure's condition and error.
struct MetricResult {
  bool ok = false;
  int32_t replicas = 0;
  std::string name;     // "cpu resource utilization (percentage of request)"
  json::object status;  // a MetricStatus
  std::string conditionReason, conditionMessage, error;
};

// A failed metric: upstream's getUnableComputeReplicaCountCondition (event + condition).
MetricResult failedMetric(const std::string& reason, const std::string& error) {
  MetricResult r;
  r.conditionReason = reason;
  r.conditionMessage = "the HPA was unable to compute the replica count: " + error;
  r.error = error;
  return r;
}

class HpaController : public QueueController {
 public:
  explicit HpaController(ControllerContext& ctx)
      : QueueController(ctx, "horizontalpodautoscaling", "horizontal-pod-autoscaler"),
        clients_(ctx.options.hpaClients ? *ctx.options.hpaClients : restClients(ctx.client)),
        discovery_(ctx.discovery ? ctx.discovery : std::make_shared<ServerDiscovery>(ctx.client)),
        hpas_(ctx.informers.informer(kHpas)),
        pods_(ctx.informers.informer(client::resources::pods)),
        period_(std::max(ctx.options.hpaSyncPeriod, std::chrono::milliseconds(100))) {
    calc_.tolerance = ctx.options.hpaTolerance;
    calc_.cpuInitializationPeriod = ctx.options.hpaCpuInitializationPeriod;
    calc_.initialReadinessDelay = ctx.options.hpaInitialReadinessDelay;
    hpas_.addEventHandler({
        .onAdd = [this](const json::object& h) { enqueue(h); },
        .onUpdate =
            [this](const json::object& o, const json::object& n) {
              // Our own status writes come back here; only a spec change is urgent.
              const json::value* a = o.if_contains("spec");
              const json::value* b = n.if_contains("spec");
              if ((a ? *a : json::value()) != (b ? *b : json::value())) enqueue(n);
            },
        .onDelete = [this](const json::object& h) { history_.forget(client::objectKey(h)); },
    });
  }

 protected:
  void sync(const std::string& key) override {
    auto cached = hpas_.get(key);
    if (!cached) {
      history_.forget(key);
      return;
    }
    json::object hpa = *cached;
    try {
      reconcile(key, hpa);
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("horizontal-pod-autoscaler: {}: {}", key, e.what());
    }
    // Upstream's queue hands every HPA back after the sync period, failed or not.
    enqueueAfter(key, period_);
  }

 private:
  void reconcile(const std::string& key, json::object& hpa) {
    const json::value originalStatus =
        hpa.contains("status") ? hpa.at("status") : json::value(json::object());
    const json::object spec = objectAt(hpa, {"spec"}) ? *objectAt(hpa, {"spec"}) : json::object();
    const std::string ns = namespaceOf(hpa);
    const json::object ref =
        objectAt(spec, {"scaleTargetRef"}) ? *objectAt(spec, {"scaleTargetRef"}) : json::object();
    const std::string reference =
        stringAt(ref, {"kind"}) + "/" + ns + "/" + stringAt(ref, {"name"});

    // 1. The target's scale.
    json::object scale;
    client::Resource target;
    try {
      target = targetResource(ref);
      try {
        scale = clients_.scales->get(target, ns, stringAt(ref, {"name"}));
      } catch (const std::exception& e) {
        throw ScaleLookupError("failed to query scale subresource for " + reference, e.what());
      }
    } catch (const ScaleLookupError& e) {
      recorder_.event(hpa, client::kEventTypeWarning, "FailedGetScale", e.cause);
      setCondition(hpa, "AbleToScale", "False", "FailedGetScale",
                   "the HPA controller was unable to get the target's current scale: " + e.cause);
      writeStatus(hpa, originalStatus);
      throw std::runtime_error(std::string(e.what()) + ": " + e.cause);
    }
    setCondition(hpa, "AbleToScale", "True", "SucceededGetScale",
                 "the HPA controller was able to get the target's current scale");

    const int32_t current = static_cast<int32_t>(intAt(scale, {"spec", "replicas"}));
    const auto now = clock_.now();
    history_.recordInitial(key, current, now);
    const json::value* minValue = spec.if_contains("minReplicas");
    const int32_t minReplicas =
        minValue && minValue->is_int64() ? static_cast<int32_t>(minValue->as_int64()) : 1;
    const int32_t maxReplicas = static_cast<int32_t>(intAt(spec, {"maxReplicas"}));

    // 2./3./4. The desired count.
    int32_t desired = 0;
    bool rescale = true;
    std::string reason;
    json::array metricStatuses;
    std::optional<std::string> partialError;
    if (current == 0 && minReplicas != 0) {
      rescale = false;
      setCondition(hpa, "ScalingActive", "False", "ScalingDisabled",
                   "scaling is disabled since the replica count of the target is zero");
    } else if (current > maxReplicas) {
      reason = "Current number of replicas above Spec.MaxReplicas";
      desired = maxReplicas;
    } else if (current < minReplicas) {
      reason = "Current number of replicas below Spec.MinReplicas";
      desired = minReplicas;
    } else {
      int32_t proposal = -1;
      std::string metricName, error;
      computeReplicas(hpa, spec, scale, current, proposal, metricName, metricStatuses, error);
      if (proposal == -1) {
        setStatusFields(hpa, current, statusInt(hpa, "desiredReplicas"), metricStatuses, false);
        writeStatus(hpa, originalStatus);
        recorder_.event(hpa, client::kEventTypeWarning, "FailedComputeMetricsReplicas", error);
        throw std::runtime_error(
            "failed to compute desired number of replicas based on listed metrics for " +
            reference + ": " + error);
      }
      if (!error.empty()) partialError = error;  // some metrics worked: scale on them
      std::string rescaleMetric;
      if (proposal > desired) {
        desired = proposal;
        rescaleMetric = metricName;
      }
      if (desired > current) reason = rescaleMetric + " above target";
      if (desired < current) reason = "All metrics below target";
      const std::optional<Behavior> behavior = parseBehavior(spec);
      Normalized n = behavior ? history_.normalizeWithBehavior(key, *behavior, current, desired,
                                                               minReplicas, maxReplicas, now)
                              : history_.normalize(key, current, desired, minReplicas, maxReplicas,
                                                   options_.hpaDownscaleStabilization, now);
      setCondition(hpa, "AbleToScale", "True", n.ableReason, n.ableMessage);
      setCondition(hpa, "ScalingLimited", n.limited ? "True" : "False", n.limitedReason,
                   n.limitedMessage);
      desired = n.replicas;
      rescale = desired != current;
    }

    // 5. Rescale.
    if (rescale) {
      json::object updated = scale;
      ensureObject(updated, {"spec"})["replicas"] = desired;
      try {
        clients_.scales->update(target, ns, updated);
      } catch (const std::exception& e) {
        recorder_.event(hpa, client::kEventTypeWarning, "FailedRescale",
                        "New size: " + std::to_string(desired) + "; reason: " + reason +
                            "; error: " + e.what());
        setCondition(
            hpa, "AbleToScale", "False", "FailedUpdateScale",
            std::string("the HPA controller was unable to update the target scale: ") + e.what());
        setStatusFields(hpa, current, statusInt(hpa, "desiredReplicas"), metricStatuses, false);
        writeStatus(hpa, originalStatus);
        throw std::runtime_error("failed to rescale " + reference + ": " + e.what());
      }
      setCondition(
          hpa, "AbleToScale", "True", "SucceededRescale",
          "the HPA controller was able to update the target scale to " + std::to_string(desired));
      recorder_.event(hpa, client::kEventTypeNormal, "SuccessfulRescale",
                      "New size: " + std::to_string(desired) + "; reason: " + reason);
      history_.recordScaleEvent(key, parseBehavior(spec), current, desired, now);
      SKIFF_LOG_INFO("horizontal-pod-autoscaler: rescaled {} from {} to {}: {}", reference, current,
                     desired, reason);
    } else {
      desired = current;
    }

    // 6. Status.
    setStatusFields(hpa, current, desired, metricStatuses, rescale);
    writeStatus(hpa, originalStatus);
    if (partialError) throw std::runtime_error(*partialError);
  }

  struct ScaleLookupError : std::runtime_error {
    ScaleLookupError(const std::string& what, std::string c)
        : std::runtime_error(what), cause(std::move(c)) {}
    std::string cause;  // the event's and the condition's text
  };

  // scaleTargetRef apiVersion/kind → the served resource (upstream's REST mapper).
  client::Resource targetResource(const json::object& ref) {
    const std::string apiVersion = stringAt(ref, {"apiVersion"});
    const std::string kind = stringAt(ref, {"kind"});
    std::string group, version = apiVersion;
    if (auto slash = apiVersion.find('/'); slash != std::string::npos) {
      group = apiVersion.substr(0, slash);
      version = apiVersion.substr(slash + 1);
      if (version.find('/') != std::string::npos || group.empty() || version.empty())
        throw ScaleLookupError("invalid API version in scale target reference",
                               "unexpected GroupVersion string: " + apiVersion);
    }
    std::vector<DiscoveredResource> served;
    try {
      served = discovery_->resources();
    } catch (const std::exception& e) {
      throw ScaleLookupError("unable to determine resource for scale target reference", e.what());
    }
    std::optional<DiscoveredResource> match;
    for (const auto& r : served) {
      if (r.group != group || r.kind != kind) continue;
      if (!match || r.version == version) match = r;
    }
    if (!match)
      throw ScaleLookupError("unable to determine resource for scale target reference",
                             "no matches for kind \"" + kind + "\" in group \"" + group + "\"");
    // Ask at the version the reference names when the group serves the kind there.
    client::Resource r = match->ref();
    if (!version.empty()) r.version = version;
    return r;
  }

  // Upstream's computeReplicasForMetrics: the highest proposal of the metrics that worked;
  // `proposal` stays -1 when none did (or when failures could hide a needed scale-up).
  void computeReplicas(json::object& hpa, const json::object& spec, const json::object& scale,
                       int32_t current, int32_t& proposal, std::string& metricName,
                       json::array& statuses, std::string& error) {
    const std::string selectorText = stringAt(scale, {"status", "selector"});
    if (selectorText.empty()) {
      const std::string msg = "selector is required";
      recorder_.event(hpa, client::kEventTypeWarning, "SelectorRequired", msg);
      setCondition(hpa, "ScalingActive", "False", "InvalidSelector",
                   "the HPA target's scale is missing a selector");
      error = msg;
      return;
    }
    api::LabelSelector selector;
    try {
      selector = api::LabelSelector::parse(selectorText);
    } catch (const std::exception& e) {
      const std::string msg =
          std::string(
              "couldn't convert selector into a corresponding internal selector "
              "object: ") +
          e.what();
      recorder_.event(hpa, client::kEventTypeWarning, "InvalidSelector", msg);
      setCondition(hpa, "ScalingActive", "False", "InvalidSelector", msg);
      error = msg;
      return;
    }
    const json::array* specs = arrayAt(spec, {"metrics"});
    const size_t count = specs ? specs->size() : 0;
    int invalid = 0;
    MetricResult firstInvalid;
    int32_t best = 0;
    for (size_t i = 0; i < count; ++i) {
      const json::object empty;
      const json::object& m = (*specs)[i].is_object() ? (*specs)[i].as_object() : empty;
      MetricResult r = computeMetric(hpa, m, selectorText, selector, current);
      statuses.push_back(r.status);
      if (!r.ok) {
        if (invalid++ == 0) firstInvalid = r;
        continue;
      }
      if (r.replicas > best) {
        best = r.replicas;
        metricName = r.name;
      }
    }
    if (count == 0 || invalid >= static_cast<int>(count) || (invalid > 0 && best < current)) {
      if (invalid > 0)
        setCondition(hpa, "ScalingActive", "False", firstInvalid.conditionReason,
                     firstInvalid.conditionMessage);
      error = "invalid metrics (" + std::to_string(invalid) + " invalid out of " +
              std::to_string(count) +
              "), first error is: " + (invalid > 0 ? firstInvalid.error : "no metrics");
      return;
    }
    if (invalid > 0)
      error = "invalid metrics (" + std::to_string(invalid) + " invalid out of " +
              std::to_string(count) + "), first error is: " + firstInvalid.error;
    setCondition(hpa, "ScalingActive", "True", "ValidMetricFound",
                 "the HPA was able to successfully calculate a replica count from " + metricName);
    proposal = best;
  }

  MetricResult computeMetric(json::object& hpa, const json::object& m,
                             const std::string& selectorText, const api::LabelSelector& selector,
                             int32_t current) {
    const std::string type = stringAt(m, {"type"});
    MetricResult r;
    if (type == "Resource" || type == "ContainerResource") {
      const bool container = type == "ContainerResource";
      const json::object* source = objectAt(m, {container ? "containerResource" : "resource"});
      r = source ? resourceMetric(*source, container, selectorText, selector, namespaceOf(hpa),
                                  current)
                 : failedMetric(
                       container ? "FailedGetContainerResourceMetric" : "FailedGetResourceMetric",
                       "invalid resource metric source: no metric source set");
      if (!r.ok) recorder_.event(hpa, client::kEventTypeWarning, r.conditionReason, r.error);
      return r;
    }
    // No custom or external metrics API is served: upstream's errors when it is absent.
    static const std::map<std::string, std::pair<std::string, std::string>> unsupported = {
        {"Pods", {"FailedGetPodsMetric", "failed to get pods metric value"}},
        {"Object", {"FailedGetObjectMetric", "failed to get object metric value"}},
        {"External", {"FailedGetExternalMetric", "failed to get external metric value"}},
    };
    if (auto it = unsupported.find(type); it != unsupported.end()) {
      const std::string api =
          type == "External" ? "external.metrics.k8s.io" : "custom.metrics.k8s.io";
      r = failedMetric(it->second.first,
                       it->second.second + ": unable to get metric " + metricNameOf(m, type) +
                           ": unable to fetch metrics from " +
                           (type == "External" ? "external" : "custom") +
                           " metrics API: the server could not find the requested resource (" +
                           api + " is not served)");
      r.status = json::object{{"type", type}};
      recorder_.event(hpa, client::kEventTypeWarning, r.conditionReason, r.error);
      return r;
    }
    r = failedMetric("InvalidMetricSourceType", "unknown metric source type \"" + type + "\"");
    r.status = json::object{{"type", type}};
    recorder_.event(hpa, client::kEventTypeWarning, r.conditionReason, r.error);
    return r;
  }

  static std::string metricNameOf(const json::object& m, const std::string& type) {
    std::string key = type == "Pods" ? "pods" : type == "Object" ? "object" : "external";
    return stringAt(m, {key, "metric", "name"});
  }

  MetricResult resourceMetric(const json::object& source, bool isContainer,
                              const std::string& selectorText, const api::LabelSelector& selector,
                              const std::string& ns, int32_t current) {
    const std::string resource = stringAt(source, {"name"});
    const std::string container = isContainer ? stringAt(source, {"container"}) : "";
    const std::string failReason =
        isContainer ? "FailedGetContainerResourceMetric" : "FailedGetResourceMetric";
    const json::object target =
        objectAt(source, {"target"}) ? *objectAt(source, {"target"}) : json::object();
    json::object sourceStatus{{"name", resource}};
    if (isContainer) sourceStatus["container"] = container;
    MetricResult r;
    r.status = json::object{{"type", isContainer ? "ContainerResource" : "Resource"},
                            {isContainer ? "containerResource" : "resource", sourceStatus}};
    auto fail = [&](const std::string& error) {
      MetricResult f = failedMetric(failReason, error);
      f.status = r.status;
      return f;
    };

    const json::value* averageValue = target.if_contains("averageValue");
    const json::value* averageUtilization = target.if_contains("averageUtilization");
    if (!averageValue && !averageUtilization)
      return fail(
          "invalid resource metric source: neither an average utilization target nor an "
          "average value (usage) target was set");
    const std::string what = averageValue ? " usage: " : " utilization: ";

    PodMetricsInfo metrics;
    try {
      json::object list;
      try {
        list = clients_.metrics->podMetrics(ns, selectorText);
      } catch (const std::exception& e) {
        throw HpaError(std::string("unable to fetch metrics from resource metrics API: ") +
                       e.what());
      }
      metrics = podMetricsFromList(list, resource, container);
    } catch (const std::exception& e) {
      return fail("failed to get " + resource + what + "unable to get metrics for resource " +
                  resource + ": " + e.what());
    }
    std::vector<client::ObjectPtr> keep;
    std::vector<const json::object*> pods;
    for (auto& p : pods_.list()) {
      if (namespaceOf(*p) != ns || !selector.matches(objectAt(*p, {"metadata", "labels"})))
        continue;
      keep.push_back(p);
      pods.push_back(p.get());
    }
    try {
      json::object currentStatus;
      if (averageValue) {
        std::optional<api::Quantity> q;
        if (averageValue->is_string())
          q = api::Quantity::parse(averageValue->as_string());
        else if (averageValue->is_number())
          q = api::Quantity::fromValue(averageValue->to_number<int64_t>());
        if (!q) throw HpaError("invalid averageValue target");
        auto p = rawResourceReplicas(current, q->milliValue(), resource, std::move(metrics), pods,
                                     calc_, clock_.now());
        r.replicas = p.replicas;
        currentStatus["averageValue"] = api::Quantity::fromMilli(p.rawAverage).toString();
        r.name = resource + (isContainer ? " container resource" : " resource");
      } else {
        auto p = resourceReplicas(
            current, static_cast<int32_t>(averageUtilization->to_number<int64_t>()), resource,
            container, std::move(metrics), pods, calc_, clock_.now());
        r.replicas = p.replicas;
        currentStatus["averageValue"] = api::Quantity::fromMilli(p.rawAverage).toString();
        currentStatus["averageUtilization"] = p.utilization;
        r.name = resource + (isContainer ? " container resource utilization (percentage of request)"
                                         : " resource utilization (percentage of request)");
      }
      r.status.at(isContainer ? "containerResource" : "resource").as_object()["current"] =
          currentStatus;
      r.ok = true;
      return r;
    } catch (const std::exception& e) {
      return fail("failed to get " + resource + what + e.what());
    }
  }

  static int32_t statusInt(const json::object& hpa, std::string_view field) {
    return static_cast<int32_t>(intAt(hpa, {"status", field}));
  }

  // Upstream's setStatus: conditions are kept, lastScaleTime moves on a rescale.
  void setStatusFields(json::object& hpa, int32_t current, int32_t desired,
                       const json::array& metrics, bool rescaled) {
    json::object& status = ensureObject(hpa, {"status"});
    status["currentReplicas"] = current;
    status["desiredReplicas"] = desired;
    if (metrics.empty())
      status.erase("currentMetrics");
    else
      status["currentMetrics"] = metrics;
    if (rescaled) status["lastScaleTime"] = nowTime();
    if (const json::value* g = valueAt(hpa, {"metadata", "generation"}); g && g->is_int64())
      status["observedGeneration"] = *g;
  }

  void writeStatus(json::object& hpa, const json::value& original) {
    if (hpa.contains("status") && hpa.at("status") == original) return;
    try {
      client_.updateStatus(kHpas, namespaceOf(hpa), hpa);
    } catch (const ApiError& e) {
      // Gone, or changed meanwhile: the next period starts from the new object.
      if (e.code() != 404 && e.code() != 409) throw;
    }
  }

  Clients clients_;
  std::shared_ptr<ResourceDiscovery> discovery_;
  client::SharedInformer& hpas_;
  client::SharedInformer& pods_;
  const std::chrono::milliseconds period_;
  CalculatorOptions calc_;
  HpaHistory history_;
};

ControllerRegistration reg("horizontalpodautoscaling", [](ControllerContext& ctx) {
  return std::make_unique<HpaController>(ctx);
});

}  // namespace

Clients restClients(client::RestClient& client) {
  return {std::make_shared<RestScaleClient>(client), std::make_shared<RestMetricsClient>(client)};
}

}  // namespace skiff::controller::hpa
