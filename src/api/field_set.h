// Field sets as server-side apply tracks them (sigs.k8s.io/structured-merge-diff's
// fieldpath.Set) and their FieldsV1 encoding in metadata.managedFields: a trie of path
// elements — "f:<field>" for a struct field or map key, "k:{...}" for an item of a list keyed
// by x-kubernetes-list-map-keys, "v:<json>" for an item of a set list, "i:<n>" for a list
// item addressed by position — where a node is a member of the set ("." in FieldsV1) and/or
// has children.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/unknown_fields.h"

namespace skiff::api {

// Orders path elements as upstream's PathElement.Compare: fields, then keys, then values,
// then indices; names by bytes, indices by number. (Keys and values compare by their JSON
// text, which agrees with upstream for the string and integer keys lists use.)
struct PathElementLess {
  bool operator()(const std::string& a, const std::string& b) const;
};

class FieldSet {
 public:
  using Children = std::map<std::string, FieldSet, PathElementLess>;

  bool empty() const { return children_.empty(); }
  const Children& children() const { return children_; }
  // The node of one element below this one (created), and whether that path is a member.
  FieldSet& child(const std::string& element) { return children_[element]; }
  const FieldSet* find(std::string_view element) const;
  bool isMember() const { return member_; }
  void setMember() { member_ = true; }
  void erase(const std::string& element) { children_.erase(element); }
  // Inserts the path `elements` as a member.
  void insert(const std::vector<std::string>& elements);
  bool operator==(const FieldSet& other) const = default;

  void unionWith(const FieldSet& other);
  // Removes the members of `other` (their children only when they are members too), then
  // the nodes left with neither membership nor children.
  void subtract(const FieldSet& other);
  FieldSet intersection(const FieldSet& other) const;
  // Every member path, in upstream's iteration order (members of a level first, then the
  // children), written as upstream prints paths: .spec.containers[name="c"].image.
  std::vector<std::string> memberPaths() const;

  // FieldsV1 JSON: {"f:metadata":{"f:labels":{".":{},"f:app":{}}}}.
  boost::json::object toFieldsV1() const;
  std::string serialize() const;
  // Reads FieldsV1; false when it is not a well-formed one.
  static bool fromFieldsV1(const boost::json::value& v, FieldSet& out);

 private:
  void collectPaths(std::string& prefix, std::vector<std::string>& out) const;
  // Adds one FieldsV1 member per child to `out` (built in place: no copies of subtrees).
  void appendFieldsV1(boost::json::object& out) const;
  bool member_ = false;
  Children children_;
};

// Path element text for a field / a keyed item / a set value / a position.
std::string fieldElement(std::string_view name);
std::string valueElement(const boost::json::value& v);
std::string indexElement(size_t i);
// A keyed list item's element, from the item and the list's key names ("k:{...}" with the
// keys in name order); "" when the item is not an object. A missing "protocol" key is taken
// as its default "TCP" (ports lists), as upstream's schema defaults do.
std::string keyElement(const boost::json::value& item, const std::vector<std::string>& keys);
// The element of item `i` of a list with this schema (keyed, set value, or index).
std::string listItemElement(const FieldSchemas::Node* list, const boost::json::value& item,
                            size_t i);

// What a write changed, as structured-merge-diff's Comparison: paths only in the new object
// (interior nodes that were absent are members too), paths whose value changed, paths only
// in the old one. Nulls count as absent.
struct Comparison {
  FieldSet added, modified, removed;
  bool empty() const { return added.empty() && modified.empty() && removed.empty(); }
};

// How a comparison or field-set walk treats the top of an object: which top-level fields
// it skips (the system's metadata, apiVersion/kind, and status or everything but status
// depending on the subresource).
struct FieldScope {
  bool statusOnly = false;  // a status subresource write: only status counts
  bool skipStatus = false;  // a main-resource write of a kind with a status subresource
};

// Compares two objects (old may be null for a create). Subtrees that are equal are not
// walked, so an update costs in proportion to what it changed.
Comparison compareObjects(const boost::json::object* oldObj, const boost::json::object& newObj,
                          const FieldSchemas::Node* schema, const FieldScope& scope);

// The fields an applied configuration sets (structured-merge-diff's ToFieldSet). Throws
// std::invalid_argument (".spec.template: expected map, got string") when a value has not
// the shape its schema fixes.
FieldSet fieldsOfConfig(const boost::json::object& config, const FieldSchemas::Node* schema,
                        const FieldScope& scope);

// Merges an applied configuration into the live object by the schema: maps and structs
// recursively, keyed lists by their keys, set lists as unions, atomic lists and maps and
// scalars replaced.
boost::json::value mergeApplied(const boost::json::value* live, const boost::json::value& config,
                                const FieldSchemas::Node* schema);

// Removes from `obj` the paths of `previous` that are not in `owned` (nor have an owned
// path below them): what a manager stopped applying and nobody else manages.
void pruneUnowned(boost::json::object& obj, const FieldSet& previous, const FieldSet& owned,
                  const FieldSchemas::Node* schema);

}  // namespace skiff::api
