// The default RBAC policy (upstream's bootstrappolicy): ClusterRoles and
// ClusterRoleBindings every cluster starts with, reconciled on each server start as
// upstream's `reconcile` does — missing objects created, missing rules and subjects added,
// user additions kept, objects annotated rbac.authorization.kubernetes.io/autoupdate=false
// left alone.
#pragma once

#include <boost/json/object.hpp>
#include <vector>

namespace skiff::api {
class ResourceRegistry;
}

namespace skiff::apiserver {

class ResourceStore;

namespace rbac {

std::vector<boost::json::object> bootstrapClusterRoles();
std::vector<boost::json::object> bootstrapClusterRoleBindings();

// What reconciling `expected` into `existing` gives (both full objects of one kind);
// nullopt when nothing changes (also for autoupdate=false). Role objects merge rules and
// aggregation selectors; bindings merge subjects.
std::optional<boost::json::object> reconcileRole(const boost::json::object& expected,
                                                 const boost::json::object& existing);
std::optional<boost::json::object> reconcileBinding(const boost::json::object& expected,
                                                    const boost::json::object& existing);

// Creates or reconciles every bootstrap object through the store (as the server itself).
void reconcileBootstrapPolicy(ResourceStore& store, const api::ResourceRegistry& registry);

}  // namespace rbac
}  // namespace skiff::apiserver
