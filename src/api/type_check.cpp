#include "api/type_check.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>

#include "api/go_text.h"
#include "api/json_access.h"

namespace skiff::api {

namespace json = boost::json;
using Type = SchemaNode::Type;
using Special = SchemaNode::Special;

namespace {

// A number's text as the client most likely wrote it: the decoder quotes the literal
// ("number 1.5"), which the parsed value no longer has.
std::string numberText(const json::value& v) {
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  double d = v.get_double();
  if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 1e21) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed, 1);
    return std::string(buf, res.ptr);
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, res.ptr);
}

// reflect.Kind of the value the unstructured converter holds for a JSON value.
const char* unstructuredKind(const json::value& v) {
  switch (v.kind()) {
    case json::kind::object:
      return "map";
    case json::kind::array:
      return "slice";
    case json::kind::string:
      return "string";
    case json::kind::bool_:
      return "bool";
    case json::kind::double_:
      return "float64";
    default:
      return "int64";
  }
}

// encoding/json's UnmarshalTypeError: with the struct field context when there is one.
std::string unmarshalError(const std::string& what, std::string_view goType,
                           const GoFieldStack& fields) {
  std::string msg = "json: cannot unmarshal " + what;
  if (fields.empty()) return msg + " into Go value of type " + std::string(goType);
  msg += " into Go struct field ";
  msg += fields.back().owner->goStruct;
  for (size_t i = 0; i < fields.size(); ++i) {
    msg += '.';
    msg += fields[i].name;
  }
  return msg + " of type " + std::string(goType);
}

// The same error raised by a nested json.Unmarshal inside a custom UnmarshalJSON: the
// converter calls it without any context.
std::string nestedUnmarshalError(const std::string& what, std::string_view goType,
                                 const GoFieldStack& fields, Decoding mode) {
  static const GoFieldStack none;
  return unmarshalError(what, goType, mode == Decoding::Json ? fields : none);
}

bool fitsInt32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

bool isIntegral(double d) { return std::isfinite(d) && d == std::trunc(d); }

std::optional<std::string> checkIntOrString(const json::value& v, const GoFieldStack& fields,
                                            Decoding mode) {
  if (v.is_string()) return std::nullopt;
  std::string what = goJsonTypeName(v);
  if (v.is_number()) {
    if (v.is_int64() && fitsInt32(v.get_int64())) return std::nullopt;
    if (v.is_double() && isIntegral(v.get_double()) && std::fabs(v.get_double()) <= INT32_MAX)
      return std::nullopt;
    what = "number " + numberText(v);
  }
  return nestedUnmarshalError(what, "int32", fields, mode);
}

std::optional<std::string> checkQuantity(const json::value& v) {
  if (v.is_string()) {
    std::string_view s = v.get_string();
    // strings.TrimSpace (ASCII white space is what JSON strings carry in practice).
    auto space = [](char c) {
      return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return quantityError(s);
  }
  if (v.is_number()) return quantityError(numberText(v));
  // Quantity.UnmarshalJSON parses the raw JSON text: true, {...}, [...] never match.
  return quantityError(v.is_bool() ? (v.get_bool() ? "true" : "false") : "{");
}

std::optional<std::string> checkBytes(const json::value& v, const std::string& goType,
                                      const GoFieldStack& fields, Decoding mode) {
  if (v.is_string()) {
    auto offset = base64ErrorOffset(v.get_string());
    if (!offset) return std::nullopt;
    std::string msg = "illegal base64 data at input byte " + std::to_string(*offset);
    return mode == Decoding::Json ? msg : "error decoding from json: " + msg;
  }
  if (mode == Decoding::Unstructured)
    return std::string("cannot restore slice from ") + unstructuredKind(v);
  return unmarshalError(goJsonTypeName(v), goType.empty() ? "[]uint8" : goType, fields);
}

// A scalar Go field given the wrong JSON type, as the converter words it: reflect converts
// integers to integers and floats, integral floats to integers, and int64 "converts" to
// string but the converter refuses it; anything else is no conversion at all.
std::string unstructuredScalarError(const json::value& v, const std::string& goType) {
  const bool numericTarget = goType.starts_with("int") || goType.starts_with("float");
  if (v.is_double() && numericTarget) return "cannot convert float64 to " + goType;
  if ((v.is_int64() || v.is_uint64()) && goType == "string")
    return "cannot convert int64 to string";
  return "unrecognized type: " + goType;
}

const std::string& typeName(const SchemaNode& node, const std::string& fallback) {
  return node.goType.empty() ? fallback : node.goType;
}

}  // namespace

