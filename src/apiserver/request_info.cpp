#include "apiserver/request_info.h"

#include <vector>

namespace skiff::apiserver {

std::optional<RequestInfo> parseResourcePath(const std::string& path,
                                             const api::ResourceRegistry& registry) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  RequestInfo ri;
  size_t i = 0;
  if (parts.size() >= 3 && parts[0] == "api") {
    ri.version = parts[1];
    i = 2;
  } else if (parts.size() >= 4 && parts[0] == "apis") {
    ri.group = parts[1];
    ri.version = parts[2];
    i = 3;
  } else {
    return std::nullopt;
  }
  std::vector<std::string> rest(parts.begin() + i, parts.end());
  // /namespaces/{ns}/{resource}... unless {resource} is really a namespace subresource.
  if (rest.size() >= 3 && rest[0] == "namespaces" &&
      registry.find(ri.group, ri.version, rest[2]) != nullptr) {
    ri.namespaceName = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.empty() || rest.size() > 3) return rest.empty() ? std::nullopt : std::optional(ri);
  ri.resource = rest[0];
  if (rest.size() > 1) ri.name = rest[1];
  if (rest.size() > 2) ri.subresource = rest[2];
  ri.info = registry.find(ri.group, ri.version, ri.resource);
  return ri;
}

namespace {

bool reachesKubelet(const std::string& path) {
  if (!path.starts_with("/api/v1/")) return false;
  if (path.starts_with("/api/v1/nodes/")) return path.find("/proxy") != std::string::npos;
  if (path.find("/pods/") == std::string::npos) return false;
  for (const char* sub : {"/log", "/exec", "/attach", "/portforward"})
    if (path.ends_with(sub)) return true;
  return false;
}

}  // namespace

bool runsOffTheEventLoop(const HttpRequest& req, const api::ResourceRegistry& registry) {
  if (reachesKubelet(req.path)) return true;
  if (req.method != "GET" || req.flag("watch")) return false;
  auto ri = parseResourcePath(req.path, registry);
  return ri && ri->name.empty() && ri->subresource.empty();
}

bool waitsForCommit(const HttpRequest& req, const api::ResourceRegistry& registry) {
  const std::string& m = req.method;
  if (m != "POST" && m != "PUT" && m != "PATCH" && m != "DELETE") return false;
  return parseResourcePath(req.path, registry).has_value();
}

}  // namespace skiff::apiserver
