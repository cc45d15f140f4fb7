// Server-side Table output (meta.k8s.io/v1 Table) built from the per-resource printers.
#pragma once

#include <boost/json/object.hpp>
#include <vector>

#include "api/resource_registry.h"

namespace skiff::apiserver {

// A Table of `objects`. includeObject: "None" | "Metadata" | "Object".
boost::json::object makeTable(const api::ResourceInfo& info,
                              const std::vector<const boost::json::object*>& objects,
                              const std::string& includeObject, bool withColumns);

}  // namespace skiff::apiserver
