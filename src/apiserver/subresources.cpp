// Subresources with shapes of their own: scale (autoscaling/v1 Scale), pods/binding,
// pods/eviction, namespaces/finalize; and the SelfSubject*Review resources.
#include <boost/json.hpp>

#include "api/custom_resource.h"
#include "api/go_text.h"
#include "api/json_access.h"
#include "api/json_patch.h"
#include "api/jsonpath.h"
#include "api/label_selector.h"
#include "api/merge_patch.h"
#include "api/resource_registry.h"
#include "api/unknown_fields.h"
#include "apiserver/content.h"
#include "apiserver/eviction.h"
#include "apiserver/field_manager.h"
#include "apiserver/resource_handler.h"
#include "common/api_error.h"

namespace skiff::apiserver {

namespace json = boost::json;
using api::ResourceInfo;

namespace {

json::object successStatus(int code, const std::string& name, const std::string& kind) {
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", json::object()},
          {"status", "Success"},
          {"details", {{"name", name}, {"kind", kind}}},
          {"code", code}};
}

// A custom resource's scale paths (".spec.replicas") as field lists.
std::vector<std::string> scalePath(const std::string& jsonPath) {
  auto path = api::JsonPath::parse(jsonPath);
  auto fields = path ? path->fields() : std::nullopt;
  return fields ? *fields : std::vector<std::string>{};
}

const json::value* valueAtPath(const json::object& obj, const std::string& jsonPath) {
  auto path = api::JsonPath::parse(jsonPath);
  if (!path) return nullptr;
  auto found = path->find(obj);
  return found.empty() ? nullptr : found.front();
}

json::object toScale(const ResourceInfo& info, const json::object& obj) {
  const json::object& meta = obj.at("metadata").as_object();
  json::object scaleMeta;
  for (const char* f : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"})
    if (auto* v = meta.if_contains(f)) scaleMeta[f] = *v;
  int64_t desired = 0, current = 0;
  std::string selector;
  if (const auto* custom = info.custom.get()) {
    // Upstream's CRD scale: the paths the CRD names; the selector is a string already.
    if (const json::value* r = valueAtPath(obj, custom->specReplicasPath); r && r->is_number())
      desired = static_cast<int64_t>(r->to_number<double>());
    if (const json::value* r = valueAtPath(obj, custom->statusReplicasPath); r && r->is_number())
      current = static_cast<int64_t>(r->to_number<double>());
    if (!custom->labelSelectorPath.empty())
      if (const json::value* sel = valueAtPath(obj, custom->labelSelectorPath);
          sel && sel->is_string())
        selector = std::string(sel->as_string());
  } else if (const json::object* spec = api::objectField(obj, "spec")) {
    if (auto* r = spec->if_contains("replicas"); r && r->is_int64()) desired = r->as_int64();
    if (auto* s = spec->if_contains("selector")) {
      // ReplicationControllers use a plain map; apps kinds a LabelSelector.
      json::value sel = *s;
      if (sel.is_object() && !sel.as_object().contains("matchLabels") &&
          !sel.as_object().contains("matchExpressions"))
        sel = json::object{{"matchLabels", sel}};
      selector = api::LabelSelector::fromJson(sel).toString();
    }
  }
  if (const json::object* status = api::objectField(obj, "status"); status && !info.custom)
    if (auto* r = status->if_contains("replicas"); r && r->is_int64()) current = r->as_int64();
  json::object scaleStatus{{"replicas", current}};
  if (!selector.empty()) scaleStatus["selector"] = selector;
  return {{"kind", "Scale"},
          {"apiVersion", "autoscaling/v1"},
          {"metadata", std::move(scaleMeta)},
          {"spec", {{"replicas", desired}}},
          {"status", std::move(scaleStatus)}};
}

// A Scale body is decoded into autoscaling/v1 Scale upstream: wrong types are refused with the
// decoder's words, as for any write (api/type_check.h); a patch with the patch's 422.
void checkScaleTypes(json::object& scale, const std::string& patchType, const json::value& patch) {
  const bool strategic = patchType == "application/strategic-merge-patch+json";
  // The patched Scale as the message shows it, before the walk prunes it (a Scale is small).
  json::object shown = patchType.empty() || strategic ? json::object() : scale;
  auto checked = api::checkAndPrune(
      scale, api::FieldSchemas::builtin().root("io.k8s.api.autoscaling.v1.Scale"),
      strategic ? api::Decoding::Unstructured : api::Decoding::Json);
  if (!checked.typeError) return;
  if (patchType.empty()) throw api::DecodeError("Scale", "v1", *checked.typeError);
  if (strategic) throw api::patchDecodeError(api::goFormat(patch), *checked.typeError);
  throw api::patchDecodeError(
      api::patchedObjectText(std::move(shown), patch, patchType == "application/json-patch+json"),
      *checked.typeError);
}

HttpResponse scale(ResourceStore& store, const RequestInfo& ri, HttpRequest& req,
                   RequestContext& ctx) {
  const ResourceInfo& info = *ri.info;
  if (req.method == "GET")
    return objectResponse(200, toScale(info, store.get(info, ri.namespaceName, ri.name)),
                          negotiate(req));
  if (req.method != "PUT" && req.method != "PATCH")
    throw methodNotSupported(info.qualifiedResource() + "/scale", req.method);
  const std::string k = store.key(info, ri.namespaceName, ri.name);
  for (int attempt = 0;; ++attempt) {
    auto current = store.readForUpdate(info, k);
    if (!current) throw notFound(info.qualifiedResource(), ri.name);
    auto& [old, modRevision] = *current;
    json::object oldScale = toScale(info, old);
    json::value newScale;
    json::value patch;
    const std::string type = req.method == "PUT" ? "" : mediaType(req.header("content-type"));
    if (req.method == "PUT") {
      newScale = decodeRequestBody(req);
    } else {
      patch = decodeRequestBody(req);
      if (type == "application/json-patch+json")
        newScale = api::applyJsonPatch(oldScale, patch);
      else if (type == "application/merge-patch+json" ||
               type == "application/strategic-merge-patch+json")
        newScale = api::applyMergePatch(oldScale, patch);
      else
        throw unsupportedMediaType(type);
    }
    if (!newScale.is_object()) throw badRequest("Scale must be an object");
    checkScaleTypes(newScale.as_object(), type, patch);
    const json::object* spec = api::objectField(newScale.as_object(), "spec");
    const json::value* replicas = spec ? spec->if_contains("replicas") : nullptr;
    if (!replicas || !replicas->is_int64() || replicas->as_int64() < 0)
      throw invalid("Scale", "autoscaling", ri.name,
                    {{"FieldValueInvalid", "Invalid value: must be greater than or equal to 0",
                      "spec.replicas"}});
    std::string wantedRv;
    if (auto* meta = api::objectField(newScale.as_object(), "metadata"))
      if (auto* rv = meta->if_contains("resourceVersion"); rv && rv->is_string())
        wantedRv = std::string(rv->as_string());
    if (req.method == "PUT" && !wantedRv.empty() && wantedRv != std::to_string(modRevision))
      throw staleObjectConflict(info.qualifiedResource(), ri.name);
    json::object updated = old;
    if (info.custom) {
      auto fields = scalePath(info.custom->specReplicasPath);
      if (fields.empty()) throw internalError("the scale subresource has no specReplicasPath");
      json::object* at = &updated;
      for (size_t i = 0; i + 1 < fields.size(); ++i) {
        json::value& next = (*at)[fields[i]];
        if (!next.is_object()) next.emplace_object();
        at = &next.as_object();
      }
      (*at)[fields.back()] = replicas->as_int64();
    } else {
      updated["spec"].as_object()["replicas"] = replicas->as_int64();
    }
    ctx.managedSubresource = "scale";  // managedFields name the scale subresource, as upstream
    try {
      ObjectPtr result = store.commitUpdate(info, k, std::move(updated), old, modRevision, "", ctx);
      return objectResponse(200, toScale(info, *result), negotiate(req));
    } catch (const ApiError& e) {
      if (e.code() != 409 || attempt >= kMaxCasRetries || req.method == "PUT") throw;
    }
  }
}

// Sets the PodScheduled condition to True, as upstream's UpdatePodCondition: an existing one
// (PodScheduled=False from a failed attempt) is replaced, keeping its transition time only
// when the status does not change.
void setPodScheduled(json::object& pod) {
  json::value& status = pod["status"];
  if (!status.is_object()) status.emplace_object();
  json::value& conditions = status.as_object()["conditions"];
  if (!conditions.is_array()) conditions.emplace_array();
  json::object scheduled{{"type", "PodScheduled"},
                         {"status", "True"},
                         {"lastProbeTime", nullptr},
                         {"lastTransitionTime", nowTimestamp()}};
  for (json::value& c : conditions.as_array()) {
    json::object* existing = c.if_object();
    if (!existing || api::stringField(*existing, "type") != "PodScheduled") continue;
    if (api::stringField(*existing, "status") == "True")
      if (const json::value* t = existing->if_contains("lastTransitionTime"))
        scheduled["lastTransitionTime"] = *t;
    c = std::move(scheduled);
    return;
  }
  conditions.as_array().push_back(std::move(scheduled));
}

// pods/binding: spec.nodeName, the Binding's annotations and PodScheduled=True in one write,
// as upstream's BindingREST, so watchers see one event per bind.
HttpResponse binding(ResourceStore& store, const RequestInfo& ri, HttpRequest& req,
                     RequestContext& ctx) {
  if (req.method != "POST") throw methodNotSupported("pods/binding", req.method);
  json::value body = decodeRequestBody(req);
  api::checkBodyTypes(body, "io.k8s.api.core.v1.Binding", "Binding", "v1");
  const json::object* target =
      body.is_object() ? api::objectField(body.as_object(), "target") : nullptr;
  const json::value* node = target ? target->if_contains("name") : nullptr;
  if (!node || !node->is_string() || node->as_string().empty())
    throw invalid("Binding", "", ri.name,
                  {{"FieldValueRequired", "Required value", "target.name"}});
  const json::object* bindingMeta = api::objectField(body.as_object(), "metadata");
  const ResourceInfo& info = *ri.info;
  const std::string k = store.key(info, ri.namespaceName, ri.name);
  auto current = store.readCurrent(k);
  if (!current) throw notFound("pods", ri.name);
  const json::object& pod = *current->first;
  const int64_t modRevision = current->second;
  const json::object& meta = pod.at("metadata").as_object();
  if (std::string uid = bindingMeta ? api::stringField(*bindingMeta, "uid") : "";
      !uid.empty() && uid != api::stringField(meta, "uid"))
    throw conflict("pods", ri.name,
                   "Precondition failed: UID in precondition: " + uid +
                       ", UID in object meta: " + api::stringField(meta, "uid"));
  const json::object& spec = pod.at("spec").as_object();
  if (auto* existing = spec.if_contains("nodeName");
      existing && existing->is_string() && !existing->as_string().empty())
    throw conflict("pods", ri.name,
                   "pod " + ri.name + " is already assigned to node \"" +
                       std::string(existing->as_string()) + "\"");
  if (meta.contains("deletionTimestamp"))
    throw conflict("pods", ri.name,
                   "pod " + ri.name + " is being deleted, cannot be assigned to a host");
  json::object updated = pod;
  updated["spec"].as_object()["nodeName"] = *node;
  if (const json::object* annotations =
          bindingMeta ? api::objectField(*bindingMeta, "annotations") : nullptr) {
    json::value& podAnnotations = updated["metadata"].as_object()["annotations"];
    if (!podAnnotations.is_object()) podAnnotations.emplace_object();
    for (const auto& a : *annotations) podAnnotations.as_object()[a.key()] = a.value();
  }
  setPodScheduled(updated);
  store.commitUpdate(info, k, std::move(updated), pod, modRevision, "binding", ctx);
  return objectResponse(201, successStatus(201, ri.name, "pods"), negotiate(req));
}

// --- pods/eviction

const std::string kDisruptionBudgetMessage =
    "Cannot evict pod as it would violate the pod's disruption budget.";
// Upstream's MaxDisruptedPodSize: beyond this many unconfirmed evictions a budget refuses.
constexpr size_t kMaxDisruptedPods = 2000;
// Attempts on write conflicts (upstream's EvictionsRetry has 20 steps).
constexpr int kEvictionAttempts = 20;

int64_t intAtKey(const json::object* o, std::string_view k) {
  if (!o) return 0;
  const json::value* v = o->if_contains(k);
  if (v && v->is_int64()) return v->as_int64();
  if (v && v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return 0;
}

const json::object& metaOf(const json::object& obj) {
  static const json::object empty;
  const json::object* m = api::objectField(obj, "metadata");
  return m ? *m : empty;
}

bool podReady(const json::object& pod) {
  const json::object* status = api::objectField(pod, "status");
  const json::value* conds = status ? status->if_contains("conditions") : nullptr;
  if (!conds || !conds->is_array()) return false;
  for (const auto& c : conds->as_array())
    if (c.is_object() && api::stringField(c.as_object(), "type") == "Ready")
      return api::stringField(c.as_object(), "status") == "True";
  return false;
}

std::string podPhaseOf(const json::object& pod) {
  const json::object* status = api::objectField(pod, "status");
  return status ? api::stringField(*status, "phase") : "";
}

// Terminal, pending and terminating pods are deleted without consulting any budget: they
// are either not running or already disrupted.
bool canIgnoreBudget(const json::object& pod) {
  std::string phase = podPhaseOf(pod);
  return phase == "Succeeded" || phase == "Failed" || phase == "Pending" ||
         metaOf(pod).contains("deletionTimestamp");
}

// Pods that may still become ready are deleted at the resourceVersion the decision saw, so
// a pod turning healthy meanwhile is not removed behind the budget's back.
bool shouldPinResourceVersion(const json::object& pod) {
  std::string phase = podPhaseOf(pod);
  return phase != "Succeeded" && phase != "Failed" && !metaOf(pod).contains("deletionTimestamp");
}

// Sets (or replaces) condition `cond` in obj.status.conditions; keeps lastTransitionTime
// when the status did not change. Returns whether anything changed.
bool putCondition(json::object& obj, json::object cond) {
  json::value& status = obj["status"];
  if (!status.is_object()) status.emplace_object();
  json::value& conds = status.as_object()["conditions"];
  if (!conds.is_array()) conds.emplace_array();
  std::string type = api::stringField(cond, "type");
  for (auto& c : conds.as_array()) {
    if (!c.is_object() || api::stringField(c.as_object(), "type") != type) continue;
    json::object& old = c.as_object();
    if (api::stringField(old, "status") == api::stringField(cond, "status")) {
      if (auto* t = old.if_contains("lastTransitionTime")) cond["lastTransitionTime"] = *t;
    }
    bool same = true;
    for (const auto& kv : cond)
      if (kv.key() != "lastProbeTime" &&
          (!old.contains(kv.key()) || old.at(kv.key()) != kv.value()))
        same = false;
    if (same) return false;
    old = std::move(cond);
    return true;
  }
  conds.as_array().push_back(std::move(cond));
  return true;
}

// Marks the pod with DisruptionTarget=True (so its owner knows why it goes), then deletes it
// with the eviction's options. The condition write moves the resourceVersion: a pinned
// precondition follows it.
void addConditionAndDelete(ResourceStore& store, const ResourceInfo& pods, const std::string& ns,
                           const std::string& name, DeleteOptions options, RequestContext& ctx) {
  if (!ctx.dryRun) {
    const std::string k = store.key(pods, ns, name);
    auto current = store.readForUpdate(pods, k);
    if (!current) throw notFound("pods", name);
    auto& [pod, modRevision] = *current;
    std::string uid = api::stringField(metaOf(pod), "uid");
    if (!options.preconditionUid.empty() && options.preconditionUid != uid)
      throw conflict("pods", name,
                     "Precondition failed: UID in precondition: " + options.preconditionUid +
                         ", UID in object meta: " + uid);
    if (!options.preconditionResourceVersion.empty() &&
        options.preconditionResourceVersion != std::to_string(modRevision))
      throw conflict("pods", name,
                     "Precondition failed: ResourceVersion in precondition: " +
                         options.preconditionResourceVersion +
                         ", ResourceVersion in object meta: " + std::to_string(modRevision));
    json::object updated = pod;
    if (putCondition(updated, json::object{{"type", "DisruptionTarget"},
                                           {"status", "True"},
                                           {"lastProbeTime", nullptr},
                                           {"lastTransitionTime", nowTimestamp()},
                                           {"reason", "EvictionByEvictionAPI"},
                                           {"message", "Eviction API: evicting"}})) {
      RequestContext statusCtx;
      keepManagedFields(statusCtx, pod);
      ObjectPtr written =
          store.commitUpdate(pods, k, std::move(updated), pod, modRevision, "status", statusCtx);
      if (!options.preconditionResourceVersion.empty())
        options.preconditionResourceVersion = api::stringField(metaOf(*written), "resourceVersion");
    }
  }
  bool gone = false;
  store.remove(pods, ns, name, options, ctx, gone);
}

// The budgets whose selector matches the pod. A budget with an empty or null selector
// guards nothing here (it must not block every eviction of the namespace by accident).
std::vector<json::object> budgetsFor(ResourceStore& store, const ResourceInfo& pdbs,
                                     const json::object& pod) {
  std::vector<json::object> out;
  auto list = store.listObjects(pdbs, api::stringField(metaOf(pod), "namespace"), {});
  const json::object* labels = api::objectField(metaOf(pod), "labels");
  for (const auto& item : list.items) {
    const json::object* spec = api::objectField(*item, "spec");
    const json::value* sel = spec ? spec->if_contains("selector") : nullptr;
    if (!sel) continue;
    try {
      auto selector = api::LabelSelector::fromJson(*sel);
      if (selector.empty() || selector.matchesNothing() || !selector.matches(labels)) continue;
    } catch (const ApiError&) {
      continue;
    }
    out.push_back(*item);
  }
  return out;
}

ApiError budgetViolation(const std::string& cause, int retryAfter) {
  ApiError e = tooManyRequests(kDisruptionBudgetMessage, retryAfter);
  e.causes.push_back({"DisruptionBudget", cause, ""});
  return e;
}

// Verifies the budget allows one more disruption and records it (disruptionsAllowed - 1,
// the pod in disruptedPods) with a compare-and-swap on the budget, re-reading it on
// conflicts. Throws when the budget refuses.
void checkAndDecrement(ResourceStore& store, const ResourceInfo& pdbs, const std::string& ns,
                       const std::string& pdbName, const std::string& podName, bool dryRun) {
  const std::string k = store.key(pdbs, ns, pdbName);
  for (int attempt = 0; attempt < kEvictionAttempts; ++attempt) {
    auto current = store.readForUpdate(pdbs, k);
    if (!current) throw notFound("poddisruptionbudgets.policy", pdbName);
    auto& [pdb, modRevision] = *current;
    const json::object* status = api::objectField(pdb, "status");
    if (intAtKey(status, "observedGeneration") < intAtKey(&metaOf(pdb), "generation"))
      throw budgetViolation(
          "The disruption budget " + pdbName + " is still being processed by the server.", 10);
    int64_t allowed = intAtKey(status, "disruptionsAllowed");
    if (allowed < 0)
      throw forbidden("poddisruptionbudgets.policy", pdbName,
                      "pdb disruptions allowed is negative");
    const json::object* disrupted = status ? api::objectField(*status, "disruptedPods") : nullptr;
    if (disrupted && disrupted->size() > kMaxDisruptedPods)
      throw forbidden(
          "poddisruptionbudgets.policy", pdbName,
          "DisruptedPods map too big - too many evictions not confirmed by PDB controller");
    if (allowed == 0)
      throw budgetViolation("The disruption budget " + pdbName + " needs " +
                                std::to_string(intAtKey(status, "desiredHealthy")) +
                                " healthy pods and has " +
                                std::to_string(intAtKey(status, "currentHealthy")) + " currently",
                            0);
    if (dryRun) return;

    json::object updated = pdb;
    json::value& st = updated["status"];
    if (!st.is_object()) st.emplace_object();
    st.as_object()["disruptionsAllowed"] = allowed - 1;
    if (allowed - 1 == 0)
      putCondition(updated,
                   json::object{{"type", "DisruptionAllowed"},
                                {"status", "False"},
                                {"observedGeneration", intAtKey(status, "observedGeneration")},
                                {"lastTransitionTime", nowTimestamp()},
                                {"reason", "InsufficientPods"},
                                {"message", ""}});
    json::value& dp = st.as_object()["disruptedPods"];
    if (!dp.is_object()) dp.emplace_object();
    // The disruption controller stops counting this pod as healthy until it is gone (or
    // two minutes pass).
    dp.as_object()[podName] = nowTimestamp();
    RequestContext statusCtx;
    keepManagedFields(statusCtx, pdb);
    try {
      store.commitUpdate(pdbs, k, std::move(updated), pdb, modRevision, "status", statusCtx);
      return;
    } catch (const ApiError& e) {
      if (e.code() != 409) throw;
    }
  }
  ApiError timeout(
      504, "Timeout",
      "Timeout: couldn't update PodDisruptionBudget \"" + pdbName + "\" due to conflicts");
  timeout.retryAfterSeconds = 10;
  throw timeout;
}

DeleteOptions evictionDeleteOptions(const json::value& body, RequestContext& ctx) {
  DeleteOptions options;
  const json::object* d =
      body.is_object() ? api::objectField(body.as_object(), "deleteOptions") : nullptr;
  if (!d) return options;
  if (auto* g = d->if_contains("gracePeriodSeconds"); g && g->is_int64())
    options.gracePeriodSeconds = g->as_int64();
  options.propagationPolicy = api::stringField(*d, "propagationPolicy");
  if (const json::object* pre = api::objectField(*d, "preconditions")) {
    options.preconditionUid = api::stringField(*pre, "uid");
    options.preconditionResourceVersion = api::stringField(*pre, "resourceVersion");
  }
  if (auto* dr = d->if_contains("dryRun"); dr && dr->is_array() && !dr->as_array().empty()) {
    for (const auto& v : dr->as_array())
      if (!v.is_string() || v.as_string() != "All")
        throw badRequest("unsupported dryRun value in deleteOptions: only All");
    ctx.dryRun = true;
  }
  return options;
}

HttpResponse eviction(ResourceStore& store, const RequestInfo& ri, HttpRequest& req,
                      RequestContext& ctx) {
  if (req.method != "POST") throw methodNotSupported("pods/eviction", req.method);
  json::value body = decodeRequestBody(req);
  {
    // policy/v1beta1 Evictions are still accepted; each is decoded as its own version.
    const json::value* apiVersion =
        body.is_object() ? body.as_object().if_contains("apiVersion") : nullptr;
    const std::string version =
        apiVersion && apiVersion->is_string() && apiVersion->as_string() == "policy/v1beta1"
            ? "v1beta1"
            : "v1";
    api::checkBodyTypes(body, "io.k8s.api.policy." + version + ".Eviction", "Eviction", version);
  }
  EvictionOutcome out = evictPod(store, ri.namespaceName, ri.name, body, ctx);
  return objectResponse(out.code, out.status, negotiate(req));
}

HttpResponse finalize(ResourceStore& store, const RequestInfo& ri, HttpRequest& req,
                      RequestContext& ctx) {
  if (req.method != "PUT") throw methodNotSupported("namespaces/finalize", req.method);
  json::value body = decodeRequestBody(req);
  const ResourceInfo& info = *ri.info;
  const std::string k = store.key(info, "", ri.name);
  auto current = store.readForUpdate(info, k);
  if (!current) throw notFound("namespaces", ri.name);
  auto& [ns, modRevision] = *current;
  json::object updated = ns;
  json::array finalizers;
  if (body.is_object())
    if (const json::object* spec = api::objectField(body.as_object(), "spec"))
      if (auto* f = spec->if_contains("finalizers"); f && f->is_array()) finalizers = f->as_array();
  updated["spec"].as_object()["finalizers"] = finalizers;
  ObjectPtr result =
      store.commitUpdate(info, k, std::move(updated), ns, modRevision, "finalize", ctx);
  return objectResponse(200, *result, negotiate(req));
}

}  // namespace

EvictionOutcome evictPod(ResourceStore& store, const std::string& ns, const std::string& name,
                         const json::value& body, RequestContext& ctx) {
  if (!body.is_object()) throw badRequest("the Eviction must be an object");
  if (const json::object* meta = api::objectField(body.as_object(), "metadata")) {
    std::string bodyName = api::stringField(*meta, "name");
    if (!bodyName.empty() && bodyName != name)
      throw badRequest("name in URL does not match name in Eviction object");
  }
  const DeleteOptions original = evictionDeleteOptions(body, ctx);
  const auto& registry = api::ResourceRegistry::builtin();
  const ResourceInfo& pods = *registry.find("", "v1", "pods");
  const ResourceInfo& pdbs = *registry.find("policy", "v1", "poddisruptionbudgets");
  auto success = [&] { return EvictionOutcome{201, successStatus(201, name, "pods")}; };

  // Pods the budget does not concern are deleted directly; a conflict on the pinned
  // resourceVersion means the pod changed under us: look again.
  json::object pod;
  for (int attempt = 0;; ++attempt) {
    pod = store.get(pods, ns, name);
    if (!canIgnoreBudget(pod)) break;
    DeleteOptions options = original;
    if (shouldPinResourceVersion(pod) && options.preconditionResourceVersion.empty())
      options.preconditionResourceVersion = api::stringField(metaOf(pod), "resourceVersion");
    try {
      addConditionAndDelete(store, pods, ns, name, options, ctx);
      return success();
    } catch (const ApiError& e) {
      bool retriable = e.code() == 409 && original.preconditionResourceVersion.empty();
      if (!retriable || attempt + 1 >= kEvictionAttempts) throw;
    }
  }

  auto budgets = budgetsFor(store, pdbs, pod);
  if (budgets.size() > 1)
    return EvictionOutcome{
        500, json::object{{"kind", "Status"},
                          {"apiVersion", "v1"},
                          {"metadata", json::object()},
                          {"status", "Failure"},
                          {"message",
                           "This pod has more than one PodDisruptionBudget, which the eviction "
                           "subresource does not support."},
                          {"code", 500}}};
  DeleteOptions options = original;
  if (budgets.size() == 1) {
    const json::object& pdb = budgets.front();
    const std::string pdbName = api::stringField(metaOf(pdb), "name");
    const json::object* spec = api::objectField(pdb, "spec");
    const json::object* status = api::objectField(pdb, "status");
    bool skipBudget = false;
    if (!podReady(pod)) {
      // An unready pod does not count as healthy, so removing it costs the budget nothing:
      // always with AlwaysAllow, and with the default IfHealthyBudget while the budget is met.
      bool alwaysAllow =
          spec && api::stringField(*spec, "unhealthyPodEvictionPolicy") == "AlwaysAllow";
      int64_t current = intAtKey(status, "currentHealthy"),
              desired = intAtKey(status, "desiredHealthy");
      skipBudget = alwaysAllow || (current >= desired && desired > 0);
    }
    if (skipBudget) {
      // ... as long as it is still the unready pod we looked at.
      if (options.preconditionResourceVersion.empty())
        options.preconditionResourceVersion = api::stringField(metaOf(pod), "resourceVersion");
    } else {
      checkAndDecrement(store, pdbs, ns, pdbName, name, ctx.dryRun);
    }
  }
  addConditionAndDelete(store, pods, ns, name, options, ctx);
  return success();
}

HttpResponse handleSpecialSubresource(ResourceStore& store, const RequestInfo& ri, HttpRequest& req,
                                      RequestContext& ctx) {
  if (ri.name.empty())
    throw ApiError(404, "NotFound", "the server could not find the requested resource");
  if (ri.subresource == "scale") return scale(store, ri, req, ctx);
  if (ri.subresource == "binding") return binding(store, ri, req, ctx);
  if (ri.subresource == "eviction") return eviction(store, ri, req, ctx);
  if (ri.subresource == "finalize") return finalize(store, ri, req, ctx);
  throw ApiError(404, "NotFound", "the server could not find the requested resource");
}

}  // namespace skiff::apiserver
