// Kind-specific write hooks (upstream's per-resource "strategy"): what the server itself
// sets on create and update beyond generic metadata handling.
#pragma once

#include <boost/json/object.hpp>

#include "api/resource_registry.h"

namespace skiff::apiserver {

// On create: resets status where clients may not set it, and fills server-owned status
// (a Pod starts Pending with its QoS class, a Namespace Active).
void prepareForCreate(const api::ResourceInfo& info, boost::json::object& obj);
// On a main-resource update (not /status).
void prepareForUpdate(const api::ResourceInfo& info, boost::json::object& obj,
                      const boost::json::object& old);
// True while a namespace still lists spec.finalizers (the namespace controller's "kubernetes").
bool hasNamespaceFinalizers(const boost::json::object& ns);
// Pod QoS class from its containers' requests and limits: Guaranteed, Burstable, BestEffort.
std::string podQosClass(const boost::json::object& pod);

}  // namespace skiff::apiserver
