#include "api/merge_patch.h"

#include <boost/json.hpp>

#include "api/patch_error.h"

namespace skiff::api {

namespace json = boost::json;

namespace {

// Removes null members from objects, at any depth (also inside arrays), as upstream does for
// values it inserts.
json::value pruneNulls(json::value v) {
  if (auto* obj = v.if_object()) {
    json::object out;
    for (auto& kv : *obj) {
      if (!kv.value().is_null()) out[kv.key()] = pruneNulls(std::move(kv.value()));
    }
    return out;
  }
  if (auto* arr = v.if_array()) {
    for (auto& e : *arr) e = pruneNulls(std::move(e));
  }
  return v;
}

void mergeInto(json::object& doc, const json::object& patch) {
  for (const auto& kv : patch) {
    if (kv.value().is_null()) {
      doc.erase(kv.key());
      continue;
    }
    auto* cur = doc.if_contains(kv.key());
    if (cur && cur->is_object() && kv.value().is_object()) {
      mergeInto(cur->get_object(), kv.value().get_object());
    } else {
      doc[kv.key()] = pruneNulls(kv.value());
    }
  }
}

}  // namespace

json::value applyMergePatch(const json::value& doc, const json::value& patch) {
  return applyMergePatch(json::value(doc), patch);
}

json::value applyMergePatch(json::value&& doc, const json::value& patch) {
  if (patch.is_array()) return pruneNulls(patch);
  if (!patch.is_object()) throw badRequest("Invalid JSON Patch");
  if (doc.is_null()) throw patchFailure("Invalid JSON Document");
  if (!doc.is_object()) return pruneNulls(patch);
  mergeInto(doc.get_object(), patch.get_object());
  return std::move(doc);
}

json::value createMergePatch(const json::value& original, const json::value& modified) {
  if (!original.is_object() || !modified.is_object()) return modified;
  const auto& o = original.get_object();
  const auto& m = modified.get_object();
  json::object patch;
  for (const auto& kv : o) {
    if (!m.contains(kv.key())) patch[kv.key()] = nullptr;
  }
  for (const auto& kv : m) {
    const auto* before = o.if_contains(kv.key());
    if (!before) {
      patch[kv.key()] = kv.value();
    } else if (before->is_object() && kv.value().is_object()) {
      auto sub = createMergePatch(*before, kv.value());
      if (!sub.get_object().empty()) patch[kv.key()] = std::move(sub);
    } else if (*before != kv.value()) {
      patch[kv.key()] = kv.value();
    }
  }
  return patch;
}

}  // namespace skiff::api
