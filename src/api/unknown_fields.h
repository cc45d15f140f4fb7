// Finds (and removes) fields an object's OpenAPI schema does not know — upstream drops them
// while decoding into typed structs; fieldValidation=Strict turns them into errors instead.
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/schema_node.h"
#include "api/type_check.h"

namespace skiff::api {

// The OpenAPI v2 `definitions` compiled for the walk: every schema resolved ($ref, allOf)
// once, properties in a hash map. The API server prunes every object it writes; walking the
// raw OpenAPI JSON cost several string-keyed lookups per field. Thread-safe; a definition is
// compiled on first use (with everything it reaches) and never changes after.
class FieldSchemas {
 public:
  using Node = SchemaNode;
  using ListType = SchemaNode::ListType;
  explicit FieldSchemas(const boost::json::object& definitions);
  ~FieldSchemas();
  FieldSchemas(const FieldSchemas&) = delete;
  FieldSchemas& operator=(const FieldSchemas&) = delete;

  // Null when `definition` is not in the document.
  const Node* root(const std::string& definition) const;
  // The built-in kinds' schemas (OpenApi::instance(), data/openapi-v2.json), compiled once
  // per process and shared by every write path.
  static const FieldSchemas& builtin();

 private:
  const Node* compileRef(std::string_view name) const;
  const Node* compile(const boost::json::object* schema) const;
  Node& newNode() const;
  void fill(Node& node, const boost::json::object& schema, std::string_view definition) const;

  const boost::json::object& definitions_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Node>> nodes_;
  mutable std::map<std::string, const Node*, std::less<>> named_;
};

// What one walk of a written object found: the unknown fields it removed and the first value
// of the wrong JSON type, in upstream's words for `mode` (api/type_check.h).
struct DecodeCheck {
  std::vector<std::string> unknown;
  std::optional<std::string> typeError;
};

// The write path's one walk: prunes like pruneUnknownFields and checks every value's JSON
// type against its node. A type error stops the walk (the write is refused; the object is
// left part-pruned). Any schema source's nodes will do (`root` null: nothing to check).
DecodeCheck checkAndPrune(boost::json::object& obj, const SchemaNode* root, Decoding mode);

// Walks `obj` against the schema of `definition`, removes fields the schema does not
// declare, and returns their paths ("spec.foo", "spec.containers[0].bar"). Like upstream's
// typed round trip it also drops nulls, empty lists and empty maps.
std::vector<std::string> pruneUnknownFields(boost::json::object& obj, const FieldSchemas& schemas,
                                            const std::string& definition);
// The same against raw definitions, compiled for this one call (tests, one-off callers).
std::vector<std::string> pruneUnknownFields(boost::json::object& obj,
                                            const boost::json::object& definitions,
                                            const std::string& definition);

}  // namespace skiff::api
