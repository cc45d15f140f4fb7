// Structural schemas of custom resources (a CustomResourceDefinition version's
// openAPIV3Schema): compiled once per CRD version, then used on every write of its objects
// for what upstream's apiextensions-apiserver does with it — pruning unknown fields,
// defaulting, and OpenAPI v3 validation with upstream's messages.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/cel.h"
#include "api/schema_node.h"
#include "common/api_error.h"

namespace re2 {
class RE2;
}

namespace skiff::api {

struct StructuralNode {
  std::string type;  // "", object, array, string, integer, number, boolean
  std::string format;
  bool nullable = false;
  bool preserveUnknownFields = false;  // x-kubernetes-preserve-unknown-fields
  bool intOrString = false;            // x-kubernetes-int-or-string
  bool embeddedResource = false;       // x-kubernetes-embedded-resource
  bool uniqueItems = false;
  std::map<std::string, std::shared_ptr<StructuralNode>> properties;
  std::shared_ptr<StructuralNode> items;
  std::shared_ptr<StructuralNode> additionalProperties;  // schema form of additionalProperties
  std::vector<std::string> required;
  std::optional<boost::json::value> defaultValue;
  boost::json::array enumValues;
  std::optional<double> minimum, maximum, multipleOf;
  bool exclusiveMinimum = false, exclusiveMaximum = false;
  std::optional<int64_t> minLength, maxLength, minItems, maxItems, minProperties, maxProperties;
  std::string pattern;
  std::shared_ptr<const re2::RE2> patternRegex;  // RE2: linear time whatever the input
  std::string listType;                          // atomic | set | map (x-kubernetes-list-type)
  std::vector<std::string> listMapKeys;
  // Value validations combined with the node (allOf/anyOf/oneOf/not): checked, never used for
  // pruning or defaulting, as in upstream's structural schemas.
  std::vector<std::shared_ptr<StructuralNode>> allOf, anyOf, oneOf;
  std::shared_ptr<StructuralNode> notSchema;
  // x-kubernetes-validations, compiled (api/cel.h).
  struct Rule {
    cel::Program program;
    std::string rule, message, fieldPath, reason;
  };
  std::vector<Rule> rules;
};

// Compiles a JSONSchemaProps document. Throws std::invalid_argument for a pattern or a CEL
// rule that does not compile (CRD validation reports it before a schema is ever compiled
// for serving).
std::shared_ptr<const StructuralNode> compileSchema(const boost::json::object& schema);

// The same schema as the nodes field sets and server-side apply walk (api/schema_node.h):
// list types and keys, atomic maps, preserved subtrees; `metadata` at the root is ObjectMeta
// (from the built-in schemas). Owns its nodes.
struct ApplySchema {
  std::deque<SchemaNode> nodes;
  const SchemaNode* root = nullptr;
};
std::shared_ptr<const ApplySchema> buildApplySchema(const boost::json::object& schema);

// Removes fields the schema does not declare (apiVersion, kind and metadata stay at the root
// and in embedded resources) and nulls of non-nullable fields. Returns the removed paths
// ("spec.foo") for fieldValidation Warn/Strict. `metadata` itself is left to the caller.
std::vector<std::string> pruneBySchema(boost::json::object& obj, const StructuralNode& root);

// Applies `default`s for absent fields, top-down (so defaults inside defaulted objects apply).
void defaultBySchema(boost::json::object& obj, const StructuralNode& root);

// OpenAPI v3 validation as upstream's custom resource validator words it: causes with field
// paths ("spec.replicas") and messages ("Invalid value: \"string\": spec.replicas in body
// must be of type integer: \"string\"").
// `old` (an update's stored object) enables transition rules (CEL rules reading oldSelf),
// correlated through object properties.
std::vector<StatusCause> validateBySchema(const boost::json::object& obj,
                                          const StructuralNode& root,
                                          const boost::json::object* old = nullptr);

}  // namespace skiff::api
