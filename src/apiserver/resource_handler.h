// Dispatches resource requests (verbs on collections, objects and subresources) to the
// ResourceStore, and encodes the answers.
#pragma once

#include "apiserver/request_info.h"
#include "apiserver/resource_store.h"
#include "net/http_types.h"

namespace skiff::apiserver {

// How a handler hands its admission audit annotations ("key=value") to ApiServer::handle: a
// response header that handle() always removes, so it never reaches a client.
inline constexpr const char* kAuditAnnotationHeader = "Skiff-Audit-Annotation";

HttpResponse handleResourceRequest(ResourceStore& store, const RequestInfo& ri, HttpRequest& req);

// Subresources with their own shape: scale, binding, eviction, namespace finalize.
HttpResponse handleSpecialSubresource(ResourceStore& store, const RequestInfo& ri, HttpRequest& req,
                                      RequestContext& ctx);
// Review resources answered by the server (never stored).
HttpResponse handleReview(ResourceStore& store, const RequestInfo& ri, HttpRequest& req);

}  // namespace skiff::apiserver
