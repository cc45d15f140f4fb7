// Finds (and removes) fields an object's OpenAPI schema does not know — upstream drops them
// while decoding into typed structs; fieldValidation=Strict turns them into errors instead.
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace skiff::api {

// The OpenAPI v2 `definitions` compiled for the walk: every schema resolved ($ref, allOf)
// once, properties in a hash map. The API server prunes every object it writes; walking the
// raw OpenAPI JSON cost several string-keyed lookups per field. Thread-safe; a definition is
// compiled on first use (with everything it reaches) and never changes after.
class FieldSchemas {
 public:
  struct Node;
  explicit FieldSchemas(const boost::json::object& definitions);
  ~FieldSchemas();
  FieldSchemas(const FieldSchemas&) = delete;
  FieldSchemas& operator=(const FieldSchemas&) = delete;

  // Null when `definition` is not in the document.
  const Node* root(const std::string& definition) const;

 private:
  const Node* compileRef(std::string_view name) const;
  const Node* compile(const boost::json::object* schema) const;
  Node& newNode() const;
  void fill(Node& node, const boost::json::object& schema) const;

  const boost::json::object& definitions_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<Node>> nodes_;
  mutable std::map<std::string, const Node*, std::less<>> named_;
};

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
