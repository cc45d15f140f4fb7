#include "apiserver/auth/service_account_token.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>

#include "common/base64.h"
#include "common/ids.h"

namespace skiff::apiserver::auth {

namespace json = boost::json;

int64_t systemUnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

constexpr std::string_view kUserPrefix = "system:serviceaccount:";

std::string str(const json::object* o, std::string_view key) {
  if (!o) return {};
  const json::value* v = o->if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}
const json::object* obj(const json::object* o, std::string_view key) {
  if (!o) return nullptr;
  const json::value* v = o->if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}
std::optional<int64_t> number(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return std::nullopt;
}

// "aud" is a string or an array of strings (RFC 7519 4.1.3).
std::vector<std::string> audiencesOf(const json::object& claims) {
  std::vector<std::string> out;
  const json::value* aud = claims.if_contains("aud");
  if (!aud) return out;
  if (aud->is_string()) out.emplace_back(aud->as_string());
  if (aud->is_array())
    for (const auto& a : aud->as_array())
      if (a.is_string()) out.emplace_back(a.as_string());
  return out;
}

std::string quotedList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? " \"" : "\"") + items[i] + "\"";
  return out + "]";
}

// A deletion older than the leeway ends a token's validity (a deleted-but-present object is
// still terminating; upstream tolerates that for a minute).
bool deletedLongAgo(const json::object& object, int64_t now) {
  std::string deletion = str(obj(&object, "metadata"), "deletionTimestamp");
  if (deletion.empty()) return false;
  std::chrono::system_clock::time_point at;
  return parseTime(deletion, at) &&
         std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count() <
             now - kClockLeewaySeconds;
}

std::string uidOf(const json::object& object) { return str(obj(&object, "metadata"), "uid"); }

}  // namespace

std::optional<std::pair<std::string, std::string>> splitServiceAccountUser(
    const std::string& user) {
  if (!user.starts_with(kUserPrefix)) return std::nullopt;
  std::string rest = user.substr(kUserPrefix.size());
  size_t colon = rest.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size() ||
      rest.find(':', colon + 1) != std::string::npos)
    return std::nullopt;
  return std::make_pair(rest.substr(0, colon), rest.substr(colon + 1));
}

std::string serviceAccountUser(const std::string& ns, const std::string& name) {
  return std::string(kUserPrefix) + ns + ":" + name;
}

std::vector<std::string> serviceAccountGroups(const std::string& ns) {
  return {"system:serviceaccounts", "system:serviceaccounts:" + ns};
}

ServiceAccountTokens::ServiceAccountTokens(Es256Key key, std::string issuer,
                                           std::vector<std::string> apiAudiences,
                                           ObjectLookup lookup, UnixClock now)
    : key_(std::move(key)),
      issuer_(std::move(issuer)),
      apiAudiences_(std::move(apiAudiences)),
      lookup_(std::move(lookup)),
      now_(std::move(now)) {}

ServiceAccountTokens::Issued ServiceAccountTokens::issue(const TokenClaimsInput& in) const {
  const int64_t now = now_();
  json::object k8s{{"namespace", in.namespace_},
                   {"serviceaccount",
                    json::object{{"name", in.serviceAccountName}, {"uid", in.serviceAccountUid}}}};
  if (in.bound) {
    json::object ref{{"name", in.bound->name}, {"uid", in.bound->uid}};
    k8s[in.bound->kind == "Pod" ? "pod" : "secret"] = std::move(ref);
  }
  json::array aud;
  for (const auto& a : in.audiences) aud.emplace_back(a);
  // Upstream's claims are marshalled from a map: keys in lexical order.
  json::object claims{{"aud", std::move(aud)},
                      {"exp", now + in.expirationSeconds},
                      {"iat", now},
                      {"iss", issuer_},
                      {"jti", newUid()},
                      {"kubernetes.io", std::move(k8s)},
                      {"nbf", now},
                      {"sub", serviceAccountUser(in.namespace_, in.serviceAccountName)}};
  return {key_.sign(claims), now + in.expirationSeconds};
}

