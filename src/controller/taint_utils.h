// Taints and tolerations as the node lifecycle, taint eviction and pod GC controllers need
// them (upstream's v1helper taint/toleration matching and the well-known node taint keys).
// Header-only: the three controllers share it and it has no state.
#pragma once
#include <boost/json.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/ids.h"
#include "controller/controller_utils.h"

namespace skiff::controller::taints {

inline const std::string kNotReady = "node.kubernetes.io/not-ready";
inline const std::string kUnreachable = "node.kubernetes.io/unreachable";
inline const std::string kUnschedulable = "node.kubernetes.io/unschedulable";
inline const std::string kMemoryPressure = "node.kubernetes.io/memory-pressure";
inline const std::string kDiskPressure = "node.kubernetes.io/disk-pressure";
inline const std::string kPidPressure = "node.kubernetes.io/pid-pressure";
inline const std::string kNetworkUnavailable = "node.kubernetes.io/network-unavailable";
inline const std::string kOutOfService = "node.kubernetes.io/out-of-service";

inline const std::string kNoExecute = "NoExecute";
inline const std::string kNoSchedule = "NoSchedule";

struct Taint {
  std::string key, value, effect;
  std::optional<std::chrono::system_clock::time_point> timeAdded;
};

// spec.taints of a node; malformed entries are skipped so a bad object never stops a pass.
inline std::vector<Taint> nodeTaints(const boost::json::object& node) {
  std::vector<Taint> out;
  const boost::json::array* arr = arrayAt(node, {"spec", "taints"});
  if (!arr) return out;
  for (const auto& v : *arr) {
    const boost::json::object* t = v.if_object();
    if (!t) continue;
    Taint taint{stringAt(*t, {"key"}), stringAt(*t, {"value"}), stringAt(*t, {"effect"}),
                std::nullopt};
    std::chrono::system_clock::time_point at;
    if (parseTime(stringAt(*t, {"timeAdded"}), at)) taint.timeAdded = at;
    out.push_back(std::move(taint));
  }
  return out;
}

inline std::vector<Taint> noExecuteTaints(const boost::json::object& node) {
  std::vector<Taint> out;
  for (auto& t : nodeTaints(node))
    if (t.effect == kNoExecute) out.push_back(std::move(t));
  return out;
}

inline bool hasTaint(const boost::json::object& node, const std::string& key,
                     const std::string& effect) {
  for (const auto& t : nodeTaints(node))
    if (t.key == key && t.effect == effect) return true;
  return false;
}

// Upstream's Toleration.ToleratesTaint: an empty effect matches every effect; an empty key
// with operator Exists matches every key; Exists ignores the value, Equal (the default)
// compares it.
inline bool tolerates(const boost::json::object& toleration, const Taint& taint) {
  std::string effect = stringAt(toleration, {"effect"});
  if (!effect.empty() && effect != taint.effect) return false;
  std::string key = stringAt(toleration, {"key"});
  std::string op = stringAt(toleration, {"operator"}, "Equal");
  if (op.empty()) op = "Equal";
  if (!key.empty() && key != taint.key) return false;
  if (op == "Exists") return true;
  if (op == "Equal") return !key.empty() && stringAt(toleration, {"value"}) == taint.value;
  return false;
}

// For one taint: the first toleration of the pod that tolerates it, or nullptr.
inline const boost::json::object* matchingToleration(const boost::json::object& pod,
                                                     const Taint& taint) {
  const boost::json::array* tols = arrayAt(pod, {"spec", "tolerations"});
  if (!tols) return nullptr;
  for (const auto& v : *tols)
    if (const boost::json::object* tol = v.if_object(); tol && tolerates(*tol, taint)) return tol;
  return nullptr;
}

}  // namespace skiff::controller::taints
