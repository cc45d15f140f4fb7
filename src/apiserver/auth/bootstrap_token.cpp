#include "apiserver/auth/bootstrap_token.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>
#include <chrono>
#include <regex>

#include "common/base64.h"
#include "common/ids.h"

namespace skiff::apiserver::auth {

namespace json = boost::json;

namespace {

bool allOf(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

// A data entry of the Secret (base64 in .data; stringData never reaches storage).
std::string dataEntry(const json::object& secret, std::string_view key) {
  const json::value* data = secret.if_contains("data");
  if (!data || !data->is_object()) return {};
  const json::value* v = data->as_object().if_contains(key);
  if (!v || !v->is_string()) return {};
  return base64Decode(v->as_string()).value_or("");
}

bool validExtraGroup(const std::string& group) {
  static const std::regex pattern("^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$");
  return std::regex_match(group, pattern);
}

}  // namespace

TokenResult authenticateBootstrapToken(std::string_view token, const ObjectLookup& lookup,
                                       int64_t now) {
  const size_t dot = token.find('.');
  if (dot == std::string_view::npos) return {};
  const std::string id(token.substr(0, dot)), secretPart(token.substr(dot + 1));
  if (!allOf(id, 6) || !allOf(secretPart, 16)) return {};

  auto secret = lookup("secrets", "kube-system", "bootstrap-token-" + id);
  if (!secret) return {};
  const json::value* meta = secret->if_contains("metadata");
  if (meta && meta->is_object() && meta->as_object().contains("deletionTimestamp")) return {};
  const json::value* type = secret->if_contains("type");
  if (!type || !type->is_string() || type->as_string() != "bootstrap.kubernetes.io/token")
    return {};
  const std::string storedSecret = dataEntry(*secret, "token-secret");
  if (storedSecret.size() != secretPart.size() ||
      CRYPTO_memcmp(storedSecret.data(), secretPart.data(), secretPart.size()) != 0)
    return {};
  if (dataEntry(*secret, "token-id") != id) return {};
  if (std::string expiration = dataEntry(*secret, "expiration"); !expiration.empty()) {
    std::chrono::system_clock::time_point at;
    if (!parseTime(expiration, at)) return {};
    if (std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count() <= now)
      return {};
  }
  if (dataEntry(*secret, "usage-bootstrap-authentication") != "true") return {};

  UserInfo user;
  user.user = "system:bootstrap:" + id;
  user.groups = {"system:bootstrappers"};
  const std::string extra = dataEntry(*secret, "auth-extra-groups");
  size_t start = 0;
  while (!extra.empty() && start <= extra.size()) {
    size_t comma = extra.find(',', start);
    if (comma == std::string::npos) comma = extra.size();
    std::string group = extra.substr(start, comma - start);
    if (!validExtraGroup(group)) return {};  // a bad Secret authenticates nobody
    user.groups.push_back(group);
    start = comma + 1;
  }
  TokenResult result;
  result.user = std::make_shared<const UserInfo>(std::move(user));
  result.outcome = TokenResult::Authenticated;
  return result;
}

}  // namespace skiff::apiserver::auth
