#include "apiserver/auth/request_attributes.h"

#include <algorithm>
#include <array>
#include <span>
#include <string_view>

namespace skiff::apiserver::auth {

namespace {

// The path's first segments, viewed in `path` (leading and trailing slashes dropped). The
// attributes need at most nine (apis/G/V/watch/namespaces/NS/R/NAME/SUB); the rest of a long
// (proxy) path is left in the last one. Every request is split, so no allocation.
class PathSegments {
 public:
  explicit PathSegments(std::string_view path) {
    while (!path.empty() && path.front() == '/') path.remove_prefix(1);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    while (!path.empty() && size_ < kMax) {
      size_t slash = size_ + 1 < kMax ? path.find('/') : std::string_view::npos;
      parts_[size_++] = path.substr(0, slash);
      path.remove_prefix(slash == std::string_view::npos ? path.size() : slash + 1);
    }
  }
  size_t size() const { return size_; }
  std::string_view operator[](size_t i) const { return parts_[i]; }
  std::span<const std::string_view> from(size_t i) const { return {parts_.data() + i, size_ - i}; }

 private:
  static constexpr size_t kMax = 10;
  std::array<std::string_view, kMax> parts_{};
  size_t size_ = 0;
};

std::string methodVerb(const std::string& method) {
  if (method == "POST") return "create";
  if (method == "GET" || method == "HEAD") return "get";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return "delete";
  return "";
}

// A name from a fieldSelector that pins metadata.name (upstream narrows list/watch to it).
std::string nameFromFieldSelector(const net::HttpRequest& req) {
  auto selector = req.param("fieldSelector");
  if (!selector) return {};
  std::string s = *selector;
  for (const std::string& term : {std::string("metadata.name=="), std::string("metadata.name=")}) {
    if (s.starts_with(term) && s.find(',') == std::string::npos) {
      std::string name = s.substr(term.size());
      bool validSegment = !name.empty() && name != "." && name != ".." &&
                          name.find('/') == std::string::npos &&
                          name.find('%') == std::string::npos;
      return validSegment ? name : std::string();
    }
  }
  return {};
}

}  // namespace

AuthorizationAttributes requestAttributes(const net::HttpRequest& req, const UserInfo& user) {
  AuthorizationAttributes a;
  a.user = &user;
  a.path = req.path;
  std::string lower = req.method;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  a.verb = lower;  // the non-resource verb, replaced below for resource requests

  const PathSegments parts(req.path);
  if (parts.size() < 3 || (parts[0] != "api" && parts[0] != "apis")) return a;
  size_t i = 1;
  if (parts[0] == "apis") {
    if (parts.size() < 4) return a;
    a.apiGroup = parts[i++];
  }
  a.resourceRequest = true;
  a.apiVersion = parts[i++];
  std::span<const std::string_view> rest = parts.from(i);

  bool verbFromMethod = false;
  if (rest[0] == "watch" || rest[0] == "proxy") {
    if (rest.size() < 2) {
      // Upstream cannot tell the kind: the request fails before authorization. Treat it
      // as the non-resource path it then is to the authorizer.
      a.resourceRequest = false;
      a.apiGroup.clear();
      a.apiVersion.clear();
      return a;
    }
    a.verb = rest[0];
    rest = rest.subspan(1);
  } else {
    verbFromMethod = true;
    a.verb = methodVerb(req.method);
  }

  if (rest[0] == "namespaces") {
    if (rest.size() > 1) {
      a.namespace_ = rest[1];
      // namespaces/NS/status and namespaces/NS/finalize are the namespace's subresources.
      if (rest.size() > 2 && rest[2] != "status" && rest[2] != "finalize") rest = rest.subspan(2);
    }
  }
  a.resource = rest[0];
  if (rest.size() >= 2) a.name = rest[1];
  if (rest.size() >= 3 && a.verb != "proxy") a.subresource = rest[2];

  if (a.name.empty() && a.verb == "get") {
    a.verb = req.flag("watch") ? "watch" : "list";
    a.name = nameFromFieldSelector(req);
  }
  if (verbFromMethod && a.name.empty() && a.verb == "delete") a.verb = "deletecollection";
  if (a.verb == "list" || a.verb == "watch" || a.verb == "deletecollection")
    a.fieldSelector = req.paramOr("fieldSelector", "");
  return a;
}

ApiError forbiddenError(const AuthorizationAttributes& a, const std::string& reason) {
  const std::string username = a.user ? a.user->user : std::string();
  std::string why;
  if (!a.resourceRequest) {
    why = "User \"" + username + "\" cannot " + a.verb + " path \"" + a.path + "\"";
  } else {
    std::string resource = a.resource;
    if (!a.subresource.empty()) resource += "/" + a.subresource;
    why = "User \"" + username + "\" cannot " + a.verb + " resource \"" + resource +
          "\" in API group \"" + a.apiGroup + "\"";
    why += a.namespace_.empty() ? " at the cluster scope"
                                : " in the namespace \"" + a.namespace_ + "\"";
  }
  if (!reason.empty()) why += ": " + reason;
  // Upstream's NewForbidden over the group-resource (not the subresource) and the name.
  std::string qualified = a.resource;
  if (!a.apiGroup.empty() && !qualified.empty()) qualified += "." + a.apiGroup;
  std::string message;
  if (!a.resourceRequest || qualified.empty())
    message = "forbidden: " + why;
  else if (a.name.empty())
    message = qualified + " is forbidden: " + why;
  else
    message = qualified + " \"" + a.name + "\" is forbidden: " + why;
  ApiError e(403, "Forbidden", message);
  if (a.resourceRequest) {
    e.detailName = a.name;
    e.detailGroup = a.apiGroup;
    e.detailKind = a.resource;
  }
  return e;
}

}  // namespace skiff::apiserver::auth
