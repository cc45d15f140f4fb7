// Server-side Table output (meta.k8s.io/v1 Table) built from the per-resource printers.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "api/resource_registry.h"

namespace skiff::apiserver {

// A Table of `objects`. includeObject: "None" | "Metadata" | "Object".
boost::json::object makeTable(const api::ResourceInfo& info,
                              const std::vector<const boost::json::object*>& objects,
                              const std::string& includeObject, bool withColumns);

// The same Table (with columns and `listMetadata`) serialized straight from the objects: a
// list's rows are written without copying each object's metadata into a row first.
// Byte-identical to json::serialize of makeTable with that metadata.
std::string serializeTable(const api::ResourceInfo& info,
                           const std::vector<const boost::json::object*>& objects,
                           const std::string& includeObject,
                           const boost::json::object& listMetadata);

}  // namespace skiff::apiserver
