#include "kubelet/kubelet_auth.h"

#include <openssl/sha.h>

#include <boost/json.hpp>

#include "api/json_access.h"
#include "client/rest_client.h"
#include "common/api_error.h"
#include "common/base64.h"
#include "common/log.h"

namespace skiff::kubelet {

namespace json = boost::json;

namespace {

// Upstream's isSubpath: the path itself or below it.
bool isSubpath(const std::string& path, const std::string& prefix) {
  return path == prefix ||
         (path.starts_with(prefix) && path.size() > prefix.size() && path[prefix.size()] == '/');
}

constexpr const char* kWebSocketTokenPrefix = "base64url.bearer.authorization.k8s.io.";

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// base64url without padding (RFC 4648 §5) → bytes, through the standard decoder.
std::optional<std::string> base64UrlDecode(std::string s) {
  for (auto& c : s) {
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (c == '=')
      return std::nullopt;  // upstream refuses padding
  }
  while (s.size() % 4) s.push_back('=');
  return base64Decode(s);
}

std::string sha256Hex(const std::string& s) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  ::SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 15]);
  }
  return out;
}

net::HttpResponse plain(int status, std::string body) {
  net::HttpResponse res;
  res.status = status;
  res.contentType = "text/plain; charset=utf-8";
  res.body = std::move(body);
  return res;
}

// The cache key of a decision: everything the SubjectAccessReview carries.
std::string accessKey(const net::ClientIdentity& u, const NodeRequestAttributes& a) {
  json::object key{{"u", u.user}, {"uid", u.uid}, {"v", a.verb}, {"s", a.subresource}};
  json::array groups;
  for (const auto& g : u.groups) groups.push_back(json::string(g));
  key["g"] = std::move(groups);
  json::object extra;
  for (const auto& [k, vs] : u.extra) {
    json::array values;
    for (const auto& v : vs) values.push_back(json::string(v));
    extra[k] = std::move(values);
  }
  key["e"] = std::move(extra);
  return json::serialize(key);
}

// Drops the token subprotocol from the offer once authentication is done, as upstream's
// protocol authenticator does, so the streaming handlers negotiate among the real ones only
// (and a client offering nothing else gets upstream's "no protocol").
void stripWebSocketToken(net::HttpRequest& req) {
  auto it = req.headers.find("sec-websocket-protocol");
  if (it == req.headers.end() || it->second.find(kWebSocketTokenPrefix) == std::string::npos)
    return;
  std::string kept;
  size_t pos = 0;
  while (pos <= it->second.size()) {
    size_t comma = it->second.find(',', pos);
    if (comma == std::string::npos) comma = it->second.size();
    std::string p = trim(it->second.substr(pos, comma - pos));
    if (!p.empty() && !p.starts_with(kWebSocketTokenPrefix)) kept += (kept.empty() ? "" : ", ") + p;
    pos = comma + 1;
  }
  if (kept.empty())
    req.headers.erase(it);
  else
    it->second = kept;
}

}  // namespace

NodeRequestAttributes nodeRequestAttributes(const std::string& method, const std::string& path) {
  NodeRequestAttributes a;
  if (method == "POST")
    a.verb = "create";
  else if (method == "GET")
    a.verb = "get";
  else if (method == "PUT")
    a.verb = "update";
  else if (method == "PATCH")
    a.verb = "patch";
  else if (method == "DELETE")
    a.verb = "delete";
  if (isSubpath(path, "/stats"))
    a.subresource = "stats";
  else if (isSubpath(path, "/metrics"))
    a.subresource = "metrics";
  else if (isSubpath(path, "/logs"))
    a.subresource = "log";  // as pods/log
  else if (isSubpath(path, "/spec"))
    a.subresource = "spec";
  else
    a.subresource = "proxy";
  return a;
}

TokenReviewFn apiTokenReviewer(client::RestClient& client) {
  return [&client](const std::string& token) -> std::optional<net::ClientIdentity> {
    static const client::Resource tokenReviews{"authentication.k8s.io", "v1", "tokenreviews"};
    json::object review{{"apiVersion", "authentication.k8s.io/v1"},
                        {"kind", "TokenReview"},
                        {"spec", {{"token", token}}}};
    json::object out = client.create(tokenReviews, "", review);
    const json::object& status = api::objectOrEmpty(out, {"status"});
    auto ok = status.if_contains("authenticated");
    if (!ok || !ok->is_bool() || !ok->as_bool()) return std::nullopt;
    net::ClientIdentity id;
    id.user = api::stringAt(status, {"user", "username"});
    id.uid = api::stringAt(status, {"user", "uid"});
    if (auto* groups = api::arrayAt(status, {"user", "groups"}))
      for (const auto& g : *groups)
        if (g.is_string()) id.groups.emplace_back(g.as_string());
    for (const auto& [k, v] : api::objectOrEmpty(status, {"user", "extra"})) {
      auto& values = id.extra[std::string(k)];
      if (v.is_array())
        for (const auto& s : v.as_array())
          if (s.is_string()) values.emplace_back(s.as_string());
    }
    if (id.user.empty()) return std::nullopt;
    return id;
  };
}

