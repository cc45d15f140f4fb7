// RFC 6902 JSON Patch (application/json-patch+json), with the behaviour of the library the
// upstream apiserver uses (evanphx/json-patch v4): negative array indices count from the end,
// and an operation without "value" uses null.
#pragma once

#include <boost/json/fwd.hpp>

namespace skiff::api {

// Upstream's per-request cap on the number of operations (413 above it).
inline constexpr size_t kMaxJsonPatchOperations = 10000;

// Applies `patch` (a JSON array of operations) to `doc` (an object or array) and returns the
// result; `doc` is not modified. Errors: a patch that is not a list of objects -> ApiError 400
// BadRequest; too many operations -> 413; an operation that cannot be applied (failed test,
// missing path, bad index, unknown op) -> PatchApplyError (422 Invalid).
boost::json::value applyJsonPatch(const boost::json::value& doc, const boost::json::value& patch);

}  // namespace skiff::api
