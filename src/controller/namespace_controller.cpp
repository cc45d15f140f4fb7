// Namespace controller (upstream's namespace-controller): empties a terminating namespace.
//
// A namespace being deleted keeps its "kubernetes" finalizer (spec.finalizers) until this
// controller has deleted every namespaced object in it. Each pass deletes the content of
// every namespaced resource type the server serves (one deletecollection per type), lists
// what is left, records the outcome in the namespace's status conditions as upstream does,
// and, once nothing is left, removes the finalizer through /finalize so the API server
// deletes the namespace. The resource types come from API discovery (controller/discovery.h),
// asked again on each pass (cached for a few seconds), so custom resources and aggregated
// APIs that appear at run time are emptied too. Objects that wait for a kubelet (graceful pod
// deletion) or for finalizers of their own keep it Terminating; the pass is repeated after a delay,
// like upstream's ResourcesRemainingError requeue.
#include <algorithm>
#include <boost/json.hpp>
#include <map>

#include "api/managed_fields_text.h"
#include "common/api_error.h"
#include "common/log.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"
#include "controller/discovery.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;

const std::string kKubernetesFinalizer = "kubernetes";

// The condition types, with the reason and message each has when all is well.
struct ConditionSpec {
  const char* type;
  const char* okReason;
  const char* okMessage;
};
const ConditionSpec kDiscovery{"NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered",
                               "All resources successfully discovered"};
const ConditionSpec kParsing{"NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions",
                             "All legacy kube types successfully parsed"};
const ConditionSpec kContentFailure{
    "NamespaceDeletionContentFailure", "ContentDeleted",
    "All content successfully deleted, may be waiting on finalization"};
const ConditionSpec kRemaining{"NamespaceContentRemaining", "ContentRemoved",
                               "All content successfully removed"};
const ConditionSpec kFinalizers{"NamespaceFinalizersRemaining", "ContentHasNoFinalizers",
                                "All content-preserving finalizers finished"};

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

// What one pass over the namespace's content found.
struct ContentResult {
  std::string discoveryError;  // the served resources could not be listed
  std::vector<std::string> errors;
  std::map<std::string, int64_t> remainingByResource;  // "configmaps." → count
  std::map<std::string, int64_t> remainingByFinalizer;
  int64_t estimateSeconds = 0;  // how long terminating pods may still take
  bool anyRemaining() const { return !remainingByResource.empty(); }
};

class NamespaceController : public QueueController {
 public:
  explicit NamespaceController(ControllerContext& ctx)
      : QueueController(ctx, "namespace", "namespace-controller"),
        namespaces_(ctx.informers.informer(client::resources::namespaces)),
        discovery_(ctx.discovery ? ctx.discovery : std::make_shared<ServerDiscovery>(ctx.client)) {
    auto maybeEnqueue = [this](const json::object& ns) {
      if (isBeingDeleted(ns)) enqueueKey(nameOf(ns));
    };
    namespaces_.addEventHandler({
        .onAdd = maybeEnqueue,
        .onUpdate = [maybeEnqueue](const json::object&,
                                   const json::object& ns) { maybeEnqueue(ns); },
    });
  }

 protected:
  void sync(const std::string& name) override {
    auto cached = namespaces_.get(name);
    if (!cached || !isBeingDeleted(*cached)) return;
    json::object ns;
    try {
      ns = client_.get(client::resources::namespaces, "", name);
    } catch (const ApiError& e) {
      if (e.code() == 404) return;
      throw;
    }
    if (!isBeingDeleted(ns) || !hasSpecFinalizer(ns)) return;

    ContentResult result = deleteAllContent(name);
    // The namespace as written: finalizing from the copy read before would conflict.
    ns = updateConditions(std::move(ns), result);
    if (!result.discoveryError.empty())
      throw std::runtime_error("namespace " + name +
                               ": discovery failed: " + result.discoveryError);
    if (!result.errors.empty())
      throw std::runtime_error("namespace " + name + ": " + join(result.errors));
    if (result.anyRemaining()) {
      // Like upstream: wait about half of what terminating pods may still take, at least 1 s.
      enqueueAfter(name, std::chrono::seconds(result.estimateSeconds / 2 + 1));
      return;
    }
    finalize(ns);
  }

 private:
  static bool hasSpecFinalizer(const json::object& ns) {
    const json::array* finalizers = arrayAt(ns, {"spec", "finalizers"});
    if (!finalizers) return false;
    for (const auto& f : *finalizers)
      if (f.is_string() && f.as_string() == kKubernetesFinalizer) return true;
    return false;
  }

