// Query parameters of resource requests, decoded and validated as upstream's parameter codec
// and option validation do: booleans are true unless "0" or "false" (any case), integers
// fail with Go's strconv message (400 BadRequest), and invalid option combinations are 422s
// on the meta.k8s.io options kind (ListOptions, CreateOptions, UpdateOptions, PatchOptions,
// DeleteOptions) with the same field paths and wording.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "apiserver/resource_store.h"
#include "apiserver/watch_stream.h"
#include "net/http_types.h"

namespace skiff::apiserver {

// An integer query parameter as Go's strconv.ParseInt(s, 10, 64) reads it; nullopt when
// absent. Throws 400 with strconv's message when malformed (an empty value too).
std::optional<int64_t> int64Param(const HttpRequest& req, const std::string& name);

// The write options (dryRun, fieldManager, fieldValidation) of a request. `method` decides
// which options kind is validated (POST Create, PUT Update, PATCH Patch, DELETE Delete);
// reads validate nothing. `patchType` is the PATCH's media type (apply needs a manager).
RequestContext requestContextFrom(const HttpRequest& req);

// List and watch options; throws 422 on ListOptions for combinations upstream refuses.
ListOptions listOptionsFrom(const HttpRequest& req);
WatchOptions watchOptionsFrom(const HttpRequest& req);

// DeleteOptions from the body (if any) and the query; query values win, as upstream.
DeleteOptions deleteOptionsFrom(const HttpRequest& req, RequestContext& ctx);

}  // namespace skiff::apiserver
