#include "apiserver/resource_store.h"

#include <boost/json.hpp>

#include "api/conversion.h"
#include "api/custom_resource.h"
#include "api/defaults.h"
#include "api/field_selector.h"
#include "api/label_selector.h"
#include "api/managed_fields_text.h"
#include "api/openapi.h"
#include "api/unknown_fields.h"
#include "api/validation.h"
#include "apiserver/admission.h"
#include "apiserver/field_manager.h"
#include "apiserver/strategy.h"
#include "common/api_error.h"
#include "common/ids.h"

namespace skiff::apiserver {

namespace json = boost::json;
using api::ResourceInfo;

std::string nowTimestamp() { return formatTime(std::chrono::system_clock::now()); }

std::string encodeForStorage(json::object& obj) {
  if (auto* meta = obj.if_contains("metadata"); meta && meta->is_object())
    meta->as_object().erase("resourceVersion");
  return api::objectJson(obj);
}

namespace {

// The server's own writes (bootstrap, reconcilers: no user) may send back a copy of a cached
// object, whose managedFields the cache keeps as text (api/managed_fields_text.h). A client's
// body never holds that form: there a string is the client's own, refused by the type check.
void unpackServerOwnBody(json::value& body, const RequestContext& ctx) {
  if (!ctx.user && body.is_object()) api::unpackManagedFields(body.as_object());
}

json::object& metadataOf(json::object& obj) {
  json::value& meta = obj["metadata"];
  if (!meta.is_object()) meta.emplace_object();
  return meta.as_object();
}

std::string stringAt(const json::object& obj, std::string_view field) {
  const json::value* v = obj.if_contains(field);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string metaString(const json::object& obj, std::string_view field) {
  const json::value* meta = obj.if_contains("metadata");
  return meta && meta->is_object() ? stringAt(meta->as_object(), field) : std::string();
}

// Everything except metadata and status: what a generation bump compares.
bool specChanged(const json::object& a, const json::object& b) {
  for (const auto& [k, v] : a) {
    if (k == "metadata" || k == "status") continue;
    const json::value* other = b.if_contains(k);
    if (!other || *other != v) return true;
  }
  for (const auto& [k, v] : b) {
    if (k == "metadata" || k == "status") continue;
    if (!a.contains(k)) return true;
  }
  return false;
}

}  // namespace

std::function<bool(const json::object&)> makeFilter(const ResourceInfo& info,
                                                    const std::string& labelSelector,
                                                    const std::string& fieldSelector) {
  std::optional<api::LabelSelector> labels;
  std::optional<api::FieldSelector> fields;
  if (!labelSelector.empty()) labels = api::LabelSelector::parse(labelSelector);
  if (!fieldSelector.empty()) {
    fields = api::FieldSelector::parse(fieldSelector);
    for (const auto& req : fields->requirements()) {
      bool supported = req.field == "metadata.name" || req.field == "metadata.namespace";
      for (const auto& f : info.selectableFields) supported = supported || f == req.field;
      if (!supported) throw badRequest("field label not supported: " + req.field);
    }
  }
  if (!labels && !fields) return nullptr;
  std::function<bool(const json::object&)> filter =
      [labels = std::move(labels), fields = std::move(fields)](const json::object& obj) {
        if (labels) {
          const json::object* labelMap = nullptr;
          if (auto* meta = obj.if_contains("metadata"); meta && meta->is_object())
            if (auto* l = meta->as_object().if_contains("labels"); l && l->is_object())
              labelMap = &l->as_object();
          if (!labels->matches(labelMap)) return false;
        }
        if (fields) {
          return fields->matches(
              [&obj](std::string_view field) { return api::fieldValueOf(obj, field); });
        }
        return true;
      };
  if (!info.storage) return filter;
  // Cached objects are in the storage version; select on what this version shows.
  return [filter, &info](const json::object& stored) {
    return filter(api::convertObject(stored, info));
  };
}

ResourceStore::ResourceStore(storage::Store& store, CacheHub& caches, Admission& admission)
    : store_(store), caches_(caches), admission_(admission) {
  admission_.attachStore(store_);  // quota charges are CAS writes to the same store
}

std::string ResourceStore::key(const ResourceInfo& info, const std::string& ns,
                               const std::string& name) const {
  return info.namespaced ? info.storagePrefix() + ns + "/" + name : info.storagePrefix() + name;
}

std::string ResourceStore::listPrefix(const ResourceInfo& info, const std::string& ns) const {
  return info.namespaced && !ns.empty() ? info.storagePrefix() + ns + "/" : info.storagePrefix();
}

ObjectPtr ResourceStore::getShared(const ResourceInfo& info, const std::string& ns,
                                   const std::string& name) {
  caches_.syncWithStore();
  auto obj = cache(info).get(key(info, ns, name));
  if (!obj) throw notFound(info.qualifiedResource(), name);
  if (info.storage) return std::make_shared<const json::object>(api::convertObject(*obj, info));
  return obj;
}

json::object ResourceStore::get(const ResourceInfo& info, const std::string& ns,
                                const std::string& name) {
  // A copy to change or send back: managedFields as the array they are, not the cache's text.
  json::object copy = *getShared(info, ns, name);
  api::unpackManagedFields(copy);
  return copy;
}

namespace {
// Top-level fields in the order of upstream's Go types (TypeMeta's kind and apiVersion, then
// metadata, the kind's own fields as sent, status last), so answers read as upstream's do.
json::object inUpstreamOrder(const ResourceInfo& info, json::object obj) {
  json::object out(obj.storage());
  out.reserve(obj.size() + 2);
  out["kind"] = info.kind;
  out["apiVersion"] = info.apiVersion();
  if (auto it = obj.find("metadata"); it != obj.end()) out["metadata"] = std::move(it->value());
  for (auto& kv : obj)
    if (kv.key() != "kind" && kv.key() != "apiVersion" && kv.key() != "metadata" &&
        kv.key() != "status")
      out.emplace(kv.key(), std::move(kv.value()));
  if (auto it = obj.find("status"); it != obj.end()) out["status"] = std::move(it->value());
  return out;
}
}  // namespace

// Checks apiVersion/kind and every value's JSON type (api::DecodeError), prunes or rejects
// unknown fields per fieldValidation.
json::object ResourceStore::decodeBody(const ResourceInfo& info, json::value body,
                                       RequestContext& ctx, api::Decoding decoding) {
  if (!body.is_object()) throw badRequest("the request body must be a JSON or YAML object");
  json::object obj = std::move(body.as_object());
  std::string apiVersion = stringAt(obj, "apiVersion");
  std::string kind = stringAt(obj, "kind");
  if (!apiVersion.empty() && apiVersion != info.apiVersion())
    throw badRequest("the API version in the data (" + apiVersion +
                     ") does not match the expected API version (" + info.apiVersion() + ")");
  if (!kind.empty() && kind != info.kind)
    throw badRequest("the kind in the data (" + kind + ") does not match the expected kind (" +
                     info.kind + ")");
  obj = inUpstreamOrder(info, std::move(obj));

  const auto& openapi = api::OpenApi::instance();
  std::optional<std::string> def;
  if (!info.custom) def = openapi.definitionFor(info.group, info.version, info.kind);
  if (info.custom || def) {
    std::vector<std::string> unknown;
    if (info.custom) {
      // Custom resources: schema pruning; their types are checked by schema validation (422).
      unknown = pruneCustomResource(info, obj);
    } else {
      // One walk checks every value's type (as upstream's typed decode) and prunes.
      auto checked = api::checkAndPrune(obj, api::FieldSchemas::builtin().root(*def), decoding);
      if (checked.typeError) throw api::DecodeError(info.kind, info.version, *checked.typeError);
      unknown = std::move(checked.unknown);
    }
    if (!unknown.empty() && ctx.fieldValidation == "Strict") {
      std::string msg = "strict decoding error: ";
      for (size_t i = 0; i < unknown.size(); ++i)
        msg += (i ? ", " : "") + std::string("unknown field \"") + unknown[i] + "\"";
      throw api::DecodeError(info.kind, info.version,
                             msg);  // "<Kind> in version ... cannot be handled"
    }
    if (ctx.fieldValidation != "Ignore")
      for (const auto& f : unknown) ctx.warnings.push_back("unknown field \"" + f + "\"");
  }
  if (obj.contains("metadata") && !obj["metadata"].is_object())
    throw badRequest("metadata must be an object");
  api::foldWriteOnlyFields(info, obj);
  return obj;
}

ObjectPtr ResourceStore::finishWrite(const storage::WriteResult& result, const ObjectHint& hint) {
  // Every store stamps the hint of a successful write; a store that did not would hand out
  // an object without its resourceVersion.
  ObjectPtr obj = hint.object();
  const json::value* meta = obj->if_contains("metadata");
  const json::value* rv =
      meta && meta->is_object() ? meta->as_object().if_contains("resourceVersion") : nullptr;
  const int64_t revision = result.kv ? result.kv->modRevision : result.revision;
  if (!rv || !rv->is_string() || rv->as_string() != std::to_string(revision))
    throw internalError("the store did not stamp the written object with its revision");
  return obj;
}

namespace {
ObjectPtr shared(json::object obj) { return std::make_shared<const json::object>(std::move(obj)); }
}  // namespace

ObjectPtr ResourceStore::create(const ResourceInfo& info, const std::string& ns, json::value body,
                                RequestContext& ctx) {
  unpackServerOwnBody(body, ctx);
  json::object obj = decodeBody(info, std::move(body), ctx);
  if (!info.storage) return createDecoded(info, ns, std::move(obj), ctx);
  const ResourceInfo& storage = info.storageInfo();
  return shared(
      api::convertObject(*createDecoded(storage, ns, api::convertObject(obj, storage), ctx), info));
}

ObjectPtr ResourceStore::createDecoded(const ResourceInfo& info, const std::string& ns,
                                       json::object obj, RequestContext& ctx) {
  if (info.custom && info.custom->terminating)  // its CRD is being deleted
    throw methodNotSupported(info.qualifiedResource(), "create");
  json::object& meta = metadataOf(obj);
  std::string bodyNs = stringAt(meta, "namespace");
  if (info.namespaced) {
    if (!bodyNs.empty() && bodyNs != ns)
      throw badRequest(
          "the namespace of the provided object does not match the namespace sent "
          "on the request");
    meta["namespace"] = ns;
  } else {
    meta.erase("namespace");
  }
  std::string name = stringAt(meta, "name");
  if (name.empty()) {
    std::string generateName = stringAt(meta, "generateName");
    if (generateName.empty())
      throw invalid(info.kind, info.group, "",
                    {{"FieldValueRequired", "Required value: name or generateName is required",
                      "metadata.name"}});
    name = generateName + randomNameSuffix();
    meta["name"] = name;
  }
  meta["uid"] = newUid();
  meta["creationTimestamp"] = nowTimestamp();
  meta.erase("resourceVersion");
  meta.erase("deletionTimestamp");
  meta.erase("deletionGracePeriodSeconds");
  if (info.tracksGeneration)
    meta["generation"] = 1;
  else
    meta.erase("generation");

  applyKindDefaults(info, obj);
  trackCreate(info, obj, ctx);
  prepareForCreate(info, obj);
  admission_.admitCreate(info, obj, ctx.dryRun);
  admission_.admitRbacWrite(info, obj, nullptr, ctx.user);
  admission_.admitNodeWrite(info, "CREATE", "", name, &obj, nullptr, ctx.user);
  admission_.admitCertificateRequestCreate(info, obj, ctx.user);
  auto causes = validateKind(info, obj, nullptr);
  if (!causes.empty()) throw invalid(info.kind, info.group, name, std::move(causes));
  admission_.admitPodSecurity(info, "", obj, nullptr, ctx.user, ctx.warnings, ctx.auditAnnotations);
  admission_.admitLimitsAndQuota(info, "", obj, nullptr, ctx.dryRun);

  if (ctx.dryRun) return shared(std::move(obj));
  std::string value = encodeForStorage(obj);
  auto hint = std::make_shared<ObjectHint>(std::move(obj));
  auto result = store_.create(key(info, ns, name), value, hint);
  if (!result.succeeded) throw alreadyExists(info.qualifiedResource(), name);
  return finishWrite(result, *hint);
}

std::optional<std::pair<ObjectPtr, int64_t>> ResourceStore::readCurrent(const std::string& k) {
  auto kv = store_.get(k);
  if (!kv) return std::nullopt;
  ObjectPtr obj = caches_.cachedAt(k, kv->modRevision);
  if (!obj) obj = CacheHub::decode(*kv);
  if (!obj) throw internalError("stored object is corrupt: " + k);
  return std::make_pair(std::move(obj), kv->modRevision);
}

std::optional<std::pair<ObjectPtr, int64_t>> ResourceStore::readCached(const std::string& k,
                                                                       RequestContext& ctx) {
  ctx.oldFromCache = false;
  if (ObjectPtr obj = caches_.cachedLatest(k)) {
    const std::string rv = metaString(*obj, "resourceVersion");
    char* end = nullptr;
    const long long revision = std::strtoll(rv.c_str(), &end, 10);
    if (!rv.empty() && end && *end == '\0' && revision > 0) {
      ctx.oldFromCache = true;
      return std::make_pair(std::move(obj), static_cast<int64_t>(revision));
    }
  }
  return readCurrent(k);
}

std::optional<std::pair<json::object, int64_t>> ResourceStore::readForUpdate(const ResourceInfo&,
                                                                             const std::string& k) {
  auto current = readCurrent(k);
  if (!current) return std::nullopt;
  json::object copy(*current->first);
  api::unpackManagedFields(copy);
  return std::make_pair(std::move(copy), current->second);
}

ObjectPtr ResourceStore::commitUpdate(const ResourceInfo& info, const std::string& k,
                                      json::object obj, const json::object& old,
                                      int64_t modRevision, const std::string& subresource,
                                      RequestContext& ctx) {
  const std::string name = metaString(old, "name");
  json::object& meta = metadataOf(obj);
  const json::object& oldMeta = old.at("metadata").as_object();
  // Fields the system owns: the client cannot change them.
  for (const char* field : {"uid", "creationTimestamp", "deletionTimestamp",
                            "deletionGracePeriodSeconds", "generation", "namespace", "name"}) {
    if (const json::value* v = oldMeta.if_contains(field))
      meta[field] = *v;
    else
      meta.erase(field);
  }
  const bool statusWrite = isStatusLikeSubresource(info, subresource);
  if (statusWrite) {
    // Status writes change only status (upstream status strategy): everything else from old
    // (not copying old's status only to replace it), the new status moved in.
    json::object merged(old.size() + 1);
    for (const auto& field : old)
      if (field.key() != "status") merged.emplace(field.key(), field.value());
    if (json::value* status = obj.if_contains("status"))
      merged.emplace("status", std::move(*status));
    obj = std::move(merged);
  } else if (info.hasStatus() && subresource != "binding") {
    // (A binding writes the PodScheduled condition with spec.nodeName, as upstream.)
    if (const json::value* status = old.if_contains("status"))
      obj["status"] = *status;
    else
      obj.erase("status");
  }
  // A binding adds fields to a stored (so already defaulted) pod: nothing to default, and
  // it always changes spec.nodeName, so it is never a no-op.
  const bool binding = subresource == "binding";
  if (!binding) applyKindDefaults(info, obj);
  if (!binding) trackUpdate(info, obj, old, subresource, ctx);
  if (subresource.empty()) prepareForUpdate(info, obj, old);
  if (statusWrite) prepareForStatusUpdate(info, obj, old, subresource);
  if (info.tracksGeneration && subresource.empty() && specChanged(obj, old)) {
    int64_t generation = 0;
    if (const json::value* g = oldMeta.if_contains("generation"); g && g->is_int64())
      generation = g->as_int64();
    metadataOf(obj)["generation"] = generation + 1;
  }
  admission_.admitUpdate(info, obj, old);
  if (subresource.empty()) admission_.admitRbacWrite(info, obj, &old, ctx.user);
  if (!binding) admission_.admitNodeWrite(info, "UPDATE", subresource, name, &obj, &old, ctx.user);
  admission_.admitCertificateRequestUpdate(info, subresource, obj, old, ctx.user);
  // A binding sets spec.nodeName, which no client update may change; it has its own checks.
  if (!binding) {
    auto causes = statusWrite ? validateKindStatus(info, obj, old, subresource)
                              : validateKind(info, obj, &old);
    if (!causes.empty()) throw invalid(info.kind, info.group, name, std::move(causes));
    if (!statusWrite) {
      admission_.admitPodSecurity(info, subresource, obj, &old, ctx.user, ctx.warnings,
                                  ctx.auditAnnotations);
      admission_.admitLimitsAndQuota(info, subresource, obj, &old, ctx.dryRun);
    }
  }

  metadataOf(obj)["resourceVersion"] = std::to_string(modRevision);
  // No-op writes keep the resourceVersion, as upstream. A status write took everything but
  // status from `old`, so only status and metadata can differ.
  const bool noOp =
      binding       ? false
      : statusWrite ? api::sameMember(obj, old, "status") && api::sameMember(obj, old, "metadata")
                    : api::sameObject(obj, old);
  // A write that changes nothing writes nothing, so no CAS tells whether `old` was current:
  // a stale cached `old` is confirmed against the store (a conflict makes the caller reread).
  const auto confirmCurrent = [&] {
    if (!ctx.oldFromCache) return;
    auto kv = store_.get(k);
    if (!kv || kv->modRevision != modRevision)
      throw staleObjectConflict(info.qualifiedResource(), name);
  };
  if (noOp) {
    confirmCurrent();
    return shared(std::move(obj));
  }

  // Removing the last finalizer of an object being deleted completes the deletion.
  const json::object& newMeta = obj.at("metadata").as_object();
  const json::value* finalizers = newMeta.if_contains("finalizers");
  bool noFinalizers = !finalizers || !finalizers->is_array() || finalizers->as_array().empty();
  // Server-owned finalizers outside metadata (a Namespace's spec.finalizers) hold it too.
  if (const api::KindStrategy* strategy = strategyOf(info);
      strategy && strategy->holdsDeletion && strategy->holdsDeletion(obj))
    noFinalizers = false;
  // (Like upstream, only when no graceful period is pending: a terminating pod waits for its
  // kubelet.)
  const json::value* grace = newMeta.if_contains("deletionGracePeriodSeconds");
  bool graceOver = !grace || !grace->is_int64() || grace->as_int64() == 0;
  if (newMeta.contains("deletionTimestamp") && noFinalizers && graceOver && !ctx.dryRun) {
    auto result = store_.remove(k, modRevision);
    if (!result.succeeded) throw staleObjectConflict(info.qualifiedResource(), name);
    return shared(std::move(obj));
  }
  if (ctx.dryRun) {
    confirmCurrent();
    return shared(std::move(obj));
  }
  std::string value = encodeForStorage(obj);
  auto hint = std::make_shared<ObjectHint>(std::move(obj));
  auto result = store_.update(k, value, modRevision, hint);
  if (!result.succeeded) throw staleObjectConflict(info.qualifiedResource(), name);
  return finishWrite(result, *hint);
}

ObjectPtr ResourceStore::update(const ResourceInfo& info, const std::string& ns,
                                const std::string& name, const std::string& subresource,
                                json::value body, RequestContext& ctx) {
  unpackServerOwnBody(body, ctx);
  json::object obj = decodeBody(info, std::move(body), ctx);
  if (info.storage) {
    const ResourceInfo& storage = info.storageInfo();
    return shared(api::convertObject(
        *updateDecoded(storage, ns, name, subresource, api::convertObject(obj, storage), ctx),
        info));
  }
  return updateDecoded(info, ns, name, subresource, std::move(obj), ctx);
}

ObjectPtr ResourceStore::updateDecoded(const ResourceInfo& info, const std::string& ns,
                                       const std::string& name, const std::string& subresource,
                                       json::object obj, RequestContext& ctx) {
  json::object& meta = metadataOf(obj);
  std::string bodyName = stringAt(meta, "name");
  if (bodyName.empty())
    meta["name"] = name;
  else if (bodyName != name)
    throw badRequest("the name of the object (" + bodyName +
                     ") does not match the name on the URL (" + name + ")");
  if (info.namespaced) {
    std::string bodyNs = stringAt(meta, "namespace");
    if (!bodyNs.empty() && bodyNs != ns)
      throw badRequest(
          "the namespace of the provided object does not match the namespace sent "
          "on the request");
  }
  const std::string k = key(info, ns, name);
  auto current = readCurrent(k);
  if (!current) throw notFound(info.qualifiedResource(), name);
  const json::object& old = *current->first;
  const int64_t modRevision = current->second;
  std::string wantedRv = stringAt(meta, "resourceVersion");
  if (!wantedRv.empty() && wantedRv != std::to_string(modRevision))
    throw staleObjectConflict(info.qualifiedResource(), name);
  return commitUpdate(info, k, std::move(obj), old, modRevision, subresource, ctx);
}

}  // namespace skiff::apiserver
