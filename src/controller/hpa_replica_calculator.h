// The HorizontalPodAutoscaler's replica calculator (upstream's
// pkg/controller/podautoscaler/replica_calculator.go), pure: pods and their metrics in, a
// replica proposal out. No API access and no clock of its own, so tests drive every rule
// (tolerance, missing metrics, not-yet-ready pods) with plain values.
//
// Resource metrics are in thousandths (millicores for cpu, milli-bytes for memory), as
// upstream's metrics client reads them with MilliValue().
#pragma once
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/clock.h"

namespace skiff::controller::hpa {

// A failure the HPA reports in an event and a condition (upstream's error texts).
class HpaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PodMetric {
  int64_t value = 0;  // thousandths
  Clock::WallTime timestamp{};
  std::chrono::milliseconds window{std::chrono::seconds(15)};
};
using PodMetricsInfo = std::map<std::string, PodMetric>;  // by pod name

// PodMetrics of metrics.k8s.io/v1beta1 (a PodMetricsList) → the usage of `resource` per
// pod: the sum over containers, or the one `container` when named. A pod missing the
// resource in any container (or with no containers) is left out, as upstream. Throws
// HpaError "no metrics returned from resource metrics API" when the list is empty.
PodMetricsInfo podMetricsFromList(const boost::json::object& list, const std::string& resource,
                                  const std::string& container = "");

struct CalculatorOptions {
  double tolerance = 0.1;  // --horizontal-pod-autoscaler-tolerance
  // --horizontal-pod-autoscaler-cpu-initialization-period
  std::chrono::milliseconds cpuInitializationPeriod{std::chrono::minutes(5)};
  // --horizontal-pod-autoscaler-initial-readiness-delay
  std::chrono::milliseconds initialReadinessDelay{std::chrono::seconds(30)};
};

struct ReplicaProposal {
  int32_t replicas = 0;
  int32_t utilization = 0;  // percent of requests (Utilization targets only)
  int64_t rawAverage = 0;   // average usage per pod, thousandths
  Clock::WallTime timestamp{};
};

// Upstream's GetResourceReplicas: a Utilization target (percent of the summed container
// requests) for `resource` (and `container` for ContainerResource metrics). `pods` are the
// pods the target's selector matches. Throws HpaError with upstream's messages.
ReplicaProposal resourceReplicas(int32_t currentReplicas, int32_t targetUtilization,
                                 const std::string& resource, const std::string& container,
                                 PodMetricsInfo metrics,
                                 const std::vector<const boost::json::object*>& pods,
                                 const CalculatorOptions& options, Clock::WallTime now);

// Upstream's GetRawResourceReplicas: an AverageValue target (thousandths per pod).
ReplicaProposal rawResourceReplicas(int32_t currentReplicas, int64_t targetAverageMilli,
                                    const std::string& resource, PodMetricsInfo metrics,
                                    const std::vector<const boost::json::object*>& pods,
                                    const CalculatorOptions& options, Clock::WallTime now);

// The requests of `resource` per pod in thousandths (containers and restartable init
// containers, or only `container`). Throws "missing request for cpu in container c of Pod p".
std::map<std::string, int64_t> podRequests(const std::vector<const boost::json::object*>& pods,
                                           const std::string& resource,
                                           const std::string& container);

}  // namespace skiff::controller::hpa
