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
// `texts`, when not empty: each object's JSON text (json::serialize of it, e.g. the watch
// cache's shared encoding), from which rows take the object or its metadata as they are.
std::string serializeTable(const api::ResourceInfo& info,
                           const std::vector<const boost::json::object*>& objects,
                           const std::string& includeObject,
                           const boost::json::object& listMetadata,
                           const std::vector<std::string_view>& texts = {});

// The text of the top-level member `key` of a JSON object's compact text (as json::serialize
// writes it); empty when there is none or the text is not such an object.
std::string_view memberText(std::string_view objectText, std::string_view key);

}  // namespace skiff::apiserver
