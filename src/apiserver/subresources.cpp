// Subresources with shapes of their own: scale (autoscaling/v1 Scale), pods/binding,
// pods/eviction, namespaces/finalize; and the SelfSubject*Review resources.
#include <boost/json.hpp>

#include "api/json_patch.h"
#include "api/label_selector.h"
#include "api/merge_patch.h"
#include "apiserver/content.h"
#include "apiserver/resource_handler.h"
#include "common/api_error.h"

namespace skiff::apiserver {

namespace json = boost::json;
using api::ResourceInfo;

namespace {

const json::object* objectAt(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

json::object successStatus(int code, const std::string& name, const std::string& kind) {
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", json::object()},
          {"status", "Success"},
          {"details", {{"name", name}, {"kind", kind}}},
          {"code", code}};
}

json::object toScale(const json::object& obj) {
  const json::object& meta = obj.at("metadata").as_object();
  json::object scaleMeta;
  for (const char* f : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"})
    if (auto* v = meta.if_contains(f)) scaleMeta[f] = *v;
  int64_t desired = 0, current = 0;
  std::string selector;
  if (const json::object* spec = objectAt(obj, "spec")) {
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
  if (const json::object* status = objectAt(obj, "status"))
    if (auto* r = status->if_contains("replicas"); r && r->is_int64()) current = r->as_int64();
  json::object scaleStatus{{"replicas", current}};
  if (!selector.empty()) scaleStatus["selector"] = selector;
  return {{"kind", "Scale"},
          {"apiVersion", "autoscaling/v1"},
          {"metadata", std::move(scaleMeta)},
          {"spec", {{"replicas", desired}}},
          {"status", std::move(scaleStatus)}};
}

HttpResponse scale(ResourceStore& store, const RequestInfo& ri, HttpRequest& req,
                   RequestContext& ctx) {
  const ResourceInfo& info = *ri.info;
  if (req.method == "GET")
    return objectResponse(200, toScale(store.get(info, ri.namespaceName, ri.name)), negotiate(req));
  if (req.method != "PUT" && req.method != "PATCH")
    throw methodNotSupported(info.qualifiedResource() + "/scale", req.method);
  const std::string k = store.key(info, ri.namespaceName, ri.name);
  for (int attempt = 0;; ++attempt) {
    auto current = store.readForUpdate(info, k);
    if (!current) throw notFound(info.qualifiedResource(), ri.name);
    auto& [old, modRevision] = *current;
    json::object oldScale = toScale(old);
    json::value newScale;
    if (req.method == "PUT") {
      newScale = decodeRequestBody(req);
    } else {
      std::string type = req.header("content-type");
      type = type.substr(0, type.find(';'));
      json::value patch = decodeRequestBody(req);
      if (type == "application/json-patch+json") newScale = api::applyJsonPatch(oldScale, patch);
      else if (type == "application/merge-patch+json" ||
               type == "application/strategic-merge-patch+json")
        newScale = api::applyMergePatch(oldScale, patch);
      else throw unsupportedMediaType(type);
    }
    if (!newScale.is_object()) throw badRequest("Scale must be an object");
    const json::object* spec = objectAt(newScale.as_object(), "spec");
    const json::value* replicas = spec ? spec->if_contains("replicas") : nullptr;
    if (!replicas || !replicas->is_int64() || replicas->as_int64() < 0)
      throw invalid("Scale", "autoscaling", ri.name,
                    {{"FieldValueInvalid", "Invalid value: must be greater than or equal to 0",
                      "spec.replicas"}});
    std::string wantedRv;
    if (auto* meta = objectAt(newScale.as_object(), "metadata"))
      if (auto* rv = meta->if_contains("resourceVersion"); rv && rv->is_string())
        wantedRv = std::string(rv->as_string());
    if (req.method == "PUT" && !wantedRv.empty() && wantedRv != std::to_string(modRevision))
      throw staleObjectConflict(info.qualifiedResource(), ri.name);
    json::object updated = old;
    updated["spec"].as_object()["replicas"] = replicas->as_int64();
    try {
      json::object result = store.commitUpdate(info, k, std::move(updated), old, modRevision, "", ctx);
      return objectResponse(200, toScale(result), negotiate(req));
    } catch (const ApiError& e) {
      if (e.code() != 409 || attempt >= 8 || req.method == "PUT") throw;
    }
  }
}

HttpResponse binding(ResourceStore& store, const RequestInfo& ri, HttpRequest& req,
                     RequestContext& ctx) {
  if (req.method != "POST") throw methodNotSupported("pods/binding", req.method);
  json::value body = decodeRequestBody(req);
  const json::object* target = body.is_object() ? objectAt(body.as_object(), "target") : nullptr;
  const json::value* node = target ? target->if_contains("name") : nullptr;
  if (!node || !node->is_string() || node->as_string().empty())
    throw invalid("Binding", "", ri.name,
                  {{"FieldValueRequired", "Required value", "target.name"}});
  const ResourceInfo& info = *ri.info;
  const std::string k = store.key(info, ri.namespaceName, ri.name);
  auto current = store.readForUpdate(info, k);
  if (!current) throw notFound("pods", ri.name);
  auto& [pod, modRevision] = *current;
  json::object& spec = pod["spec"].as_object();
  if (auto* existing = spec.if_contains("nodeName");
      existing && existing->is_string() && !existing->as_string().empty())
    throw conflict("pods", ri.name,
                   "pod " + ri.name + " is already assigned to node \"" +
                       std::string(existing->as_string()) + "\"");
  if (pod.at("metadata").as_object().contains("deletionTimestamp"))
    throw conflict("pods", ri.name, "pod " + ri.name + " is being deleted, cannot be assigned to a host");
  json::object updated = pod;
  updated["spec"].as_object()["nodeName"] = *node;
  store.commitUpdate(info, k, std::move(updated), pod, modRevision, "binding", ctx);
  // PodScheduled=True is part of binding upstream.
  auto afterBind = store.readForUpdate(info, k);
  if (afterBind) {
    auto& [bound, rev] = *afterBind;
    json::object withCondition = bound;
    json::value& status = withCondition["status"];
    if (!status.is_object()) status.emplace_object();
    json::value& conditions = status.as_object()["conditions"];
    if (!conditions.is_array()) conditions.emplace_array();
    conditions.as_array().push_back(json::object{{"type", "PodScheduled"},
                                                 {"status", "True"},
                                                 {"lastProbeTime", nullptr},
                                                 {"lastTransitionTime", nowTimestamp()}});
    store.commitUpdate(info, k, std::move(withCondition), bound, rev, "status", ctx);
  }
  return objectResponse(201, successStatus(201, ri.name, "pods"), negotiate(req));
}

HttpResponse eviction(ResourceStore& store, const RequestInfo& ri, HttpRequest& req,
                      RequestContext& ctx) {
  if (req.method != "POST") throw methodNotSupported("pods/eviction", req.method);
  json::value body = decodeRequestBody(req);
  DeleteOptions options;
  if (body.is_object())
    if (const json::object* d = objectAt(body.as_object(), "deleteOptions"))
      if (auto* g = d->if_contains("gracePeriodSeconds"); g && g->is_int64())
        options.gracePeriodSeconds = g->as_int64();
  // PodDisruptionBudgets are honoured once their controller computes status.
  bool gone = false;
  store.remove(*ri.info, ri.namespaceName, ri.name, options, ctx, gone);
  return objectResponse(201, successStatus(201, ri.name, "pods"), negotiate(req));
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
    if (const json::object* spec = objectAt(body.as_object(), "spec"))
      if (auto* f = spec->if_contains("finalizers"); f && f->is_array()) finalizers = f->as_array();
  updated["spec"].as_object()["finalizers"] = finalizers;
  json::object result = store.commitUpdate(info, k, std::move(updated), ns, modRevision, "finalize", ctx);
  return objectResponse(200, result, negotiate(req));
}

}  // namespace

HttpResponse handleSpecialSubresource(ResourceStore& store, const RequestInfo& ri,
                                      HttpRequest& req, RequestContext& ctx) {
  if (ri.name.empty()) throw ApiError(404, "NotFound", "the server could not find the requested resource");
  if (ri.subresource == "scale") return scale(store, ri, req, ctx);
  if (ri.subresource == "binding") return binding(store, ri, req, ctx);
  if (ri.subresource == "eviction") return eviction(store, ri, req, ctx);
  if (ri.subresource == "finalize") return finalize(store, ri, req, ctx);
  throw ApiError(404, "NotFound", "the server could not find the requested resource");
}

HttpResponse handleReview(const RequestInfo& ri, HttpRequest& req) {
  json::value body = decodeRequestBody(req);
  if (!body.is_object()) throw badRequest("the review must be an object");
  json::object review = body.as_object();
  review["apiVersion"] = "authorization.k8s.io/v1";
  review["kind"] = ri.info->kind;
  // Until authorization lands (security issue) every authenticated request is allowed.
  if (ri.info->kind == "SelfSubjectAccessReview") {
    review["status"] = json::object{{"allowed", true}};
  } else {
    review["status"] = json::object{
        {"resourceRules",
         json::array{json::object{{"verbs", json::array{"*"}},
                                  {"apiGroups", json::array{"*"}},
                                  {"resources", json::array{"*"}}}}},
        {"nonResourceRules",
         json::array{json::object{{"verbs", json::array{"*"}}, {"nonResourceURLs", json::array{"*"}}}}},
        {"incomplete", false}};
  }
  return objectResponse(201, review, negotiate(req));
}

}  // namespace skiff::apiserver
