// Upstream's HPA normalization rules (see the header). Two stabilization schemes exist:
// HPAs without spec.behavior keep upstream's original one (the highest recommendation of
// the downscale window, and at most max(2 × current, 4) replicas per step); HPAs with a
// behavior use the newer one, where each direction has its own window and rate policies.
#include "controller/hpa_behavior.h"

#include <algorithm>
#include <climits>
#include <cmath>

#include "api/json_access.h"

namespace skiff::controller::hpa {
namespace {

namespace json = boost::json;
using std::chrono::seconds;

// Upstream's scaleUpLimitFactor and scaleUpLimitMinimum (no behavior).
constexpr int32_t kScaleUpLimitFactor = 2;
constexpr int32_t kScaleUpLimitMinimum = 4;

ScalingRules parseRules(const json::object* o, ScalingRules defaults) {
  if (!o) return defaults;
  ScalingRules r = defaults;
  if (const json::value* w = o->if_contains("stabilizationWindowSeconds"); w && w->is_int64())
    r.stabilizationWindowSeconds = static_cast<int32_t>(w->as_int64());
  if (const json::value* s = o->if_contains("selectPolicy"); s && s->is_string())
    r.selectPolicy = std::string(s->as_string());
  if (const json::array* ps = api::arrayAt(*o, {"policies"})) {
    r.policies.clear();
    for (const auto& p : *ps) {
      if (!p.is_object()) continue;
      const auto& po = p.as_object();
      r.policies.push_back({api::stringAt(po, {"type"}),
                            static_cast<int32_t>(api::intAt(po, {"value"})),
                            static_cast<int32_t>(api::intAt(po, {"periodSeconds"}))});
    }
  }
  return r;
}

int32_t changeWithin(const std::vector<int32_t>& changes, const std::vector<Clock::WallTime>& times,
                     int32_t periodSeconds, Clock::WallTime now) {
  int32_t sum = 0;
  const auto cutoff = now - seconds(periodSeconds);
  for (size_t i = 0; i < changes.size(); ++i)
    if (times[i] > cutoff) sum += changes[i];
  return sum;
}

int32_t longestPeriod(const ScalingRules& rules) {
  int32_t longest = 0;
  for (const auto& p : rules.policies) longest = std::max(longest, p.periodSeconds);
  return longest;
}

}  // namespace

std::optional<Behavior> parseBehavior(const json::object& spec) {
  const json::object* b = api::objectAt(spec, {"behavior"});
  if (!b) return std::nullopt;
  ScalingRules upDefaults;
  upDefaults.stabilizationWindowSeconds = 0;
  upDefaults.policies = {{"Pods", 4, 15}, {"Percent", 100, 15}};
  ScalingRules downDefaults;
  downDefaults.policies = {{"Percent", 100, 15}};
  return Behavior{parseRules(api::objectAt(*b, {"scaleUp"}), upDefaults),
                  parseRules(api::objectAt(*b, {"scaleDown"}), downDefaults)};
}

int32_t scaleUpLimit(int32_t current, const ScalingRules& rules,
                     const std::function<int32_t(int32_t)>& added,
                     const std::function<int32_t(int32_t)>& removed) {
  if (rules.selectPolicy == "Disabled") return current;
  const bool pickMin = rules.selectPolicy == "Min";  // the smallest change
  int32_t result = pickMin ? INT32_MAX : INT32_MIN;
  for (const auto& p : rules.policies) {
    const int32_t periodStart = current - added(p.periodSeconds) + removed(p.periodSeconds);
    int32_t proposed = periodStart;
    if (p.type == "Pods") proposed = periodStart + p.value;
    // Rounded up: a small percentage of few replicas must still allow one more.
    else if (p.type == "Percent")
      proposed = static_cast<int32_t>(std::ceil(periodStart * (1 + p.value / 100.0)));
    result = pickMin ? std::min(result, proposed) : std::max(result, proposed);
  }
  return result;
}

int32_t scaleDownLimit(int32_t current, const ScalingRules& rules,
                       const std::function<int32_t(int32_t)>& added,
                       const std::function<int32_t(int32_t)>& removed) {
  if (rules.selectPolicy == "Disabled") return current;
  const bool pickMin = rules.selectPolicy == "Min";  // the smallest change: the highest floor
  int32_t result = pickMin ? INT32_MIN : INT32_MAX;
  for (const auto& p : rules.policies) {
    const int32_t periodStart = current - added(p.periodSeconds) + removed(p.periodSeconds);
    int32_t proposed = periodStart;
    if (p.type == "Pods")
      proposed = periodStart - p.value;
    else if (p.type == "Percent")
      proposed = static_cast<int32_t>(periodStart * (1 - p.value / 100.0));
    result = pickMin ? std::max(result, proposed) : std::min(result, proposed);
  }
  return result;
}

void HpaHistory::recordInitial(const std::string& key, int32_t currentReplicas,
                               Clock::WallTime now) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[key];
  if (e.recommendations.empty()) e.recommendations.push_back({currentReplicas, now});
}

