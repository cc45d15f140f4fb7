#include "api/managed_fields_text.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>
#include <utility>

namespace skiff::api {

namespace json = boost::json;

namespace {

json::object* metadataOf(json::object& obj) {
  json::value* meta = obj.if_contains("metadata");
  return meta && meta->is_object() ? &meta->get_object() : nullptr;
}
const json::object* metadataOf(const json::object& obj) {
  const json::value* meta = obj.if_contains("metadata");
  return meta && meta->is_object() ? &meta->get_object() : nullptr;
}

const json::string* packedIn(const json::object& metadata) {
  const json::value* mf = metadata.if_contains("managedFields");
  return mf && mf->is_string() ? &mf->get_string() : nullptr;
}

// The objects inside obj that encoders write whole: a list's items, a Table's rows' objects.
// Only in a list or a Table the server built (no metadata.name, which every stored object
// has): another object's "items" is its own data, where a string metadata.managedFields may
// be anything (a custom resource may well be of kind "WidgetList").
template <typename Object, typename Visit>
void forEachInner(Object& obj, Visit&& visit) {
  const json::value* kind = obj.if_contains("kind");
  if (!kind || !kind->is_string()) return;
  if (const json::object* meta = metadataOf(std::as_const(obj)); meta && meta->contains("name"))
    return;
  const json::string& k = kind->get_string();
  const bool list = k.size() > 4 && std::string_view(k).ends_with("List");
  if (auto* items = obj.if_contains("items"); list && items && items->is_array()) {
    for (auto& item : items->get_array())
      if (item.is_object()) visit(item.get_object());
  }
  if (auto* rows = obj.if_contains("rows"); k == "Table" && rows && rows->is_array()) {
    for (auto& row : rows->get_array()) {
      if (!row.is_object()) continue;
      if (auto* inner = row.get_object().if_contains("object"); inner && inner->is_object())
        visit(inner->get_object());
    }
  }
}

void unpackMetadata(json::object& metadata) {
  json::value* mf = metadata.if_contains("managedFields");
  if (!mf || !mf->is_string()) return;
  boost::system::error_code ec;
  json::value parsed = json::parse(mf->get_string(), ec);
  // Packed by this server from an array, so it parses; should it not, the entries are lost
  // rather than handed out as a string no client could decode.
  if (ec || !parsed.is_array())
    metadata.erase("managedFields");
  else
    *mf = std::move(parsed);
}

// Serializes what `reset` points the serializer at, at the end of out. An object's text
// takes one call per member of it and of its metadata (~15 for a pod), so a call must be
// cheap: one serializer per thread is reused (the stack it grows for nested values keeps its
// memory; a new one allocated per nested value), and the text goes through a buffer on the
// stack (growing `out` by 4 KB per call zero-filled those bytes every time).
template <typename Reset>
void serializeWith(std::string& out, Reset&& reset) {
  thread_local json::serializer sr;
  reset(sr);
  char buf[4096];
  while (!sr.done()) out.append(sr.read(buf, sizeof buf));
}
template <typename T>
void serializeInto(std::string& out, const T* v) {
  serializeWith(out, [v](json::serializer& sr) { sr.reset(v); });
}

// Serializes any value at the end of out (no packed-field handling).
void appendJson(std::string& out, const json::value& v) { serializeInto(out, &v); }

void appendKey(std::string& out, std::string_view key) {
  serializeWith(out, [key](json::serializer& sr) { sr.reset(json::string_view(key)); });
  out += ':';
}

// Writes obj's members in order, each value by `writeValue(key, value)`.
template <typename WriteValue>
void appendMembers(std::string& out, const json::object& obj, WriteValue&& writeValue) {
  out += '{';
  bool first = true;
  for (const auto& [key, value] : obj) {
    if (!first) out += ',';
    first = false;
    appendKey(out, key);
    writeValue(key, value);
  }
  out += '}';
}

// A Table row: its "object" (the whole object or its PartialObjectMetadata) may be packed.
void appendRowJson(std::string& out, const json::object& row) {
  appendMembers(out, row, [&](std::string_view key, const json::value& value) {
    if (key == "object" && value.is_object())
      appendObjectJson(out, value.get_object());
    else
      appendJson(out, value);
  });
}

bool hasPackedInside(const json::object& obj) {
  bool found = false;
  forEachInner(obj, [&](const json::object& inner) {
    if (!found && packedManagedFields(inner)) found = true;
  });
  return found;
}

// managedFields are compared last: when they are held in different forms that takes a parse,
// which a difference anywhere else makes unnecessary.
bool sameMetadata(const json::object& a, const json::object& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, value] : a) {
    if (key == "managedFields") continue;
    const json::value* other = b.if_contains(key);
    if (!other || value != *other) return false;
  }
  const json::value* x = a.if_contains("managedFields");
  const json::value* y = b.if_contains("managedFields");
  if (!x || !y) return x == y;
  if (x->is_string() == y->is_string()) return *x == *y;
  json::value scratchA, scratchB;
  x = managedFieldsList(a, scratchA);
  y = managedFieldsList(b, scratchB);
  return x && y && *x == *y;
}

