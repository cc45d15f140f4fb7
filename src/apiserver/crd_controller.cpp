#include "apiserver/crd_controller.h"

#include <algorithm>
#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "api/custom_resource.h"
#include "api/json_access.h"
#include "apiserver/resource_store.h"
#include "common/api_error.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace skiff::apiserver {

namespace json = boost::json;
using api::ResourceInfo;

namespace {

constexpr const char* kAutomanagedLabel = "kube-aggregator.kubernetes.io/automanaged";

const std::vector<std::string> kAllVerbs = {"delete", "deletecollection", "get",    "list",
                                            "patch",  "create",           "update", "watch"};

std::vector<std::string> strings(const json::array& a) {
  std::vector<std::string> out;
  for (const auto& v : a)
    if (v.is_string()) out.emplace_back(v.as_string());
  return out;
}

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// spec.names with upstream's defaults (singular = lowercase kind, listKind = kind + "List").
json::object acceptedNames(const json::object& spec) {
  json::object names = api::objectOrEmpty(spec, {"names"});
  const std::string kind = api::stringAt(names, {"kind"});
  if (api::stringAt(names, {"singular"}).empty()) names["singular"] = lowercase(kind);
  if (api::stringAt(names, {"listKind"}).empty()) names["listKind"] = kind + "List";
  return names;
}

std::string storageVersion(const json::object& spec) {
  for (const auto& v : api::arrayOrEmpty(spec, {"versions"}))
    if (v.is_object() && api::boolAt(v.as_object(), {"storage"}))
      return api::stringAt(v.as_object(), {"name"});
  return "";
}

std::vector<api::PrinterColumn> columnsOf(const json::object& version) {
  std::vector<api::PrinterColumn> out;
  for (const auto& c : api::arrayOrEmpty(version, {"additionalPrinterColumns"})) {
    if (!c.is_object()) continue;
    const auto& o = c.as_object();
    out.push_back({api::stringAt(o, {"name"}), api::stringAt(o, {"type"}),
                   api::stringAt(o, {"format"}), api::stringAt(o, {"description"}),
                   api::stringAt(o, {"jsonPath"}), static_cast<int>(api::intAt(o, {"priority"}))});
  }
  return out;
}

// The registry entries of a CRD: one per served version.
std::vector<ResourceInfo> resourcesOf(const json::object& crd, bool terminating) {
  const json::object& spec = api::objectOrEmpty(crd, {"spec"});
  const json::object names = acceptedNames(spec);
  const std::string group = api::stringAt(spec, {"group"});
  const std::string stored = storageVersion(spec);
  std::vector<ResourceInfo> out;
  for (const auto& v : api::arrayOrEmpty(spec, {"versions"})) {
    if (!v.is_object() || !api::boolAt(v.as_object(), {"served"})) continue;
    const json::object& version = v.as_object();
    ResourceInfo r;
    r.group = group;
    r.version = api::stringAt(version, {"name"});
    r.kind = api::stringAt(names, {"kind"});
    r.plural = api::stringAt(names, {"plural"});
    r.singular = api::stringAt(names, {"singular"});
    r.namespaced = api::stringAt(spec, {"scope"}) != "Cluster";
    r.shortNames = strings(api::arrayOrEmpty(names, {"shortNames"}));
    r.categories = strings(api::arrayOrEmpty(names, {"categories"}));
    r.verbs = kAllVerbs;
    r.tracksGeneration = true;
    r.returnsDeletedObject = true;
    auto behavior = std::make_shared<api::CustomResourceBehavior>();
    behavior->crdName = api::stringAt(crd, {"metadata", "name"});
    behavior->terminating = terminating;
    if (const json::object* schema = api::objectAt(version, {"schema", "openAPIV3Schema"})) {
      behavior->schemaJson = *schema;
      try {
        behavior->schema = api::compileSchema(*schema);
        behavior->applySchema = api::buildApplySchema(*schema);
      } catch (const std::exception& e) {
        SKIFF_LOG_WARN("crd {}: version {}: schema not served: {}", behavior->crdName, r.version,
                       e.what());
      }
    }
    behavior->columns = columnsOf(version);
    const json::object& subresources = api::objectOrEmpty(version, {"subresources"});
    if (subresources.contains("status"))
      r.subresources.push_back({"status", group, r.version, r.kind, {"get", "patch", "update"}});
    if (const json::object* scale = api::objectAt(subresources, {"scale"})) {
      r.subresources.push_back({"scale", "autoscaling", "v1", "Scale", {"get", "patch", "update"}});
      behavior->specReplicasPath = api::stringAt(*scale, {"specReplicasPath"});
      behavior->statusReplicasPath = api::stringAt(*scale, {"statusReplicasPath"});
      behavior->labelSelectorPath = api::stringAt(*scale, {"labelSelectorPath"});
    }
    for (const auto& f : api::arrayOrEmpty(version, {"selectableFields"}))
      if (f.is_object()) {
        std::string path = api::stringAt(f.as_object(), {"jsonPath"});
        if (path.starts_with(".")) r.selectableFields.push_back(path.substr(1));
      }
    if (!stored.empty() && stored != r.version) {
      r.storedAsGroup = group;
      r.storedAsVersion = stored;
    }
    r.custom = std::move(behavior);
    out.push_back(std::move(r));
  }
  return out;
}

json::object condition(const std::string& type, const std::string& status,
                       const std::string& reason, const std::string& message,
                       const json::object& crd) {
  // Keep the transition time while the status does not change.
  std::string since = formatTime(std::chrono::system_clock::now());
  for (const auto& c : api::arrayOrEmpty(crd, {"status", "conditions"}))
    if (c.is_object() && api::stringAt(c.as_object(), {"type"}) == type &&
        api::stringAt(c.as_object(), {"status"}) == status)
      since = api::stringAt(c.as_object(), {"lastTransitionTime"}, since);
  return {{"type", type},
          {"status", status},
          {"lastTransitionTime", since},
          {"reason", reason},
          {"message", message}};
}

}  // namespace

