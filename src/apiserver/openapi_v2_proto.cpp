#include "apiserver/openapi_v2_proto.h"

#include <boost/json.hpp>
#include <cstring>
#include <mutex>

#include "api/openapi.h"
#include "api/protobuf_wire.h"

namespace skiff::apiserver {

namespace json = boost::json;
using api::protobuf::kFixed64;
using api::protobuf::kVarint;
using api::protobuf::putLengthDelimited;
using api::protobuf::putTag;
using api::protobuf::putVarint;

namespace {

// gnostic openapi.v2.Schema field numbers.
enum SchemaField : std::uint32_t {
  kRef = 1,
  kFormat = 2,
  kTitle = 3,
  kDescription = 4,
  kDefault = 5,
  kMultipleOf = 6,
  kMaximum = 7,
  kExclusiveMaximum = 8,
  kMinimum = 9,
  kExclusiveMinimum = 10,
  kMaxLength = 11,
  kMinLength = 12,
  kPattern = 13,
  kMaxItems = 14,
  kMinItems = 15,
  kUniqueItems = 16,
  kMaxProperties = 17,
  kMinProperties = 18,
  kRequired = 19,
  kEnum = 20,
  kAdditionalProperties = 21,
  kType = 22,
  kItems = 23,
  kAllOf = 24,
  kProperties = 25,
  kDiscriminator = 26,
  kReadOnly = 27,
  kExample = 30,
  kVendorExtension = 31,
};

// openapi.v2.Any: the value as YAML text (JSON is YAML).
std::string anyValue(const json::value& v) {
  std::string out;
  putLengthDelimited(out, 2, json::serialize(v));
  return out;
}

void putDouble(std::string& out, std::uint32_t field, double d) {
  putTag(out, field, kFixed64);
  std::uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
}

double number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  return 0;
}

void putInt(std::string& out, std::uint32_t field, const json::value& v) {
  putTag(out, field, kVarint);
  putVarint(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(number(v))));
}

void putBool(std::string& out, std::uint32_t field, const json::value& v) {
  if (!v.is_bool() || !v.get_bool()) return;  // proto3: false is the default, not sent
  putTag(out, field, kVarint);
  putVarint(out, 1);
}

std::string namedAny(std::string_view name, const json::value& v) {
  std::string out;
  putLengthDelimited(out, 1, name);
  putLengthDelimited(out, 2, anyValue(v));
  return out;
}

std::string schema(const json::object& s);

std::string namedSchema(std::string_view name, const json::value& v) {
  std::string out;
  putLengthDelimited(out, 1, name);
  if (v.is_object()) putLengthDelimited(out, 2, schema(v.get_object()));
  return out;
}

