// /openapi/v2 as protobuf: the served swagger document encoded as gnostic's
// openapi.v2.Document (Accept: application/com.github.proto-openapi.spec.v2[@.]v1.0+protobuf),
// which kubectl 1.27 and 1.28 load to build their client-side validator and patch metadata.
//
// Encoded: swagger, info, and every definition with all of its schema keywords and x-*
// extensions (an extension's value travels as YAML, i.e. its JSON text). Not encoded: paths,
// shared parameters and security (the JSON document has them); kube-openapi's proto models,
// which is what kubectl builds from this document, read definitions only.
#pragma once

#include <string>

namespace skiff::apiserver {

// The encoded document, built once from api::OpenApi's v2 JSON.
const std::string& openApiV2Protobuf();
// The Content-Type upstream answers with.
inline constexpr const char* kOpenApiV2ProtobufContentType =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

}  // namespace skiff::apiserver
