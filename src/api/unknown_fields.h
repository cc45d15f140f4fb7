// Finds (and removes) fields an object's OpenAPI schema does not know — upstream drops them
// while decoding into typed structs; fieldValidation=Strict turns them into errors instead.
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace skiff::api {

// The OpenAPI v2 `definitions` compiled for the walk: every schema resolved ($ref, allOf)
// once, properties in a hash map. The API server prunes every object it writes; walking the
// raw OpenAPI JSON cost several string-keyed lookups per field. Thread-safe; a definition is
// compiled on first use (with everything it reaches) and never changes after.
class FieldSchemas {
 public:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // How a list merges and which path elements its items get (server-side apply's
  // structured-merge-diff semantics): from x-kubernetes-list-type, else from the patch
  // strategy (merge with a key: keyed by it; merge without: a set), else atomic.
  enum class ListType { Atomic, Set, Map };
  struct Node {
    bool preserveUnknown = false;  // x-kubernetes-preserve-unknown-fields: nothing below is walked
    bool mapLike = false;          // additionalProperties without properties: an empty one is omitted
    bool hasProperties = false;
    bool hasAdditional = false;
    bool hasItems = false;
    bool atomicMap = false;        // x-kubernetes-map-type: atomic (replaced as a whole by apply)
    ListType listType = ListType::Atomic;
    std::vector<std::string> listKeys;  // x-kubernetes-list-map-keys (or the patch merge key)
    std::string name;              // the definition's name, for a named definition
    // A null child is a schema that resolves to nothing (a dangling $ref): not walked.
    std::unordered_map<std::string, const Node*, StringHash, std::equal_to<>> properties;
    const Node* additional = nullptr;
    const Node* items = nullptr;
  };
  explicit FieldSchemas(const boost::json::object& definitions);
  ~FieldSchemas();
  FieldSchemas(const FieldSchemas&) = delete;
  FieldSchemas& operator=(const FieldSchemas&) = delete;

  // Null when `definition` is not in the document.
  const Node* root(const std::string& definition) const;
  // The schemas of the built-in OpenAPI document (OpenApi::instance()), compiled once.
  static const FieldSchemas& builtin();

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
