// Lease (upstream pkg/registry/coordination/lease): positive duration, nonnegative transitions.
#include <boost/json.hpp>

#include "api/defaults_internal.h"
#include "api/kind_strategy.h"

namespace skiff::api {

namespace validation {
namespace {

void validateLease(const json::object& lease, Errors& errs) {
  const auto& spec = obj(lease, "spec");
  if (auto d = integer(spec, "leaseDurationSeconds"); d && *d <= 0)
    errs.invalid("spec.leaseDurationSeconds", std::to_string(*d), "must be greater than 0");
  validateNonnegative(spec, "leaseTransitions", "spec", errs);
}

}  // namespace
}  // namespace validation

namespace json = boost::json;

void addLeaseKinds(std::vector<KindStrategy>& out) {
  out.push_back({.group = "coordination.k8s.io",
                 .kind = "Lease",
                 .validate = [](const json::object& o, const json::object*, validation::Errors& e) {
                   validation::validateLease(o, e);
                 }});
}

}  // namespace skiff::api
