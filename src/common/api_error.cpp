#include "common/api_error.h"

#include <boost/json.hpp>

namespace skiff {

ApiError::ApiError(int code, std::string reason, std::string message)
    : std::runtime_error(std::move(message)), code_(code), reason_(std::move(reason)) {}

boost::json::object ApiError::toStatus() const {
  boost::json::object status{
      {"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", boost::json::object()},
      {"status", "Failure"}, {"message", what()},  {"reason", reason_}};
  // Upstream's field order (metav1.Status): details come before code.
  boost::json::object details;
  if (!detailName.empty()) details["name"] = detailName;
  if (!detailGroup.empty()) details["group"] = detailGroup;
  if (!detailKind.empty()) details["kind"] = detailKind;
  if (!causes.empty()) {
    boost::json::array arr;
    for (const auto& c : causes) {
      boost::json::object o;
      if (!c.type.empty()) o["reason"] = c.type;
      o["message"] = c.message;
      if (!c.field.empty()) o["field"] = c.field;
      arr.push_back(std::move(o));
    }
    details["causes"] = std::move(arr);
  }
  if (retryAfterSeconds > 0) details["retryAfterSeconds"] = retryAfterSeconds;
  if (!details.empty()) status["details"] = std::move(details);
  status["code"] = code_;
  return status;
}

namespace {
// "deployments.apps" -> {resource "deployments", group "apps"}
void splitQualified(const std::string& qualified, ApiError& e) {
  auto dot = qualified.find('.');
  e.detailKind = qualified.substr(0, dot);
  if (dot != std::string::npos) e.detailGroup = qualified.substr(dot + 1);
}
}  // namespace

ApiError notFound(const std::string& qualified, const std::string& name) {
  ApiError e(404, "NotFound", qualified + " \"" + name + "\" not found");
  splitQualified(qualified, e);
  e.detailName = name;
  return e;
}

ApiError alreadyExists(const std::string& qualified, const std::string& name) {
  ApiError e(409, "AlreadyExists", qualified + " \"" + name + "\" already exists");
  splitQualified(qualified, e);
  e.detailName = name;
  return e;
}

ApiError conflict(const std::string& qualified, const std::string& name, const std::string& why) {
  ApiError e(409, "Conflict",
             "Operation cannot be fulfilled on " + qualified + " \"" + name + "\": " + why);
  splitQualified(qualified, e);
  e.detailName = name;
  return e;
}

ApiError staleObjectConflict(const std::string& qualified, const std::string& name) {
  return conflict(qualified, name,
                  "the object has been modified; please apply your changes to the latest version "
                  "and try again");
}

ApiError invalid(const std::string& kind, const std::string& group, const std::string& name,
                 std::vector<StatusCause> causes) {
  std::string qualifiedKind = group.empty() ? kind : kind + "." + group;
  std::string message = qualifiedKind + " \"" + name + "\" is invalid: ";
  if (causes.size() == 1) {
    message += causes[0].field + ": " + causes[0].message;
  } else {
    message += "[";
    for (size_t i = 0; i < causes.size(); ++i) {
      if (i) message += ", ";
      message += causes[i].field + ": " + causes[i].message;
    }
    message += "]";
  }
  ApiError e(422, "Invalid", message);
  e.detailName = name;
  e.detailGroup = group;
  e.detailKind = kind;
  e.causes = std::move(causes);
  return e;
}

ApiError badRequest(const std::string& message) { return ApiError(400, "BadRequest", message); }

ApiError methodNotSupported(const std::string& qualified, const std::string& action) {
  ApiError e(405, "MethodNotAllowed",
             action + " is not supported on resources of kind \"" + qualified + "\"");
  splitQualified(qualified, e);
  return e;
}

ApiError unsupportedMediaType(const std::string& contentType) {
  return ApiError(415, "UnsupportedMediaType",
                  "the body of the request was in an unknown format - accepted media types "
                  "include: application/json, application/yaml, "
                  "application/vnd.kubernetes.protobuf (got \"" +
                      contentType + "\")");
}

ApiError notAcceptable(const std::string& message) {
  return ApiError(406, "NotAcceptable", message);
}

ApiError requestEntityTooLarge(const std::string& message) {
  return ApiError(413, "RequestEntityTooLarge", "Request entity too large: " + message);
}

ApiError expired(const std::string& message) { return ApiError(410, "Expired", message); }

ApiError forbidden(const std::string& qualified, const std::string& name, const std::string& why) {
  ApiError e(403, "Forbidden", qualified + " \"" + name + "\" is forbidden: " + why);
  splitQualified(qualified, e);
  e.detailName = name;
  return e;
}

ApiError tooManyRequests(const std::string& message, int retryAfterSeconds) {
  ApiError e(429, "TooManyRequests", message);
  e.retryAfterSeconds = retryAfterSeconds;
  return e;
}

ApiError internalError(const std::string& message) {
  return ApiError(500, "InternalError", "Internal error occurred: " + message);
}

}  // namespace skiff
