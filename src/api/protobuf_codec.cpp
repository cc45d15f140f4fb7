#include "api/protobuf_codec.h"

#include <algorithm>
#include <boost/json.hpp>
#include <limits>

#include "api/protobuf_schema.h"
#include "api/protobuf_wire.h"
#include "common/api_error.h"

namespace skiff::api {

namespace json = boost::json;
using protobuf::Field;
using protobuf::Message;
using protobuf::Reader;
using protobuf::Scalar;
using protobuf::Special;

namespace {

constexpr std::string_view kMagic{"k8s\0", 4};
// Deep enough for any real object (a pod template nests ~12 messages), shallow enough that
// hostile input cannot exhaust the stack. Embedded JSON (RawExtension) shares the budget.
constexpr int kMaxDepth = 64;

[[noreturn]] void malformed(const std::string& what) {
  throw skiff::badRequest("malformed protobuf body: " + what);
}

// ---------------------------------------------------------------------------------------
// Decoding

class Decoder {
 public:
  json::value object(std::string_view body);

 private:
  int depth_ = 0;

  struct DepthGuard {
    explicit DepthGuard(int& depth) : depth_(depth) {
      if (++depth_ > kMaxDepth) malformed("nesting too deep");
    }
    ~DepthGuard() { --depth_; }
    int& depth_;
  };

