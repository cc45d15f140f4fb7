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

// Write-only wire fields folded into the object as upstream's decoding into the internal
// version does, so they are neither stored nor echoed: a Secret's stringData entries are
// base64-encoded into data (overwriting the same keys) and stringData is dropped. Throws
// ApiError 400 when such a field has the wrong type.
void foldWriteOnlyFields(const ResourceInfo& info, boost::json::object& obj);

}  // namespace skiff::api
