// DELETE and DELETE-collection: preconditions, graceful pod deletion, finalizers, and the
// garbage-collection finalizers a propagation policy asks for ("orphan" and
// "foregroundDeletion": the object stays, with a deletionTimestamp, until the garbage
// collector has dealt with its dependents).
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "api/conversion.h"
#include "apiserver/admission.h"
#include "apiserver/resource_store.h"
#include "apiserver/strategy.h"
#include "common/api_error.h"
#include "common/ids.h"

namespace skiff::apiserver {

namespace json = boost::json;
using api::ResourceInfo;

namespace {

std::string str(const json::object& obj, std::string_view field) {
  const json::value* v = obj.if_contains(field);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Upstream pods: graceful deletion applies only to pods a kubelet may be running.
int64_t podGracePeriod(const json::object& pod, const DeleteOptions& options) {
  const json::value* spec = pod.if_contains("spec");
  const json::value* status = pod.if_contains("status");
  std::string nodeName = spec && spec->is_object() ? str(spec->as_object(), "nodeName") : "";
  std::string phase = status && status->is_object() ? str(status->as_object(), "phase") : "";
  if (nodeName.empty() || phase == "Succeeded" || phase == "Failed") return 0;
  if (options.gracePeriodSeconds) return std::max<int64_t>(0, *options.gracePeriodSeconds);
  if (spec && spec->is_object())
    if (auto* g = spec->as_object().if_contains("terminationGracePeriodSeconds");
        g && g->is_int64())
      return g->as_int64();
  return 30;
}

const std::string kOrphanFinalizer = "orphan";
const std::string kForegroundFinalizer = "foregroundDeletion";

// Upstream's DefaultGarbageCollectionPolicy: for backwards compatibility the v1
// ReplicationController and batch/v1 Job orphan their dependents when the request names no
// policy (their strategies say so); everything else skiff serves defaults to background
// deletion.
bool orphansByDefault(const api::KindStrategy* strategy) {
  return strategy && strategy->orphansByDefault;
}

// "namespace" for Namespace: how upstream names the kind in "this namespace may not be deleted".
std::string lowerKind(std::string kind) {
  for (auto& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return kind;
}

bool hasFinalizer(const json::array& finalizers, const std::string& name) {
  for (const auto& f : finalizers)
    if (f.is_string() && f.as_string() == name) return true;
  return false;
}

// The finalizers after applying the delete options' propagation policy (upstream's
// deletionFinalizersForGarbageCollection): the request's choice wins, else a GC finalizer
// already on the object, else the resource's default.
json::array finalizersForDeletion(const json::array& current, const DeleteOptions& options) {
  bool orphan = false, foreground = false;
  if (options.orphanDependents) {
    orphan = *options.orphanDependents;
  } else if (!options.propagationPolicy.empty()) {
    orphan = options.propagationPolicy == "Orphan";
    foreground = options.propagationPolicy == "Foreground";
  } else if (hasFinalizer(current, kOrphanFinalizer)) {
    orphan = true;
  } else if (hasFinalizer(current, kForegroundFinalizer)) {
    foreground = true;
  } else {
    orphan = options.orphanByDefault.value_or(false);
  }
  json::array result;
  for (const auto& f : current)
    if (!(f.is_string() &&
          (f.as_string() == kOrphanFinalizer || f.as_string() == kForegroundFinalizer)))
      result.push_back(f);
  if (orphan) result.emplace_back(kOrphanFinalizer);
  if (foreground) result.emplace_back(kForegroundFinalizer);
  return result;
}

// deletecollection removes items one by one: say a warning once per request.
void addWarningOnce(RequestContext& ctx, const std::string& warning) {
  if (std::find(ctx.warnings.begin(), ctx.warnings.end(), warning) == ctx.warnings.end())
    ctx.warnings.push_back(warning);
}

}  // namespace

json::object ResourceStore::remove(const ResourceInfo& info, const std::string& ns,
                                   const std::string& name, const DeleteOptions& options,
                                   RequestContext& ctx, bool& gone) {
  if (!options.orphanByDefault) {
    // The default depends on the version the client asked for, which the storage-version
    // recursion below no longer knows: resolve it first.
    DeleteOptions resolved = options;
    const api::KindStrategy* strategy = strategyOf(info);
    resolved.orphanByDefault = orphansByDefault(strategy);
    if (strategy && strategy->defaultDeleteWarning && options.propagationPolicy.empty() &&
        !options.orphanDependents)
      addWarningOnce(ctx, strategy->defaultDeleteWarning);
    return remove(info, ns, name, resolved, ctx, gone);
  }
  if (info.storage)
    return api::convertObject(remove(info.storageInfo(), ns, name, options, ctx, gone), info);
  const api::KindStrategy* strategy = strategyOf(info);
  if (strategy)
    for (std::string_view protectedName : strategy->undeletableNames)
      if (name == protectedName)
        throw forbidden(info.plural, name, "this " + lowerKind(info.kind) + " may not be deleted");
  const std::string k = key(info, ns, name);
  for (int attempt = 0;; ++attempt) {
    auto current = readForUpdate(info, k);
    if (!current) throw notFound(info.qualifiedResource(), name);
    auto& [obj, modRevision] = *current;
    admission_.admitNodeWrite(info, "DELETE", "", name, nullptr, &obj, ctx.user);
    json::object& meta = obj["metadata"].as_object();
    if (!options.preconditionUid.empty() && options.preconditionUid != str(meta, "uid"))
      throw conflict(info.qualifiedResource(), name,
                     "Precondition failed: UID in precondition: " + options.preconditionUid +
                         ", UID in object meta: " + str(meta, "uid"));
    if (!options.preconditionResourceVersion.empty() &&
        options.preconditionResourceVersion != std::to_string(modRevision))
      throw conflict(info.qualifiedResource(), name,
                     "Precondition failed: ResourceVersion in precondition: " +
                         options.preconditionResourceVersion +
                         ", ResourceVersion in object meta: " + std::to_string(modRevision));

    json::array existing;
    if (auto* f = meta.if_contains("finalizers"); f && f->is_array()) existing = f->as_array();
    json::array finalizers = finalizersForDeletion(existing, options);
    if (finalizers != existing) {
      if (finalizers.empty())
        meta.erase("finalizers");
      else
        meta["finalizers"] = finalizers;
    }
    bool hasFinalizers = !finalizers.empty();
    const bool graceful = strategy && strategy->gracefulDeletion;
    int64_t grace = graceful ? podGracePeriod(obj, options) : 0;
    bool alreadyDeleting = meta.contains("deletionTimestamp");

    // The kind's own terminating state: a CRD waits for its objects (crd_controller.h), a
    // Namespace for its spec.finalizers (the namespace controller).
    if (strategy && strategy->prepareForDelete && strategy->prepareForDelete(obj))
      hasFinalizers = true;

    if (hasFinalizers || grace > 0) {
      if (!alreadyDeleting || (graceful && grace > 0)) {
        auto now = std::chrono::system_clock::now();
        int64_t currentGrace = 0;
        if (auto* g = meta.if_contains("deletionGracePeriodSeconds"); g && g->is_int64())
          currentGrace = g->as_int64();
        // A second delete may only shorten the grace period.
        if (!alreadyDeleting || grace < currentGrace) {
          meta["deletionTimestamp"] = formatTime(now + std::chrono::seconds(grace));
          meta["deletionGracePeriodSeconds"] = grace;
        }
      }
      gone = false;
      if (ctx.dryRun) return obj;
      auto result = store_.update(k, encodeForStorage(obj), modRevision);
      if (!result.succeeded) {
        if (attempt < kMaxCasRetries) continue;
        throw conflict(info.qualifiedResource(), name, "the object is being modified concurrently");
      }
      meta["resourceVersion"] = std::to_string(result.kv->modRevision);
      // Admission refuses new content in a Terminating namespace by reading the cache; wait
      // until the cache shows this write, so a create sent after the DELETE answered is
      // refused (upstream forces a live lookup for recently deleted namespaces instead).
      if (strategy && strategy->deleteVisibleInCache)
        caches_.waitFor(result.revision, std::chrono::seconds(5));
      return obj;
    }

    gone = true;
    if (ctx.dryRun) return obj;
    auto result = store_.remove(k, modRevision);
    if (!result.succeeded) {
      if (attempt < kMaxCasRetries) continue;
      throw conflict(info.qualifiedResource(), name, "the object is being modified concurrently");
    }
    meta["resourceVersion"] = std::to_string(result.revision);
    return obj;
  }
}

json::object ResourceStore::removeCollection(const ResourceInfo& info, const std::string& ns,
                                             const ListOptions& listOptions,
                                             const DeleteOptions& options, RequestContext& ctx) {
  ListOptions all = listOptions;
  all.limit = 0;
  all.continueToken.clear();
  json::object list = this->list(info, ns, all);
  json::array deleted;
  for (auto& item : list["items"].as_array()) {
    const auto& meta = item.as_object().at("metadata").as_object();
    std::string itemNs = str(meta, "namespace");
    bool gone = false;
    try {
      deleted.push_back(remove(info, itemNs, str(meta, "name"), options, ctx, gone));
    } catch (const ApiError& e) {
      if (e.code() != 404) throw;  // deleted meanwhile: fine
    }
  }
  list["items"] = std::move(deleted);
  return list;
}

}  // namespace skiff::apiserver
