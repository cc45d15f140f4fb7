// What the HorizontalPodAutoscaler does with a replica proposal before it scales (upstream's
// normalizeDesiredReplicas / normalizeDesiredReplicasWithBehaviors): stabilization over
// recent recommendations, scaling-rate policies, and min/max replicas. The history per HPA
// (recommendations, scale events) lives in HpaHistory; time is passed in, so tests move it.
#pragma once
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"

namespace skiff::controller::hpa {

struct ScalingPolicy {
  std::string type;  // "Pods" or "Percent"
  int32_t value = 0;
  int32_t periodSeconds = 0;
};

struct ScalingRules {
  // Unset for scaleDown means the controller's --horizontal-pod-autoscaler-downscale-stabilization.
  std::optional<int32_t> stabilizationWindowSeconds;
  std::string selectPolicy = "Max";  // Max, Min or Disabled
  std::vector<ScalingPolicy> policies;
};

struct Behavior {
  ScalingRules scaleUp, scaleDown;
};

// spec.behavior with upstream's defaults filled in (scaleUp: no window, max of 4 pods or
// 100 % per 15 s; scaleDown: 100 % per 15 s), nullopt when the HPA has no behavior.
std::optional<Behavior> parseBehavior(const boost::json::object& hpaSpec);

// The outcome of normalization, with the AbleToScale and ScalingLimited conditions it sets.
struct Normalized {
  int32_t replicas = 0;
  std::string ableReason, ableMessage;  // AbleToScale=True
  bool limited = false;                 // ScalingLimited status
  std::string limitedReason, limitedMessage;
};

class HpaHistory {
 public:
  // The first sync of an HPA records its current scale as a recommendation.
  void recordInitial(const std::string& key, int32_t currentReplicas, Clock::WallTime now);

  // Without spec.behavior: the highest recommendation of the downscale window, then
  // upstream's fixed scale-up limit (max(2 × current, 4)) and min/max replicas.
  Normalized normalize(const std::string& key, int32_t current, int32_t desired,
                       int32_t minReplicas, int32_t maxReplicas,
                       std::chrono::milliseconds downscaleWindow, Clock::WallTime now);

  // With spec.behavior: both stabilization windows, then the rate policies of the
  // direction (the changes made within each policy's period count against it).
  Normalized normalizeWithBehavior(const std::string& key, const Behavior& behavior,
                                   int32_t current, int32_t desired, int32_t minReplicas,
                                   int32_t maxReplicas, Clock::WallTime now);

  // A rescale happened (only kept for HPAs with a behavior, whose policies need it).
  void recordScaleEvent(const std::string& key, const std::optional<Behavior>& behavior,
                        int32_t previous, int32_t now_replicas, Clock::WallTime now);

  void forget(const std::string& key);

 private:
  struct Recommendation {
    int32_t replicas;
    Clock::WallTime at;
  };
  struct ScaleEvent {
    int32_t change;
    Clock::WallTime at;
  };
  struct Entry {
    std::vector<Recommendation> recommendations;
    std::vector<ScaleEvent> up, down;
  };

  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

// Exposed for tests: the most replicas the scale-up policies allow now, and the fewest the
// scale-down policies allow (upstream's calculateScaleUpLimitWithScalingRules and
// calculateScaleDownLimitWithBehaviors). `added`/`removed(periodSeconds)` give the replicas
// added or removed by rescales within the last period.
int32_t scaleUpLimit(int32_t current, const ScalingRules& rules,
                     const std::function<int32_t(int32_t)>& added,
                     const std::function<int32_t(int32_t)>& removed);
int32_t scaleDownLimit(int32_t current, const ScalingRules& rules,
                       const std::function<int32_t(int32_t)>& added,
                       const std::function<int32_t(int32_t)>& removed);

}  // namespace skiff::controller::hpa
