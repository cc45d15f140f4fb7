// ApiError: the one error type that crosses layers. It carries exactly what an upstream
// metav1.Status carries, so any layer can fail a request with the right HTTP code and reason.
// Policy: throw ApiError for request-level failures; the HTTP layer turns it into a Status.
#pragma once

#include <boost/json/fwd.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace skiff {

// One entry of Status.details.causes (e.g. a validation failure on one field).
struct StatusCause {
  std::string type;     // e.g. "FieldValueInvalid", "FieldValueRequired"
  std::string message;  // e.g. "Invalid value: \"Foo\": a lowercase RFC 1123 ..."
  std::string field;    // e.g. "metadata.name"
};

class ApiError : public std::runtime_error {
 public:
  ApiError(int code, std::string reason, std::string message);

  int code() const { return code_; }
  const std::string& reason() const { return reason_; }

  // Status.details; all optional.
  std::string detailName, detailGroup, detailKind;
  std::vector<StatusCause> causes;
  int retryAfterSeconds = 0;

  // The upstream Status object (kind Status, apiVersion v1).
  boost::json::object toStatus() const;

 private:
  int code_;
  std::string reason_;
};

// Factories named after upstream's apimachinery/pkg/api/errors constructors. `qualified`
// is the group-qualified resource as upstream prints it: "pods", "deployments.apps".
ApiError notFound(const std::string& qualified, const std::string& name);
ApiError alreadyExists(const std::string& qualified, const std::string& name);
ApiError conflict(const std::string& qualified, const std::string& name, const std::string& why);
// 409 for a write based on an outdated resourceVersion (upstream's OptimisticLockError text).
ApiError staleObjectConflict(const std::string& qualified, const std::string& name);
ApiError invalid(const std::string& kind, const std::string& group, const std::string& name,
                 std::vector<StatusCause> causes);
ApiError badRequest(const std::string& message);
ApiError methodNotSupported(const std::string& qualified, const std::string& action);
ApiError unsupportedMediaType(const std::string& contentType);
ApiError notAcceptable(const std::string& message);
// 413 with upstream's "Request entity too large: " before the message.
ApiError requestEntityTooLarge(const std::string& message);
ApiError expired(const std::string& message);  // 410 Gone, reason Expired
ApiError forbidden(const std::string& qualified, const std::string& name, const std::string& why);
ApiError tooManyRequests(const std::string& message, int retryAfterSeconds);
ApiError internalError(const std::string& message);

}  // namespace skiff
