// Strategic merge patch application. The rules follow upstream's strategicpatch.mergeMap with
// the apiserver's options (parallel deletion lists are applied, nulls never reach the result).
// Values inserted without a counterpart in the original are run through the same merge against
// an empty original, so directive keys and nulls never end up stored (upstream drops them when
// it decodes the result into a typed object; we have no typed objects).
#include "api/strategic_merge_patch.h"

#include <algorithm>
#include <boost/json.hpp>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "api/go_text.h"
#include "api/patch_error.h"

namespace skiff::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kDirective = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kSetElementOrderPrefix = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList/";

// The Go dynamic types of decoded JSON, which upstream compares with reflect.TypeOf.
enum class GoKind { Nil, Bool, Int, Float, String, Map, Slice };

GoKind goKind(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return GoKind::Nil;
    case json::kind::bool_:
      return GoKind::Bool;
    case json::kind::int64:
    case json::kind::uint64:
      return GoKind::Int;
    case json::kind::double_:
      return GoKind::Float;
    case json::kind::string:
      return GoKind::String;
    case json::kind::array:
      return GoKind::Slice;
    case json::kind::object:
      return GoKind::Map;
  }
  return GoKind::Nil;
}

std::string goTypeName(const json::value& v) {
  switch (goKind(v)) {
    case GoKind::Nil:
      return "<nil>";
    case GoKind::Bool:
      return "bool";
    case GoKind::Int:
      return "int64";
    case GoKind::Float:
      return "float64";
    case GoKind::String:
      return "string";
    case GoKind::Slice:
      return "[]interface {}";
    case GoKind::Map:
      return "map[string]interface {}";
  }
  return "";
}

// Identity of a scalar or merge-key value for set lookups; the JSON text keeps 1 and 1.0 apart
// as Go's interface comparison does.
std::string identity(const json::value& v) { return json::serialize(v); }

[[noreturn]] void failNoMergeKey(const json::object& m, const std::string& key) {
  throw patchFailure("map: " + goFormat(m) + " does not contain declared merge key: " + key);
}

[[noreturn]] void failBadArgType(std::string_view expected, const json::value& actual) {
  throw patchFailure("expected a " + std::string(expected) + ", but received a " +
                     goTypeName(actual));
}

// The field's strategy other than retainKeys ("merge", "replace" or "").
std::string patchStrategy(const PatchSchema::FieldMeta& meta) {
  const auto& s = meta.patchStrategies;
  if (s.empty()) return "";
  if (s.size() == 1) return s[0] == "retainKeys" ? "" : s[0];
  if (s.size() == 2 && s[0] == "retainKeys") return s[1];
  if (s.size() == 2 && s[1] == "retainKeys") return s[0];
  std::string list = "[";
  for (size_t i = 0; i < s.size(); ++i) list += (i ? " " : "") + s[i];
  throw patchFailure("unexpected patch strategy: " + list + "]");
}

// The one element type of all given lists; lists of lists are rejected.
std::optional<GoKind> sliceElementKind(const json::array& a, const json::array& b) {
  std::optional<GoKind> kind;
  for (const auto* list : {&a, &b}) {
    for (const auto& v : *list) {
      GoKind k = goKind(v);
      if (!kind) {
        if (k == GoKind::Slice) throw PatchApplyError("lists of lists are not supported");
        kind = k;
      } else if (*kind != k) {
        throw patchFailure("list element types are not identical: [" + goFormat(a) + " " +
                           goFormat(b) + "]");
      }
    }
  }
  return kind;
}

// The merge-key value of a list element, which must be a map carrying the key.
const json::value& mergeKeyValue(const json::value& item, const std::string& mergeKey) {
  const auto* m = item.if_object();
  if (!m) failBadArgType("map[string]interface {}", item);
  const auto* v = m->if_contains(mergeKey);
  if (!v) failNoMergeKey(*m, mergeKey);
  return *v;
}

