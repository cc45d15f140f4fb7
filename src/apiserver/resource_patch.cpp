// PATCH: json-patch, merge-patch, strategic-merge-patch and server-side apply (field_manager.h).
// The patch is applied to the current stored object and written with CAS; a lost race is
// retried from a fresh read unless the patch itself pinned a resourceVersion.
#include <boost/json.hpp>

#include "api/conversion.h"
#include "api/go_text.h"
#include "api/json_patch.h"
#include "api/managed_fields_text.h"
#include "api/merge_patch.h"
#include "api/openapi.h"
#include "api/patch_error.h"
#include "api/strategic_merge_patch.h"
#include "api/unknown_fields.h"
#include "api/yaml_json.h"
#include "apiserver/content.h"
#include "apiserver/field_manager.h"
#include "apiserver/resource_store.h"
#include "apiserver/strategy.h"
#include "common/api_error.h"

namespace skiff::apiserver {

namespace json = boost::json;
using api::ResourceInfo;

namespace {

json::value parseJson(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) throw badRequest("error decoding patch: " + ec.message());
  return v;
}

std::string resourceVersionOf(const json::value& v) {
  if (!v.is_object()) return "";
  const json::value* meta = v.as_object().if_contains("metadata");
  if (!meta || !meta->is_object()) return "";
  const json::value* rv = meta->as_object().if_contains("resourceVersion");
  return rv && rv->is_string() ? std::string(rv->as_string()) : "";
}

// An applied configuration is YAML, but most clients (kubectl, client-go) send JSON, which
// is YAML too: parse that directly, yaml-cpp costs several times more per byte.
json::value parseApplied(const std::string& body) {
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && body[first] == '{') {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (!ec) return v;
  }
  return api::yamlToJson(body);
}

json::value strategicMerge(const ResourceInfo& info, const json::value& current,
                           const json::value& patch) {
  const auto& openapi = api::OpenApi::instance();
  auto def = openapi.definitionFor(info.group, info.version, info.kind);
  api::PatchSchema schema(def ? &openapi.definitions() : nullptr, def.value_or(""));
  return api::applyStrategicMergePatch(current, patch, schema);
}

// Upstream's 422 for a patch whose result does not decode as the kind. Merge and JSON patches
// show the patched object's JSON (re-made here from `old`: the write path's copy is pruned
// by then), strategic ones the patch as a Go map.
ApiError patchDecodeFailure(const ResourceInfo& info, const std::string& type,
                            const json::object& old, const json::value& patchDoc,
                            const std::string& detail) {
  const bool jsonPatch = type == "application/json-patch+json";
  if (!jsonPatch && type != "application/merge-patch+json")
    return api::patchDecodeError(api::goFormat(patchDoc), detail);
  json::value base = info.storage ? api::convertObject(old, info) : old;
  api::unpackManagedFields(base.as_object());  // the message shows the object as clients see it
  json::value patched = jsonPatch ? api::applyJsonPatch(base, patchDoc)
                                  : api::applyMergePatch(std::move(base), patchDoc);
  return api::patchDecodeError(api::patchedObjectText(std::move(patched), patchDoc, jsonPatch),
                               detail);
}

// Server-side apply types the applied configuration before merging it; upstream's field
// manager fails with a plain error (500, no reason) naming the object as the patch does.
void checkApplyTypes(const ResourceInfo& info, const json::value& applied) {
  const auto& openapi = api::OpenApi::instance();
  auto def = openapi.definitionFor(info.group, info.version, info.kind);
  if (!def) return;
  auto error = api::applyTypeErrors(applied, api::FieldSchemas::builtin().root(*def));
  if (!error) return;
  const json::value* meta = applied.as_object().if_contains("metadata");
  auto metaString = [&](const char* field) {
    const json::value* v =
        meta && meta->is_object() ? meta->as_object().if_contains(field) : nullptr;
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  throw api::patchFailure("failed to create typed patch object (" + metaString("namespace") + "/" +
                          metaString("name") + "; " + info.group + "/" + info.version +
                          ", Kind=" + info.kind + "): " + *error);
}

}  // namespace

