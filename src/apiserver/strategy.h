// Kind-specific write hooks (upstream's per-resource "strategy"): the generic entry points the
// server calls. Built-in kinds dispatch to their api::KindStrategy (src/api/kinds/), custom
// resources to custom_resource_strategy.cpp.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "api/kind_strategy.h"
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
// Validation of a status write (`subresource`: "status" or a status-like one, below).
std::vector<StatusCause> validateKindStatus(const api::ResourceInfo& info,
                                            const boost::json::object& obj,
                                            const boost::json::object& old,
                                            const std::string& subresource = "status");
// Whether writes to `subresource` change only status, as /status does: "status" and the
// kind's status-like subresources (a CertificateSigningRequest's "approval").
bool isStatusLikeSubresource(const api::ResourceInfo& info, const std::string& subresource);
// Prunes fields a custom resource's schema does not declare (and unknown metadata fields);
// returns their paths. Built-in kinds are pruned by their OpenAPI definition instead.
std::vector<std::string> pruneCustomResource(const api::ResourceInfo& info,
                                             boost::json::object& obj);

// On create: resets status where clients may not set it (unless the kind keeps it), then the
// kind's own create hook (api/kind_strategy.h: a Pod starts Pending with its QoS class, a
// Namespace Active, a Job gets its selector).
void prepareForCreate(const api::ResourceInfo& info, boost::json::object& obj);
// On a status-like write, after the rest of the object was copied from the stored one.
void prepareForStatusUpdate(const api::ResourceInfo& info, boost::json::object& obj,
                            const boost::json::object& old, const std::string& subresource);
// On a main-resource update (not /status): the kind's update hook.
void prepareForUpdate(const api::ResourceInfo& info, boost::json::object& obj,
                      const boost::json::object& old);
// The built-in kind's strategy, or nullptr for custom resources and kinds without one.
const api::KindStrategy* strategyOf(const api::ResourceInfo& info);

}  // namespace skiff::apiserver
