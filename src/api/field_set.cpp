#include "api/field_set.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "api/json_access.h"

namespace skiff::api {

namespace json = boost::json;
using Node = FieldSchemas::Node;

namespace {

int elementRank(char c) {
  switch (c) {
    case 'f':
      return 0;
    case 'k':
      return 1;
    case 'v':
      return 2;
    default:
      return 3;  // 'i'
  }
}

long long indexOf(std::string_view element) {
  long long n = 0;
  std::from_chars(element.data() + 2, element.data() + element.size(), n);
  return n;
}

// Go's %v of a key or set value inside a printed path: strings quoted, numbers bare.
std::string printValue(const json::value& v) { return json::serialize(v); }

std::string printElement(std::string_view element) {
  std::string_view body = element.size() > 2 ? element.substr(2) : std::string_view();
  switch (element.empty() ? 'f' : element[0]) {
    case 'f':
      return "." + std::string(body);
    case 'i':
      return "[" + std::string(body) + "]";
    case 'v': {
      boost::system::error_code ec;
      json::value v = json::parse(body, ec);
      return "[=" + (ec ? std::string(body) : printValue(v)) + "]";
    }
    default: {
      boost::system::error_code ec;
      json::value v = json::parse(body, ec);
      if (ec || !v.is_object()) return "[" + std::string(body) + "]";
      std::string out = "[";
      bool first = true;
      for (const auto& [k, kv] : v.as_object()) {
        if (!first) out += ',';
        first = false;
        out += std::string(k) + "=" + printValue(kv);
      }
      return out + "]";
    }
  }
}

bool validElement(std::string_view k) {
  return k.size() >= 2 && k[1] == ':' && (k[0] == 'f' || k[0] == 'k' || k[0] == 'v' || k[0] == 'i');
}

}  // namespace

bool PathElementLess::operator()(const std::string& a, const std::string& b) const {
  const int ra = elementRank(a.empty() ? 'f' : a[0]), rb = elementRank(b.empty() ? 'f' : b[0]);
  if (ra != rb) return ra < rb;
  if (ra == 3) {
    const long long ia = indexOf(a), ib = indexOf(b);
    if (ia != ib) return ia < ib;
  }
  return a < b;  // same prefix: the bytes after it
}

const FieldSet* FieldSet::find(std::string_view element) const {
  auto it = children_.find(std::string(element));
  return it == children_.end() ? nullptr : &it->second;
}

void FieldSet::insert(const std::vector<std::string>& elements) {
  if (elements.empty()) return;
  FieldSet* node = this;
  for (const auto& e : elements) node = &node->children_[e];
  node->member_ = true;
}

void FieldSet::unionWith(const FieldSet& other) {
  for (const auto& [k, c] : other.children_) {
    FieldSet& mine = children_[k];
    mine.member_ = mine.member_ || c.member_;
    mine.unionWith(c);
  }
}

void FieldSet::subtract(const FieldSet& other) {
  for (const auto& [k, c] : other.children_) {
    auto it = children_.find(k);
    if (it == children_.end()) continue;
    if (c.member_) it->second.member_ = false;
    it->second.subtract(c);
    if (!it->second.member_ && it->second.children_.empty()) children_.erase(it);
  }
}

FieldSet FieldSet::intersection(const FieldSet& other) const {
  FieldSet out;
  for (const auto& [k, c] : children_) {
    const FieldSet* o = other.find(k);
    if (!o) continue;
    FieldSet both = c.intersection(*o);
    both.member_ = c.member_ && o->member_;
    if (both.member_ || !both.children_.empty()) out.children_.emplace(k, std::move(both));
  }
  return out;
}

void FieldSet::collectPaths(std::string& prefix, std::vector<std::string>& out) const {
  for (const auto& [k, c] : children_)
    if (c.member_) out.push_back(prefix + printElement(k));
  for (const auto& [k, c] : children_) {
    if (c.children_.empty()) continue;
    const size_t mark = prefix.size();
    prefix += printElement(k);
    c.collectPaths(prefix, out);
    prefix.resize(mark);
  }
}

std::vector<std::string> FieldSet::memberPaths() const {
  std::vector<std::string> out;
  std::string prefix;
  collectPaths(prefix, out);
  return out;
}

json::object FieldSet::toFieldsV1() const {
  json::object out;
  out.reserve(children_.size());
  appendFieldsV1(out);
  return out;
}

void FieldSet::appendFieldsV1(json::object& out) const {
  for (const auto& [k, c] : children_) {
    json::object body;
    const bool self = c.member_ && !c.children_.empty();
    body.reserve(c.children_.size() + (self ? 1 : 0));
    if (self) body.emplace(".", json::object());
    c.appendFieldsV1(body);
    out.emplace(k, std::move(body));
  }
}

std::string FieldSet::serialize() const { return json::serialize(toFieldsV1()); }

bool FieldSet::fromFieldsV1(const json::value& v, FieldSet& out) {
  if (!v.is_object()) return false;
  for (const auto& [k, c] : v.as_object()) {
    if (!c.is_object()) return false;
    if (k == ".") {
      out.member_ = true;
      continue;
    }
    if (!validElement(k)) return false;
    FieldSet& child = out.children_[std::string(k)];
    if (!fromFieldsV1(c, child)) return false;
    if (c.as_object().empty()) child.member_ = true;
  }
  return true;
}

std::string fieldElement(std::string_view name) {
  std::string out = "f:";
  out += name;
  return out;
}

std::string valueElement(const json::value& v) { return "v:" + json::serialize(v); }

std::string indexElement(size_t i) { return "i:" + std::to_string(i); }

std::string keyElement(const json::value& item, const std::vector<std::string>& keys) {
  if (!item.is_object()) return "";
  std::vector<std::string_view> sorted(keys.begin(), keys.end());
  std::sort(sorted.begin(), sorted.end());
  json::object k;
  for (std::string_view name : sorted) {
    if (const json::value* v = item.as_object().if_contains(name); v && !v->is_null())
      k.emplace(name, *v);
    else if (name == "protocol")
      k.emplace(name, "TCP");
  }
  return "k:" + json::serialize(k);
}

std::string listItemElement(const Node* list, const json::value& item, size_t i) {
  if (list && list->listType == FieldSchemas::ListType::Map) {
    std::string k = keyElement(item, list->listKeys);
    if (!k.empty()) return k;
  }
  if (list && list->listType == FieldSchemas::ListType::Set) return valueElement(item);
  return indexElement(i);
}

namespace {

const Node* childSchema(const Node* s, std::string_view key) {
  if (!s || s->preserveUnknown) return nullptr;
  if (s->hasProperties) {
    auto it = s->properties.find(key);
    return it == s->properties.end() ? nullptr : it->second;
  }
  return s->hasAdditional ? s->additional : nullptr;
}

bool isDeclaredField(const Node* s, std::string_view key) {
  return s && !s->preserveUnknown && s->hasProperties && s->properties.contains(key);
}

bool granularList(const Node* s) {
  return s && !s->preserveUnknown && s->listType != FieldSchemas::ListType::Atomic;
}

bool granularMap(const Node* s) { return !s || !s->atomicMap; }

// Fields that upstream's empty object of a kind already has: Go value structs (and slices
// without omitempty, which encode as null) are present in a typed object that sets nothing,
// so adding content under them does not add the node itself to a manager's set.
bool implicitField(const Node* parent, std::string_view key) {
  if (!parent || parent->name.empty()) return false;
  static const std::unordered_set<std::string> fields = {
      "io.k8s.api.core.v1.PodTemplateSpec.metadata",
      "io.k8s.api.core.v1.PodTemplateSpec.spec",
      "io.k8s.api.core.v1.PodTemplate.template",
      "io.k8s.api.core.v1.PodSpec.containers",
      "io.k8s.api.core.v1.Container.resources",
      "io.k8s.api.core.v1.PersistentVolumeClaimSpec.resources",
      "io.k8s.api.batch.v1.JobTemplateSpec.metadata",
      "io.k8s.api.batch.v1.JobTemplateSpec.spec",
      "io.k8s.api.batch.v1.JobSpec.template",
      "io.k8s.api.batch.v1.CronJobSpec.jobTemplate",
      "io.k8s.api.apps.v1.DeploymentSpec.template",
      "io.k8s.api.apps.v1.DeploymentSpec.strategy",
      "io.k8s.api.apps.v1.ReplicaSetSpec.template",
      "io.k8s.api.apps.v1.StatefulSetSpec.template",
      "io.k8s.api.apps.v1.StatefulSetSpec.updateStrategy",
      "io.k8s.api.apps.v1.DaemonSetSpec.template",
      "io.k8s.api.apps.v1.DaemonSetSpec.updateStrategy",
  };
  std::string k = parent->name;
  k += '.';
  k += key;
  return fields.contains(k);
}

// Metadata the system owns: never in a manager's set (upstream's stripMeta).
bool systemMetadata(std::string_view key) {
  return key == "name" || key == "namespace" || key == "creationTimestamp" || key == "selfLink" ||
         key == "uid" || key == "clusterName" || key == "generation" || key == "managedFields" ||
         key == "resourceVersion";
}

bool skippedTopLevel(std::string_view key, const FieldScope& scope) {
  if (key == "apiVersion" || key == "kind") return true;
  if (scope.statusOnly) return key != "status";
  return scope.skipStatus && key == "status";
}

const json::value* nonNull(const json::value* v) { return v && !v->is_null() ? v : nullptr; }

// Where the comparer's walk stands in one of the sets it builds: the node of every prefix of
// the current path inserted so far. The walk is depth first, so marking the current path a
// member costs the levels not yet reached instead of a lookup from the root per leaf (a
// create's diff marks every field of the object).
class SetCursor {
 public:
  explicit SetCursor(FieldSet& root) : root_(root) {}
  void mark(const std::vector<std::string>& path) {
    FieldSet* node = nodes_.empty() ? &root_ : nodes_.back();
    for (size_t i = nodes_.size(); i < path.size(); ++i) {
      node = &node->child(path[i]);
      nodes_.push_back(node);
    }
    node->setMember();
  }
  // The path was cut to `depth` elements: deeper nodes are no longer on it.
  void cut(size_t depth) {
    if (nodes_.size() > depth) nodes_.resize(depth);
  }