  void fields(const Message& m, std::string_view data, json::object& out);
  void field(const Field& f, int wireType, Reader& r, json::object& out);
  void mapEntry(const Field& f, std::string_view entry, json::object& out);
  json::value message(const Message& m, std::string_view data);  // null means "omit"
  json::value special(const Message& m, std::string_view data);
  json::value embeddedJson(std::string_view bytes);
  static json::value scalar(Scalar type, int wireType, Reader& r);
};

bool isZero(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return v.get_string().empty();
    case json::kind::int64:
      return v.get_int64() == 0;
    case json::kind::bool_:
      return !v.get_bool();
    default:
      return false;
  }
}

int expectedWireType(Scalar type) {
  return type == Scalar::String || type == Scalar::Bytes ? protobuf::kLengthDelimited
                                                         : protobuf::kVarint;
}

json::value Decoder::scalar(Scalar type, int wireType, Reader& r) {
  if (wireType != expectedWireType(type)) malformed("wrong wire type for a scalar field");
  switch (type) {
    case Scalar::String:
      return json::string(protobuf::validUtf8(r.lengthDelimited()));
    case Scalar::Bytes:
      return json::string(protobuf::base64Encode(r.lengthDelimited()));
    case Scalar::Bool:
      return r.varint() != 0;
    // Go truncates int32 varints the same way (negative values arrive sign-extended).
    case Scalar::Int32:
      return static_cast<std::int64_t>(static_cast<std::int32_t>(r.varint()));
    case Scalar::Int64:
      return static_cast<std::int64_t>(r.varint());
    case Scalar::None:
      break;
  }
  malformed("field without a type");
}

json::value Decoder::object(std::string_view body) {
  if (!body.starts_with(kMagic)) malformed("missing the k8s\\0 prefix");
  Reader r(body.substr(kMagic.size()));
  std::string_view typeMeta, raw, encoding;
  bool haveRaw = false;
  while (!r.done()) {
    std::uint32_t n;
    int wt;
    r.tag(n, wt);
    if (n >= 1 && n <= 4 && wt != protobuf::kLengthDelimited) malformed("bad runtime.Unknown");
    if (n == 1)
      typeMeta = r.lengthDelimited();
    else if (n == 2) {
      raw = r.lengthDelimited();
      haveRaw = true;
    } else if (n == 3)
      encoding = r.lengthDelimited();
    else
      r.skip(wt);  // contentType and anything newer: the body is protobuf by definition
  }
  if (!encoding.empty()) malformed("unsupported contentEncoding " + std::string(encoding));
  std::string apiVersion, kind;
  Reader tm(typeMeta);
  while (!tm.done()) {
    std::uint32_t n;
    int wt;
    tm.tag(n, wt);
    if ((n == 1 || n == 2) && wt != protobuf::kLengthDelimited) malformed("bad TypeMeta");
    if (n == 1)
      apiVersion = tm.lengthDelimited();
    else if (n == 2)
      kind = tm.lengthDelimited();
    else
      tm.skip(wt);
  }
  if (apiVersion.empty() || kind.empty()) malformed("apiVersion and kind are required");
  if (!haveRaw) malformed("no object");
  const Message* m = protobuf::schema().find(apiVersion, kind);
  if (!m || m->special != Special::None)
    throw skiff::badRequest("no protobuf message for " + apiVersion + ", Kind=" + kind);
  json::object out;
  out["apiVersion"] = apiVersion;
  out["kind"] = kind;
  DepthGuard guard(depth_);
  fields(*m, raw, out);
  // The message itself never carries them, but keep the TypeMeta authoritative.
  out["apiVersion"] = apiVersion;
  out["kind"] = kind;
  return out;
}

void Decoder::fields(const Message& m, std::string_view data, json::object& out) {
  Reader r(data);
  while (!r.done()) {
    std::uint32_t n;
    int wt;
    r.tag(n, wt);
    if (const Field* f = m.byNumber(n))
      field(*f, wt, r, out);
    else
      r.skip(wt);  // unknown fields are skipped, as upstream does
  }
}

void Decoder::field(const Field& f, int wt, Reader& r, json::object& out) {
  if (f.map) {
    if (wt != protobuf::kLengthDelimited) malformed("wrong wire type for map " + f.jsonName);
    mapEntry(f, r.lengthDelimited(), out);
    return;
  }
  if (f.message) {
    if (wt != protobuf::kLengthDelimited) malformed("wrong wire type for " + f.jsonName);
    std::string_view data = r.lengthDelimited();
    DepthGuard guard(depth_);
    if (f.inlined) {
      fields(*f.message, data, out);
    } else if (f.repeated) {
      json::value& list = out[f.jsonName];
      if (!list.is_array()) list = json::array();
      list.get_array().push_back(message(*f.message, data));
    } else if (f.message->special != Special::None) {
      json::value v = special(*f.message, data);
      if (v.is_null())
        out.erase(f.jsonName);
      else
        out[f.jsonName] = std::move(v);
    } else {
      // A repeated occurrence of a singular message merges into the first, as in protobuf.
      json::value& sub = out[f.jsonName];
      if (!sub.is_object()) sub = json::object();
      fields(*f.message, data, sub.get_object());
    }
    return;
  }
  if (f.repeated) {
    json::value& list = out[f.jsonName];
    if (!list.is_array()) list = json::array();
    json::array& items = list.get_array();
    if (wt == protobuf::kLengthDelimited && expectedWireType(f.scalar) == protobuf::kVarint) {
      Reader packed(r.lengthDelimited());  // packed encoding, accepted though Go never sends it
      while (!packed.done()) items.push_back(scalar(f.scalar, protobuf::kVarint, packed));
    } else {
      items.push_back(scalar(f.scalar, wt, r));
    }
    if (items.empty()) out.erase(f.jsonName);
    return;
  }
  json::value v = scalar(f.scalar, wt, r);
  if (isZero(v) && !f.keepZero)
    out.erase(f.jsonName);
  else
    out[f.jsonName] = std::move(v);
}

void Decoder::mapEntry(const Field& f, std::string_view entry, json::object& out) {
  Reader r(entry);
  json::string key;
  std::optional<json::value> value;
  while (!r.done()) {
    std::uint32_t n;
    int wt;
    r.tag(n, wt);
    if (n == 1) {
      if (wt != protobuf::kLengthDelimited) malformed("bad map key in " + f.jsonName);
      key = protobuf::validUtf8(r.lengthDelimited());
    } else if (n == 2) {
      if (f.message) {
        if (wt != protobuf::kLengthDelimited) malformed("bad map value in " + f.jsonName);
        std::string_view data = r.lengthDelimited();
        DepthGuard guard(depth_);
        value = message(*f.message, data);
      } else {
        value = scalar(f.scalar, wt, r);
      }
    } else {
      r.skip(wt);
    }
  }
  if (!value) {  // a missing value is the type's zero value
    if (f.message) {
      DepthGuard guard(depth_);
      value = message(*f.message, {});
    } else if (f.scalar == Scalar::String || f.scalar == Scalar::Bytes) {
      value = json::string();
    } else if (f.scalar == Scalar::Bool) {
      value = false;
    } else {
      value = std::int64_t(0);
    }
  }
  json::value& map = out[f.jsonName];
  if (!map.is_object()) map = json::object();
  map.get_object()[key] = std::move(*value);  // later entries win, as in Go
}

json::value Decoder::message(const Message& m, std::string_view data) {
  if (m.special != Special::None) return special(m, data);
  json::object out;
  fields(m, data, out);
  return out;
}

json::value Decoder::embeddedJson(std::string_view bytes) {
  if (bytes.empty()) return nullptr;
  if (bytes.starts_with(kMagic)) {  // an embedded protobuf object
    Decoder nested;
    nested.depth_ = depth_;
    return nested.object(bytes);
  }
  json::parse_options options;
  options.max_depth = static_cast<std::size_t>(std::max(1, kMaxDepth - depth_));
  boost::system::error_code ec;
  json::value v = json::parse(json::string_view(bytes.data(), bytes.size()), ec, {}, options);
  if (ec) malformed("embedded JSON: " + ec.message());
  return v;
}

json::value Decoder::special(const Message& m, std::string_view data) {
  Reader r(data);
  std::int64_t seconds = 0, type = 0, intVal = 0;
  std::int32_t nanos = 0;
  std::string_view text;
  json::array items;
  while (!r.done()) {
    std::uint32_t n;
    int wt;
    r.tag(n, wt);
    const Field* f = m.byNumber(n);
    if (!f) {
      r.skip(wt);
      continue;
    }
    if (wt != expectedWireType(f->scalar)) malformed("wrong wire type in " + m.name);
    switch (m.special) {
      case Special::Time:
      case Special::MicroTime:
        if (n == 1)
          seconds = static_cast<std::int64_t>(r.varint());
        else
          nanos = static_cast<std::int32_t>(r.varint());
        break;
      case Special::IntOrString:
        if (n == 1)
          type = static_cast<std::int64_t>(r.varint());
        else if (n == 2)
          intVal = static_cast<std::int32_t>(r.varint());
        else
          text = r.lengthDelimited();
        break;
      case Special::StringArray:
        items.emplace_back(json::string(protobuf::validUtf8(r.lengthDelimited())));
        break;
      default:
        text = r.lengthDelimited();
        break;  // Quantity, RawExtension, FieldsV1
    }
  }
  switch (m.special) {
    case Special::Time:
    case Special::MicroTime: {
      // Go writes the zero time as an empty message (upstream JSON shows null); the epoch
      // itself arrives as explicit zero fields.
      if (data.empty()) return nullptr;
      auto s = protobuf::formatTime(seconds, nanos, m.special == Special::MicroTime);
      if (!s) malformed("time out of range in " + m.name);
      return json::string(*s);
    }
    case Special::Quantity:
      return text.empty() ? json::string("0") : json::string(protobuf::validUtf8(text));
    case Special::IntOrString:
      if (type == 1) return json::string(protobuf::validUtf8(text));
      return intVal;
    case Special::RawExtension:
    case Special::FieldsV1:
      return embeddedJson(text);
    case Special::StringArray:
      return items;
    case Special::None:
      break;
  }
  malformed("unexpected special message");
}

// ---------------------------------------------------------------------------------------
// Encoding

[[noreturn]] void unfit(const std::string& what) {
  throw skiff::internalError("cannot encode object as protobuf: " + what);
}

class Encoder {
 public:
  void fields(const Message& m, const json::object& obj, std::string& out);

