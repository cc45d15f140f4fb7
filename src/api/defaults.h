// Defaulting: fills the fields upstream v1.32 defaults (pkg/apis/*/v1/defaults.go) so stored
// objects read back exactly as from a real API server. Never overwrites a field already set.
// Server-assigned values (clusterIP, uid, Job selectors, Pod status) are not defaults and are
// left to the API server's strategies.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

namespace skiff::api {

// group "" is the core group; kind is the object's kind ("Pod", "Deployment", ...).
void applyDefaults(std::string_view group, std::string_view kind, boost::json::object& obj);

// Pod spec defaults alone, for any embedded PodTemplateSpec's spec.
void applyPodSpecDefaults(boost::json::object& podSpec);

}  // namespace skiff::api