void HpaHistory::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

Normalized HpaHistory::normalize(const std::string& key, int32_t current, int32_t desired,
                                 int32_t minReplicas, int32_t maxReplicas,
                                 std::chrono::milliseconds downscaleWindow, Clock::WallTime now) {
  int32_t stabilized = desired;
  {
    std::lock_guard lock(mu_);
    Entry& e = entries_[key];
    const auto cutoff = now - downscaleWindow;
    std::optional<size_t> old;
    for (size_t i = 0; i < e.recommendations.size(); ++i) {
      if (e.recommendations[i].at < cutoff)
        old = i;
      else
        stabilized = std::max(stabilized, e.recommendations[i].replicas);
    }
    if (old)
      e.recommendations[*old] = {desired, now};
    else
      e.recommendations.push_back({desired, now});
  }
  Normalized n;
  if (stabilized != desired) {
    n.ableReason = "ScaleDownStabilized";
    n.ableMessage =
        "recent recommendations were higher than current one, applying the highest recent "
        "recommendation";
  } else {
    n.ableReason = "ReadyForNewScale";
    n.ableMessage = "recommended size matches current size";
  }
  const int32_t upLimit = std::max(kScaleUpLimitFactor * current, kScaleUpLimitMinimum);
  int32_t maxAllowed;
  std::string reason, message;
  if (maxReplicas > upLimit) {
    maxAllowed = upLimit;
    reason = "ScaleUpLimit";
    message = "the desired replica count is increasing faster than the maximum scale rate";
  } else {
    maxAllowed = maxReplicas;
    reason = "TooManyReplicas";
    message = "the desired replica count is more than the maximum replica count";
  }
  n.replicas = stabilized;
  if (stabilized < minReplicas) {
    n.replicas = minReplicas;
    reason = "TooFewReplicas";
    message = "the desired replica count is less than the minimum replica count";
  } else if (stabilized > maxAllowed) {
    n.replicas = maxAllowed;
  } else {
    reason = "DesiredWithinRange";
    message = "the desired count is within the acceptable range";
  }
  n.limited = n.replicas != stabilized;
  n.limitedReason = reason;
  n.limitedMessage = message;
  return n;
}