bool sameValue(std::string_view key, const json::value& a, const json::value& b) {
  if (key == "metadata" && a.is_object() && b.is_object())
    return sameMetadata(a.get_object(), b.get_object());
  return a == b;
}

}  // namespace

void packManagedFields(json::object& obj) {
  json::object* meta = metadataOf(obj);
  if (!meta) return;
  json::value* mf = meta->if_contains("managedFields");
  if (!mf || !mf->is_array()) return;
  *mf = json::string(json::serialize(*mf), mf->storage());
}

const json::string* packedManagedFields(const json::object& obj) {
  const json::object* meta = metadataOf(obj);
  return meta ? packedIn(*meta) : nullptr;
}

bool hasPackedManagedFields(const json::object& obj) {
  return packedManagedFields(obj) || hasPackedInside(obj);
}

void unpackManagedFields(json::object& obj) {
  if (json::object* meta = metadataOf(obj)) unpackMetadata(*meta);
  forEachInner(obj, [](json::object& inner) {
    if (json::object* meta = metadataOf(inner)) unpackMetadata(*meta);
  });
}

const json::value* managedFieldsList(const json::object& metadata, json::value& scratch) {
  const json::value* mf = metadata.if_contains("managedFields");
  if (!mf || !mf->is_string()) return mf;
  boost::system::error_code ec;
  scratch = json::parse(mf->get_string(), ec);
  if (ec || !scratch.is_array()) return nullptr;
  return &scratch;
}

void appendMetadataJson(std::string& out, const json::object& metadata) {
  if (!packedIn(metadata)) return serializeInto(out, &metadata);
  appendMembers(out, metadata, [&](std::string_view key, const json::value& value) {
    if (key == "managedFields" && value.is_string())
      out += value.get_string();  // the array's own text
    else
      appendJson(out, value);
  });
}

void appendObjectJson(std::string& out, const json::object& obj) {
  const bool inside = hasPackedInside(obj);
  if (!inside && !packedManagedFields(obj)) return serializeInto(out, &obj);
  appendMembers(out, obj, [&](std::string_view key, const json::value& value) {
    if (key == "metadata" && value.is_object()) {
      appendMetadataJson(out, value.get_object());
    } else if ((key == "items" || key == "rows") && value.is_array() && inside) {
      out += '[';
      bool firstItem = true;
      for (const auto& item : value.get_array()) {
        if (!firstItem) out += ',';
        firstItem = false;
        if (!item.is_object())
          appendJson(out, item);
        else if (key == "items")
          appendObjectJson(out, item.get_object());
        else
          appendRowJson(out, item.get_object());
      }
      out += ']';
    } else {
      appendJson(out, value);
    }
  });
}

std::string objectJson(const json::object& obj) {
  std::string out;
  appendObjectJson(out, obj);
  return out;
}

bool sameObject(const json::object& a, const json::object& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, value] : a) {  // metadata (and its managedFields) last
    if (key == "metadata") continue;
    const json::value* other = b.if_contains(key);
    if (!other || value != *other) return false;
  }
  return sameMember(a, b, "metadata");
}

bool sameMember(const json::object& a, const json::object& b, std::string_view field) {
  const json::value* x = a.if_contains(field);
  const json::value* y = b.if_contains(field);
  return x && y ? sameValue(field, *x, *y) : x == y;
}

}  // namespace skiff::api
