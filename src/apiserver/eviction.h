// The pods/eviction subresource (upstream's EvictionREST): deletes a pod unless that would
// violate its PodDisruptionBudget. Exposed apart from the HTTP handler so the budget logic
// can be tested directly against a ResourceStore.
#pragma once
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "apiserver/resource_store.h"

namespace skiff::apiserver {

struct EvictionOutcome {
  int code = 201;              // HTTP status of the answer
  boost::json::object status;  // the Status sent back
};

// Evicts pod ns/name as POST .../pods/name/eviction with `body` (a policy/v1 Eviction)
// does. Refusals are thrown as ApiError (429 when the budget forbids it); the one refusal
// upstream answers with a Status instead of an error (several budgets: 500) is returned.
EvictionOutcome evictPod(ResourceStore& store, const std::string& ns, const std::string& name,
                         const boost::json::value& body, RequestContext& ctx);

}  // namespace skiff::apiserver