struct CrdController::Impl {
  ResourceStore& resources;
  api::ResourceRegistry& registry;
  const ResourceInfo* crds = nullptr;
  ResourceCache* cache = nullptr;
  CacheWatcherHandle watch;
  std::set<std::string> registered;                       // CRD names with entries in the registry
  std::set<std::string> apiServicesSynced{"<none yet>"};  // APIService names last reconciled

  std::mutex mu;
  std::condition_variable cv;
  bool dirty = true, stopping = false;
  std::thread thread;

  Impl(ResourceStore& r, api::ResourceRegistry& reg) : resources(r), registry(reg) {
    crds = registry.find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
    cache = &resources.cache(*crds);
  }

  // Returns whether a CRD is still terminating (so the loop comes back soon).
  bool syncAll() {
    ListOptions all;
    auto current = resources.listObjects(*crds, "", all);
    std::set<std::string> seen;
    bool terminating = false;
    for (const auto& obj : current.items) {
      const std::string name = api::stringAt(*obj, {"metadata", "name"});
      seen.insert(name);
      try {
        terminating |= sync(*obj);
      } catch (const std::exception& e) {
        SKIFF_LOG_WARN("crd {}: {}", name, e.what());
        terminating = true;  // try again soon
      }
    }
    for (auto it = registered.begin(); it != registered.end();) {
      if (seen.contains(*it)) {
        ++it;
        continue;
      }
      registry.setCustom(*it, {});
      it = registered.erase(it);
    }
    syncApiServices();
    return terminating;
  }

  // One local APIService per custom group-version, as upstream's CRD registration controller
  // keeps them (label automanaged=true, group priority 1000, version priority 100), so
  // `kubectl get apiservices` lists them; removed with the last CRD of the group-version.
  void syncApiServices() {
    std::set<std::string> wanted;
    for (const auto& gv : registry.servedGroupVersions())
      if (gv.custom) wanted.insert(gv.version + "." + gv.group);
    if (wanted == apiServicesSynced) return;
    const ResourceInfo* apiServices = registry.find("apiregistration.k8s.io", "v1", "apiservices");
    RequestContext ctx;
    ctx.fieldManager = "kube-apiserver";
    for (const auto& name : wanted) {
      if (apiServicesSynced.contains(name)) continue;
      const std::string version = name.substr(0, name.find('.'));
      const std::string group = name.substr(name.find('.') + 1);
      json::object obj{{"apiVersion", "apiregistration.k8s.io/v1"},
                       {"kind", "APIService"},
                       {"metadata", {{"name", name}, {"labels", {{kAutomanagedLabel, "true"}}}}},
                       {"spec",
                        {{"group", group},
                         {"version", version},
                         {"groupPriorityMinimum", 1000},
                         {"versionPriority", 100}}}};
      try {
        resources.create(*apiServices, "", json::value(std::move(obj)), ctx);
      } catch (const ApiError& e) {
        if (e.code() != 409) throw;
      }
    }
    ListOptions all;
    for (const auto& obj : resources.listObjects(*apiServices, "", all).items) {
      const std::string name = api::stringAt(*obj, {"metadata", "name"});
      if (wanted.contains(name) ||
          api::stringAt(*obj, {"metadata", "labels", kAutomanagedLabel}) != "true")
        continue;
      bool gone = false;
      try {
        resources.remove(*apiServices, "", name, DeleteOptions{}, ctx, gone);
      } catch (const ApiError& e) {
        if (e.code() != 404) throw;
      }
    }
    apiServicesSynced = std::move(wanted);
  }

