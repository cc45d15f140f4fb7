// Authentication and authorization of the kubelet's HTTPS API, as upstream's kubelet with
// `--client-ca-file`, `--authentication-token-webhook`, `--anonymous-auth=false` and
// `--authorization-mode=Webhook`:
//
// - authentication: a client certificate of the cluster CA (verified by the TLS layer; user
//   CN, groups O), else a bearer token (`Authorization: Bearer T`, or a WebSocket client's
//   `base64url.bearer.authorization.k8s.io.<T>` subprotocol) checked with a TokenReview on
//   the API server. Nobody recognised → 401 with upstream's plain-text body "Unauthorized".
// - authorization: each request becomes a SubjectAccessReview of resource `nodes`, name this
//   node, a subresource by path (nodeRequestAttributes) and a verb from the HTTP method.
//   Denied → 403 "Forbidden (user=U, verb=V, resource=nodes, subresource(s)=[S])".
//
// Both answers are cached as upstream's webhook caches are: tokens 2 minutes when valid and
// 10 seconds when not, decisions 5 minutes when allowed and 30 seconds when denied; each cache
// holds at most maxCacheEntries (the oldest entry goes first). Errors reaching the API server
// are never cached.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "net/http_types.h"

namespace skiff::client {
class RestClient;
}

namespace skiff::kubelet {

// What a request to the kubelet asks for, in API terms.
struct NodeRequestAttributes {
  std::string verb;         // get, create, update, patch, delete ("" for other methods)
  std::string subresource;  // stats, metrics, log, spec or proxy
  bool operator==(const NodeRequestAttributes&) const = default;
};

// Upstream's mapping (pkg/kubelet/server/auth.go, 1.32 without the alpha fine-grained gate):
// /stats[/...] → stats, /metrics[/...] → metrics, /logs[/...] → log, /spec[/...] → spec,
// everything else (/pods, /exec, /attach, /portForward, /run, /containerLogs, /configz,
// /debug...) → proxy. The verb comes from the HTTP method alone: a WebSocket exec/attach/
// port-forward is an HTTP GET and is authorized as `get` like upstream 1.32 does (which is why
// `get` on nodes/proxy is not read-only; upstream documents the same warning).
NodeRequestAttributes nodeRequestAttributes(const std::string& method, const std::string& path);

// The token's user (TokenReview status.authenticated) or nullopt when the API server says
// the token is not valid. Throws when the API server could not answer.
using TokenReviewFn = std::function<std::optional<net::ClientIdentity>(const std::string& token)>;
// Whether `user` may `verb` nodes/`subresource` named `node` (SubjectAccessReview
// status.allowed); `reason` gets status.reason. Throws when the API server could not answer.
using AccessReviewFn = std::function<bool(const net::ClientIdentity& user, const std::string& verb,
                                          const std::string& node, const std::string& subresource,
                                          std::string& reason)>;

// The reviews through the kubelet's API client (POST tokenreviews / subjectaccessreviews).
TokenReviewFn apiTokenReviewer(client::RestClient& client);
AccessReviewFn apiAccessReviewer(client::RestClient& client);

struct KubeletAuthOptions {
  std::chrono::milliseconds tokenAllowedTtl{std::chrono::minutes(2)};
  std::chrono::milliseconds tokenDeniedTtl{std::chrono::seconds(10)};
  std::chrono::milliseconds accessAllowedTtl{std::chrono::minutes(5)};
  std::chrono::milliseconds accessDeniedTtl{std::chrono::seconds(30)};
  size_t maxCacheEntries = 4096;
  const Clock* clock = &realClock();
};

// A map whose entries expire, bounded in size (oldest insertion evicted). Thread-safe.
template <typename V>
class ExpiringCache {
 public:
  ExpiringCache(size_t maxEntries, const Clock* clock) : max_(maxEntries), clock_(clock) {}
  std::optional<V> get(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    if (clock_->monotonic() >= it->second.expires) {
      order_.erase(it->second.pos);
      map_.erase(it);
      return std::nullopt;
    }
    return it->second.value;
  }
  void put(const std::string& key, V value, std::chrono::milliseconds ttl) {
    std::lock_guard lock(mu_);
    if (auto it = map_.find(key); it != map_.end()) {
      order_.erase(it->second.pos);
      map_.erase(it);
    }
    while (!map_.empty() && map_.size() >= max_) {
      map_.erase(order_.front());
      order_.pop_front();
    }
    if (max_ == 0) return;
    order_.push_back(key);
    map_.emplace(key, Entry{std::move(value), clock_->monotonic() + ttl, std::prev(order_.end())});
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return map_.size();
  }

 private:
  struct Entry {
    V value;
    Clock::MonoTime expires;
    std::list<std::string>::iterator pos;
  };
  size_t max_;
  const Clock* clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> map_;
  std::list<std::string> order_;  // insertion order, oldest first
};

class KubeletAuth {
 public:
  KubeletAuth(std::string nodeName, TokenReviewFn tokens, AccessReviewFn access,
              KubeletAuthOptions options = {});

  // Settles req.client (a verified certificate's identity is kept; else the bearer token's
  // user) and authorizes the request. nullopt: go on; otherwise the 401/403/500 to send.
  std::optional<net::HttpResponse> check(net::HttpRequest& req);

  // The bearer token a request carries (header, else WebSocket subprotocol); "" when none.
  static std::string bearerToken(const net::HttpRequest& req);

 private:
  std::optional<net::ClientIdentity> authenticateToken(const std::string& token);
  std::string nodeName_;
  TokenReviewFn tokens_;
  AccessReviewFn access_;
  KubeletAuthOptions options_;
  // Keyed by a hash of the token, never the token itself (kept out of core dumps and logs).
  ExpiringCache<std::optional<net::ClientIdentity>> tokenCache_;
  ExpiringCache<bool> accessCache_;
};

}  // namespace skiff::kubelet
