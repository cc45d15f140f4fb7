// ResourceStore: the generic REST storage behind every resource (upstream's
// registry/generic/registry.Store). It turns API verbs into CAS writes on the Store and
// reads from the watch cache, and runs the per-kind hooks: defaulting, admission,
// validation, status/spec separation, generation, graceful deletion, finalizers.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/resource_registry.h"
#include "api/type_check.h"
#include "apiserver/auth/authorizer.h"
#include "apiserver/watch_cache.h"
#include "storage/store.h"

namespace skiff::apiserver {

class Admission;

// Per-request options and outputs shared by the write verbs.
struct RequestContext {
  bool dryRun = false;
  std::string fieldValidation = "Warn";  // Strict | Warn | Ignore
  // ?fieldManager=, else the User-Agent's prefix (upstream's rule), for managedFields.
  std::string fieldManager;
  bool force = false;  // ?force=true: server-side apply takes conflicting fields
  // Set once a write's managedFields are computed (apply does it before the generic update
  // path), so the update path does not record the write a second time but puts these in
  // (a status write takes its metadata from the stored object). Null: none.
  bool managedFieldsDone = false;
  boost::json::value appliedManagedFields;
  // The subresource a managedFields entry names when it is not the request's own (scale
  // writes through the parent's update path).
  std::string managedSubresource;
  std::vector<std::string> warnings;  // sent back as Warning headers
  // Admission plugins' audit annotations (upstream prefixes them with the plugin's name):
  // they travel to the request's audit event (ApiServer::handle), never to the client.
  std::vector<std::pair<std::string, std::string>> auditAnnotations;
  // The object a write starts from came from the watch cache and may be stale (readCached).
  bool oldFromCache = false;
  // Who asks (the request's authenticated identity), for checks that depend on the writer
  // (RBAC escalation prevention). Null: the server itself writes (bootstrap), exempt.
  const UserInfo* user = nullptr;
};

struct ListOptions {
  std::string labelSelector, fieldSelector;
  std::string resourceVersion, resourceVersionMatch;
  int64_t limit = 0;
  std::string continueToken;
};

struct DeleteOptions {
  std::optional<int64_t> gracePeriodSeconds;
  std::string propagationPolicy;         // Background | Foreground | Orphan; "" when not given
  std::optional<bool> orphanDependents;  // the deprecated field (exclusive with the policy)
  // The resource's default when neither is given (upstream's DefaultGarbageCollectionPolicy,
  // which depends on the requested group version); resolved by ResourceStore::remove.
  std::optional<bool> orphanByDefault;
  std::string preconditionUid, preconditionResourceVersion;
};

// Builds the filter for a list or watch from label and field selectors; throws 400.
std::function<bool(const boost::json::object&)> makeFilter(const api::ResourceInfo& info,
                                                           const std::string& labelSelector,
                                                           const std::string& fieldSelector);

// Read-modify-write requests (patches, scale, deletes) retry a lost CAS race from a fresh
// read, as upstream's GuaranteedUpdate does without bound: a client that did not pin a
// resourceVersion never sees a 409 for a race. The cap only ends a pathological livelock.
inline constexpr int kMaxCasRetries = 1000;

class ResourceStore {
 public:
  ResourceStore(storage::Store& store, CacheHub& caches, Admission& admission);

  std::string key(const api::ResourceInfo& info, const std::string& ns,
                  const std::string& name) const;
  // Key prefix of a list: one namespace, or all of them when ns is empty.
  std::string listPrefix(const api::ResourceInfo& info, const std::string& ns) const;
  CacheHub& caches() { return caches_; }
  Admission& admission() { return admission_; }
  ResourceCache& cache(const api::ResourceInfo& info) {
    return caches_.cacheFor(info.storagePrefix());
  }

