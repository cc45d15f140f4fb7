#include "api/json_patch.h"

#include <boost/json.hpp>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "api/json_access.h"
#include "api/patch_error.h"

namespace skiff::api {

namespace json = boost::json;

namespace {

// Copies may double the document each time; cap the total they add (upstream has an
// equivalent optional limit, AccumulatedCopySizeLimit).
constexpr size_t kMaxAccumulatedCopyBytes = 16 * 1024 * 1024;

// Rough serialized size, stopping early once past `limit`.
size_t estimateSize(const json::value& v, size_t limit) {
  switch (v.kind()) {
    case json::kind::string:
      return v.get_string().size() + 2;
    case json::kind::array: {
      size_t n = 2;
      for (const auto& e : v.get_array()) {
        n += estimateSize(e, limit) + 1;
        if (n > limit) return n;
      }
      return n;
    }
    case json::kind::object: {
      size_t n = 2;
      for (const auto& kv : v.get_object()) {
        n += kv.key().size() + 4 + estimateSize(kv.value(), limit);
        if (n > limit) return n;
      }
      return n;
    }
    default:
      return 8;
  }
}

// Structural equality where numbers compare by value (1 == 1.0), as upstream decodes both
// sides into float64 before comparing.
bool jsonEqual(const json::value& a, const json::value& b) {
  auto isNumber = [](const json::value& v) {
    return v.is_int64() || v.is_uint64() || v.is_double();
  };
  if (isNumber(a) && isNumber(b)) return a.to_number<double>() == b.to_number<double>();
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::kind::array: {
      const auto &x = a.get_array(), &y = b.get_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!jsonEqual(x[i], y[i])) return false;
      }
      return true;
    }
    case json::kind::object: {
      const auto &x = a.get_object(), &y = b.get_object();
      if (x.size() != y.size()) return false;
      for (const auto& kv : x) {
        const auto* other = y.if_contains(kv.key());
        if (!other || !jsonEqual(kv.value(), *other)) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

std::vector<std::string> parsePointer(std::string_view path) {
  // Upstream cannot address the document root; neither can we.
  if (path.empty() || path[0] != '/')
    throw PatchApplyError("invalid path: \"" + std::string(path) + "\"");
  std::vector<std::string> tokens;
  size_t start = 1;
  while (true) {
    size_t slash = path.find('/', start);
    auto raw = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    std::string token;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        token += raw[i];
      }
    }
    tokens.push_back(std::move(token));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return tokens;
}

// strconv.Atoi: optional sign and decimal digits.
std::optional<int64_t> parseIndex(const std::string& s) {
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (i == s.size() || s.size() - i > 18) return std::nullopt;
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return negative ? -v : v;
}

// Resolves an index into an array of `size` elements, where -1 is the last element.
size_t arrayIndex(const std::string& token, size_t size, const std::string& path) {
  auto idx = parseIndex(token);
  if (!idx) throw PatchApplyError("value was not a proper array index: '" + token + "' in " + path);
  int64_t n = static_cast<int64_t>(size);
  if (*idx >= n || *idx < -n) {
    throw PatchApplyError("Unable to access invalid index: " + token + " in " + path);
  }
  return static_cast<size_t>(*idx < 0 ? *idx + n : *idx);
}

// The container holding the last token of `path`, or nullptr if an intermediate is missing.
json::value* findParent(json::value& root, const std::vector<std::string>& tokens) {
  json::value* cur = &root;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    if (auto* obj = cur->if_object()) {
      cur = obj->if_contains(tokens[i]);
      if (!cur) return nullptr;
    } else if (auto* arr = cur->if_array()) {
      auto idx = parseIndex(tokens[i]);
      int64_t n = static_cast<int64_t>(arr->size());
      if (!idx || *idx >= n || *idx < -n) return nullptr;
      cur = &(*arr)[static_cast<size_t>(*idx < 0 ? *idx + n : *idx)];
    } else {
      return nullptr;
    }
  }
  return cur->is_object() || cur->is_array() ? cur : nullptr;
}

struct Location {
  json::value* parent;
  std::string key;
  std::string path;
};

Location locate(json::value& doc, std::string_view path, const char* op) {
  auto tokens = parsePointer(path);
  auto* parent = findParent(doc, tokens);
  if (!parent) {
    throw PatchApplyError(std::string(op) + " operation does not apply: doc is missing path: \"" +
                          std::string(path) + "\"");
  }
  return {parent, tokens.back(), std::string(path)};
}

json::value& get(const Location& loc) {
  if (auto* obj = loc.parent->if_object()) {
    auto* v = obj->if_contains(loc.key);
    if (!v) throw PatchApplyError("doc is missing key: " + loc.path);
    return *v;
  }
  auto& arr = loc.parent->get_array();
  return arr[arrayIndex(loc.key, arr.size(), loc.path)];
}

void add(const Location& loc, json::value v) {
  if (auto* obj = loc.parent->if_object()) {
    (*obj)[loc.key] = std::move(v);
    return;
  }
  auto& arr = loc.parent->get_array();
  if (loc.key == "-") {
    arr.push_back(std::move(v));
    return;
  }
  // Inserting may address one past the end.
  size_t idx = arrayIndex(loc.key, arr.size() + 1, loc.path);
  arr.insert(arr.begin() + static_cast<std::ptrdiff_t>(idx), std::move(v));
}

void remove(const Location& loc) {
  if (auto* obj = loc.parent->if_object()) {
    if (!obj->erase(loc.key)) throw PatchApplyError("Unable to remove nonexistent key: " + loc.key);
    return;
  }
  auto& arr = loc.parent->get_array();
  arr.erase(arr.begin() + static_cast<std::ptrdiff_t>(arrayIndex(loc.key, arr.size(), loc.path)));
}

std::string stringMember(const json::object& op, std::string_view name, const std::string& opName) {
  const auto* v = op.if_contains(name);
  if (!v || !v->is_string()) {
    throw PatchApplyError(opName + " operation missing " + std::string(name) + " field");
  }
  return std::string(v->get_string());
}

json::value valueMember(const json::object& op) {
  const auto* v = op.if_contains("value");
  return v ? *v : json::value(nullptr);
}

}  // namespace