Normalized HpaHistory::normalizeWithBehavior(const std::string& key, const Behavior& behavior,
                                             int32_t current, int32_t desired, int32_t minReplicas,
                                             int32_t maxReplicas, Clock::WallTime now) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[key];
  // Stabilization: the lowest recommendation of the up window caps a scale-up, the highest
  // of the down window floors a scale-down, so flapping metrics do not flap the scale.
  const auto upCutoff = now - seconds(behavior.scaleUp.stabilizationWindowSeconds.value_or(0));
  const auto downCutoff =
      now - seconds(behavior.scaleDown.stabilizationWindowSeconds.value_or(300));
  int32_t upRec = desired, downRec = desired;
  std::optional<size_t> old;
  for (size_t i = 0; i < e.recommendations.size(); ++i) {
    const auto& r = e.recommendations[i];
    if (r.at > upCutoff) upRec = std::min(upRec, r.replicas);
    if (r.at > downCutoff) downRec = std::max(downRec, r.replicas);
    if (r.at < upCutoff && r.at < downCutoff) old = i;
  }
  int32_t stabilized = std::min(std::max(current, upRec), downRec);
  if (old)
    e.recommendations[*old] = {desired, now};
  else
    e.recommendations.push_back({desired, now});

  Normalized n;
  if (stabilized != desired) {
    if (desired >= current) {
      n.ableReason = "ScaleUpStabilized";
      n.ableMessage =
          "recent recommendations were lower than current one, applying the lowest recent "
          "recommendation";
    } else {
      n.ableReason = "ScaleDownStabilized";
      n.ableMessage =
          "recent recommendations were higher than current one, applying the highest recent "
          "recommendation";
    }
  } else {
    n.ableReason = "ReadyForNewScale";
    n.ableMessage = "recommended size matches current size";
  }

  std::vector<int32_t> upChanges, downChanges;
  std::vector<Clock::WallTime> upTimes, downTimes;
  for (const auto& ev : e.up) upChanges.push_back(ev.change), upTimes.push_back(ev.at);
  for (const auto& ev : e.down) downChanges.push_back(ev.change), downTimes.push_back(ev.at);
  auto added = [&](int32_t p) { return changeWithin(upChanges, upTimes, p, now); };
  auto removed = [&](int32_t p) { return changeWithin(downChanges, downTimes, p, now); };

  n.replicas = stabilized;
  n.limitedReason = "DesiredWithinRange";
  n.limitedMessage = "the desired count is within the acceptable range";
  if (stabilized > current) {
    // Never below the current scale: past scale-ups only hold further ones back.
    const int32_t limit =
        std::max(scaleUpLimit(current, behavior.scaleUp, added, removed), current);
    int32_t maxAllowed = maxReplicas;
    std::string reason = "TooManyReplicas",
                message = "the desired replica count is more than the maximum replica count";
    if (maxAllowed > limit) {
      maxAllowed = limit;
      reason = "ScaleUpLimit";
      message = "the desired replica count is increasing faster than the maximum scale rate";
    }
    if (stabilized > maxAllowed) {
      n.replicas = maxAllowed;
      n.limitedReason = reason;
      n.limitedMessage = message;
    }
  } else if (stabilized < current) {
    const int32_t limit =
        std::min(scaleDownLimit(current, behavior.scaleDown, added, removed), current);
    int32_t minAllowed = minReplicas;
    std::string reason = "TooFewReplicas",
                message = "the desired replica count is less than the minimum replica count";
    if (minAllowed < limit) {
      minAllowed = limit;
      reason = "ScaleDownLimit";
      message = "the desired replica count is decreasing faster than the maximum scale rate";
    }
    if (stabilized < minAllowed) {
      n.replicas = minAllowed;
      n.limitedReason = reason;
      n.limitedMessage = message;
    }
  }
  n.limited = n.replicas != stabilized;
  return n;
}

void HpaHistory::recordScaleEvent(const std::string& key, const std::optional<Behavior>& behavior,
                                  int32_t previous, int32_t replicas, Clock::WallTime now) {
  if (!behavior || previous == replicas) return;
  std::lock_guard lock(mu_);
  Entry& e = entries_[key];
  const bool up = replicas > previous;
  auto& events = up ? e.up : e.down;
  // Events older than the longest policy period can no longer limit anything.
  const auto cutoff = now - seconds(longestPeriod(up ? behavior->scaleUp : behavior->scaleDown));
  std::erase_if(events, [&](const ScaleEvent& ev) { return ev.at <= cutoff; });
  events.push_back({up ? replicas - previous : previous - replicas, now});
}

}  // namespace skiff::controller::hpa