  bool sync(const json::object& crd) {
    const std::string name = api::stringAt(crd, {"metadata", "name"});
    const bool terminating = api::objectOrEmpty(crd, {"metadata"}).contains("deletionTimestamp");
    registry.setCustom(name, resourcesOf(crd, terminating));
    registered.insert(name);
    if (terminating) return finalize(crd);
    updateStatus(crd);
    return false;
  }

  void updateStatus(const json::object& crd) {
    const json::object& spec = api::objectOrEmpty(crd, {"spec"});
    json::object status = api::objectOrEmpty(crd, {"status"});
    status["acceptedNames"] = acceptedNames(spec);
    json::array conditions;
    conditions.push_back(
        condition("NamesAccepted", "True", "NoConflicts", "no conflicts found", crd));
    conditions.push_back(condition("Established", "True", "InitialNamesAccepted",
                                   "the initial names have been accepted", crd));
    status["conditions"] = std::move(conditions);
    json::array stored = api::arrayOrEmpty(status, {"storedVersions"});
    const std::string version = storageVersion(spec);
    if (!version.empty() &&
        std::find(stored.begin(), stored.end(), json::value(version)) == stored.end())
      stored.push_back(json::value(version));
    status["storedVersions"] = std::move(stored);
    if (const json::value* old = crd.if_contains("status"); old && *old == status) return;
    json::object updated = crd;
    updated["status"] = std::move(status);
    RequestContext ctx;
    ctx.fieldManager = "kube-apiserver";
    try {
      resources.update(*crds, "", api::stringAt(crd, {"metadata", "name"}), "status",
                       std::move(updated), ctx);
    } catch (const ApiError& e) {
      if (e.code() != 409 && e.code() != 404) throw;  // a newer version comes as its own event
    }
  }

  // Deletes the CRD's objects; once none is left, removes the cleanup finalizer.
  bool finalize(const json::object& crd) {
    const std::string name = api::stringAt(crd, {"metadata", "name"});
    const auto& finalizers = api::arrayOrEmpty(crd, {"metadata", "finalizers"});
    if (std::find(finalizers.begin(), finalizers.end(), json::value(kCrdCleanupFinalizer)) ==
        finalizers.end())
      return false;  // other finalizers: not ours to wait for
    const json::object& spec = api::objectOrEmpty(crd, {"spec"});
    const ResourceInfo* info = registry.find(api::stringAt(spec, {"group"}), storageVersion(spec),
                                             api::stringAt(acceptedNames(spec), {"plural"}));
    RequestContext ctx;
    if (info) {
      ListOptions all;
      if (!resources.listObjects(*info, "", all).items.empty()) {
        DeleteOptions options;
        resources.removeCollection(*info, "", all, options, ctx);
        if (!resources.listObjects(*info, "", all).items.empty())
          return true;  // finalizers pending
      }
    }
    json::object updated = crd;
    json::array remaining;
    for (const auto& f : finalizers)
      if (f != json::value(kCrdCleanupFinalizer)) remaining.push_back(f);
    json::object& meta = updated["metadata"].as_object();
    if (remaining.empty())
      meta.erase("finalizers");
    else
      meta["finalizers"] = std::move(remaining);
    try {
      resources.update(*crds, "", name, "", std::move(updated), ctx);
    } catch (const ApiError& e) {
      if (e.code() != 409 && e.code() != 404) throw;
      return true;
    }
    return false;
  }

  void run() {
    setThreadName("crd-controller");
    std::unique_lock lock(mu);
    bool again = false;
    while (!stopping) {
      if (!dirty)
        cv.wait_for(lock, std::chrono::seconds(again ? 1 : 30), [&] { return dirty || stopping; });
      if (stopping) break;
      dirty = false;
      lock.unlock();
      try {
        again = syncAll();
      } catch (const std::exception& e) {
        SKIFF_LOG_WARN("crd controller: {}", e.what());
        again = true;
      }
      lock.lock();
    }
  }

  void markDirty() {
    {
      std::lock_guard lock(mu);
      dirty = true;
    }
    cv.notify_one();
  }
};

CrdController::CrdController(ResourceStore& resources, api::ResourceRegistry& registry)
    : impl_(std::make_unique<Impl>(resources, registry)) {}

CrdController::~CrdController() { stop(); }

void CrdController::start() {
  impl_->syncAll();
  impl_->watch =
      impl_->cache->watch(impl_->resources.listPrefix(*impl_->crds, ""), -1,
                          [impl = impl_.get()](const CacheEvent&) { impl->markDirty(); });
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

void CrdController::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  if (impl_->watch) impl_->cache->unwatch(impl_->watch);
  impl_->watch.reset();
}

void CrdController::syncOnce() { impl_->syncAll(); }

}  // namespace skiff::apiserver
