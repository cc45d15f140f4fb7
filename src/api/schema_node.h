// One compiled schema node: what the write path needs to know about a value's place in a
// kind's schema to prune unknown fields and to check the value's JSON type the way upstream's
// typed decoding does. Built from the OpenAPI v2 definitions (FieldSchemas) for built-in
// kinds; any other schema source (a CustomResourceDefinition's OpenAPI v3 schema) can build
// the same nodes and reuse the walk (api/unknown_fields.h, checkAndPrune).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace skiff::api {

struct SchemaStringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct SchemaNode {
  // The JSON type a value must have. Any: no check (RawExtension, FieldsV1, JSON, untyped).
  enum class Type : uint8_t { Any, Object, Array, String, Integer, Number, Boolean };
  // Go types with their own JSON decoding, whose errors upstream reports differently.
  enum class Special : uint8_t {
    None,
    IntOrString,  // intstr.IntOrString: a string, or a number that fits int32
    Quantity,     // resource.Quantity: a string or number in the quantity grammar
    Bytes,        // []byte: a base64 string
    Time,         // metav1.Time / MicroTime: a string (the timestamp itself is not parsed)
  };

  Type type = Type::Any;
  Special special = Special::None;
  bool int32 = false;            // Integer with format int32 (range-checked)
  bool preserveUnknown = false;  // x-kubernetes-preserve-unknown-fields: nothing below is walked
  bool mapLike = false;          // additionalProperties without properties: an empty one is omitted
  bool hasProperties = false;
  bool hasAdditional = false;
  bool hasItems = false;
  // A null child is a schema that resolves to nothing (a dangling $ref): not walked.
  std::unordered_map<std::string, const SchemaNode*, SchemaStringHash, std::equal_to<>> properties;
  const SchemaNode* additional = nullptr;
  const SchemaNode* items = nullptr;

  // How server-side apply identifies a list's items in paths (x-kubernetes-list-type): by
  // index (atomic), by value (set) or by the listMapKeys of each item (map).
  // From x-kubernetes-list-type, else from the patch strategy (merge with a key: keyed by it;
  // merge without: a set), as upstream's OpenAPI-to-schema conversion does; else atomic.
  enum class ListType : uint8_t { Atomic, Set, Map };
  ListType listType = ListType::Atomic;
  std::vector<std::string> listKeys;     // the keys as declared (x-kubernetes-list-map-keys)
  std::vector<std::string> listMapKeys;  // the same, sorted (how apply's paths name them)
  bool atomicMap = false;                // x-kubernetes-map-type: atomic (replaced by apply)
  std::string name;                      // the definition's name, for a named definition

  // For messages in upstream's words: the Go type as reflect prints it ("v1.PodSpec",
  // "[]v1.Container", "map[string]string", "int32") and, for a struct, its bare name
  // ("PodSpec", as in "Go struct field PodSpec.spec.containers"). Empty: a schema source
  // without Go types; messages then use the JSON type names.
  std::string goType;
  std::string goStruct;
};

}  // namespace skiff::api
