#include "apiserver/resource_handler.h"

#include <boost/json.hpp>

#include "apiserver/content.h"
#include "apiserver/table.h"
#include "apiserver/watch_stream.h"
#include "common/api_error.h"

namespace skiff::apiserver {

namespace json = boost::json;

namespace {

RequestContext contextFrom(const HttpRequest& req) {
  RequestContext ctx;
  auto dryRun = req.param("dryRun");
  if (dryRun) {
    if (*dryRun != "All") throw badRequest("unsupported dryRun value \"" + *dryRun + "\": only All");
    ctx.dryRun = true;
  }
  ctx.fieldValidation = req.paramOr("fieldValidation", "Warn");
  if (ctx.fieldValidation != "Strict" && ctx.fieldValidation != "Warn" &&
      ctx.fieldValidation != "Ignore")
    throw badRequest("fieldValidation must be one of Ignore, Warn, Strict, got \"" +
                     ctx.fieldValidation + "\"");
  ctx.fieldManager = req.paramOr("fieldManager", "");
  return ctx;
}

ListOptions listOptionsFrom(const HttpRequest& req) {
  ListOptions o;
  o.labelSelector = req.paramOr("labelSelector", "");
  o.fieldSelector = req.paramOr("fieldSelector", "");
  o.resourceVersion = req.paramOr("resourceVersion", "");
  o.resourceVersionMatch = req.paramOr("resourceVersionMatch", "");
  o.continueToken = req.paramOr("continue", "");
  if (auto limit = req.param("limit")) {
    try {
      o.limit = std::stoll(*limit);
    } catch (const std::exception&) {
      throw badRequest("invalid limit: " + *limit);
    }
  }
  return o;
}

DeleteOptions deleteOptionsFrom(const HttpRequest& req, RequestContext& ctx) {
  DeleteOptions o;
  if (!req.body.empty()) {
    json::value body = decodeRequestBody(req);
    if (!body.is_object()) throw badRequest("DeleteOptions must be an object");
    auto& b = body.as_object();
    if (auto* g = b.if_contains("gracePeriodSeconds"); g && g->is_int64())
      o.gracePeriodSeconds = g->as_int64();
    if (auto* p = b.if_contains("propagationPolicy"); p && p->is_string())
      o.propagationPolicy = std::string(p->as_string());
    if (auto* orphan = b.if_contains("orphanDependents"); orphan && orphan->is_bool())
      o.orphanDependents = orphan->as_bool();
    if (auto* pre = b.if_contains("preconditions"); pre && pre->is_object()) {
      if (auto* uid = pre->as_object().if_contains("uid"); uid && uid->is_string())
        o.preconditionUid = std::string(uid->as_string());
      if (auto* rv = pre->as_object().if_contains("resourceVersion"); rv && rv->is_string())
        o.preconditionResourceVersion = std::string(rv->as_string());
    }
    if (auto* d = b.if_contains("dryRun"); d && d->is_array() && !d->as_array().empty())
      ctx.dryRun = true;
  }
  if (auto g = req.param("gracePeriodSeconds")) {
    try {
      o.gracePeriodSeconds = std::stoll(*g);
    } catch (const std::exception&) {
      throw badRequest("invalid gracePeriodSeconds: " + *g);
    }
  }
  if (auto p = req.param("propagationPolicy")) o.propagationPolicy = *p;
  if (auto orphan = req.param("orphanDependents")) {
    if (*orphan != "true" && *orphan != "false")
      throw badRequest("invalid orphanDependents: " + *orphan);
    o.orphanDependents = *orphan == "true";
  }
  // Upstream's ValidateDeleteOptions: a 422 on the DeleteOptions kind of meta.k8s.io.
  std::vector<StatusCause> causes;
  if (o.orphanDependents && !o.propagationPolicy.empty())
    causes.push_back({"FieldValueInvalid",
                      "Invalid value: \"" + o.propagationPolicy +
                          "\": orphanDependents and deletionPropagation cannot be both set",
                      "propagationPolicy"});
  if (!o.propagationPolicy.empty() && o.propagationPolicy != "Background" &&
      o.propagationPolicy != "Foreground" && o.propagationPolicy != "Orphan")
    causes.push_back({"FieldValueNotSupported",
                      "Unsupported value: \"" + o.propagationPolicy +
                          "\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"",
                      "propagationPolicy"});
  if (!causes.empty()) throw invalid("DeleteOptions", "meta.k8s.io", "", std::move(causes));
  return o;
}

HttpResponse respond(int status, const json::object& obj, const HttpRequest& req,
                     const RequestContext& ctx) {
  HttpResponse res = objectResponse(status, obj, negotiate(req));
  for (const auto& w : ctx.warnings) res.headers.emplace_back("Warning", "299 - \"" + w + "\"");
  return res;
}

HttpResponse listResponse(ResourceStore& store, const RequestInfo& ri, HttpRequest& req) {
  const auto& info = *ri.info;
  auto format = negotiate(req);
  if (req.flag("watch")) {
    WatchOptions w;
    w.ns = ri.namespaceName;
    w.resourceVersion = req.paramOr("resourceVersion", "");
    w.labelSelector = req.paramOr("labelSelector", "");
    w.fieldSelector = req.paramOr("fieldSelector", "");
    w.bookmarks = req.flag("allowWatchBookmarks");
    w.sendInitialEvents = req.flag("sendInitialEvents");
    if (auto t = req.param("timeoutSeconds")) {
      try {
        w.timeoutSeconds = std::stoll(*t);
      } catch (const std::exception&) {
        throw badRequest("invalid timeoutSeconds: " + *t);
      }
    }
    w.table = format.table;
    w.includeObject = format.includeObject;
    HttpResponse res;
    res.stream = startWatch(store, info, w);
    return res;
  }
  ListOptions options = listOptionsFrom(req);
  if (format.protobuf) return objectResponse(200, store.list(info, ri.namespaceName, options), format);
  auto result = store.listObjects(info, ri.namespaceName, options);
  HttpResponse res;
  if (format.table) {
    std::vector<const json::object*> objects;
    objects.reserve(result.items.size());
    for (const auto& item : result.items) objects.push_back(item.get());
    json::object table = makeTable(info, objects, format.includeObject, true);
    json::object meta{{"resourceVersion", std::to_string(result.revision)}};
    if (!result.continueToken.empty()) meta["continue"] = result.continueToken;
    table["metadata"] = std::move(meta);
    res.body = json::serialize(table);
  } else {
    res.body = ResourceStore::serializeList(info, result);
  }
  return res;
}

}  // namespace

HttpResponse handleResourceRequest(ResourceStore& store, const RequestInfo& ri, HttpRequest& req) {
  if (!ri.info) {
    throw ApiError(404, "NotFound", "the server could not find the requested resource");
  }
  const auto& info = *ri.info;
  const std::string& method = req.method;
  auto unsupported = [&](const std::string& action) {
    return methodNotSupported(info.qualifiedResource(), action);
  };
  if (info.namespaced && !ri.name.empty() && ri.namespaceName.empty())
    throw ApiError(404, "NotFound", "the server could not find the requested resource");
  if (!info.namespaced && !ri.namespaceName.empty())
    throw ApiError(404, "NotFound", "the server could not find the requested resource");
  if (info.group == "authorization.k8s.io") {
    if (method != "POST" || !ri.name.empty()) throw unsupported(method);
    return handleReview(ri, req);
  }

  RequestContext ctx = contextFrom(req);
  if (!ri.subresource.empty()) {
    const auto* sub = info.subresource(ri.subresource);
    if (!sub) throw ApiError(404, "NotFound", "the server could not find the requested resource");
    if (ri.subresource != "status") return handleSpecialSubresource(store, ri, req, ctx);
  }

  if (ri.name.empty()) {
    if (method == "GET") return listResponse(store, ri, req);
    if (method == "POST") {
      if (info.namespaced && ri.namespaceName.empty())
        throw ApiError(404, "NotFound", "the server could not find the requested resource");
      ObjectPtr created = store.create(info, ri.namespaceName, decodeRequestBody(req), ctx);
      return respond(201, *created, req, ctx);
    }
    if (method == "DELETE") {
      DeleteOptions d = deleteOptionsFrom(req, ctx);
      return respond(200, store.removeCollection(info, ri.namespaceName, listOptionsFrom(req), d, ctx),
                     req, ctx);
    }
    throw unsupported(method);
  }

  if (method == "GET") {
    if (req.flag("watch")) throw badRequest("watch on a single object: use a list with a metadata.name field selector");
    ObjectPtr obj = store.getShared(info, ri.namespaceName, ri.name);
    auto format = negotiate(req);
    if (ri.subresource.empty() && format.table) {
      HttpResponse res;
      res.body = json::serialize(makeTable(info, {obj.get()}, format.includeObject, true));
      return res;
    }
    return respond(200, *obj, req, ctx);
  }
  if (method == "PUT") {
    ObjectPtr obj =
        store.update(info, ri.namespaceName, ri.name, ri.subresource, decodeRequestBody(req), ctx);
    return respond(200, *obj, req, ctx);
  }
  if (method == "PATCH") {
    bool created = false;
    ObjectPtr obj = store.patch(info, ri.namespaceName, ri.name, ri.subresource,
                                req.header("content-type"), req.body, ctx, created);
    return respond(created ? 201 : 200, *obj, req, ctx);
  }
  if (method == "DELETE") {
    if (!ri.subresource.empty()) throw unsupported(method);
    DeleteOptions d = deleteOptionsFrom(req, ctx);
    bool gone = false;
    json::object obj = store.remove(info, ri.namespaceName, ri.name, d, ctx, gone);
    // Like upstream, 202 only for a cascading delete asked with orphanDependents=false that
    // did not finish at once (other clients expect 200 even while finalizers are pending).
    bool accepted = !gone && d.orphanDependents && !*d.orphanDependents;
    return respond(accepted ? 202 : 200, obj, req, ctx);
  }
  throw unsupported(method);
}

}  // namespace skiff::apiserver
