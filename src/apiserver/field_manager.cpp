#include "apiserver/field_manager.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <unordered_map>
#include <vector>

#include "api/custom_resource.h"
#include "api/field_set.h"
#include "api/json_access.h"
#include "api/managed_fields_text.h"
#include "api/openapi.h"
#include "apiserver/strategy.h"
#include "common/api_error.h"

namespace skiff::apiserver {

namespace json = boost::json;
using api::FieldSet;
using api::ResourceInfo;

namespace {

constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

struct Entry {
  std::string manager, operation, apiVersion, time, subresource;
  FieldSet fields;
  // An entry read from the stored object keeps its FieldsV1 as stored until a write touches
  // one of its fields: most writes change fields of one manager, and building every other
  // manager's trie only to encode it again unchanged would cost more than the write's diff.
  const json::value* stored = nullptr;
  // Set when `stored` lies in the list the write replaces (the object's own copy of the
  // stored list): storeEntries then moves it instead of copying it.
  json::value* movable = nullptr;

  void decode() {
    if (!stored) return;
    FieldSet::fromFieldsV1(*stored, fields);  // written by us: well-formed
    stored = nullptr;
    movable = nullptr;
  }
  bool ownsNothing() const { return !stored && fields.empty(); }

  bool sameIdentity(const Entry& o) const {
    // Apply entries are one per manager and subresource, whatever version they applied.
    return manager == o.manager && operation == o.operation && subresource == o.subresource &&
           (operation == "Apply" || apiVersion == o.apiVersion);
  }
  // upstream's manager identifier (a JSON ManagedFieldsEntry without time and fields).
  std::string identifier() const {
    json::object id;
    id["manager"] = manager;
    id["operation"] = operation;
    if (operation != "Apply") id["apiVersion"] = apiVersion;
    if (!subresource.empty()) id["subresource"] = subresource;
    return json::serialize(id);
  }
  // How conflict messages name the manager (upstream's printManager).
  std::string printed() const {
    std::string out = json::serialize(json::value(manager));
    if (!subresource.empty())
      out += " with subresource " + json::serialize(json::value(subresource));
    if (operation == "Update") out += " using " + apiVersion;
    return out;
  }
};

// The kind's compiled schema. Every write asks, and the lookup by definition name takes the
// schemas' lock, so each thread remembers the answer per kind.
const api::FieldSchemas::Node* schemaOf(const ResourceInfo& info) {
  // A custom resource: its CRD version's schema (entries live as long as the server).
  if (info.custom) return info.custom->applySchema ? info.custom->applySchema->root : nullptr;
  struct Cached {
    std::string group, version, kind;
    const api::FieldSchemas::Node* node;
  };
  thread_local std::unordered_map<const ResourceInfo*, Cached> cache;
  auto it = cache.find(&info);
  if (it != cache.end() && it->second.kind == info.kind && it->second.version == info.version &&
      it->second.group == info.group)
    return it->second.node;
  auto def = api::OpenApi::instance().definitionFor(info.group, info.version, info.kind);
  const api::FieldSchemas::Node* node = def ? api::FieldSchemas::builtin().root(*def) : nullptr;
  cache[&info] = Cached{info.group, info.version, info.kind, node};
  return node;
}

api::FieldScope scopeOf(const ResourceInfo& info, const std::string& subresource) {
  api::FieldScope scope;
  scope.statusOnly = subresource == "status";
  scope.skipStatus = subresource.empty() && info.hasStatus();
  return scope;
}

// Whether `fieldsV1` (JSON) has a member at one of the member paths of `set`.
bool touches(const json::value& fieldsV1, const FieldSet& set) {
  if (!fieldsV1.is_object()) return false;
  const json::object& node = fieldsV1.as_object();
  for (const auto& [k, child] : set.children()) {
    const json::value* mine = node.if_contains(k);
    if (!mine || !mine->is_object()) continue;
    const json::object& m = mine->as_object();
    if (child.isMember() && (m.empty() || m.contains("."))) return true;
    if (!child.empty() && touches(*mine, child)) return true;
  }
  return false;
}

// Reads managedFields; false when any entry is malformed (upstream then falls back).
// `lazy`: a list this server wrote (the stored one); its field sets are decoded on demand.
// `movable`: that list is the written object's own, so unchanged entries may be moved.
bool decodeEntries(const json::value* list, std::vector<Entry>& out, bool lazy = false,
                   bool movable = false) {
  out.clear();
  if (!list || list->is_null()) return true;
  if (!list->is_array()) return false;
  for (const auto& item : list->as_array()) {
    if (!item.is_object()) return false;
    const json::object& o = item.as_object();
    Entry e;
    e.manager = api::stringField(o, "manager");
    e.operation = api::stringField(o, "operation");
    e.apiVersion = api::stringField(o, "apiVersion");
    e.time = api::stringField(o, "time");
    e.subresource = api::stringField(o, "subresource");
    if (e.operation != "Apply" && e.operation != "Update") return false;
    if (api::stringField(o, "fieldsType") != "FieldsV1") return false;
    if (const json::value* f = o.if_contains("fieldsV1"); f && !f->is_null()) {
      if (lazy) {
        e.stored = f;
        if (movable) e.movable = const_cast<json::value*>(f);
      } else if (!FieldSet::fromFieldsV1(*f, e.fields))
        return false;
    }
    out.push_back(std::move(e));
  }
  return true;
}

// [] and [{}] ask for the managedFields to be cleared (upstream's isResetManagedFields).
bool isReset(const json::value* list) {
  if (!list || !list->is_array()) return false;
  const json::array& a = list->as_array();
  return a.empty() || (a.size() == 1 && a[0].is_object() && a[0].as_object().empty());
}

// obj's managedFields member as it is (an array, or the text a cached object keeps,
// api/managed_fields_text.h).
const json::value* managedFieldsOf(const json::object& obj) {
  const json::object* meta = api::objectAt(obj, {"metadata"});
  return meta ? meta->if_contains("managedFields") : nullptr;
}
// The same as an array: a packed list is parsed into `scratch`.
const json::value* managedFieldsOf(const json::object& obj, json::value& scratch) {
  const json::object* meta = api::objectAt(obj, {"metadata"});
  return meta ? api::managedFieldsList(*meta, scratch) : nullptr;
}

// Writes the entries in upstream's order: Apply before Update, then by time, manager,
// apiVersion and subresource; entries that own nothing are dropped.
void storeEntries(json::object& obj, std::vector<Entry>& entries) {
  std::erase_if(entries, [](const Entry& e) { return e.ownsNothing(); });
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.operation, a.time, a.manager, a.apiVersion, a.subresource) <
           std::tie(b.operation, b.time, b.manager, b.apiVersion, b.subresource);
  });
  json::object& meta = api::ensureObject(obj, {"metadata"});
  if (entries.empty()) {
    meta.erase("managedFields");
    return;
  }
  json::array list;
  list.reserve(entries.size());
  for (const auto& e : entries) {
    json::object o;
    o.reserve(7);
    o["manager"] = e.manager;
    o["operation"] = e.operation;
    o["apiVersion"] = e.apiVersion;
    if (!e.time.empty()) o["time"] = e.time;
    o["fieldsType"] = "FieldsV1";
    if (e.movable)
      o["fieldsV1"] = std::move(*e.movable);
    else if (e.stored)
      o["fieldsV1"] = *e.stored;
    else
      o["fieldsV1"] = e.fields.toFieldsV1();
    if (!e.subresource.empty()) o["subresource"] = e.subresource;
    list.push_back(std::move(o));
  }
  meta["managedFields"] = std::move(list);
}

