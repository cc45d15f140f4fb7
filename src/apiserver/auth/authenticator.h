// Who is asking (upstream's authentication filter): the chain run at the start of every
// request. In upstream's order, the first that recognises the caller wins:
//   1. a verified client certificate (CN = user, O = groups; filled in by the TLS layer, or
//      by the in-process endpoint for the server's own components);
//   2. a bearer token: the static token file, ServiceAccount JWTs, bootstrap tokens — a
//      token none of them accepts is a 401, never anonymous;
//   3. nothing: system:anonymous in system:unauthenticated (on plain HTTP, which only
//      benchmarks use, the old insecure port's system:unsecured in system:masters instead).
// Authenticated users also get system:authenticated.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "apiserver/auth/service_account_token.h"
#include "apiserver/auth/token_authenticator.h"
#include "apiserver/auth/token_file.h"
#include "net/http_types.h"

namespace skiff::apiserver::auth {

struct AuthenticatorConfig {
  const ServiceAccountTokens* serviceAccounts = nullptr;  // null: no ServiceAccount tokens
  ObjectLookup lookup;                                    // for bootstrap-token Secrets
  StaticTokens staticTokens;                              // --token-auth-file
  bool plainHttp = false;                                 // --disable-tls
  UnixClock now = systemUnixSeconds;
};

class RequestAuthenticator {
 public:
  explicit RequestAuthenticator(AuthenticatorConfig config) : config_(std::move(config)) {}

  // The token authenticators alone (what TokenReview asks). `audiences`: the ones the caller
  // accepts, empty for the API audiences.
  TokenResult authenticateToken(std::string_view token,
                                const std::vector<std::string>& audiences = {}) const;
  // The whole chain for one request; throws the 401 ApiError for a refused token. Shared:
  // a certificate's or a cached token's user is answered as it is when it needs no group.
  std::shared_ptr<const UserInfo> authenticate(const net::HttpRequest& req) const;

 private:
  AuthenticatorConfig config_;
};

// The token of "Authorization: Bearer <token>" (scheme case-insensitive), as upstream reads
// it; nullopt for no header, another scheme or an empty token. A view into req's header:
// tokens are ~1 KB and every request carries one.
std::optional<std::string_view> bearerToken(const net::HttpRequest& req);
// Adds system:authenticated unless the user already is in it or in system:unauthenticated
// (then `user` is returned as it is, else a copy with the group).
std::shared_ptr<const UserInfo> withAuthenticatedGroup(std::shared_ptr<const UserInfo> user);
UserInfo anonymousUser();

}  // namespace skiff::apiserver::auth