std::string ServiceAccountTokens::issueLegacy(const std::string& ns, const std::string& account,
                                              const std::string& accountUid,
                                              const std::string& secretName) const {
  // Upstream's legacy claims, keys in lexical order as its marshalling writes them.
  json::object claims{{"iss", kLegacyIssuer},
                      {"kubernetes.io/serviceaccount/namespace", ns},
                      {"kubernetes.io/serviceaccount/secret.name", secretName},
                      {"kubernetes.io/serviceaccount/service-account.name", account},
                      {"kubernetes.io/serviceaccount/service-account.uid", accountUid},
                      {"sub", serviceAccountUser(ns, account)}};
  return key_.sign(claims);
}

// Upstream's legacy validator: the Secret must still exist and hold this very token, and the
// account must exist with the uid in the token. Legacy tokens carry no audience; they serve
// the API audiences only.
TokenResult ServiceAccountTokens::authenticateLegacy(
    const std::string& token, const std::shared_ptr<const Jwt>& jwt, bool cached,
    const std::vector<std::string>& audiences) const {
  if (!audiences.empty()) {
    bool api = false;
    for (const auto& a : audiences)
      if (std::find(apiAudiences_.begin(), apiAudiences_.end(), a) != apiAudiences_.end())
        api = true;
    if (!api) return {};
  }
  if (!signatureValid(token, jwt, cached)) return TokenResult::refused("invalid signature");
  const json::object& c = jwt->claims;
  const std::string ns = str(&c, "kubernetes.io/serviceaccount/namespace");
  const std::string secretName = str(&c, "kubernetes.io/serviceaccount/secret.name");
  const std::string name = str(&c, "kubernetes.io/serviceaccount/service-account.name");
  const std::string uid = str(&c, "kubernetes.io/serviceaccount/service-account.uid");
  if (ns.empty() || secretName.empty() || name.empty() || uid.empty() ||
      str(&c, "sub") != serviceAccountUser(ns, name))
    return TokenResult::refused("service account token claims are malformed");
  auto secret = lookup_("secrets", ns, secretName);
  if (!secret || !str(obj(secret.get(), "metadata"), "deletionTimestamp").empty())
    return TokenResult::refused("token has been invalidated");
  std::optional<std::string> stored = base64Decode(str(obj(secret.get(), "data"), "token"));
  if (!stored || *stored != token)
    return TokenResult::refused("token does not match server's copy");
  auto account = lookup_("serviceaccounts", ns, name);
  if (!account) return TokenResult::refused("serviceaccounts \"" + name + "\" not found");
  if (!str(obj(account.get(), "metadata"), "deletionTimestamp").empty())
    return TokenResult::refused("service account " + ns + "/" + name + " has been deleted");
  if (uidOf(*account) != uid)
    return TokenResult::refused("service account UID (" + uidOf(*account) +
                                ") does not match claim (" + uid + ")");
  TokenResult result;
  result.outcome = TokenResult::Authenticated;
  result.user.user = serviceAccountUser(ns, name);
  result.user.uid = uid;
  result.user.groups = serviceAccountGroups(ns);
  result.audiences = apiAudiences_;
  return result;
}

std::shared_ptr<const Jwt> ServiceAccountTokens::verifiedJwt(const std::string& token) const {
  std::lock_guard lock(verifiedMu_);
  auto it = verified_.find(token);
  return it == verified_.end() ? nullptr : it->second;
}

bool ServiceAccountTokens::signatureValid(const std::string& token,
                                          const std::shared_ptr<const Jwt>& jwt,
                                          bool cached) const {
  if (cached) return true;
  if (!key_.verify(*jwt)) return false;
  // Only the claims are read after verification: the signed text and signature (~1 KB) are
  // not kept.
  auto claimsOnly = std::make_shared<Jwt>();
  claimsOnly->claims = jwt->claims;
  std::lock_guard lock(verifiedMu_);
  if (verified_.size() >= kMaxVerified) verified_.clear();
  verified_.emplace(token, std::move(claimsOnly));
  return true;
}