 private:
  FieldSet& root_;
  std::vector<FieldSet*> nodes_;  // nodes_[i]: the node of path[0..i]
};

struct Comparer {
  explicit Comparer(Comparison& c)
      : out(c), added(c.added), modified(c.modified), removed(c.removed) {}
  Comparison& out;
  std::vector<std::string> path;
  SetCursor added, modified, removed;

  void push(std::string element) { path.push_back(std::move(element)); }
  void pop() {
    path.pop_back();
    added.cut(path.size());
    modified.cut(path.size());
    removed.cut(path.size());
  }

  void leaf(const json::value* l, const json::value* r) {
    if (!l)
      added.mark(path);
    else if (!r)
      removed.mark(path);
    else if (*l != *r)
      modified.mark(path);
  }

  // One map's entries; `lPresent` tells whether the map exists on the old side (for
  // which of its absent fields upstream's empty object has anyway).
  void entries(const json::object* l, const json::object* r, const Node* s, bool lPresent,
               bool metadata = false) {
    if (r)
      for (const auto& [k, rv] : *r) {
        if (metadata && systemMetadata(k)) continue;
        const json::value* lv = l ? l->if_contains(k) : nullptr;
        descend(k, lv, &rv, s, lPresent);
      }
    if (l)
      for (const auto& [k, lv] : *l) {
        if ((metadata && systemMetadata(k)) || (r && r->contains(k))) continue;
        descend(k, &lv, nullptr, s, lPresent);
      }
  }

