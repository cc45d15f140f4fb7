// Parses a resource URL (/api/v1/namespaces/ns/pods/name/status) into its parts, like
// upstream's RequestInfoFactory.
#pragma once

#include <optional>
#include <string>

#include "api/resource_registry.h"
#include "net/http_types.h"

namespace skiff::apiserver {

struct RequestInfo {
  std::string group, version, namespaceName, resource, name, subresource;
  const api::ResourceInfo* info = nullptr;  // null when the resource is unknown
};

// nullopt when the path is not a resource path (/api/v1 itself, /apis/g/v, ...).
std::optional<RequestInfo> parseResourcePath(const std::string& path,
                                             const api::ResourceRegistry& registry);

// Requests the HTTP server runs on its blocking pool instead of an event loop
// (HttpServerOptions::mayBlock): those that dial a kubelet from the handler (pods/log,
// exec, attach, portforward, nodes/NAME/proxy; a dead node keeps them waiting for their
// timeouts) and lists, whose cost grows with the collection (10,000 pods take 50-90 ms to
// serialize, which would hold up every other connection of the loop).
bool runsOffTheEventLoop(const HttpRequest& req, const api::ResourceRegistry& registry);

// Requests the HTTP server runs on its write pool (HttpServerOptions::waitsForCommit):
// creates, updates, patches and deletes of resources, whose handlers wait for the store's
// durable commit. Off the event loops, many of them wait at once and the sqlite writer
// commits them in one transaction; on a loop, each would hold up its loop until its commit.
bool waitsForCommit(const HttpRequest& req, const api::ResourceRegistry& registry);

}  // namespace skiff::apiserver
