#include "apiserver/auth/impersonation.h"

#include "apiserver/auth/authenticator.h"
#include "apiserver/auth/request_attributes.h"
#include "apiserver/auth/service_account_token.h"
#include "common/api_error.h"

namespace skiff::apiserver::auth {

namespace {

constexpr std::string_view kExtraPrefix = "impersonate-extra-";

std::vector<std::string> headerValues(const std::string& joined) {
  std::vector<std::string> values;
  if (joined.empty()) return values;
  size_t start = 0;
  while (true) {
    size_t sep = joined.find(", ", start);
    values.push_back(joined.substr(start, sep - start));
    if (sep == std::string::npos) break;
    start = sep + 2;
  }
  return values;
}

// Extra keys travel percent-encoded in header names (RFC 3986 unreserved stays as is).
std::string unescapeKey(const std::string& key) {
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    if (key[i] == '%' && i + 2 < key.size() && std::isxdigit(key[i + 1]) &&
        std::isxdigit(key[i + 2])) {
      out.push_back(static_cast<char>(std::stoi(key.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else if (key[i] == '%') {
      return key;  // not valid escaping: keep the key as sent, as upstream does
    } else {
      out.push_back(key[i]);
    }
  }
  return out;
}

// One requested value as upstream's ObjectReference prints with %v (Kind Namespace Name UID
// APIVersion ResourceVersion FieldPath), for the "without impersonating a user" error.
std::string reference(const std::string& kind, const std::string& name,
                      const std::string& apiVersion = "", const std::string& fieldPath = "") {
  return "{" + kind + "  " + name + "  " + apiVersion + "  " + fieldPath + "}";
}

}  // namespace

ImpersonationRequest parseImpersonation(const net::HttpRequest& req) {
  ImpersonationRequest r;
  r.user = req.header("impersonate-user");
  r.groups = headerValues(req.header("impersonate-group"));
  if (req.headers.contains("impersonate-uid")) r.uid = req.header("impersonate-uid");
  for (auto it = req.headers.lower_bound(std::string(kExtraPrefix));
       it != req.headers.end() && it->first.starts_with(kExtraPrefix); ++it)
    if (it->first.size() > kExtraPrefix.size())
      r.extra[unescapeKey(it->first.substr(kExtraPrefix.size()))] = headerValues(it->second);
  return r;
}

std::optional<UserInfo> impersonate(const net::HttpRequest& req, const UserInfo& requester,
                                    const Authorizer& authorizer) {
  // Most requests carry no Impersonate-* header: one look into the sorted headers says so.
  if (auto first = req.headers.lower_bound("impersonate-");
      first == req.headers.end() || !first->first.starts_with("impersonate-"))
    return std::nullopt;
  ImpersonationRequest r = parseImpersonation(req);
  if (!r.any()) return std::nullopt;
  if (r.user.empty()) {
    std::string requested;
    for (const auto& g : r.groups)
      requested += (requested.empty() ? "" : " ") + reference("Group", g);
    if (r.uid)
      requested +=
          (requested.empty() ? "" : " ") + reference("UID", *r.uid, "authentication.k8s.io/v1");
    for (const auto& [key, values] : r.extra)
      for (const auto& v : values)
        requested += (requested.empty() ? "" : " ") +
                     reference("UserExtra", v, "authentication.k8s.io/v1", key);
    throw internalError("requested [" + requested + "] without impersonating a user");
  }

  auto check = [&](AuthorizationAttributes a) {
    a.user = &requester;
    a.verb = "impersonate";
    a.resourceRequest = true;
    AuthorizationResult result = authorizer.authorize(a);
    if (result.decision != Decision::Allow) throw forbiddenError(a, result.reason);
  };

  UserInfo acting;
  acting.user = r.user;
  auto sa = splitServiceAccountUser(r.user);
  AuthorizationAttributes userCheck;
  if (sa) {
    userCheck.apiVersion = "v1";
    userCheck.resource = "serviceaccounts";
    userCheck.namespace_ = sa->first;
    userCheck.name = sa->second;
  } else {
    userCheck.resource = "users";
    userCheck.name = r.user;
  }
  check(userCheck);
  for (const auto& g : r.groups) {
    AuthorizationAttributes a;
    a.resource = "groups";
    a.name = g;
    check(a);
    acting.groups.push_back(g);
  }
  for (const auto& [key, values] : r.extra) {
    for (const auto& v : values) {
      AuthorizationAttributes a;
      a.apiGroup = "authentication.k8s.io";
      a.apiVersion = "v1";
      a.resource = "userextras";
      a.subresource = key;
      a.name = v;
      check(a);
      acting.extra[key].push_back(v);
    }
  }
  if (r.uid) {
    AuthorizationAttributes a;
    a.apiGroup = "authentication.k8s.io";
    a.apiVersion = "v1";
    a.resource = "uids";
    a.name = *r.uid;
    check(a);
    acting.uid = *r.uid;
  }
  // A ServiceAccount impersonated without groups gets its own groups.
  if (sa && r.groups.empty()) acting.groups = serviceAccountGroups(sa->first);
  if (acting.user == "system:anonymous") {
    bool has = false;
    for (const auto& g : acting.groups) has = has || g == "system:unauthenticated";
    if (!has) acting.groups.emplace_back("system:unauthenticated");
  } else {
    bool has = false;
    for (const auto& g : acting.groups) has = has || g == "system:authenticated";
    if (!has) acting.groups.emplace_back("system:authenticated");
  }
  return acting;
}

}  // namespace skiff::apiserver::auth
