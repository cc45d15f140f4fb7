// Content negotiation: decoding request bodies (JSON, YAML, Kubernetes protobuf) and
// choosing the response form (JSON object, Table, protobuf).
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "net/http_types.h"

namespace skiff::apiserver {

// A Content-Type without its parameters ("application/json; charset=utf-8" → "application/json").
std::string mediaType(const std::string& contentType);

// Decodes a request body by its Content-Type. Throws ApiError 400 (malformed) or 415.
boost::json::value decodeRequestBody(const HttpRequest& req);

struct ResponseFormat {
  bool table = false;         // Accept asks for meta.k8s.io Table
  bool protobuf = false;      // only protobuf is acceptable
  std::string includeObject;  // Table rows: None | Metadata (default) | Object
};
ResponseFormat negotiate(const HttpRequest& req);

// Serializes an object into a response in the negotiated form (not for tables).
HttpResponse objectResponse(int status, const boost::json::object& obj, const ResponseFormat& f);

}  // namespace skiff::apiserver