// The Update algorithm shared by create and update: changed fields move to `self`.
void recordUpdate(std::vector<Entry>& entries, Entry self, const api::Comparison& cmp) {
  FieldSet changed = cmp.added;
  changed.unionWith(cmp.modified);
  bool found = false;
  for (auto& e : entries) {
    const bool mine = e.sameIdentity(self);
    if (e.stored && !mine && !touches(*e.stored, changed) && !touches(*e.stored, cmp.removed))
      continue;  // untouched: stays as stored
    e.decode();
    e.fields.subtract(cmp.removed);
    if (mine) {
      found = true;
      e.fields.unionWith(changed);
      if (!changed.empty()) e.time = self.time;
    } else {
      e.fields.subtract(changed);
    }
  }
  if (!found && !changed.empty()) {
    self.fields = std::move(changed);
    entries.push_back(std::move(self));
  }
}

Entry selfEntry(const ResourceInfo& info, const RequestContext& ctx, std::string operation,
                const std::string& subresource) {
  Entry self;
  self.manager = ctx.fieldManager;
  self.operation = std::move(operation);
  self.apiVersion = info.apiVersion();
  self.time = nowTimestamp();
  self.subresource = ctx.managedSubresource.empty() ? subresource : ctx.managedSubresource;
  return self;
}