  // A private copy (managedFields as an array, api/managed_fields_text.h), to change or send.
  boost::json::object get(const api::ResourceInfo& info, const std::string& ns,
                          const std::string& name);
  // The items of a list with its resourceVersion and continue token. Items are shared with
  // the cache (no copies): serialize them, do not modify them.
  struct ListResult {
    std::vector<ObjectPtr> items;
    // Their shared JSON text when they came from the watch cache unconverted (else empty).
    std::vector<std::shared_ptr<SharedEncoding>> encodings;
    int64_t revision = 0;
    std::string continueToken;
    // Objects after this page, for an unfiltered list with more to come (upstream leaves it
    // out when selectors are given); counted in the watch cache, so an estimate for
    // continued pages, as upstream documents it.
    std::optional<int64_t> remainingItemCount;
  };
  ListResult listObjects(const api::ResourceInfo& info, const std::string& ns,
                         const ListOptions& options);
  // A list's ListMeta: resourceVersion, continue, remainingItemCount.
  static boost::json::object listMetadata(const ListResult& result);
  // The list object (kind XList) with items, resourceVersion and continue.
  boost::json::object list(const api::ResourceInfo& info, const std::string& ns,
                           const ListOptions& options);
  // Serializes a list result as the XList JSON document without copying the items.
  static std::string serializeList(const api::ResourceInfo& info, const ListResult& result);
  // The cached object itself (shared, read-only).
  ObjectPtr getShared(const api::ResourceInfo& info, const std::string& ns,
                      const std::string& name);
  ObjectPtr create(const api::ResourceInfo& info, const std::string& ns, boost::json::value body,
                   RequestContext& ctx);
  // Replaces the object (subresource "" or "status"). `created` reports create-on-update.
  ObjectPtr update(const api::ResourceInfo& info, const std::string& ns, const std::string& name,
                   const std::string& subresource, boost::json::value body, RequestContext& ctx);
  // Applies a patch of the given content type; `created` is set when apply created it.
  ObjectPtr patch(const api::ResourceInfo& info, const std::string& ns, const std::string& name,
                  const std::string& subresource, const std::string& contentType,
                  const std::string& body, RequestContext& ctx, bool& created);
  // Deletes or starts graceful deletion. `gone` tells whether the object is gone now (200
  // with the final state) or still terminating (200/202 with deletionTimestamp set).
  boost::json::object remove(const api::ResourceInfo& info, const std::string& ns,
                             const std::string& name, const DeleteOptions& options,
                             RequestContext& ctx, bool& gone);
  boost::json::object removeCollection(const api::ResourceInfo& info, const std::string& ns,
                                       const ListOptions& listOptions, const DeleteOptions& options,
                                       RequestContext& ctx);

  // The current object and its revision, as the store has it now: the base for CAS writes.
  // Shared and immutable — the watch cache's parsed copy when it is at that revision (it
  // nearly always is: clients react to the events it delivered), so a read-modify-write
  // does not parse the stored bytes again.
  std::optional<std::pair<ObjectPtr, int64_t>> readCurrent(const std::string& key);
  // The watch cache's object (else readCurrent), without asking the store: it may be stale,
  // so the caller's write must be a CAS, and a write that changes nothing must confirm the
  // revision (ctx.oldFromCache; upstream's GuaranteedUpdate with a cached existing object).
  std::optional<std::pair<ObjectPtr, int64_t>> readCached(const std::string& key,
                                                          RequestContext& ctx);
  // The same as a private copy (managedFields as an array), for callers that modify it in
  // place.
  std::optional<std::pair<boost::json::object, int64_t>> readForUpdate(
      const api::ResourceInfo& info, const std::string& key);
  // Writes `obj` over the current object at `modRevision` after the same hooks as update.
  // Writes return the object as stored, shared with the watch cache (read-only).
  ObjectPtr commitUpdate(const api::ResourceInfo& info, const std::string& key,
                         boost::json::object obj, const boost::json::object& old,
                         int64_t modRevision, const std::string& subresource, RequestContext& ctx);

 private:
  // `decoding`: how upstream would have decoded this body (api/type_check.h), for its
  // messages: Json for create, update, merge and JSON patches; Unstructured for strategic.
  boost::json::object decodeBody(const api::ResourceInfo& info, boost::json::value body,
                                 RequestContext& ctx, api::Decoding decoding = api::Decoding::Json);
  // create/update after decoding, in the storage version.
  ObjectPtr createDecoded(const api::ResourceInfo& info, const std::string& ns,
                          boost::json::object obj, RequestContext& ctx);
  ObjectPtr updateDecoded(const api::ResourceInfo& info, const std::string& ns,
                          const std::string& name, const std::string& subresource,
                          boost::json::object obj, RequestContext& ctx);
  // The written object: the hint's, stamped with its revision by the store.
  static ObjectPtr finishWrite(const storage::WriteResult& result, const ObjectHint& hint);

  storage::Store& store_;
  CacheHub& caches_;
  Admission& admission_;
};

// Serializes an object for the store: without metadata.resourceVersion (the store's
// modRevision is the truth), which is removed from `obj` (no copy of the object is made;
// callers set the new resourceVersion once the write succeeded).
std::string encodeForStorage(boost::json::object& obj);
// "2026-11-27T23:07:19Z" for now.
std::string nowTimestamp();

}  // namespace skiff::apiserver