  void descend(std::string_view key, const json::value* l, const json::value* r, const Node* s,
               bool lPresent) {
    l = nonNull(l);
    r = nonNull(r);
    if (!l && !r) return;
    if (l && r && *l == *r) return;
    const bool implicit = !l && lPresent && implicitField(s, key);
    push(fieldElement(key));
    value(l, r, childSchema(s, key), implicit);
    pop();
  }

  void value(const json::value* l, const json::value* r, const Node* s, bool implicit) {
    const bool lObj = !l || l->is_object(), rObj = !r || r->is_object();
    if (lObj && rObj && granularMap(s)) {
      const json::object* lo = l ? &l->as_object() : nullptr;
      const json::object* ro = r ? &r->as_object() : nullptr;
      const bool lEmpty = !lo || lo->empty(), rEmpty = !ro || ro->empty();
      if (lEmpty && rEmpty) {  // empty maps stay leaves: {} and absent differ
        if (!implicit) leaf(l, r);
        return;
      }
      if (!implicit) {
        if (!l) added.mark(path);
        if (!r) removed.mark(path);
      }
      entries(lo, ro, s, l || implicit);
      return;
    }
    const bool lArr = !l || l->is_array(), rArr = !r || r->is_array();
    if (lArr && rArr && granularList(s)) {
      const json::array* la = l ? &l->as_array() : nullptr;
      const json::array* ra = r ? &r->as_array() : nullptr;
      if ((!la || la->empty()) && (!ra || ra->empty())) {
        if (!implicit) leaf(l, r);
        return;
      }
      if (!implicit) {
        if (!l) added.mark(path);
        if (!r) removed.mark(path);
      }
      items(la, ra, s);
      return;
    }
    leaf(l, r);
  }