TokenResult ServiceAccountTokens::authenticate(const std::string& token,
                                               const std::vector<std::string>& audiences) const {
  // A token verified before: its claims from the cache; otherwise decoded here and
  // verified below.
  std::shared_ptr<const Jwt> jwt = verifiedJwt(token);
  const bool cached = jwt != nullptr;
  if (!jwt) {
    auto parsed = parseJwt(token);
    if (!parsed) return {};
    jwt = std::make_shared<const Jwt>(std::move(*parsed));
  }
  const json::object& c = jwt->claims;
  if (str(&c, "iss") == kLegacyIssuer && issuer_ != kLegacyIssuer)
    return authenticateLegacy(token, jwt, cached, audiences);
  if (str(&c, "iss") != issuer_) return {};  // another issuer's token: not ours to judge
  if (!signatureValid(token, jwt, cached)) return TokenResult::refused("invalid signature");

  const int64_t now = now_();
  auto exp = number(c, "exp");
  if (!exp || now > *exp + kClockLeewaySeconds)
    return TokenResult::refused("service account token has expired");
  if (auto nbf = number(c, "nbf"); nbf && now < *nbf - kClockLeewaySeconds)
    return TokenResult::refused("service account token is not valid yet");
  if (auto iat = number(c, "iat"); iat && now < *iat - kClockLeewaySeconds)
    return TokenResult::refused("service account token is issued in the future");

  const std::vector<std::string>& wanted = audiences.empty() ? apiAudiences_ : audiences;
  std::vector<std::string> tokenAudiences = audiencesOf(c);
  std::vector<std::string> matched;
  for (const auto& a : tokenAudiences)
    if (std::find(wanted.begin(), wanted.end(), a) != wanted.end()) matched.push_back(a);
  if (matched.empty())
    return TokenResult::refused("token audiences " + quotedList(tokenAudiences) +
                                " is invalid for the target audiences " + quotedList(wanted));

  const json::object* k8s = obj(&c, "kubernetes.io");
  const json::object* sa = obj(k8s, "serviceaccount");
  const std::string ns = str(k8s, "namespace"), name = str(sa, "name"), uid = str(sa, "uid");
  if (ns.empty() || name.empty() || uid.empty() || str(&c, "sub") != serviceAccountUser(ns, name))
    return TokenResult::refused("service account token claims are malformed");
  // Upstream's order and words: the ServiceAccount, a bound Secret, a bound Pod.
  const std::string invalidated = "service account token has been invalidated";
  auto account = lookup_("serviceaccounts", ns, name);
  if (!account) return TokenResult::refused("serviceaccounts \"" + name + "\" not found");
  if (uidOf(*account) != uid)
    return TokenResult::refused("service account UID (" + uidOf(*account) +
                                ") does not match claim (" + uid + ")");
  if (deletedLongAgo(*account, now))
    return TokenResult::refused("service account " + ns + "/" + name + " has been deleted");

  TokenResult result;
  if (const json::object* ref = obj(k8s, "secret")) {
    auto secret = lookup_("secrets", ns, str(ref, "name"));
    if (!secret) return TokenResult::refused(invalidated);
    if (uidOf(*secret) != str(ref, "uid"))
      return TokenResult::refused("secret UID (" + uidOf(*secret) +
                                  ") does not match service account secret ref claim (" +
                                  str(ref, "uid") + ")");
    if (deletedLongAgo(*secret, now)) return TokenResult::refused(invalidated);
  }
  if (const json::object* ref = obj(k8s, "pod")) {
    auto pod = lookup_("pods", ns, str(ref, "name"));
    if (!pod) return TokenResult::refused(invalidated);
    if (uidOf(*pod) != str(ref, "uid"))
      return TokenResult::refused("pod UID (" + uidOf(*pod) +
                                  ") does not match service account pod ref claim (" +
                                  str(ref, "uid") + ")");
    if (deletedLongAgo(*pod, now)) return TokenResult::refused(invalidated);
    result.user.extra["authentication.kubernetes.io/pod-name"] = {str(ref, "name")};
    result.user.extra["authentication.kubernetes.io/pod-uid"] = {str(ref, "uid")};
  }
  result.outcome = TokenResult::Authenticated;
  result.user.user = serviceAccountUser(ns, name);
  result.user.uid = uid;
  result.user.groups = serviceAccountGroups(ns);
  if (std::string jti = str(&c, "jti"); !jti.empty())
    result.user.extra["authentication.kubernetes.io/credential-id"] = {"JTI=" + jti};
  result.audiences = std::move(matched);
  return result;
}

}  // namespace skiff::apiserver::auth