// Position of each element in an ordering list, keyed by merge-key value (maps) or value.
class OrderIndex {
 public:
  OrderIndex(const json::array& order, const std::string& mergeKey, bool maps)
      : mergeKey_(mergeKey), maps_(maps) {
    for (size_t i = 0; i < order.size(); ++i) positions_.emplace(keyOf(order[i]), i);
  }
  std::optional<size_t> find(const json::value& item) const {
    auto it = positions_.find(keyOf(item));
    if (it == positions_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::string keyOf(const json::value& item) const {
    if (!maps_) return identity(item);
    const auto* m = item.if_object();
    const auto* v = m ? m->if_contains(mergeKey_) : nullptr;
    return v ? identity(*v) : std::string("\x01missing");
  }
  std::string mergeKey_;
  bool maps_;
  std::unordered_map<std::string, size_t> positions_;  // emplace keeps the first position
};

class Merger {
 public:
  json::object mergeMap(json::object original, json::object patch, const PatchSchema& schema) {
    if (const auto* d = patch.if_contains(kDirective)) {
      if (d->is_string() && d->get_string() == "replace") {
        patch.erase(kDirective);
        return mergeMap({}, std::move(patch), schema);
      }
      if (d->is_string() && d->get_string() == "delete") return {};
      throw patchFailure("unknown patch type: " + goFormat(*d) + " in map: " + goFormat(patch));
    }
    applyRetainKeys(original, patch);
    applySetElementOrder(original, patch, schema);
    // Deletion lists first, so the result does not depend on member order.
    for (int pass = 0; pass < 2; ++pass) {
      for (auto& kv : patch) {
        std::string_view key = kv.key();
        bool isDeleteList = key.starts_with(kDeleteFromPrimitiveListPrefix);
        if (isDeleteList != (pass == 0)) continue;
        if (isDeleteList) key.remove_prefix(kDeleteFromPrimitiveListPrefix.size());
        mergeMember(original, key, std::move(kv.value()), isDeleteList, schema);
      }
    }
    return original;
  }

 private:
  void mergeMember(json::object& original, std::string_view key, json::value patchValue,
                   bool isDeleteList, const PatchSchema& schema) {
    if (patchValue.is_null()) {
      original.erase(key);
      return;
    }
    PatchSchema::FieldMeta meta;
    PatchSchema sub = schema.field(key, &meta);
    auto* cur = original.if_contains(key);
    if (!cur || goKind(*cur) != goKind(patchValue)) {
      if (!isDeleteList) original[key] = fresh(std::move(patchValue), sub, meta);
      return;
    }
    if (cur->is_object()) {
      if (patchStrategy(meta) == "replace") {
        *cur = fresh(std::move(patchValue), sub, meta);
      } else {
        *cur = mergeMap(std::move(cur->get_object()), std::move(patchValue.get_object()), sub);
      }
    } else if (cur->is_array()) {
      *cur = mergeList(std::move(cur->get_array()), std::move(patchValue.get_array()), sub.items(),
                       patchStrategy(meta), meta.patchMergeKey, isDeleteList);
    } else {
      *cur = std::move(patchValue);
    }
  }

  // A patch value placed where the original has nothing to merge with.
  json::value fresh(json::value v, const PatchSchema& schema, const PatchSchema::FieldMeta& meta) {
    if (v.is_object()) return mergeMap({}, std::move(v.get_object()), schema);
    if (v.is_array()) {
      return mergeList({}, std::move(v.get_array()), schema.items(), patchStrategy(meta),
                       meta.patchMergeKey, false);
    }
    return v;
  }

  json::array mergeList(json::array original, json::array patch, const PatchSchema& items,
                        const std::string& strategy, const std::string& mergeKey,
                        bool isDeleteList) {
    if (strategy == "merge" || isDeleteList) {
      return mergeSlice(std::move(original), std::move(patch), items, mergeKey, isDeleteList);
    }
    // Replaced wholesale; object elements are still cleaned of nulls and directives.
    for (auto& e : patch) {
      if (e.is_object()) e = mergeMap({}, std::move(e.get_object()), items);
    }
    return patch;
  }

  json::array mergeSlice(json::array original, json::array patch, const PatchSchema& items,
                         const std::string& mergeKey, bool isDeleteList) {
    if (original.empty() && patch.empty()) return original;
    GoKind kind = *sliceElementKind(original, patch);
    json::array merged;
    if (kind != GoKind::Map) {
      if (isDeleteList) return deleteFromSlice(std::move(original), patch);
      std::unordered_set<std::string> seen;
      for (const auto* list : {&original, &patch}) {
        for (const auto& v : *list) {
          if (seen.insert(identity(v)).second) merged.push_back(v);
        }
      }
    } else {
      if (mergeKey.empty()) {
        throw patchFailure("cannot merge lists without merge key for " + items.name());
      }
      applySpecialElements(original, patch, mergeKey, items);
      merged = original;
      for (auto& v : patch) {
        const json::value& key = mergeKeyValue(v, mergeKey);
        auto found = findByMergeKey(merged, mergeKey, key);
        if (found) {
          merged[*found] = mergeMap(std::move(merged[*found].get_object()), v.get_object(), items);
        } else {
          merged.push_back(mergeMap({}, v.get_object(), items));
        }
      }
    }
    return normalizeOrder(std::move(merged), patch, original, mergeKey, kind == GoKind::Map);
  }

  // Handles {"$patch": ...} elements of a merging list of maps: delete removes matching
  // elements from the original, replace makes the remaining patch elements the whole list.
  void applySpecialElements(json::array& original, json::array& patch, const std::string& mergeKey,
                            const PatchSchema& items) {
    json::array plain;
    bool replace = false;
    for (auto& v : patch) {
      const auto& m = v.get_object();
      const auto* d = m.if_contains(kDirective);
      if (!d) {
        plain.push_back(std::move(v));
      } else if (d->is_string() && d->get_string() == "delete") {
        const auto* key = m.if_contains(mergeKey);
        if (!key) failNoMergeKey(m, mergeKey);
        json::array kept;
        for (size_t i = 0; i < original.size(); ++i) {
          const auto* o = original[i].if_object();
          if (!o) throw patchFailure("value for key " + std::to_string(i) + " is not a map.");
          const auto* ov = o->if_contains(mergeKey);
          if (!ov || *ov != *key) kept.push_back(std::move(original[i]));
        }
        original = std::move(kept);
      } else if (d->is_string() && d->get_string() == "replace") {
        replace = true;
      } else if (d->is_string() && d->get_string() == "merge") {
        throw patchFailure("merging lists cannot yet be specified in the patch");
      } else {
        throw patchFailure("unknown patch type: " + goFormat(*d) + " in map: " + goFormat(m));
      }
    }
    if (replace) {
      original.clear();
      for (auto& v : plain) original.push_back(mergeMap({}, std::move(v.get_object()), items));
      patch.clear();
    } else {
      patch = std::move(plain);
    }
  }

  static std::optional<size_t> findByMergeKey(const json::array& list, const std::string& mergeKey,
                                              const json::value& key) {
    for (size_t i = 0; i < list.size(); ++i) {
      const auto* m = list[i].if_object();
      if (!m) throw patchFailure("value for key " + std::to_string(i) + " is not a map.");
      const auto* v = m->if_contains(mergeKey);
      if (v && *v == key) return i;
    }
    return std::nullopt;
  }

  static json::array deleteFromSlice(json::array original, const json::array& toDelete) {
    std::unordered_set<std::string> drop;
    for (const auto& v : toDelete) drop.insert(identity(v));
    json::array kept;
    for (auto& v : original) {
      if (!drop.count(identity(v))) kept.push_back(std::move(v));
    }
    return kept;
  }

  // Upstream's element order: items named by `patchOrder` in that order, the others in
  // `serverOrder` order, interleaved so that each keeps its place relative to the server list.
  static json::array normalizeOrder(json::array merged, const json::array& patchOrder,
                                    const json::array& serverOrder, const std::string& mergeKey,
                                    bool maps) {
    if (maps) {
      for (const auto& v : patchOrder) mergeKeyValue(v, mergeKey);
      for (const auto& v : serverOrder) mergeKeyValue(v, mergeKey);
      for (const auto& v : merged) mergeKeyValue(v, mergeKey);
    }
    OrderIndex patchIndex(patchOrder, mergeKey, maps);
    OrderIndex serverIndex(serverOrder, mergeKey, maps);
    std::vector<json::value> patchItems, serverOnly;
    for (auto& v : merged) {
      (patchIndex.find(v) ? patchItems : serverOnly).push_back(std::move(v));
    }
    sortBy(patchItems, patchIndex);
    sortBy(serverOnly, serverIndex);

    json::array out;
    size_t i = 0, j = 0;
    while (i < serverOnly.size() || j < patchItems.size()) {
      bool takeServer = j >= patchItems.size();
      if (!takeServer && i < serverOnly.size()) {
        auto li = serverIndex.find(serverOnly[i]);
        auto ri = serverIndex.find(patchItems[j]);
        takeServer = li && ri && *li < *ri;
      }
      out.push_back(std::move(takeServer ? serverOnly[i++] : patchItems[j++]));
    }
    return out;
  }

  static void sortBy(std::vector<json::value>& items, const OrderIndex& index) {
    std::stable_sort(items.begin(), items.end(), [&](const json::value& a, const json::value& b) {
      auto ia = index.find(a), ib = index.find(b);
      return ia && ib && *ia < *ib;
    });
  }

  // $retainKeys: the original keeps only the listed keys; the patch may only set listed keys.
  static void applyRetainKeys(json::object& original, json::object& patch) {
    const auto* found = patch.if_contains(kRetainKeys);
    if (!found) return;
    json::value list = *found;
    patch.erase(kRetainKeys);
    if (!list.is_array()) throw badRequest("invalid patch format of retainKeys");
    std::unordered_set<std::string> keep;
    for (const auto& k : list.get_array()) {
      if (k.is_string()) keep.emplace(k.get_string());
    }
    for (const auto& kv : patch) {
      std::string_view key = kv.key();
      if (kv.value().is_null() || key.starts_with(kDeleteFromPrimitiveListPrefix) ||
          key.starts_with(kSetElementOrderPrefix)) {
        continue;
      }
      if (!keep.count(std::string(key))) throw badRequest("invalid patch format of retainKeys");
    }
    std::vector<std::string> drop;
    for (const auto& kv : original) {
      if (!keep.count(std::string(kv.key()))) drop.emplace_back(kv.key());
    }
    for (const auto& k : drop) original.erase(k);
  }

  // $setElementOrder/<list>: merges <list> now and orders it as the directive says.
  void applySetElementOrder(json::object& original, json::object& patch,
                            const PatchSchema& schema) {
    std::vector<std::string> directives;
    for (const auto& kv : patch) {
      if (kv.key().starts_with(kSetElementOrderPrefix)) directives.emplace_back(kv.key());
    }
    for (const auto& directive : directives) {
      json::value order = patch.at(directive);
      patch.erase(directive);
      if (!order.is_array()) failBadArgType("[]interface {}", order);
      std::string name = directive.substr(kSetElementOrderPrefix.size());
      const auto* origValue = original.if_contains(name);
      const auto* patchValue = patch.if_contains(name);
      if (origValue && !origValue->is_array()) failBadArgType("[]interface {}", *origValue);
      if (patchValue && !patchValue->is_array()) failBadArgType("[]interface {}", *patchValue);
      if (!origValue && !patchValue) continue;

      PatchSchema::FieldMeta meta;
      PatchSchema sub = schema.field(name, &meta);
      std::string strategy = patchStrategy(meta);
      const std::string& mergeKey = meta.patchMergeKey;
      json::array origList = origValue ? origValue->get_array() : json::array();
      json::array patchList = patchValue ? patchValue->get_array() : json::array();
      validateSetOrder(patchList, order.get_array(), mergeKey);

      json::array merged =
          patchValue ? mergeList(origList, patchList, sub.items(), strategy, mergeKey, false)
                     : origList;
      auto kind = sliceElementKind(origList, patchList);
      if (kind) {
        merged = normalizeOrder(std::move(merged), order.get_array(), origList, mergeKey,
                                !mergeKey.empty());
      }
      original[name] = std::move(merged);
      patch.erase(name);
    }
  }

  // The non-deleting patch elements must appear in the same relative order as in the
  // $setElementOrder list.
  static void validateSetOrder(const json::array& patchList, const json::array& order,
                               const std::string& mergeKey) {
    if (order.empty() || patchList.empty()) return;
    std::vector<const json::value*> items;
    for (const auto& v : patchList) {
      if (!mergeKey.empty()) {
        const auto* m = v.if_object();
        if (!m) failBadArgType("map[string]interface {}", v);
        const auto* d = m->if_contains(kDirective);
        if (d && d->is_string() && d->get_string() == "delete") continue;
      }
      items.push_back(&v);
    }
    size_t p = 0, s = 0;
    while (p < items.size() && s < order.size()) {
      const auto* m = items[p]->if_object();
      if (m && m->contains(kDirective)) {
        ++p;
        continue;
      }
      bool equal = mergeKey.empty()
                       ? *items[p] == order[s]
                       : mergeKeyValue(*items[p], mergeKey) == mergeKeyValue(order[s], mergeKey);
      if (equal) ++p;
      ++s;
    }
    if (p < items.size() && s >= order.size()) {
      throw patchFailure("The order in patch list:\n" + goFormat(patchList) +
                         "\n doesn't match $setElementOrder list:\n" + goFormat(order) + "\n");
    }
  }
};

}  // namespace

json::value applyStrategicMergePatch(const json::value& original, const json::value& patch,
                                     const PatchSchema& schema) {
  if (patch.is_null()) return original;
  if (!patch.is_object()) {
    std::string type = patch.is_array()    ? "array"
                       : patch.is_string() ? "string"
                       : patch.is_bool()   ? "bool"
                                           : "number";
    throw badRequest("json: cannot unmarshal " + type +
                     " into Go value of type map[string]interface {}");
  }
  if (!original.is_object()) throw badRequest("invalid JSON document");
  return Merger().mergeMap(original.get_object(), patch.get_object(), schema);
}

}  // namespace skiff::api