  void items(const json::array* l, const json::array* r, const Node* s) {
    std::map<std::string, const json::value*> old;
    if (l)
      for (size_t i = 0; i < l->size(); ++i) old.emplace(listItemElement(s, (*l)[i], i), &(*l)[i]);
    std::unordered_set<std::string> seen;
    if (r)
      for (size_t i = 0; i < r->size(); ++i) {
        std::string pe = listItemElement(s, (*r)[i], i);
        if (!seen.insert(pe).second) continue;  // duplicates: the first one counts
        auto it = old.find(pe);
        const json::value* lv = it == old.end() ? nullptr : it->second;
        item(pe, lv, &(*r)[i], s->items);
      }
    for (const auto& [pe, lv] : old)
      if (!seen.contains(pe)) item(pe, lv, nullptr, s->items);
  }

  void item(const std::string& pe, const json::value* l, const json::value* r, const Node* s) {
    if (l && r && *l == *r) return;
    push(pe);
    if (!l)
      added.mark(path);
    else if (!r)
      removed.mark(path);
    value(l, r, s, false);
    pop();
  }
};

struct ConfigWalker {
  std::string path;  // for type errors: ".spec.replicas"

  // The shapes the schema fixes (structs and maps are objects, lists are arrays): a typed
  // decode of anything else fails upstream, so an applied configuration of that shape is
  // refused before it is merged into anything.
  void checkShape(const json::value& v, const Node* s) const {
    if (!s || s->preserveUnknown || v.is_null()) return;
    if ((s->hasProperties || s->hasAdditional) && !v.is_object())
      throw std::invalid_argument(path + ": expected map, got " + goJsonTypeName(v));
    if (s->hasItems && !v.is_array())
      throw std::invalid_argument(path + ": expected list, got " + goJsonTypeName(v));
  }

  void walk(const json::value& v, const Node* s, FieldSet& node) {
    checkShape(v, s);
    if (v.is_object() && granularMap(s) && !v.as_object().empty()) {
      entries(v.as_object(), s, node, false);
    } else if (v.is_array() && granularList(s)) {
      const json::array& a = v.as_array();
      for (size_t i = 0; i < a.size(); ++i) {
        const std::string pe = listItemElement(s, a[i], i);
        FieldSet& child = node.child(pe);
        const size_t mark = path.size();
        path += "[" + std::to_string(i) + "]";
        walk(a[i], s->items, child);
        path.resize(mark);
        child.setMember();
      }
    } else {
      node.setMember();
    }
  }

