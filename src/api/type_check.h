// The JSON type check of one value against its schema node, with upstream's messages.
// Upstream decodes every written object into Go structs; a value of the wrong JSON type fails
// that decode. Which words the client sees depends on how the body reached the structs:
//  - Json: create/update bodies, merge and JSON patches are decoded from JSON text by
//    sigs.k8s.io/json (encoding/json): "json: cannot unmarshal string into Go struct field
//    ObjectMeta.metadata.labels of type map[string]string";
//  - Unstructured: a strategic merge patch is applied to a map and converted by
//    runtime.DefaultUnstructuredConverter: "cannot restore map from string".
// The walk that calls this is checkAndPrune (api/unknown_fields.h).
// Custom resources are not decoded into Go structs upstream: their types are checked by the
// CRD's OpenAPI v3 schema validation (422 causes), a third wording this file does not have
// yet; the nodes (api/schema_node.h) and the walk are ready for it.
#pragma once

#include <boost/json/fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/schema_node.h"
#include "common/api_error.h"

namespace skiff::api {

enum class Decoding : uint8_t { Json, Unstructured };

// A struct field on the way from the root to the value being checked: encoding/json names
// the innermost struct and the JSON names of all struct fields (not map keys, not indexes).
struct GoField {
  std::string_view name;
  const SchemaNode* owner;  // the struct the field belongs to
};
using GoFieldStack = std::vector<GoField>;

// nullopt when upstream accepts `value` for `node`; else upstream's error text. Null is
// accepted everywhere (a typed decode ignores it). Integral floats are accepted for integer
// fields (see docs/api-coverage.md). In Unstructured mode an int32 field given a larger
// integer is wrapped to 32 bits in place, as the converter's reflect conversion does.
std::optional<std::string> checkValueType(boost::json::value& value, const SchemaNode& node,
                                          Decoding mode, const GoFieldStack& fields);

// Where Go's base64.StdEncoding reports `text` corrupt ("illegal base64 data at input byte
// N"), or nullopt when it decodes.
std::optional<size_t> base64ErrorOffset(std::string_view text);

// resource.ParseQuantity's error for `text`, or nullopt when it parses.
std::optional<std::string> quantityError(std::string_view text);

// A body that does not decode as its kind. As thrown it is the 400 of create and update
// (upstream's transformDecodeError): `Pod in version "v1" cannot be handled as a Pod: <why>`;
// a patch handler catches it and answers with patchDecodeError(..., detail()) instead.
class DecodeError : public ApiError {
 public:
  DecodeError(const std::string& kind, const std::string& version, std::string detail)
      : ApiError(400, "BadRequest",
                 kind + " in version \"" + version + "\" cannot be handled as a " + kind + ": " +
                     detail),
        detail_(std::move(detail)) {}
  const std::string& detail() const { return detail_; }

 private:
  std::string detail_;
};

// Server-side apply's check of the applied configuration, before any merge: upstream converts
// it to a typed value with structured-merge-diff, which words every mismatch with its path
// (".spec.replicas: expected numeric (int or float), got string", list items by their keys:
// `.spec.containers[name="c"].ports`), several as "errors:\n  <one>\n  <two>". nullopt when
// the types are right. Unknown fields are left to the pruning walk.
std::optional<std::string> applyTypeErrors(const boost::json::value& applied,
                                           const SchemaNode* root);

// Checks the types of a body that a subresource decodes into `kind` of `version` (a Binding,
// an Eviction) against the built-in schema `definition`; throws DecodeError.
void checkBodyTypes(boost::json::value& body, const std::string& definition,
                    const std::string& kind, const std::string& version);

// The 422 upstream answers a patch whose result does not decode: Invalid, no kind or name,
// one cause on field "patch" whose value is `shown` (the patched object's JSON for merge and
// JSON patches, the patch map as Go prints it for strategic ones).
ApiError patchDecodeError(const std::string& shown, const std::string& detail);

// The patched object as upstream's patch libraries write it before decoding: compact JSON
// with Go's escaping (<, >, & as \u003c ...), keys sorted in the objects the patch went
// through (they were re-marshalled from Go maps), other objects as stored.
std::string patchedObjectText(boost::json::value patched, const boost::json::value& patch,
                              bool jsonPatch);

}  // namespace skiff::api