ApiError conflictError(const std::vector<std::pair<const Entry*, FieldSet>>& conflicts) {
  struct Item {
    std::string id, printed, path;
  };
  std::vector<Item> items;
  for (const auto& [entry, set] : conflicts)
    for (auto& p : set.memberPaths()) items.push_back({entry->identifier(), entry->printed(), p});
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.id < b.id; });
  std::string message;
  if (items.size() == 1) {
    message =
        "Apply failed with 1 conflict: conflict with " + items[0].printed + ": " + items[0].path;
  } else {
    message = "Apply failed with " + std::to_string(items.size()) + " conflicts: ";
    std::string lastId;
    bool first = true;
    for (const auto& it : items) {
      if (it.id != lastId) {
        message += (first ? "" : "\n") + std::string("conflicts with ") + it.printed + ":";
        lastId = it.id;
        first = false;
      }
      message += "\n- " + it.path;
    }
  }
  ApiError e(409, "Conflict", message);
  for (const auto& it : items)
    e.causes.push_back({"FieldManagerConflict", "conflict with " + it.printed, it.path});
  return e;
}

std::string lastAppliedOf(const json::object& obj) {
  const json::object* ann = api::objectAt(obj, {"metadata", "annotations"});
  return ann ? api::stringField(*ann, kLastApplied) : std::string();
}

// Fields of the last client-side-applied configuration whose live value still is the
// applied one: kubectl's switch to server-side apply may take these from other managers
// (upstream's lastAppliedManager).
FieldSet lastAppliedUnchanged(const json::object& live, const api::FieldSchemas::Node* schema,
                              const api::FieldScope& scope) {
  const std::string text = lastAppliedOf(live);
  boost::system::error_code ec;
  json::value applied = json::parse(text, ec);
  if (ec || !applied.is_object()) return {};
  FieldSet set;
  try {
    set = api::fieldsOfConfig(applied.as_object(), schema, scope);
  } catch (const std::invalid_argument&) {
    return {};  // an annotation of the wrong shape allows nothing
  }
  // Drop what the live object no longer has as last applied.
  const json::value liveValue(live);
  const json::object merged = api::mergeApplied(&liveValue, applied, schema).as_object();
  const api::Comparison cmp = api::compareObjects(&live, merged, schema, scope);
  set.subtract(cmp.modified);
  set.subtract(cmp.added);
  return set;
}

}  // namespace

std::string managerFromUserAgent(std::string_view userAgent) {
  std::string_view prefix = userAgent.substr(0, userAgent.find('/'));
  std::string out;
  for (unsigned char c : prefix) {
    if (c < 0x20 || c == 0x7f) continue;  // not printable
    if (out.size() + 1 > 128) break;
    out += static_cast<char>(c);
  }
  return out;
}

namespace {
// The list an apply computed, into the object the update path is about to write.
void putApplied(json::object& obj, const RequestContext& ctx) {
  json::object& meta = api::ensureObject(obj, {"metadata"});
  if (ctx.appliedManagedFields.is_null())
    meta.erase("managedFields");
  else
    meta["managedFields"] = ctx.appliedManagedFields;
}
}  // namespace

void keepManagedFields(RequestContext& ctx, const json::object& old) {
  ctx.managedFieldsDone = true;
  const json::value* list = managedFieldsOf(old);
  ctx.appliedManagedFields = list ? *list : json::value();
}

