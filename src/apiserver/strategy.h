// Kind-specific write hooks (upstream's per-resource "strategy"): what the server itself
// sets on create and update beyond generic metadata handling.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "api/resource_registry.h"
#include "common/api_error.h"

namespace skiff::apiserver {

// Defaulting of a write: a built-in kind's defaults (api/defaults.h) or a custom resource's
// schema defaults.
void applyKindDefaults(const api::ResourceInfo& info, boost::json::object& obj);
// Validation of a create (old == nullptr) or main-resource update; a custom resource is also
// checked against its CRD's schema.
std::vector<StatusCause> validateKind(const api::ResourceInfo& info, const boost::json::object& obj,
                                      const boost::json::object* old);
// Validation of a status write.
std::vector<StatusCause> validateKindStatus(const api::ResourceInfo& info,
                                            const boost::json::object& obj,
                                            const boost::json::object& old);
// Prunes fields a custom resource's schema does not declare (and unknown metadata fields);
// returns their paths. Built-in kinds are pruned by their OpenAPI definition instead.
std::vector<std::string> pruneCustomResource(const api::ResourceInfo& info, boost::json::object& obj);

// On create: resets status where clients may not set it, and fills server-owned status
// (a Pod starts Pending with its QoS class, a Namespace Active).
void prepareForCreate(const api::ResourceInfo& info, boost::json::object& obj);
// On a main-resource update (not /status).
void prepareForUpdate(const api::ResourceInfo& info, boost::json::object& obj,
                      const boost::json::object& old);
// On DELETE of a CustomResourceDefinition: adds the cleanup finalizer and the Terminating
// condition. Returns whether the finalizers changed.
bool prepareCrdDeletion(boost::json::object& crd);
// True while a namespace still lists spec.finalizers (the namespace controller's "kubernetes").
bool hasNamespaceFinalizers(const boost::json::object& ns);
// Pod QoS class from its containers' requests and limits: Guaranteed, Burstable, BestEffort.
std::string podQosClass(const boost::json::object& pod);

}  // namespace skiff::apiserver