std::optional<std::string> checkValueType(json::value& v, const SchemaNode& node, Decoding mode,
                                          const GoFieldStack& fields) {
  if (v.is_null()) return std::nullopt;
  switch (node.special) {
    case Special::IntOrString:
      return checkIntOrString(v, fields, mode);
    case Special::Quantity:
      return checkQuantity(v);
    case Special::Bytes:
      return checkBytes(v, node.goType, fields, mode);
    case Special::Time:
      // metav1.Time unmarshals a string first; the timestamp format itself is not checked.
      if (v.is_string()) return std::nullopt;
      return nestedUnmarshalError(goJsonTypeName(v), "string", fields, mode);
    case Special::None:
      break;
  }
  // Only reached for special types and for mismatches (the walker decides the rest inline).
  static const std::string kString = "string", kBool = "bool", kFloat = "float64";
  const bool json = mode == Decoding::Json;
  switch (node.type) {
    case Type::Any:
      return std::nullopt;
    case Type::Object: {
      if (v.is_object()) return std::nullopt;
      if (json)
        return unmarshalError(goJsonTypeName(v), node.goType.empty() ? "object" : node.goType,
                              fields);
      return std::string(node.hasProperties ? "cannot restore struct from: "
                                            : "cannot restore map from ") +
             unstructuredKind(v);
    }
    case Type::Array: {
      if (v.is_array()) return std::nullopt;
      if (json)
        return unmarshalError(goJsonTypeName(v), node.goType.empty() ? "array" : node.goType,
                              fields);
      return std::string("cannot restore slice from ") + unstructuredKind(v);
    }
    case Type::String: {
      if (v.is_string()) return std::nullopt;
      if (json) return unmarshalError(goJsonTypeName(v), typeName(node, kString), fields);
      return unstructuredScalarError(v, typeName(node, kString));
    }
    case Type::Boolean: {
      if (v.is_bool()) return std::nullopt;
      if (json) return unmarshalError(goJsonTypeName(v), typeName(node, kBool), fields);
      return unstructuredScalarError(v, typeName(node, kBool));
    }
    case Type::Number: {
      if (v.is_number()) return std::nullopt;
      if (json) return unmarshalError(goJsonTypeName(v), typeName(node, kFloat), fields);
      return unstructuredScalarError(v, typeName(node, kFloat));
    }
    case Type::Integer: {
      // Well-typed first: this runs for every integer of every written object.
      if (v.is_int64() && (!node.int32 || fitsInt32(v.get_int64()))) return std::nullopt;
      const std::string goType =
          node.goType.empty() ? (node.int32 ? "int32" : "int64") : node.goType;
      if (v.is_int64()) {
        if (json) return unmarshalError("number " + numberText(v), goType, fields);
        v = static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(v.get_int64())));
        return std::nullopt;
      }
      if (v.is_uint64()) {
        // Beyond int64: the decoder's ParseInt fails; the converter got a float64 and
        // converts it (to garbage) without complaint.
        if (json) return unmarshalError("number " + numberText(v), goType, fields);
        return std::nullopt;
      }
      if (v.is_double()) {
        double d = v.get_double();
        if (isIntegral(d) && (!node.int32 || std::fabs(d) <= INT32_MAX)) return std::nullopt;
        if (json) return unmarshalError("number " + numberText(v), goType, fields);
        return isIntegral(d) ? std::nullopt : std::optional(unstructuredScalarError(v, goType));
      }
      if (json) return unmarshalError(goJsonTypeName(v), goType, fields);
      return unstructuredScalarError(v, goType);
    }
  }
  return std::nullopt;
}