void trackCreate(const ResourceInfo& info, json::object& obj, const RequestContext& ctx) {
  if (ctx.managedFieldsDone) return putApplied(obj, ctx);
  std::vector<Entry> entries;
  json::value scratch;
  const json::value* sent = managedFieldsOf(obj, scratch);
  if (!isReset(sent) && !decodeEntries(sent, entries)) entries.clear();
  if (isReset(sent)) entries.clear();
  api::Comparison cmp = api::compareObjects(nullptr, obj, schemaOf(info), scopeOf(info, ""));
  // Defaulted here, but set after the field manager upstream (the Priority admission plugin,
  // the Service REST storage's IP family allocation): nobody's. (A client that sends them
  // would own them upstream; Priority admission refuses a priority of the client's own.)
  // Which fields: the kind's strategy says (api/kinds/pod.cpp, service.cpp).
  FieldSet serverSet;
  if (const api::KindStrategy* strategy = strategyOf(info))
    for (const auto& path : strategy->unownedOnCreate) serverSet.insert(path);
  if (!serverSet.empty()) cmp.added.subtract(serverSet);
  recordUpdate(entries, selfEntry(info, ctx, "Update", ""), cmp);
  storeEntries(obj, entries);
}

void trackUpdate(const ResourceInfo& info, json::object& obj, const json::object& old,
                 const std::string& subresource, const RequestContext& ctx) {
  if (ctx.managedFieldsDone) return putApplied(obj, ctx);
  // old's list as old holds it (a cached object keeps it as text) and as an array; obj's own
  // list (a status write's copy of old's) is turned into an array in place. When obj holds
  // old's very text, that one parse serves as old's list too.
  const json::value* oldStored = managedFieldsOf(old);
  const json::value* objStored = managedFieldsOf(obj);
  const bool sameText = oldStored && objStored && oldStored->is_string() &&
                        objStored->is_string() && *oldStored == *objStored;
  api::unpackManagedFields(obj);
  const json::value* objList = managedFieldsOf(obj);
  json::value oldScratch;
  const json::value* oldList = sameText ? objList : managedFieldsOf(old, oldScratch);
  // Whether obj already carries the stored list: a status write took its metadata from old
  // (commitUpdate); other writes carry what the client sent, most often old's list again.
  bool objHasOldList = subresource == "status";
  if (subresource.empty())
    objHasOldList = (objList && oldList) ? *objList == *oldList : objList == oldList;
  const json::value* sent = subresource.empty() ? objList : oldList;
  api::Comparison cmp = api::compareObjects(&old, obj, schemaOf(info), scopeOf(info, subresource));
  // Nothing changed and the list is the stored one: keep it as it is (a no-op write stays
  // one, and the common case decodes nothing).
  const bool sameList = !sent || sent->is_null() || sent == oldList || objHasOldList;
  if (cmp.empty() && sameList) {
    // old's list in old's form, so that the write compares equal to old (sameObject).
    if (objHasOldList && !(oldStored && oldStored->is_string())) return;
    json::object& meta = api::ensureObject(obj, {"metadata"});
    if (oldStored)
      meta["managedFields"] = *oldStored;
    else
      meta.erase("managedFields");
    return;
  }
  std::vector<Entry> entries;
  if (isReset(sent)) {
    entries.clear();
  } else if (sent == oldList || objHasOldList || !decodeEntries(sent, entries) || entries.empty()) {
    // Clients that do not know managedFields (or send a broken list) keep the stored one.
    // When obj holds a copy of it, unchanged entries move from that copy.
    const bool ok = objHasOldList && objList ? decodeEntries(objList, entries, true, true)
                                             : decodeEntries(oldList, entries, true);
    if (!ok) entries.clear();
  }
  recordUpdate(entries, selfEntry(info, ctx, "Update", subresource), cmp);
  storeEntries(obj, entries);
}

