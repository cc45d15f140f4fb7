// LimitRanger admission (upstream's plugin/pkg/admission/limitranger): the LimitRanges of a
// namespace give pods default container requests and limits on create (recorded in the
// kubernetes.io/limit-ranger annotation) and bound containers, pods and claims with min,
// max and maxLimitRequestRatio. Pure functions over JSON; Admission (admission.cpp) finds the
// namespace's LimitRanges in the watch cache and turns a violation into 403 Forbidden.
#pragma once

#include <boost/json/object.hpp>
#include <string>

namespace skiff::apiserver::limitranger {

inline constexpr const char* kAnnotation = "kubernetes.io/limit-ranger";

// Gives every container and init container of `pod` the Container defaults of `range` that
// it does not set itself (default → limits, defaultRequest → requests). Returns whether
// anything was set (then the annotation says what).
bool applyPodDefaults(const boost::json::object& range, boost::json::object& pod);

// The violations of `range` by `pod` (Container and Pod limits) or by a claim's storage
// request (PersistentVolumeClaim limits), in upstream's words and aggregated as upstream's
// utilerrors (one message alone, several as "[a, b]"); "" when within.
std::string validatePod(const boost::json::object& range, const boost::json::object& pod);
std::string validateClaim(const boost::json::object& range, const boost::json::object& claim);

}  // namespace skiff::apiserver::limitranger
