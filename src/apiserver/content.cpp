#include "apiserver/content.h"

#include <boost/json.hpp>

#include "api/managed_fields_text.h"
#include "api/protobuf_codec.h"
#include "api/yaml_json.h"
#include "common/api_error.h"

namespace skiff::apiserver {

namespace json = boost::json;

std::string mediaType(const std::string& contentType) {
  std::string type = contentType.substr(0, contentType.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type;
}

json::value decodeRequestBody(const HttpRequest& req) {
  std::string type = mediaType(req.header("content-type"));
  if (req.body.empty()) throw badRequest("the request body is empty");
  if (type == "application/vnd.kubernetes.protobuf") return api::decodeProtobufObject(req.body);
  if (type == "application/yaml" || type == "application/apply-patch+yaml")
    return api::yamlToJson(req.body);
  if (type.empty() || type == "application/json" || type == "application/json-patch+json" ||
      type == "application/merge-patch+json" || type == "application/strategic-merge-patch+json" ||
      type == "*/*") {
    boost::system::error_code ec;
    json::value v = json::parse(req.body, ec);
    if (ec) throw badRequest("couldn't get version/kind; json parse error: " + ec.message());
    return v;
  }
  throw unsupportedMediaType(type);
}

ResponseFormat negotiate(const HttpRequest& req) {
  ResponseFormat f;
  std::string accept = req.header("accept");
  // Take the first acceptable alternative, as clients list them by preference.
  size_t start = 0;
  while (start <= accept.size()) {
    size_t comma = accept.find(',', start);
    std::string alt =
        accept.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? accept.size() + 1 : comma + 1;
    if (alt.find("as=Table") != std::string::npos &&
        alt.find("application/json") != std::string::npos) {
      f.table = true;
      break;
    }
    if (alt.find("application/json") != std::string::npos || alt.find("*/*") != std::string::npos ||
        alt.find("application/yaml") != std::string::npos)
      break;
    if (alt.find("application/vnd.kubernetes.protobuf") != std::string::npos &&
        alt.find("as=") == std::string::npos) {
      // Only when JSON is not offered at all do we answer protobuf.
      f.protobuf =
          accept.find("json") == std::string::npos && accept.find("*/*") == std::string::npos;
      break;
    }
  }
  f.includeObject = req.paramOr("includeObject", "Metadata");
  return f;
}

HttpResponse objectResponse(int status, const json::object& obj, const ResponseFormat& f) {
  HttpResponse res;
  res.status = status;
  if (f.protobuf && obj.contains("kind") && obj.contains("apiVersion")) {
    res.contentType = "application/vnd.kubernetes.protobuf";
    if (api::hasPackedManagedFields(obj)) {
      json::object unpacked(obj);
      api::unpackManagedFields(unpacked);
      res.body = api::encodeProtobufObject(unpacked);
    } else {
      res.body = api::encodeProtobufObject(obj);
    }
  } else {
    res.body = api::objectJson(obj);
    res.apiObject = true;
  }
  return res;
}

}  // namespace skiff::apiserver