// Go's base64.StdEncoding.Decode, quantum by quantum: CR and LF are skipped, padding must
// complete the last quantum, nothing may follow it.
std::optional<size_t> base64ErrorOffset(std::string_view src) {
  auto valid = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  };
  auto newline = [](char c) { return c == '\n' || c == '\r'; };
  size_t si = 0;
  while (si < src.size()) {
    for (int j = 0; j < 4; ++j) {
      if (si == src.size()) {
        if (j == 0) return std::nullopt;
        return si - j;  // an incomplete quantum: StdEncoding requires padding
      }
      char in = src[si++];
      if (valid(in)) continue;
      if (newline(in)) {
        --j;
        continue;
      }
      if (in != '=') return si - 1;
      if (j < 2) return si - 1;  // padding too early
      if (j == 2) {
        while (si < src.size() && newline(src[si])) ++si;
        if (si == src.size()) return src.size();  // "=" needs a second "="
        if (src[si] != '=') return si - 1;
        ++si;
      }
      while (si < src.size() && newline(src[si])) ++si;
      if (si < src.size()) return si;  // trailing garbage after padding
      return std::nullopt;
    }
  }
  return std::nullopt;
}

namespace {

// resource.Quantity's suffixes: binary, decimal, or a decimal exponent e<int> / E<int>.
bool validQuantitySuffix(std::string_view suffix) {
  if (suffix.empty()) return true;
  static constexpr std::string_view kNamed[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u",
                                                "m",  "k",  "M",  "G",  "T",  "P",  "E"};
  for (auto named : kNamed)
    if (suffix == named) return true;
  if (suffix.size() < 2 || (suffix[0] != 'e' && suffix[0] != 'E')) return false;
  size_t i = suffix[1] == '+' || suffix[1] == '-' ? 2 : 1;
  if (i == suffix.size() || suffix.size() - i > 18) return false;
  for (; i < suffix.size(); ++i)
    if (suffix[i] < '0' || suffix[i] > '9') return false;
  return true;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

// A scan of upstream's parseQuantityString and suffix interpretation, without computing the
// amount (the write path checks every quantity of every object; validation parses them).
std::optional<std::string> quantityError(std::string_view s) {
  static const std::string kFormat =
      "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
  if (s.empty()) return kFormat;
  if (s == "0") return std::nullopt;
  size_t i = 0;
  if (s[i] == '+' || s[i] == '-') ++i;
  bool digits = false;
  while (i < s.size() && isDigit(s[i])) digits = ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && isDigit(s[i])) digits = ++i;
  }
  const size_t suffixStart = i;
  while (i < s.size() && std::string_view("eEinumkKMGTP").find(s[i]) != std::string_view::npos) ++i;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  while (i < s.size() && isDigit(s[i])) ++i;
  if (i < s.size()) return kFormat;
  if (!validQuantitySuffix(s.substr(suffixStart)))
    return std::string("unable to parse quantity's suffix");
  if (!digits) return std::string("unable to parse numeric part of quantity");
  return std::nullopt;
}

ApiError patchDecodeError(const std::string& shown, const std::string& detail) {
  return invalid(
      "", "", "",
      {{"FieldValueInvalid", "Invalid value: " + goQuote(shown) + ": " + detail, "patch"}});
}