 private:
  int depth_ = 0;

  void value(const Field& f, std::uint32_t number, const json::value& v, std::string& out);
  void message(const Message& m, const json::value& v, std::string& out);
  void special(const Message& m, const json::value& v, std::string& out);
  static std::int64_t integer(const json::value& v, const Field& f);
};

std::int64_t Encoder::integer(const json::value& v, const Field& f) {
  std::int64_t n = 0;
  if (v.is_int64())
    n = v.get_int64();
  else if (v.is_uint64() &&
           v.get_uint64() <= std::uint64_t(std::numeric_limits<std::int64_t>::max()))
    n = static_cast<std::int64_t>(v.get_uint64());
  else if (v.is_double() &&
           v.get_double() == static_cast<double>(static_cast<std::int64_t>(v.get_double())))
    n = static_cast<std::int64_t>(v.get_double());
  else
    unfit(f.jsonName + " is not an integer");
  if (f.scalar == Scalar::Int32 && (n < std::numeric_limits<std::int32_t>::min() ||
                                    n > std::numeric_limits<std::int32_t>::max()))
    unfit(f.jsonName + " is out of the int32 range");
  return n;
}

void Encoder::value(const Field& f, std::uint32_t number, const json::value& v, std::string& out) {
  if (f.message) {
    std::string sub;
    message(*f.message, v, sub);
    protobuf::putLengthDelimited(out, number, sub);
    return;
  }
  switch (f.scalar) {
    case Scalar::String:
      if (!v.is_string()) unfit(f.jsonName + " is not a string");
      protobuf::putLengthDelimited(out, number, v.get_string());
      return;
    case Scalar::Bytes: {
      if (!v.is_string()) unfit(f.jsonName + " is not a base64 string");
      auto bytes = protobuf::base64Decode(v.get_string());
      if (!bytes) unfit(f.jsonName + " is not valid base64");
      protobuf::putLengthDelimited(out, number, *bytes);
      return;
    }
    case Scalar::Bool:
      if (!v.is_bool()) unfit(f.jsonName + " is not a boolean");
      protobuf::putTag(out, number, protobuf::kVarint);
      protobuf::putVarint(out, v.get_bool() ? 1 : 0);
      return;
    case Scalar::Int32:
    case Scalar::Int64:
      protobuf::putTag(out, number, protobuf::kVarint);
      protobuf::putVarint(out, static_cast<std::uint64_t>(integer(v, f)));  // sign-extended
      return;
    case Scalar::None:
      break;
  }
  unfit(f.jsonName + " has no type");
}

void Encoder::message(const Message& m, const json::value& v, std::string& out) {
  if (++depth_ > kMaxDepth) unfit("nesting too deep");
  if (v.is_null()) {
    // A null list element or map value: the message's zero value, i.e. no bytes.
  } else if (m.special != Special::None) {
    special(m, v, out);
  } else if (v.is_object()) {
    fields(m, v.get_object(), out);
  } else {
    unfit("expected an object for " + m.name);
  }
  --depth_;
}

void Encoder::fields(const Message& m, const json::object& obj, std::string& out) {
  for (const Field& f : m.fields) {
    if (f.inlined) {  // Go always writes embedded structs, even when empty
      std::string sub;
      if (++depth_ > kMaxDepth) unfit("nesting too deep");
      fields(*f.message, obj, sub);  // the embedded fields live in this same JSON object
      --depth_;
      protobuf::putLengthDelimited(out, f.number, sub);
      continue;
    }
    const json::value* v = obj.if_contains(f.jsonName);
    if (!v || v->is_null()) continue;
    if (f.map) {
      if (!v->is_object()) unfit(f.jsonName + " is not an object");
      // Sorted keys keep the output deterministic (Go's marshaller sorts map keys too).
      std::vector<const json::key_value_pair*> entries;
      for (const auto& kv : v->get_object()) entries.push_back(&kv);
      std::sort(entries.begin(), entries.end(),
                [](auto* a, auto* b) { return a->key() < b->key(); });
      for (const auto* kv : entries) {
        std::string entry;
        protobuf::putLengthDelimited(entry, 1, kv->key());
        value(f, 2, kv->value(), entry);
        protobuf::putLengthDelimited(out, f.number, entry);
      }
    } else if (f.repeated) {
      if (!v->is_array()) unfit(f.jsonName + " is not an array");
      for (const json::value& item : v->get_array()) value(f, f.number, item, out);
    } else {
      value(f, f.number, *v, out);
    }
  }
}

void Encoder::special(const Message& m, const json::value& v, std::string& out) {
  switch (m.special) {
    case Special::Time:
    case Special::MicroTime: {
      std::int64_t seconds;
      std::int32_t nanos;
      if (!v.is_string() || !protobuf::parseTime(v.get_string(), seconds, nanos))
        unfit("invalid time in " + m.name);
      protobuf::putTag(out, 1, protobuf::kVarint);
      protobuf::putVarint(out, static_cast<std::uint64_t>(seconds));
      protobuf::putTag(out, 2, protobuf::kVarint);
      protobuf::putVarint(out, static_cast<std::uint64_t>(std::int64_t(nanos)));
      return;
    }
    case Special::Quantity:
      // Upstream also accepts a bare JSON number for a quantity ("cpu": 2).
      if (v.is_string())
        protobuf::putLengthDelimited(out, 1, v.get_string());
      else if (v.is_number())
        protobuf::putLengthDelimited(out, 1, json::serialize(v));
      else
        unfit("invalid quantity");
      return;
    case Special::IntOrString:
      // Go writes all three fields; so do we, which keeps round trips byte-identical.
      if (v.is_string()) {
        protobuf::putTag(out, 1, protobuf::kVarint);
        protobuf::putVarint(out, 1);
        protobuf::putTag(out, 2, protobuf::kVarint);
        protobuf::putVarint(out, 0);
        protobuf::putLengthDelimited(out, 3, v.get_string());
      } else {
        Field f;
        f.jsonName = "int-or-string";
        f.scalar = Scalar::Int32;
        protobuf::putTag(out, 1, protobuf::kVarint);
        protobuf::putVarint(out, 0);
        protobuf::putTag(out, 2, protobuf::kVarint);
        protobuf::putVarint(out, static_cast<std::uint64_t>(integer(v, f)));
        protobuf::putLengthDelimited(out, 3, "");
      }
      return;
    case Special::RawExtension:
    case Special::FieldsV1:
      protobuf::putLengthDelimited(out, 1, json::serialize(v));
      return;
    case Special::StringArray:
      if (!v.is_array()) unfit("expected a list of strings for " + m.name);
      for (const json::value& item : v.get_array()) {
        if (!item.is_string()) unfit("expected a list of strings for " + m.name);
        protobuf::putLengthDelimited(out, 1, item.get_string());
      }
      return;
    case Special::None:
      break;
  }
  unfit("unexpected special message");
}

}  // namespace

