// Resource quota accounting shared by the ResourceQuota admission plugin (API server) and the
// resource quota controller (controller manager): what one object uses of each quota
// resource name, which quota names an object kind is accounted under, and whether a quota's
// scopes select an object (upstream's pkg/quota/v1 evaluators: pods, services, persistent
// volume claims and the generic object counts). Pure JSON in, ResourceLists out.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/quantity.h"

namespace skiff::api::quota {

// A corev1.ResourceList: resource name → amount, ordered by name (upstream sorts for messages).
using ResourceList = std::map<std::string, Quantity>;

// The amounts of a JSON ResourceList (malformed entries are skipped: validation refused them).
ResourceList parseList(const boost::json::object* list);
boost::json::object toJson(const ResourceList& list);
// "pods=1,requests.cpu=500m": upstream's prettyPrint for messages.
std::string prettyPrint(const ResourceList& list);
// Sum; a name missing on one side counts as zero.
ResourceList add(const ResourceList& a, const ResourceList& b);
// a - b, floored at zero (upstream's SubtractWithNonNegativeResult).
ResourceList subtractNonNegative(const ResourceList& a, const ResourceList& b);
// The entries of `list` whose names are in `names`.
ResourceList mask(const ResourceList& list, const std::vector<std::string>& names);
std::vector<std::string> names(const ResourceList& list);
// Whether every entry of `a` is <= the same entry of `b` (missing in b: not limited); the
// names that are not go to `exceeded`.
bool lessThanOrEqual(const ResourceList& a, const ResourceList& b,
                     std::vector<std::string>* exceeded = nullptr);

// The object kind an evaluator accounts: API group ("" core) and resource plural.
struct GroupResource {
  std::string group, resource;
  auto operator<=>(const GroupResource&) const = default;
};

// "count/pods" for core resources, "count/deployments.apps" for the others.
std::string countName(const GroupResource& gr);
// The object kinds a quota resource name accounts (upstream's evaluators that match it):
// "requests.cpu" → pods, "services.nodeports" → services, "count/jobs.batch" → jobs.batch.
// Empty for names no evaluator knows (they are never charged).
std::vector<GroupResource> kindsOf(const std::string& name);
// Whether quota resource `name` accounts objects of `gr` (upstream's MatchingResources).
bool accounts(const GroupResource& gr, const std::string& name);
// The names of `hard` that account objects of `gr`.
std::vector<std::string> matchingNames(const GroupResource& gr,
                                       const std::vector<std::string>& hard);
// Whether creates (and for services and claims, updates) of `gr` are charged (upstream's
// evaluator Handles: pods on create only, services and claims on create and update, object
// counts on create).
bool chargedOnUpdate(const GroupResource& gr);

// What one object uses. Pods in a terminal phase (or past their deletion grace period, as of
// `now`) use only count/pods, as upstream's QuotaV1Pod.
ResourceList usage(const GroupResource& gr, const boost::json::object& obj,
                   std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// Whether the quota's spec.scopes and spec.scopeSelector select `obj`. Only pods have scopes;
// a scoped quota matches no other kind (upstream's MatchesNoScopeFunc).
bool scopesMatch(const boost::json::object& quota, const GroupResource& gr,
                 const boost::json::object& obj);

// The pod evaluator's Constraints: a quota that limits cpu or memory (requests, limits or the
// bare names) needs every container to say the matching request or limit. Returns
// "must specify limits.cpu for: a,b; requests.memory for: a", or "" when satisfied.
std::string podConstraints(const std::vector<std::string>& required,
                           const boost::json::object& pod);

// The pod's summed container requests and limits (upstream's PodRequests/PodLimits: regular
// containers summed, init containers as the max with restartable sidecars added), with the
// pod overhead when `withOverhead` (quota counts it, LimitRanger does not).
ResourceList podRequests(const boost::json::object& pod, bool withOverhead);
ResourceList podLimits(const boost::json::object& pod, bool withOverhead);

}  // namespace skiff::api::quota

namespace skiff::api {
// The pod's QoS class (Guaranteed, Burstable or BestEffort) from its containers' requests and
// limits; defined with the Pod strategy (kinds/pod.cpp).
std::string podQosClass(const boost::json::object& pod);
}  // namespace skiff::api