json::object applyConfiguration(const ResourceInfo& info, const json::object* live,
                                const json::object& config, const std::string& subresource,
                                RequestContext& ctx) {
  const std::string apiVersion = api::stringField(config, "apiVersion");
  const std::string kind = api::stringField(config, "kind");
  if (apiVersion != info.apiVersion() || kind != info.kind) {
    const auto slash = apiVersion.find('/');
    const std::string group = slash == std::string::npos ? "" : apiVersion.substr(0, slash);
    const std::string version =
        slash == std::string::npos ? apiVersion : apiVersion.substr(slash + 1);
    throw badRequest("invalid object type: " + group + "/" + version + ", Kind=" + kind);
  }
  if (const json::value* mf = managedFieldsOf(config); mf && !mf->is_null())
    throw badRequest("metadata.managedFields must be nil");

  const auto* schema = schemaOf(info);
  const api::FieldScope scope = scopeOf(info, subresource);
  std::vector<Entry> entries;
  json::value liveScratch;
  if (live && !decodeEntries(managedFieldsOf(*live, liveScratch), entries)) entries.clear();

  Entry self = selfEntry(info, ctx, "Apply", subresource);
  try {
    self.fields = api::fieldsOfConfig(config, schema, scope);
  } catch (const std::invalid_argument& e) {
    throw badRequest("failed to create typed patch object (" + info.group + "/" + info.version +
                     ", Kind=" + info.kind + "): " + e.what());
  }
  json::object merged;
  if (live) {
    json::value liveValue(*live);
    merged = api::mergeApplied(&liveValue, json::value(config), schema).as_object();
  } else {
    merged = config;
  }
  auto selfIt = std::find_if(entries.begin(), entries.end(),
                             [&](const Entry& e) { return e.sameIdentity(self); });
  std::optional<Entry> previous;
  if (selfIt != entries.end()) {
    previous = std::move(*selfIt);
    entries.erase(selfIt);
  }
  if (previous) {
    FieldSet owned = self.fields;
    for (const auto& e : entries) owned.unionWith(e.fields);
    api::pruneUnowned(merged, previous->fields, owned, schema);
  }

  api::Comparison cmp = api::compareObjects(live, merged, schema, scope);
  FieldSet changed = cmp.added;
  changed.unionWith(cmp.modified);
  std::vector<std::pair<const Entry*, FieldSet>> conflicts;
  for (const auto& e : entries) {
    FieldSet c = e.fields.intersection(changed);
    if (!c.empty()) conflicts.emplace_back(&e, std::move(c));
  }
  bool force = ctx.force;
  if (!force && !conflicts.empty() && ctx.fieldManager == "kubectl" && live &&
      !lastAppliedOf(*live).empty()) {
    // kubectl switching from client-side to server-side apply: conflicts on fields its last
    // client-side apply set (and that still have that value) are taken, the rest refused.
    FieldSet allowed = lastAppliedUnchanged(*live, schema, scope);
    std::vector<std::pair<const Entry*, FieldSet>> remaining;
    for (auto& [e, c] : conflicts) {
      FieldSet rest = c;
      rest.subtract(allowed);
      if (!rest.empty()) remaining.emplace_back(e, std::move(rest));
    }
    if (remaining.empty())
      force = true;
    else
      throw conflictError(remaining);
  }
  if (!force && !conflicts.empty()) throw conflictError(conflicts);
  for (auto& e : entries) {
    e.fields.subtract(changed);
    e.fields.subtract(cmp.removed);
  }
  // The time moves only when the object changed (upstream's managedFieldsUpdater).
  if (cmp.empty() && previous && !previous->time.empty()) self.time = previous->time;
  entries.push_back(std::move(self));

  // kubectl keeps a client-side apply annotation in step with what it applies server-side.
  if (ctx.fieldManager == "kubectl" && !lastAppliedOf(merged).empty()) {
    json::object applied = config;
    if (json::value* meta = applied.if_contains("metadata"); meta && meta->is_object())
      if (json::value* ann = meta->as_object().if_contains("annotations");
          ann && ann->is_object()) {
        ann->as_object().erase(kLastApplied);
        if (ann->as_object().empty()) meta->as_object().erase("annotations");
      }
    api::ensureObject(merged, {"metadata", "annotations"})[kLastApplied] =
        json::serialize(applied) + "\n";
  }
  storeEntries(merged, entries);
  ctx.managedFieldsDone = true;
  const json::value* list = managedFieldsOf(merged);
  ctx.appliedManagedFields = list ? *list : json::value();
  return merged;
}

}  // namespace skiff::apiserver