json::value decodeProtobufObject(std::string_view body) {
  Decoder decoder;
  return decoder.object(body);
}

std::string encodeProtobufObject(const json::value& object) {
  const json::object* obj = object.if_object();
  const json::value* apiVersion = obj ? obj->if_contains("apiVersion") : nullptr;
  const json::value* kind = obj ? obj->if_contains("kind") : nullptr;
  if (!apiVersion || !apiVersion->is_string() || !kind || !kind->is_string())
    throw skiff::notAcceptable("protobuf encoding needs an object with apiVersion and kind");
  const Message* m = protobuf::schema().find(apiVersion->get_string(), kind->get_string());
  if (!m || m->special != Special::None)
    throw skiff::notAcceptable("no protobuf message for " + std::string(apiVersion->get_string()) +
                               ", Kind=" + std::string(kind->get_string()));
  std::string raw;
  Encoder encoder;
  encoder.fields(*m, *obj, raw);

  std::string typeMeta;
  protobuf::putLengthDelimited(typeMeta, 1, apiVersion->get_string());
  protobuf::putLengthDelimited(typeMeta, 2, kind->get_string());
  std::string out(kMagic);
  protobuf::putLengthDelimited(out, 1, typeMeta);
  protobuf::putLengthDelimited(out, 2, raw);
  protobuf::putLengthDelimited(out, 3, "");  // contentEncoding, written empty like Go
  protobuf::putLengthDelimited(out, 4, "");  // contentType
  return out;
}

bool hasProtobufMessage(std::string_view apiVersion, std::string_view kind) {
  const Message* m = protobuf::schema().find(apiVersion, kind);
  return m && m->special == Special::None;
}

}  // namespace skiff::api