ObjectPtr ResourceStore::patch(const ResourceInfo& info, const std::string& ns,
                               const std::string& name, const std::string& subresource,
                               const std::string& contentType, const std::string& body,
                               RequestContext& ctx, bool& created) {
  created = false;
  const std::string type = mediaType(contentType);
  const bool apply = type == "application/apply-patch+yaml";
  if (type != "application/json-patch+json" && type != "application/merge-patch+json" &&
      type != "application/strategic-merge-patch+json" && !apply)
    throw unsupportedMediaType(contentType);
  if (info.custom && type == "application/strategic-merge-patch+json")
    // Custom resources have no patch strategies (upstream offers them the other three).
    throw ApiError(
        415, "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
  if (body.empty()) throw badRequest("the patch body is empty");
  const json::value patchDoc = apply ? parseApplied(body) : parseJson(body);
  if (apply && !patchDoc.is_object())
    throw badRequest("the applied configuration must be an object");
  if (apply) checkApplyTypes(info, patchDoc);

  const std::string k = key(info, ns, name);
  const size_t warningsBefore = ctx.warnings.size();
  for (int attempt = 0;; ++attempt) {
    ctx.managedFieldsDone = false;  // a retry records the write afresh
    ctx.appliedManagedFields = nullptr;
    // The first attempt starts from the watch cache's object (no store read); a CAS or a
    // confirmation in commitUpdate catches a stale one, and every retry reads the store.
    ctx.oldFromCache = false;
    auto current = attempt == 0 ? readCached(k, ctx) : readCurrent(k);
    if (!current) {
      if (apply && subresource.empty()) {
        json::value obj = patchDoc;
        auto& meta = obj.as_object()["metadata"];
        if (!meta.is_object()) meta.emplace_object();
        meta.as_object()["name"] = name;
        obj = applyConfiguration(info, nullptr, obj.as_object(), subresource, ctx);
        created = true;
        return create(info, ns, std::move(obj), ctx);
      }
      throw notFound(info.qualifiedResource(), name);
    }
    try {
      const json::object& old = *current->first;
      const int64_t modRevision = current->second;
      // Patches apply to the object as this version shows it. A status patch changes only
      // status (commitUpdate keeps everything else from old), so unless it is a JSON patch,
      // whose paths may address anything, it applies to old without its spec: a pod's largest
      // part is then not copied, merged and pruned on every status update of its kubelet. Nor
      // are its managedFields (the status write keeps old's metadata, commitUpdate), unless
      // an apply needs them to find its conflicts.
      json::value base;
      if (isStatusLikeSubresource(info, subresource) && !info.storage &&
          type != "application/json-patch+json") {
        json::object partial(old.size());
        for (const auto& field : old) {
          if (field.key() == "spec") continue;
          if (!apply && field.key() == "metadata" && field.value().is_object()) {
            const json::object& meta = field.value().as_object();
            json::object copy(meta.size());
            for (const auto& m : meta)
              if (m.key() != "managedFields") copy.emplace(m.key(), m.value());
            partial.emplace("metadata", std::move(copy));
            continue;
          }
          partial.emplace(field.key(), field.value());
        }
        base = std::move(partial);
      } else {
        base = info.storage ? api::convertObject(old, info) : old;
      }
      // A patch sees managedFields as the array they are (a JSON patch may address their
      // entries), not as the text the cache keeps.
      api::unpackManagedFields(base.as_object());
      json::value patched;
      if (type == "application/json-patch+json")
        patched = api::applyJsonPatch(base, patchDoc);
      else if (type == "application/merge-patch+json")
        patched = api::applyMergePatch(std::move(base), patchDoc);
      else if (apply)
        patched =
            applyConfiguration(info, &base.as_object(), patchDoc.as_object(), subresource, ctx);
      else
        patched = strategicMerge(info, base, patchDoc);

      const std::string pinned = resourceVersionOf(patched);
      const bool patchPinnedVersion = pinned != std::to_string(modRevision);
      if (patchPinnedVersion && !pinned.empty())
        throw staleObjectConflict(info.qualifiedResource(), name);
      const bool strategic = type == "application/strategic-merge-patch+json" || apply;
      json::object obj;
      try {
        obj = decodeBody(info, std::move(patched), ctx,
                         strategic ? api::Decoding::Unstructured : api::Decoding::Json);
      } catch (const api::DecodeError& e) {
        throw patchDecodeFailure(info, type, old, patchDoc, e.detail());
      }
      if (info.storage) obj = api::convertObject(obj, info.storageInfo());
      auto& meta = obj["metadata"].as_object();
      if (meta.if_contains("name") && meta["name"] != json::value(name))
        throw badRequest("metadata.name cannot be changed by a patch");
      ObjectPtr result;
      try {
        result =
            commitUpdate(info.storageInfo(), k, std::move(obj), old, modRevision, subresource, ctx);
      } catch (const ApiError& e) {
        // The object changed since it was read (the CAS lost): start again from the store.
        if (e.code() != 409 || e.reason() != "Conflict" || attempt >= kMaxCasRetries) throw;
        continue;
      }
      if (!info.storage) return result;
      return std::make_shared<const json::object>(api::convertObject(*result, info));
    } catch (const ApiError&) {
      // An error computed from a cached, perhaps stale object is no answer yet: reread.
      if (!ctx.oldFromCache) throw;
      ctx.warnings.resize(warningsBefore);
    }
  }
}

}  // namespace skiff::apiserver
