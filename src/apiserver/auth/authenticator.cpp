#include "apiserver/auth/authenticator.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "apiserver/auth/bootstrap_token.h"
#include "common/api_error.h"

namespace skiff::apiserver::auth {

std::optional<std::string_view> bearerToken(const net::HttpRequest& req) {
  auto it = req.headers.find("authorization");
  if (it == req.headers.end()) return std::nullopt;
  std::string_view header = it->second;
  size_t b = header.find_first_not_of(" \t"), e = header.find_last_not_of(" \t");
  if (b == std::string_view::npos) return std::nullopt;
  header = header.substr(b, e - b + 1);
  size_t space = header.find(' ');
  if (space == std::string_view::npos || space != 6) return std::nullopt;
  for (size_t i = 0; i < space; ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != "bearer"[i]) return std::nullopt;
  std::string_view token = header.substr(space + 1);
  token = token.substr(0, token.find(' '));  // upstream takes the second space-separated part
  if (token.empty()) return std::nullopt;
  return token;
}

std::shared_ptr<const UserInfo> withAuthenticatedGroup(std::shared_ptr<const UserInfo> user) {
  for (const auto& g : user->groups)
    if (g == "system:authenticated" || g == "system:unauthenticated") return user;
  auto added = std::make_shared<UserInfo>(*user);
  added->groups.emplace_back("system:authenticated");
  return added;
}

UserInfo anonymousUser() {
  return UserInfo{"system:anonymous", {"system:unauthenticated"}, {}, {}};
}

TokenResult RequestAuthenticator::authenticateToken(
    std::string_view token, const std::vector<std::string>& audiences) const {
  std::vector<std::string> errors;
  auto finish = [](TokenResult r) {
    r.user = withAuthenticatedGroup(std::move(r.user));
    return r;
  };
  if (auto it = config_.staticTokens.find(token); it != config_.staticTokens.end()) {
    TokenResult r;
    r.outcome = TokenResult::Authenticated;
    r.user = std::make_shared<const UserInfo>(it->second);
    r.audiences = audiences.empty() && config_.serviceAccounts
                      ? config_.serviceAccounts->apiAudiences()
                      : audiences;
    return finish(std::move(r));
  }
  if (config_.serviceAccounts) {
    TokenResult r = config_.serviceAccounts->authenticate(token, audiences);
    if (r.outcome == TokenResult::Authenticated) return finish(std::move(r));
    if (r.outcome == TokenResult::Refused) errors.push_back(r.error);
  }
  if (config_.lookup) {
    TokenResult r = authenticateBootstrapToken(token, config_.lookup, config_.now());
    if (r.outcome == TokenResult::Authenticated) {
      r.audiences = audiences.empty() && config_.serviceAccounts
                        ? config_.serviceAccounts->apiAudiences()
                        : audiences;
      return finish(std::move(r));
    }
  }
  // Several errors read as upstream's aggregate: "[a, b]"; one alone as itself.
  TokenResult refused;
  refused.outcome = TokenResult::Refused;
  // Nobody's error: the bearer-token authenticator's own.
  if (errors.empty()) refused.error = "invalid bearer token";
  if (errors.size() == 1) refused.error = errors.front();
  if (errors.size() > 1) {
    refused.error = "[";
    for (size_t i = 0; i < errors.size(); ++i) refused.error += (i ? ", " : "") + errors[i];
    refused.error += "]";
  }
  return refused;
}

std::shared_ptr<const UserInfo> RequestAuthenticator::authenticate(
    const net::HttpRequest& req) const {
  if (req.client && !req.client->user.empty()) return withAuthenticatedGroup(req.client);
  if (auto token = bearerToken(req)) {
    TokenResult r = authenticateToken(*token);
    if (r.outcome != TokenResult::Authenticated)
      throw ApiError(401, "Unauthorized", "Unauthorized");
    return std::move(r.user);
  }
  static const auto kUnsecured = std::make_shared<const UserInfo>(
      UserInfo{"system:unsecured", {"system:masters", "system:authenticated"}, {}, {}});
  static const auto kAnonymous = std::make_shared<const UserInfo>(anonymousUser());
  return config_.plainHttp ? kUnsecured : kAnonymous;
}

}  // namespace skiff::apiserver::auth
