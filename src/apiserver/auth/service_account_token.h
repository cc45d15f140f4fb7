// ServiceAccount tokens as upstream's bound tokens: ES256 JWTs the API server issues
// (TokenRequest) and accepts as bearer tokens while the ServiceAccount — and the Pod or
// Secret the token is bound to — still exist with the uids in the token.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "apiserver/auth/jwt.h"
#include "apiserver/auth/token_authenticator.h"

namespace skiff::apiserver::auth {

inline constexpr const char* kDefaultIssuer = "https://kubernetes.default.svc.cluster.local";
// The iss of legacy (Secret-based, non-expiring) ServiceAccount tokens.
inline constexpr const char* kLegacyIssuer = "kubernetes/serviceaccount";
// Upstream's leeway for exp/nbf/iat against clock skew (go-jose's DefaultLeeway).
inline constexpr int64_t kClockLeewaySeconds = 60;

// What a token is bound to besides its ServiceAccount.
struct BoundObject {
  std::string kind;  // "Pod" or "Secret"
  std::string name, uid;
};

struct TokenClaimsInput {
  std::string namespace_, serviceAccountName, serviceAccountUid;
  std::vector<std::string> audiences;
  int64_t expirationSeconds = 3600;
  std::optional<BoundObject> bound;
};

class ServiceAccountTokens {
 public:
  ServiceAccountTokens(Es256Key key, std::string issuer, std::vector<std::string> apiAudiences,
                       ObjectLookup lookup, UnixClock now = systemUnixSeconds);

  struct Issued {
    std::string token;
    int64_t expiresAt = 0;  // unix seconds
  };
  Issued issue(const TokenClaimsInput& input) const;
  // A legacy token for the Secret `secretName` of a service-account-token type (the tokens
  // controller puts it there): no expiry, no audience; valid while that Secret holds it and
  // the account exists with that uid.
  std::string issueLegacy(const std::string& ns, const std::string& account,
                          const std::string& accountUid, const std::string& secretName) const;

  // A JWT of ours (our issuer) → Authenticated or Refused; anything else → NotMine.
  // `audiences` are the ones the caller accepts (empty: the API audiences). The user's groups
  // already end with system:authenticated.
  TokenResult authenticate(std::string_view token,
                           const std::vector<std::string>& audiences = {}) const;

  const Es256Key& key() const { return key_; }
  const std::string& issuer() const { return issuer_; }
  const std::vector<std::string>& apiAudiences() const { return apiAudiences_; }

 private:
  Es256Key key_;
  std::string issuer_;
  std::vector<std::string> apiAudiences_;
  ObjectLookup lookup_;
  UnixClock now_;
  // What a verified token claims, decoded once: a byte string's signature under our key
  // stays valid and its claims cannot change, so a client repeating its token pays the ECDSA
  // verification (~120 µs), the decoding (base64url + JSON of ~1 KB, ~7 µs) and the making
  // of its user (~15 allocations) once. Times, audiences and the objects the token is bound
  // to are still checked on every request, so expiry and revocation act at once.
  struct Verified;
  // Keyed by the whole token, hashed by its tail: the last bytes are the signature's (random
  // per token), and only tokens whose signature verified are ever inserted.
  struct TokenTailHash {
    using is_transparent = void;  // found by a view of the request's header
    size_t operator()(std::string_view token) const noexcept;
  };
  // Cleared when it reaches kMaxVerified entries (tokens are ~1 KB).
  static constexpr size_t kMaxVerified = 4096;
  mutable std::mutex verifiedMu_;
  mutable std::unordered_map<std::string, std::shared_ptr<const Verified>, TokenTailHash,
                             std::equal_to<>>
      verified_;
  std::shared_ptr<const Verified> verifiedToken(std::string_view token) const;
  std::shared_ptr<const Verified> remember(std::string_view token, Verified verified) const;
  Verified decode(const boost::json::object& claims, bool legacy) const;
  TokenResult judgeBound(const Verified& token, const std::vector<std::string>& audiences) const;
  TokenResult judgeLegacy(std::string_view token, const Verified& verified) const;
  bool servesApiAudience(const std::vector<std::string>& audiences) const;
};

// "system:serviceaccount:NS:NAME" → (NS, NAME); nullopt for other user names.
std::optional<std::pair<std::string, std::string>> splitServiceAccountUser(const std::string& user);
std::string serviceAccountUser(const std::string& ns, const std::string& name);
// system:serviceaccounts, system:serviceaccounts:NS.
std::vector<std::string> serviceAccountGroups(const std::string& ns);

}  // namespace skiff::apiserver::auth
