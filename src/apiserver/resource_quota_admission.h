// ResourceQuota admission (upstream's k8s.io/apiserver/pkg/admission/plugin/resourcequota):
// a create (or, for services and claims, an update) is charged to every quota of its
// namespace that accounts it; a charge that would take status.used past status.hard is
// refused with 403 Forbidden. The charge itself is a compare-and-swap write of the quota's
// status.used (Admission::chargeQuotas), so concurrent creates cannot overrun a quota; the
// resource quota controller later recomputes status.used from what exists, which gives back
// what deleted objects (and refused writes that were charged) held.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "api/resource_quota.h"

namespace skiff::apiserver::quotaadmission {

// Checks the write of `obj` (old: the stored object of an update, else null) of kind `gr`
// against `quotas` (ResourceQuota objects of its namespace) and adds its usage to the
// status.used of those that account it. Returns the indexes of the quotas it changed. Throws
// 403 naming `qualifiedResource` "name": a pod without the requests or limits a quota
// constrains ("failed quota"), a quota whose usage is not known yet ("status unknown"), or
// a quota that would be exceeded ("exceeded quota"). A quota without status.hard (not yet
// seen by its controller) accounts nothing, as upstream.
std::vector<size_t> charge(std::vector<boost::json::object>& quotas,
                           const api::quota::GroupResource& gr,
                           const std::string& qualifiedResource, const std::string& name,
                           const boost::json::object& obj, const boost::json::object* old);

}  // namespace skiff::apiserver::quotaadmission
