#include "apiserver/resource_handler.h"

#include <boost/json.hpp>

#include "api/json_access.h"
#include "api/managed_fields_text.h"
#include "apiserver/content.h"
#include "apiserver/request_options.h"
#include "apiserver/strategy.h"
#include "apiserver/table.h"
#include "apiserver/watch_stream.h"
#include "common/api_error.h"

namespace skiff::apiserver {

namespace json = boost::json;

namespace {

// RFC 7234 warn-text as upstream writes it: code 299, agent "-", the text quoted with `"` and
// `\` escaped.
std::string warningHeader(const std::string& text) {
  std::string out = "299 - \"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// What upstream's store answers for an object it removed at once, unless the resource
// returns the deleted object: a Success Status naming it (kind carries the resource).
json::object deletedStatus(const api::ResourceInfo& info, const json::object& deleted) {
  json::object details{{"name", api::stringAt(deleted, {"metadata", "name"})}};
  if (!info.group.empty()) details["group"] = info.group;
  details["kind"] = info.plural;
  if (auto uid = api::stringAt(deleted, {"metadata", "uid"}); !uid.empty()) details["uid"] = uid;
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", json::object()},
          {"status", "Success"},
          {"details", std::move(details)}};
}

void attachContextHeaders(HttpResponse& res, const RequestContext& ctx) {
  for (const auto& w : ctx.warnings) res.headers.emplace_back("Warning", warningHeader(w));
  // Taken off again by ApiServer::handle, which puts them into the audit event.
  for (const auto& [key, value] : ctx.auditAnnotations)
    res.headers.emplace_back(kAuditAnnotationHeader, key + "=" + value);
}

HttpResponse respond(int status, const json::object& obj, const HttpRequest& req,
                     const RequestContext& ctx) {
  HttpResponse res = objectResponse(status, obj, negotiate(req));
  attachContextHeaders(res, ctx);
  return res;
}

HttpResponse handleWithContext(ResourceStore& store, const RequestInfo& ri, HttpRequest& req,
                               RequestContext& ctx);

HttpResponse listResponse(ResourceStore& store, const RequestInfo& ri, HttpRequest& req) {
  const auto& info = *ri.info;
  auto format = negotiate(req);
  if (req.flag("watch")) {
    WatchOptions w = watchOptionsFrom(req);
    w.ns = ri.namespaceName;
    w.table = format.table;
    w.includeObject = format.includeObject;
    HttpResponse res;
    res.stream = startWatch(store, info, w);
    return res;
  }
  ListOptions options = listOptionsFrom(req);
  if (format.protobuf)
    return objectResponse(200, store.list(info, ri.namespaceName, options), format);
  auto result = store.listObjects(info, ri.namespaceName, options);
  HttpResponse res;
  if (format.table) {
    std::vector<const json::object*> objects;
    objects.reserve(result.items.size());
    for (const auto& item : result.items) objects.push_back(item.get());
    std::vector<std::string_view> texts;
    if (result.encodings.size() == result.items.size()) {
      texts.reserve(result.items.size());
      for (size_t i = 0; i < result.items.size(); ++i)
        texts.push_back(result.encodings[i]->json(*result.items[i]));
    }
    res.body = serializeTable(info, objects, format.includeObject,
                              ResourceStore::listMetadata(result), texts);
  } else {
    res.body = ResourceStore::serializeList(info, result);
  }
  res.apiObject = true;
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
    return handleReview(store, ri, req);
  }

  RequestContext ctx = requestContextFrom(req);
  try {
    return handleWithContext(store, ri, req, ctx);
  } catch (const ApiError& e) {
    // A refusal keeps what admission said before it refused (Pod Security warnings and its
    // audit annotations), as upstream's Warning headers and audit events do.
    if (ctx.warnings.empty() && ctx.auditAnnotations.empty()) throw;
    HttpResponse res = net::statusResponse(e, &req);
    attachContextHeaders(res, ctx);
    return res;
  }
}

namespace {

HttpResponse handleWithContext(ResourceStore& store, const RequestInfo& ri, HttpRequest& req,
                               RequestContext& ctx) {
  const auto& info = *ri.info;
  const std::string& method = req.method;
  auto unsupported = [&](const std::string& action) {
    return methodNotSupported(info.qualifiedResource(), action);
  };
  if (!ri.subresource.empty()) {
    const auto* sub = info.subresource(ri.subresource);
    if (!sub) throw ApiError(404, "NotFound", "the server could not find the requested resource");
    if (!isStatusLikeSubresource(info, ri.subresource))
      return handleSpecialSubresource(store, ri, req, ctx);
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
      return respond(200,
                     store.removeCollection(info, ri.namespaceName, listOptionsFrom(req), d, ctx),
                     req, ctx);
    }
    throw unsupported(method);
  }

  if (method == "GET") {
    if (req.flag("watch"))
      throw badRequest("watch on a single object: use a list with a metadata.name field selector");
    ObjectPtr obj = store.getShared(info, ri.namespaceName, ri.name);
    auto format = negotiate(req);
    if (ri.subresource.empty() && format.table) {
      HttpResponse res;
      res.body = api::objectJson(makeTable(info, {obj.get()}, format.includeObject, true));
      res.apiObject = true;
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
    if (gone && !info.returnsDeletedObject) return respond(200, deletedStatus(info, obj), req, ctx);
    return respond(accepted ? 202 : 200, obj, req, ctx);
  }
  throw unsupported(method);
}

}  // namespace

}  // namespace skiff::apiserver
