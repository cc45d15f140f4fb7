// The protobuf wire schema (data/protobuf-schema.json, embedded as "protobuf_schema") in a
// form the transcoder can walk without string lookups: fields sorted by number, message
// types resolved to pointers. Internal to the protobuf codec; see protobuf_codec.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace skiff::api::protobuf {

enum class Scalar : std::uint8_t { None, String, Bytes, Bool, Int32, Int64 };

// Messages whose JSON form is not a plain object of their fields.
enum class Special : std::uint8_t {
  None,
  Time,          // meta.v1.Time {seconds, nanos} <-> "2024-05-01T10:00:00Z"
  MicroTime,     // meta.v1.MicroTime <-> "2024-05-01T10:00:00.123456Z"
  Quantity,      // resource.Quantity {string} <-> "100m"
  IntOrString,   // intstr.IntOrString {type, intVal, strVal} <-> 3 or "25%"
  RawExtension,  // runtime.RawExtension {raw: JSON bytes} <-> the embedded JSON value
  FieldsV1,      // meta.v1.FieldsV1 {Raw: JSON bytes} <-> the embedded JSON object
  StringArray,   // Go named []string (Verbs, ExtraValue) {items} <-> ["a", "b"]
};

struct Message;

struct Field {
  std::uint32_t number = 0;
  std::string jsonName;
  Scalar scalar = Scalar::None;      // the value type when not a message
  const Message* message = nullptr;  // the value type when a message
  bool repeated = false;
  bool inlined = false;   // Go embedded struct: its fields live in the parent JSON object
  bool keepZero = false;  // Go pointer: a zero on the wire is a real value, not "unset"
  bool map = false;       // map<string, value type>: repeated entries {1: key, 2: value}
};

struct Message {
  std::string name;  // full proto name, e.g. k8s.io.api.apps.v1.Deployment
  Special special = Special::None;
  std::vector<Field> fields;  // sorted by number

  const Field* byNumber(std::uint32_t number) const;
};

class Schema {
 public:
  // Parses the embedded schema; throws std::runtime_error if it is malformed.
  explicit Schema(std::string_view json);

  // The message for an apiVersion/kind, or nullptr.
  const Message* find(std::string_view apiVersion, std::string_view kind) const;
  const Message* byName(std::string_view name) const;

 private:
  std::vector<Message> messages_;
  std::unordered_map<std::string, const Message*> byName_;
  // "<package>/<version>/<Kind>", package being the last segment(s) of the proto package:
  // "core/v1/Pod", "apps/v1/Deployment", "meta/v1/Status".
  std::unordered_map<std::string, const Message*> byKind_;
  // "<package>/<version>" for every package present, to scope the meta fallback.
  std::unordered_map<std::string, bool> packageVersions_;

  const Message* lookup(std::string_view package, std::string_view version,
                        std::string_view kind) const;
};

// The process-wide schema, parsed on first use (thread-safe).
const Schema& schema();

}  // namespace skiff::api::protobuf
