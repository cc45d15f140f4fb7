// Errors the patch appliers raise, shaped like the apiserver's answers to bad patches:
//  - malformed patch documents: 400 BadRequest (use skiff::badRequest);
//  - a well-formed patch that cannot be applied (json-patch test failed, missing path, list of
//    lists in a strategic patch): 422 Invalid with upstream's fixed generic message;
//  - other strategic-merge failures (missing merge key, unknown $patch): upstream passes a
//    plain Go error through, which the apiserver answers as 500 with an empty reason.
#pragma once

#include <string>

#include "common/api_error.h"

namespace skiff::api {

class PatchApplyError : public ApiError {
 public:
  // `detail` is why the patch failed; upstream does not send it to clients, but it is kept
  // here for logs and tests.
  explicit PatchApplyError(std::string detail)
      : ApiError(422, "Invalid", "the server rejected our request due to an error in our request"),
        detail_(std::move(detail)) {}
  const std::string& detail() const { return detail_; }

 private:
  std::string detail_;
};

// A failure upstream reports as a non-Status error: HTTP 500, empty reason, raw message.
inline ApiError patchFailure(const std::string& message) { return ApiError(500, "", message); }

}  // namespace skiff::api