namespace {

void sortKeys(json::object& obj) {
  std::vector<std::pair<std::string, json::value>> fields;
  fields.reserve(obj.size());
  for (auto& kv : obj) fields.emplace_back(std::string(kv.key()), std::move(kv.value()));
  std::sort(fields.begin(), fields.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  obj.clear();
  for (auto& [k, v] : fields) obj.emplace(k, std::move(v));
}

// json-patch's MergePatch re-marshals every object it merged into from a Go map.
void sortAlongMergePatch(json::value& doc, const json::value& patch) {
  if (!doc.is_object() || !patch.is_object()) return;
  sortKeys(doc.as_object());
  for (const auto& kv : patch.as_object())
    if (auto* child = doc.as_object().if_contains(kv.key()))
      sortAlongMergePatch(*child, kv.value());
}

// JSON patch re-marshals the top level and every container on an operation's path.
void sortAlongPointer(json::value& doc, std::string_view pointer) {
  json::value* cur = &doc;
  while (cur) {
    if (cur->is_object()) sortKeys(cur->as_object());
    if (pointer.empty() || pointer.front() != '/') return;
    pointer.remove_prefix(1);
    size_t slash = pointer.find('/');
    std::string token(pointer.substr(0, slash));
    pointer = slash == std::string_view::npos ? std::string_view() : pointer.substr(slash);
    for (size_t p = 0; (p = token.find('~', p)) != std::string::npos; ++p)
      token.replace(p, 2, token.compare(p, 2, "~1") == 0 ? "/" : "~");
    if (cur->is_object()) {
      cur = cur->as_object().if_contains(token);
    } else if (cur->is_array()) {
      size_t index = 0;
      auto res = std::from_chars(token.data(), token.data() + token.size(), index);
      cur = res.ec == std::errc() && index < cur->as_array().size() ? &cur->as_array()[index]
                                                                    : nullptr;
    } else {
      return;
    }
  }
}

// Go's json.Marshal escapes these inside strings (HTML safety); JSON text has them nowhere else.
std::string goEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '<')
      out += "\\u003c";
    else if (c == '>')
      out += "\\u003e";
    else if (c == '&')
      out += "\\u0026";
    else if (c == '\xe2' && i + 2 < text.size() && text[i + 1] == '\x80' &&
             (text[i + 2] == '\xa8' || text[i + 2] == '\xa9')) {
      out += text[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string patchedObjectText(json::value patched, const json::value& patch, bool jsonPatch) {
  if (!jsonPatch) {
    sortAlongMergePatch(patched, patch);
  } else if (patch.is_array()) {
    if (patched.is_object()) sortKeys(patched.as_object());
    for (const auto& op : patch.as_array())
      if (const auto* o = op.if_object())
        if (const auto* path = o->if_contains("path"); path && path->is_string())
          sortAlongPointer(patched, path->get_string());
  }
  return goEscape(json::serialize(patched));
}

}  // namespace skiff::api

// ---- server-side apply (structured-merge-diff's validation of the applied configuration)

namespace skiff::api {

namespace {

// Go's %#v of a decoded JSON value, as "expected string, got %#v" prints it.
std::string goSharpV(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "interface {}(nil)";
    case json::kind::string:
      return goQuote(v.get_string());
    case json::kind::object: {
      std::vector<std::pair<std::string_view, const json::value*>> fields;
      for (const auto& kv : v.get_object()) fields.emplace_back(kv.key(), &kv.value());
      std::sort(fields.begin(), fields.end());
      std::string out = "map[string]interface {}{";
      for (size_t i = 0; i < fields.size(); ++i)
        out += (i ? ", " : "") + goQuote(fields[i].first) + ":" + goSharpV(*fields[i].second);
      return out + "}";
    }
    case json::kind::array: {
      std::string out = "[]interface {}{";
      const auto& arr = v.get_array();
      for (size_t i = 0; i < arr.size(); ++i) out += (i ? ", " : "") + goSharpV(arr[i]);
      return out + "}";
    }
    default:
      return goFormat(v);
  }
}

// Go's %T of the same value.
const char* goTypeOf(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return "string";
    case json::kind::bool_:
      return "bool";
    case json::kind::double_:
      return "float64";
    case json::kind::object:
      return "map[string]interface {}";
    case json::kind::array:
      return "[]interface {}";
    case json::kind::null:
      return "<nil>";
    default:
      return "int64";
  }
}

// "%v" of the *valueUnstructured the validator holds: a pointer to a one-field struct.
std::string pointerToValue(const json::value& v) { return "&{" + goFormat(v) + "}"; }

// value.ToString, which path elements use for keys and set members.
std::string smdValueText(const json::value& v) {
  if (v.is_string()) return goQuote(v.get_string());
  if (v.is_null()) return "null";
  return goFormat(v);
}

struct ApplyCheck {
  std::vector<std::string> errors;
  std::string path;

  void fail(const std::string& message) { errors.push_back(path + ": " + message); }

  void walk(const json::value& v, const SchemaNode* node) {
    if (!node || v.is_null()) return;
    // IntOrString, Quantity and timestamps are "untyped" scalars to the validator.
    if (node->special == SchemaNode::Special::IntOrString ||
        node->special == SchemaNode::Special::Quantity ||
        node->special == SchemaNode::Special::Time) {
      if (v.is_object() || v.is_array()) fail("expected any scalar, got " + pointerToValue(v));
      return;
    }
    switch (node->type) {
      case SchemaNode::Type::Any:
        return;
      case SchemaNode::Type::String:
        if (!v.is_string())
          fail("expected string, got &value.valueUnstructured{Value:" + goSharpV(v) + "}");
        return;
      case SchemaNode::Type::Integer:
      case SchemaNode::Type::Number:
        if (!v.is_number())
          fail(std::string("expected numeric (int or float), got ") + goTypeOf(v));
        return;
      case SchemaNode::Type::Boolean:
        if (!v.is_bool()) fail("expected boolean, got " + pointerToValue(v));
        return;
      case SchemaNode::Type::Object:
        return walkMap(v, *node);
      case SchemaNode::Type::Array:
        return walkList(v, *node);
    }
  }

  void walkMap(const json::value& v, const SchemaNode& node) {
    if (!v.is_object()) return fail("expected map, got " + pointerToValue(v));
    if (node.preserveUnknown) return;
    for (const auto& kv : v.get_object()) {
      const SchemaNode* child = nullptr;
      if (node.hasProperties) {
        auto it = node.properties.find(std::string_view(kv.key()));
        if (it == node.properties.end()) continue;  // unknown: the pruning walk's business
        child = it->second;
      } else {
        child = node.additional;
      }
      const size_t mark = path.size();
      path += '.';
      path += kv.key();
      walk(kv.value(), child);
      path.resize(mark);
    }
  }

  void walkList(const json::value& v, const SchemaNode& node) {
    if (!v.is_array()) return fail("expected list, got " + pointerToValue(v));
    const auto& items = v.get_array();
    for (size_t i = 0; i < items.size(); ++i) {
      const size_t mark = path.size();
      const json::value& item = items[i];
      if (node.listType == SchemaNode::ListType::Map && item.is_object() &&
          !node.listMapKeys.empty()) {
        std::string element;
        for (const auto& key : node.listMapKeys) {
          const json::value* k = item.get_object().if_contains(key);
          // A key left out takes its schema default. The only defaulted list-map key of the
          // built-in kinds is a port's protocol (TCP), and data/openapi-v2.json has no defaults.
          if (!k && key != "protocol") continue;
          element += (element.empty() ? "" : ",") + key + "=" + (k ? smdValueText(*k) : "\"TCP\"");
        }
        path += "[" + element + "]";
      } else if (node.listType == SchemaNode::ListType::Set) {
        path += "[=" + smdValueText(item) + "]";
      } else {
        path += "[" + std::to_string(i) + "]";
      }
      walk(item, node.items);
      path.resize(mark);
    }
  }
};

}  // namespace

std::optional<std::string> applyTypeErrors(const json::value& applied, const SchemaNode* root) {
  ApplyCheck check;
  check.walk(applied, root);
  if (check.errors.empty()) return std::nullopt;
  if (check.errors.size() == 1) return check.errors[0];
  std::string out = "errors:";
  for (const auto& e : check.errors) out += "\n  " + e;
  return out;
}

}  // namespace skiff::api