std::string schema(const json::object& s) {
  std::string out;
  auto str = [&](const char* key, std::uint32_t field) {
    if (auto it = s.find(key); it != s.end() && it->value().is_string())
      putLengthDelimited(out, field, it->value().get_string());
  };
  str("$ref", kRef);
  str("format", kFormat);
  str("title", kTitle);
  str("description", kDescription);
  if (auto it = s.find("default"); it != s.end())
    putLengthDelimited(out, kDefault, anyValue(it->value()));
  for (auto [key, field] :
       {std::pair{"multipleOf", kMultipleOf}, {"maximum", kMaximum}, {"minimum", kMinimum}})
    if (auto it = s.find(key); it != s.end() && it->value().is_number())
      putDouble(out, field, number(it->value()));
  for (auto [key, field] : {std::pair{"exclusiveMaximum", kExclusiveMaximum},
                            {"exclusiveMinimum", kExclusiveMinimum},
                            {"uniqueItems", kUniqueItems},
                            {"readOnly", kReadOnly}})
    if (auto it = s.find(key); it != s.end()) putBool(out, field, it->value());
  for (auto [key, field] : {std::pair{"maxLength", kMaxLength},
                            {"minLength", kMinLength},
                            {"maxItems", kMaxItems},
                            {"minItems", kMinItems},
                            {"maxProperties", kMaxProperties},
                            {"minProperties", kMinProperties}})
    if (auto it = s.find(key); it != s.end() && it->value().is_number())
      putInt(out, field, it->value());
  str("pattern", kPattern);
  if (auto it = s.find("required"); it != s.end() && it->value().is_array())
    for (const auto& r : it->value().get_array())
      if (r.is_string()) putLengthDelimited(out, kRequired, r.get_string());
  if (auto it = s.find("enum"); it != s.end() && it->value().is_array())
    for (const auto& e : it->value().get_array()) putLengthDelimited(out, kEnum, anyValue(e));
  if (auto it = s.find("additionalProperties"); it != s.end()) {
    std::string item;
    if (it->value().is_object()) {
      putLengthDelimited(item, 1, schema(it->value().get_object()));
    } else if (it->value().is_bool()) {
      putTag(item, 2, kVarint);
      putVarint(item, it->value().get_bool() ? 1 : 0);
    }
    putLengthDelimited(out, kAdditionalProperties, item);
  }
  if (auto it = s.find("type"); it != s.end()) {
    std::string item;
    if (it->value().is_string()) putLengthDelimited(item, 1, it->value().get_string());
    if (it->value().is_array())
      for (const auto& t : it->value().get_array())
        if (t.is_string()) putLengthDelimited(item, 1, t.get_string());
    putLengthDelimited(out, kType, item);
  }
  if (auto it = s.find("items"); it != s.end()) {
    std::string item;
    if (it->value().is_object()) putLengthDelimited(item, 1, schema(it->value().get_object()));
    if (it->value().is_array())
      for (const auto& e : it->value().get_array())
        if (e.is_object()) putLengthDelimited(item, 1, schema(e.get_object()));
    putLengthDelimited(out, kItems, item);
  }
  if (auto it = s.find("allOf"); it != s.end() && it->value().is_array())
    for (const auto& e : it->value().get_array())
      if (e.is_object()) putLengthDelimited(out, kAllOf, schema(e.get_object()));
  if (auto it = s.find("properties"); it != s.end() && it->value().is_object()) {
    std::string props;
    for (const auto& kv : it->value().get_object())
      putLengthDelimited(props, 1, namedSchema(kv.key(), kv.value()));
    putLengthDelimited(out, kProperties, props);
  }
  str("discriminator", kDiscriminator);
  if (auto it = s.find("example"); it != s.end())
    putLengthDelimited(out, kExample, anyValue(it->value()));
  for (const auto& kv : s)
    if (kv.key().starts_with("x-"))
      putLengthDelimited(out, kVendorExtension, namedAny(kv.key(), kv.value()));
  return out;
}

std::string encode(const std::string& swaggerJson) {
  json::value doc = json::parse(swaggerJson);
  const auto& d = doc.as_object();
  std::string out;
  auto get = [&](const char* key) -> const json::value* { return d.if_contains(key); };
  if (auto* v = get("swagger"); v && v->is_string()) putLengthDelimited(out, 1, v->get_string());
  if (auto* v = get("info"); v && v->is_object()) {
    std::string info;
    for (auto [key, field] : {std::pair{"title", 1u}, {"version", 2u}})
      if (auto* f = v->get_object().if_contains(key); f && f->is_string())
        putLengthDelimited(info, field, f->get_string());
    putLengthDelimited(out, 2, info);
  }
  if (auto* v = get("definitions"); v && v->is_object()) {
    std::string defs;
    for (const auto& kv : v->get_object())
      putLengthDelimited(defs, 1, namedSchema(kv.key(), kv.value()));
    putLengthDelimited(out, 9, defs);
  }
  return out;
}

}  // namespace

const std::string& openApiV2Protobuf() {
  static std::once_flag once;
  static std::string encoded;
  std::call_once(once, [] { encoded = encode(api::OpenApi::instance().v2Json()); });
  return encoded;
}

}  // namespace skiff::apiserver
