// Upstream's NodeRestriction admission plugin: what a kubelet (system:node:NAME in
// system:nodes) may write, beyond what the authorizers let it reach — its own Node, its own
// Lease and CSINode, mirror pods bound to itself and referencing nothing, status of pods
// bound to itself, deletion of pods bound to itself, PVC status only. Other writers pass.
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "api/resource_registry.h"
#include "apiserver/auth/authorizer.h"

namespace skiff::apiserver::rbac {

// operation: CREATE, UPDATE or DELETE; obj: the object written (CREATE/UPDATE); old: the
// stored object (UPDATE/DELETE). Throws upstream's 403.
void admitNodeWrite(const api::ResourceInfo& info, const std::string& operation,
                    const std::string& subresource, const std::string& name,
                    const boost::json::object* obj, const boost::json::object* old,
                    const UserInfo* user);

}  // namespace skiff::apiserver::rbac
