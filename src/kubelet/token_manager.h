// The kubelet's ServiceAccount token manager (upstream's pkg/kubelet/token): tokens for
// projected serviceAccountToken volume sources, requested through TokenRequest bound to the
// pod, cached per (account, audiences, expiration, pod) and replaced before they run out:
// once 80 % of a token's lifetime has passed, or it is older than 24 h (each with a jitter of
// up to 10 s, so a node's pods do not all ask at once). A pod sync asks for its tokens every
// time; only a due refresh reaches the API server. When a refresh fails, a token that is
// still valid is kept (the next sync retries).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace skiff::client {
class RestClient;
}

namespace skiff::kubelet {

struct TokenRequestSpec {
  std::string ns, serviceAccount;
  std::vector<std::string> audiences;  // empty: the API server's audiences
  int64_t expirationSeconds = 3600;
  std::string podName, podUid;  // the bound object
};

struct IssuedToken {
  std::string token;
  std::chrono::system_clock::time_point expiresAt;
  int64_t expirationSeconds = 0;  // the lifetime the server granted (its spec's answer)
};

// Sends one TokenRequest; throws std::runtime_error (or ApiError) on failure.
using TokenRequester = std::function<IssuedToken(const TokenRequestSpec&)>;

// POST .../serviceaccounts/NAME/token with the pod as bound object.
IssuedToken requestServiceAccountToken(client::RestClient& client, const TokenRequestSpec& spec);

// Upstream's rule, pure: refresh when now is past issuedAt + 24 h - jitter, or past
// expiresAt - 20 % of the lifetime - jitter (issuedAt = expiresAt - lifetime).
bool tokenRequiresRefresh(const IssuedToken& token, std::chrono::system_clock::time_point now,
                          std::chrono::seconds jitter);

class TokenManager {
 public:
  using Now = std::function<std::chrono::system_clock::time_point()>;
  explicit TokenManager(TokenRequester request, Now now = std::chrono::system_clock::now,
                        std::function<std::chrono::seconds()> jitter = randomJitter);

  // A valid token for the spec: the cached one unless it requires a refresh.
  std::string token(const TokenRequestSpec& spec);
  // Forgets the tokens of a pod that is gone, and tokens that have expired.
  void forgetPod(const std::string& podUid);
  size_t cached() const;

  static std::chrono::seconds randomJitter();  // uniform in [0, 10 s)

 private:
  static std::string keyOf(const TokenRequestSpec& spec);
  TokenRequester request_;
  Now now_;
  std::function<std::chrono::seconds()> jitter_;
  mutable std::mutex mu_;
  std::map<std::string, IssuedToken> tokens_;  // keyOf(spec) → token
};

}  // namespace skiff::kubelet
