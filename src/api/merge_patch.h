// RFC 7386 JSON Merge Patch (application/merge-patch+json), as the upstream apiserver applies it
// (evanphx/json-patch MergePatch).
#pragma once

#include <boost/json/fwd.hpp>

namespace skiff::api {

// Returns `doc` with `patch` merged in: object members merge recursively, null deletes a
// member, anything else replaces. Nulls inside inserted objects are dropped. A patch that is
// null or a scalar -> ApiError 400 "Invalid JSON Patch"; an array patch replaces the document.
boost::json::value applyMergePatch(const boost::json::value& doc, const boost::json::value& patch);
// The same, merging into `doc` itself (no copy of the document).
boost::json::value applyMergePatch(boost::json::value&& doc, const boost::json::value& patch);

// The merge patch that turns `original` into `modified`: removed members become null, changed
// members are diffed recursively when both sides are objects, otherwise replaced.
boost::json::value createMergePatch(const boost::json::value& original,
                                    const boost::json::value& modified);

}  // namespace skiff::api
