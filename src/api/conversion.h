// Version conversion for resources served at several versions over one storage (upstream
// keeps one storage version and converts at the API boundary):
//   autoscaling/v1 HorizontalPodAutoscaler  <-> autoscaling/v2 (stored)
//   events.k8s.io/v1 Event                  <-> core/v1 Event (stored)
#pragma once

#include <boost/json/object.hpp>

#include "api/resource_registry.h"

namespace skiff::api {

// Converts `obj` (whose apiVersion names its current version) to `target`'s version.
// Returns the object unchanged when it is already in that version.
boost::json::object convertObject(const boost::json::object& obj, const ResourceInfo& target);

}  // namespace skiff::api