  ContentResult deleteAllContent(const std::string& ns) {
    ContentResult result;
    std::vector<DiscoveredResource> served;
    try {
      served = discovery_->resources();
    } catch (const std::exception& e) {
      result.discoveryError = e.what();
      return result;
    }
    for (const auto& r : served) {
      // Every stored namespaced type once (other versions share the objects).
      if (!r.namespaced || r.aliasOfAnotherResource() || !r.supports("list") ||
          (!r.supports("deletecollection") && !r.supports("delete")))
        continue;
      client::Resource resource = r.ref();
      try {
        deleteContent(r, resource, ns);
        auto items = client_.listAll(resource, ns)["items"].as_array();
        if (items.empty()) continue;
        result.remainingByResource[r.resource + "." + r.group] += items.size();
        for (const auto& item : items) {
          if (!item.is_object()) continue;
          const auto& obj = item.as_object();
          if (const json::array* fins = arrayAt(obj, {"metadata", "finalizers"}))
            for (const auto& f : *fins)
              if (f.is_string()) result.remainingByFinalizer[std::string(f.as_string())] += 1;
          if (r.group.empty() && r.resource == "pods") {
            int64_t grace = intAt(obj, {"metadata", "deletionGracePeriodSeconds"});
            result.estimateSeconds = std::max(result.estimateSeconds, grace);
          }
        }
      } catch (const ApiError& e) {
        if (e.code() == 404) continue;  // the type is not served after all
        result.errors.push_back(e.what());
      } catch (const std::exception& e) {
        result.errors.push_back(e.what());
      }
    }
    return result;
  }

  // Background deletion of everything of one type, in one call when the type allows it.
  void deleteContent(const DiscoveredResource& info, const client::Resource& resource,
                     const std::string& ns) {
    json::object options{
        {"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", "Background"}};
    if (info.supports("deletecollection")) {
      try {
        client_.request("DELETE", resource.path(ns), json::serialize(options));
        return;
      } catch (const ApiError& e) {
        if (e.code() != 405) throw;
      }
    }
    json::object list = client_.listAll(resource, ns);
    for (const auto& item : list["items"].as_array()) {
      if (!item.is_object() || isBeingDeleted(item.as_object())) continue;
      try {
        client_.remove(resource, ns, nameOf(item.as_object()), options);
      } catch (const ApiError& e) {
        if (e.code() != 404) throw;
      }
    }
  }

  // Returns the namespace as the server has it after the conditions were written.
  json::object updateConditions(json::object ns, const ContentResult& result) {
    bool changed = false;
    auto put = [&](const ConditionSpec& spec, bool failing, const std::string& reason,
                   const std::string& message) {
      changed |= failing ? setCondition(ns, spec.type, "True", reason, message)
                         : setCondition(ns, spec.type, "False", spec.okReason, spec.okMessage);
    };
    put(kDiscovery, !result.discoveryError.empty(), "DiscoveryFailed",
        "Discovery failed for some groups, 1 failing: " + result.discoveryError);
    // Group-versions come from discovery documents, already parsed: this cannot fail here.
    put(kParsing, false, "", "");
    put(kContentFailure, !result.errors.empty(), "ContentDeletionFailed",
        "Failed to delete all resource types, " + std::to_string(result.errors.size()) +
            " remaining: " + join(result.errors));
    std::vector<std::string> remaining, finalizers;
    for (const auto& [resource, count] : result.remainingByResource)
      remaining.push_back(resource + " has " + std::to_string(count) + " resource instances");
    for (const auto& [finalizer, count] : result.remainingByFinalizer)
      finalizers.push_back(finalizer + " in " + std::to_string(count) + " resource instances");
    put(kRemaining, !remaining.empty(), "SomeResourcesRemain",
        "Some resources are remaining: " + join(remaining));
    put(kFinalizers, !finalizers.empty(), "SomeFinalizersRemain",
        "Some content in the namespace has finalizers remaining: " + join(finalizers));
    if (!changed) return ns;
    try {
      return client_.updateStatus(client::resources::namespaces, "", ns);
    } catch (const ApiError& e) {
      // A conflict or a namespace already gone: the next pass writes the conditions again.
      if (e.code() != 409 && e.code() != 404) throw;
    }
    return ns;
  }

  void finalize(json::object ns) {
    json::array kept;
    if (const json::array* finalizers = arrayAt(ns, {"spec", "finalizers"}))
      for (const auto& f : *finalizers)
        if (!(f.is_string() && f.as_string() == kKubernetesFinalizer)) kept.push_back(f);
    ensureObject(ns, {"spec"})["finalizers"] = std::move(kept);
    try {
      client_.request("PUT", client::resources::namespaces.path("", nameOf(ns), "finalize"),
                      api::objectJson(ns));
      SKIFF_LOG_INFO("namespace controller: namespace {} emptied and finalized", nameOf(ns));
    } catch (const ApiError& e) {
      if (e.code() != 404) throw;
    }
  }

  client::SharedInformer& namespaces_;
  std::shared_ptr<ResourceDiscovery> discovery_;
};

ControllerRegistration reg("namespace", [](ControllerContext& ctx) {
  return std::make_unique<NamespaceController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