  void entries(const json::object& obj, const Node* s, FieldSet& node, bool metadata) {
    for (const auto& [k, v] : obj) {
      if (metadata && systemMetadata(k)) continue;
      const std::string pe = fieldElement(k);
      FieldSet& child = node.child(pe);
      const size_t mark = path.size();
      path += '.';
      path += k;
      walk(v, childSchema(s, k), child);
      path.resize(mark);
      const bool emptyMap = v.is_object() && v.as_object().empty();
      if (v.is_null() || emptyMap || !isDeclaredField(s, k)) child.setMember();
      if (!child.isMember() && child.empty()) node.erase(pe);
    }
  }
};

json::value* findElement(json::value& v, const std::string& pe, const Node* s, size_t* index) {
  if (pe.starts_with("f:")) {
    if (!v.is_object()) return nullptr;
    return v.as_object().if_contains(std::string_view(pe).substr(2));
  }
  if (!v.is_array()) return nullptr;
  json::array& a = v.as_array();
  for (size_t i = 0; i < a.size(); ++i)
    if (listItemElement(s, a[i], i) == pe) {
      *index = i;
      return &a[i];
    }
  return nullptr;
}

void prune(json::value& v, const FieldSet& previous, const FieldSet* owned, const Node* s) {
  for (const auto& [pe, prev] : previous.children()) {
    const FieldSet* o = owned ? owned->find(pe) : nullptr;
    size_t index = 0;
    json::value* child = findElement(v, pe, s, &index);
    if (!child) continue;
    if (!o) {
      if (pe.starts_with("f:"))
        v.as_object().erase(std::string_view(pe).substr(2));
      else
        v.as_array().erase(v.as_array().begin() + static_cast<std::ptrdiff_t>(index));
      continue;
    }
    if (prev.empty()) continue;
    const Node* cs = pe.starts_with("f:") ? childSchema(s, std::string_view(pe).substr(2))
                                          : (s ? s->items : nullptr);
    prune(*child, prev, o, cs);
  }
}

}  // namespace

Comparison compareObjects(const json::object* oldObj, const json::object& newObj,
                          const Node* schema, const FieldScope& scope) {
  Comparison out;
  Comparer c(out);
  auto visit = [&](std::string_view k, const json::value* l, const json::value* r) {
    if (skippedTopLevel(k, scope)) return;
    l = nonNull(l);
    r = nonNull(r);
    if ((!l && !r) || (l && r && *l == *r)) return;
    c.push(fieldElement(k));
    // metadata, spec and status exist in every typed object (value structs).
    const bool implicit = k == "metadata" || k == "spec" || k == "status";
    if (k == "metadata" && (!l || l->is_object()) && (!r || r->is_object())) {
      c.entries(l ? &l->as_object() : nullptr, r ? &r->as_object() : nullptr,
                childSchema(schema, k), true, true);
    } else {
      c.value(l, r, childSchema(schema, k), implicit);
    }
    c.pop();
  };
  for (const auto& [k, rv] : newObj) visit(k, oldObj ? oldObj->if_contains(k) : nullptr, &rv);
  if (oldObj)
    for (const auto& [k, lv] : *oldObj)
      if (!newObj.contains(k)) visit(k, &lv, nullptr);
  return out;
}

FieldSet fieldsOfConfig(const json::object& config, const Node* schema, const FieldScope& scope) {
  FieldSet out;
  ConfigWalker w;
  for (const auto& [k, v] : config) {
    if (skippedTopLevel(k, scope)) continue;
    const std::string pe = fieldElement(k);
    FieldSet& child = out.child(pe);
    w.path = "." + std::string(k);
    if (k == "metadata" && !v.is_object())
      throw std::invalid_argument(".metadata: expected map, got " + goJsonTypeName(v));
    if (k == "metadata") {
      w.entries(v.as_object(), childSchema(schema, k), child, true);
    } else {
      w.walk(v, childSchema(schema, k), child);
      if (v.is_null() || (v.is_object() && v.as_object().empty())) child.setMember();
    }
    if (!child.isMember() && child.empty()) out.erase(pe);
  }
  return out;
}

namespace {

// Merges a keyed or set list as structured-merge-diff orders the result: items only in the
// live list keep their place, items in both follow the configuration's order and are merged,
// items only in the configuration come in at their place in it. Lists addressed by position
// (no usable key) merge item by item.
json::value mergeListItems(const json::array& live, const json::array& config, const Node* s) {
  std::vector<std::string> lpe, rpe;
  std::unordered_map<std::string, size_t> lFirst, rFirst;
  for (size_t i = 0; i < live.size(); ++i) {
    lpe.push_back(listItemElement(s, live[i], i));
    lFirst.emplace(lpe.back(), i);
  }
  for (size_t i = 0; i < config.size(); ++i) {
    rpe.push_back(listItemElement(s, config[i], i));
    rFirst.emplace(rpe.back(), i);
  }
  json::array out;
  out.reserve(std::max(live.size(), config.size()));
  if (!lpe.empty() && lpe[0].starts_with("i:")) {  // positional
    for (size_t i = 0; i < std::max(live.size(), config.size()); ++i)
      out.push_back(i >= config.size() ? live[i]
                    : i >= live.size() ? config[i]
                                       : mergeApplied(&live[i], config[i], s->items));
    return out;
  }
  // The items present on both sides, in the configuration's order: the next one expected.
  std::vector<const std::string*> shared;
  for (const auto& pe : rpe)
    if (lFirst.contains(pe)) shared.push_back(&pe);
  size_t nextShared = 0;
  auto expected = [&]() -> const std::string* {
    return nextShared < shared.size() ? shared[nextShared] : nullptr;
  };
  std::unordered_set<std::string> done;  // configured items already written
  auto emitConfigured = [&](size_t r) {
    const std::string& pe = rpe[r];
    if (!done.insert(pe).second) return;  // a duplicate: the first one counts
    auto l = lFirst.find(pe);
    out.push_back(l == lFirst.end() ? config[r]
                                    : mergeApplied(&live[l->second], config[r], s->items));
    if (expected() && *expected() == pe) ++nextShared;
  };
  size_t l = 0, r = 0;
  while (l < lpe.size() || r < rpe.size()) {
    if (l < lpe.size() && r < rpe.size()) {
      if (lpe[l] == rpe[r]) {
        emitConfigured(r);
        ++l;
        ++r;
        continue;
      }
      // A shared item the configuration wants later: it is written when its turn comes.
      if (rFirst.contains(lpe[l]) && expected() && *expected() != lpe[l]) {
        ++l;
        continue;
      }
    }
    if (l < lpe.size()) {
      if (!rFirst.contains(lpe[l])) {
        out.push_back(live[l]);
        ++l;
        continue;
      }
      if (done.contains(lpe[l])) {
        ++l;
        continue;
      }
    }
    if (r < rpe.size())
      emitConfigured(r++);
    else
      ++l;  // (only duplicates of written items are left)
  }
  return out;
}

}  // namespace

json::value mergeApplied(const json::value* live, const json::value& config, const Node* s) {
  if (!live || live->is_null()) return config;
  if (config.is_object() && live->is_object() && granularMap(s)) {
    json::object out = live->as_object();
    for (const auto& [k, v] : config.as_object()) {
      json::value* mine = out.if_contains(k);
      json::value merged = mergeApplied(mine, v, childSchema(s, k));
      if (mine)
        *mine = std::move(merged);
      else
        out.emplace(k, std::move(merged));
    }
    return out;
  }
  if (config.is_array() && live->is_array() && granularList(s))
    return mergeListItems(live->as_array(), config.as_array(), s);
  return config;
}

void pruneUnowned(json::object& obj, const FieldSet& previous, const FieldSet& owned,
                  const Node* schema) {
  json::value wrapped(std::move(obj));
  prune(wrapped, previous, &owned, schema);
  obj = std::move(wrapped.as_object());
}

}  // namespace skiff::api