json::value applyJsonPatch(const json::value& doc, const json::value& patch) {
  if (patch.is_null()) return doc;  // decodes to an empty patch upstream
  const auto* ops = patch.if_array();
  if (!ops) {
    throw badRequest("json: cannot unmarshal " + goJsonTypeName(patch) +
                     " into Go value of type jsonpatch.Patch");
  }
  for (const auto& op : *ops) {
    if (!op.is_object() && !op.is_null()) {
      throw badRequest("json: cannot unmarshal " + goJsonTypeName(op) +
                       " into Go value of type jsonpatch.Operation");
    }
  }
  if (ops->size() > kMaxJsonPatchOperations) {
    throw requestEntityTooLarge("The allowed maximum operations in a JSON patch is " +
                                std::to_string(kMaxJsonPatchOperations) + ", got " +
                                std::to_string(ops->size()));
  }
  if (!doc.is_object() && !doc.is_array()) throw PatchApplyError("invalid JSON document");

  json::value result = doc;
  size_t copied = 0;
  for (const auto& opValue : *ops) {
    static const json::object kEmpty;
    const auto& op = opValue.is_object() ? opValue.get_object() : kEmpty;
    std::string kind = "unknown";
    if (const auto* k = op.if_contains("op"); k && k->is_string())
      kind = std::string(k->get_string());

    if (kind == "add") {
      auto loc = locate(result, stringMember(op, "path", kind), "add");
      add(loc, valueMember(op));
    } else if (kind == "remove") {
      auto loc = locate(result, stringMember(op, "path", kind), "remove");
      remove(loc);
    } else if (kind == "replace") {
      auto loc = locate(result, stringMember(op, "path", kind), "replace");
      get(loc) = valueMember(op);
    } else if (kind == "move") {
      auto from = locate(result, stringMember(op, "from", kind), "move");
      json::value v = std::move(get(from));
      remove(from);
      add(locate(result, stringMember(op, "path", kind), "move"), std::move(v));
    } else if (kind == "copy") {
      auto from = locate(result, stringMember(op, "from", kind), "copy");
      json::value v = get(from);
      copied += estimateSize(v, kMaxAccumulatedCopyBytes);
      if (copied > kMaxAccumulatedCopyBytes) {
        throw PatchApplyError(
            "Unable to complete the copy, the accumulated size increase of copy is " +
            std::to_string(copied) + ", exceeding the limit " +
            std::to_string(kMaxAccumulatedCopyBytes));
      }
      add(locate(result, stringMember(op, "path", kind), "copy"), std::move(v));
    } else if (kind == "test") {
      auto path = stringMember(op, "path", kind);
      auto loc = locate(result, path, "test");
      if (!jsonEqual(get(loc), valueMember(op)))
        throw PatchApplyError("testing value " + path + " failed");
    } else {
      throw PatchApplyError("Unexpected kind: " + kind);
    }
  }
  return result;
}

}  // namespace skiff::api