AccessReviewFn apiAccessReviewer(client::RestClient& client) {
  return [&client](const net::ClientIdentity& u, const std::string& verb, const std::string& node,
                   const std::string& subresource, std::string& reason) {
    static const client::Resource reviews{"authorization.k8s.io", "v1", "subjectaccessreviews"};
    json::array groups;
    for (const auto& g : u.groups) groups.push_back(json::string(g));
    json::object spec{{"user", u.user},
                      {"groups", std::move(groups)},
                      {"resourceAttributes",
                       {{"verb", verb},
                        {"group", ""},
                        {"version", "v1"},
                        {"resource", "nodes"},
                        {"subresource", subresource},
                        {"name", node}}}};
    if (!u.uid.empty()) spec["uid"] = u.uid;
    if (!u.extra.empty()) {
      json::object extra;
      for (const auto& [k, vs] : u.extra) {
        json::array values;
        for (const auto& v : vs) values.push_back(json::string(v));
        extra[k] = std::move(values);
      }
      spec["extra"] = std::move(extra);
    }
    json::object review{{"apiVersion", "authorization.k8s.io/v1"},
                        {"kind", "SubjectAccessReview"},
                        {"spec", std::move(spec)}};
    json::object out = client.create(reviews, "", review);
    const json::object& status = api::objectOrEmpty(out, {"status"});
    reason = api::stringAt(status, {"reason"});
    auto allowed = status.if_contains("allowed");
    return allowed && allowed->is_bool() && allowed->as_bool();
  };
}

KubeletAuth::KubeletAuth(std::string nodeName, TokenReviewFn tokens, AccessReviewFn access,
                         KubeletAuthOptions options)
    : nodeName_(std::move(nodeName)),
      tokens_(std::move(tokens)),
      access_(std::move(access)),
      options_(options),
      tokenCache_(options.maxCacheEntries, options.clock),
      accessCache_(options.maxCacheEntries, options.clock) {}

std::string KubeletAuth::bearerToken(const net::HttpRequest& req) {
  std::string auth = trim(req.header("authorization"));
  if (auth.size() > 7) {
    std::string scheme = auth.substr(0, 7);
    for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme == "bearer ") return trim(auth.substr(7));
  }
  // Browsers cannot set headers on a WebSocket: upstream's protocol authenticator takes the
  // token from a subprotocol.
  std::string protocols = req.header("sec-websocket-protocol");
  size_t pos = 0;
  while (pos <= protocols.size()) {
    size_t comma = protocols.find(',', pos);
    if (comma == std::string::npos) comma = protocols.size();
    std::string p = trim(protocols.substr(pos, comma - pos));
    if (p.starts_with(kWebSocketTokenPrefix)) {
      auto token = base64UrlDecode(p.substr(std::string(kWebSocketTokenPrefix).size()));
      if (token && !token->empty()) return *token;
    }
    pos = comma + 1;
  }
  return "";
}

std::optional<net::ClientIdentity> KubeletAuth::authenticateToken(const std::string& token) {
  const std::string key = sha256Hex(token);
  if (auto cached = tokenCache_.get(key)) return *cached;
  auto user = tokens_(token);  // throws: not cached, the next request asks again
  tokenCache_.put(key, user, user ? options_.tokenAllowedTtl : options_.tokenDeniedTtl);
  return user;
}

std::optional<net::HttpResponse> KubeletAuth::check(net::HttpRequest& req) {
  // 1. Who: the certificate the TLS layer verified wins; else a bearer token.
  if (req.identity().user.empty()) {
    std::string token = bearerToken(req);
    if (token.empty() || !tokens_) return plain(401, "Unauthorized");
    std::optional<net::ClientIdentity> user;
    try {
      user = authenticateToken(token);
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("kubelet: token review failed error=\"{}\"", e.what());
      return plain(401, "Unauthorized");
    }
    if (!user) return plain(401, "Unauthorized");
    req.client = std::make_shared<const net::ClientIdentity>(std::move(*user));
  }
  stripWebSocketToken(req);
  // 2. May they: a SubjectAccessReview on nodes/<subresource>.
  auto attrs = nodeRequestAttributes(req.method, req.path);
  auto describe = [&] {
    return "(user=" + req.identity().user + ", verb=" + attrs.verb +
           ", resource=nodes, subresource(s)=[" + attrs.subresource + "])";
  };
  const std::string key = accessKey(req.identity(), attrs);
  std::optional<bool> allowed = accessCache_.get(key);
  if (!allowed) {
    if (!access_) return plain(403, "Forbidden " + describe());
    std::string reason;
    try {
      allowed = access_(req.identity(), attrs.verb, nodeName_, attrs.subresource, reason);
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("kubelet: access review failed user={} error=\"{}\"", req.identity().user,
                     e.what());
      return plain(500, "Authorization error " + describe());
    }
    accessCache_.put(key, *allowed,
                     *allowed ? options_.accessAllowedTtl : options_.accessDeniedTtl);
    if (!*allowed) SKIFF_LOG_DEBUG("kubelet: forbidden {} reason=\"{}\"", describe(), reason);
  }
  if (!*allowed) return plain(403, "Forbidden " + describe());
  return std::nullopt;
}

}  // namespace skiff::kubelet
