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
// The string at `key`, viewed in place (empty when absent or not a string).
std::string_view view(const json::object* o, std::string_view key) {
  if (!o) return {};
  const json::value* v = o->if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
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
  std::string_view deletion = view(obj(&object, "metadata"), "deletionTimestamp");
  if (deletion.empty()) return false;
  std::chrono::system_clock::time_point at;
  return parseTime(std::string(deletion), at) &&
         std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count() <
             now - kClockLeewaySeconds;
}

std::string_view uidOf(const json::object& object) { return view(obj(&object, "metadata"), "uid"); }

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

struct ServiceAccountTokens::Verified {
  bool legacy = false;
  std::string malformed;  // non-empty: the claims are refused with this
  std::optional<int64_t> exp, nbf, iat;
  std::vector<std::string> audiences;   // the token's
  std::vector<std::string> apiMatched;  // those among the API audiences
  std::string ns, name, uid;            // the ServiceAccount
  // What else it is bound to (a legacy token: the Secret that holds it; no uid).
  std::optional<BoundObject> secret, pod;
  std::shared_ptr<const UserInfo> user;  // who it authenticates, when valid
};

size_t ServiceAccountTokens::TokenTailHash::operator()(std::string_view token) const noexcept {
  constexpr size_t kTail = 32;
  std::string_view tail(token);
  if (tail.size() > kTail) tail.remove_prefix(tail.size() - kTail);
  return std::hash<std::string_view>{}(tail);
}

std::shared_ptr<const ServiceAccountTokens::Verified> ServiceAccountTokens::verifiedToken(
    std::string_view token) const {
  std::lock_guard lock(verifiedMu_);
  auto it = verified_.find(token);
  return it == verified_.end() ? nullptr : it->second;
}

std::shared_ptr<const ServiceAccountTokens::Verified> ServiceAccountTokens::remember(
    std::string_view token, Verified verified) const {
  auto shared = std::make_shared<const Verified>(std::move(verified));
  std::lock_guard lock(verifiedMu_);
  if (verified_.size() >= kMaxVerified) verified_.clear();
  verified_.insert_or_assign(std::string(token), shared);
  return shared;
}

ServiceAccountTokens::Verified ServiceAccountTokens::decode(const json::object& c,
                                                            bool legacy) const {
  Verified v;
  UserInfo user;
  v.legacy = legacy;
  const std::string malformed = "service account token claims are malformed";
  if (legacy) {
    v.ns = str(&c, "kubernetes.io/serviceaccount/namespace");
    v.name = str(&c, "kubernetes.io/serviceaccount/service-account.name");
    v.uid = str(&c, "kubernetes.io/serviceaccount/service-account.uid");
    v.secret = BoundObject{"Secret", str(&c, "kubernetes.io/serviceaccount/secret.name"), ""};
    if (v.secret->name.empty()) v.malformed = malformed;
    v.apiMatched = apiAudiences_;  // legacy tokens carry no audience and serve the API's
  } else {
    v.exp = number(c, "exp");
    v.nbf = number(c, "nbf");
    v.iat = number(c, "iat");
    v.audiences = audiencesOf(c);
    for (const auto& a : v.audiences)
      if (std::find(apiAudiences_.begin(), apiAudiences_.end(), a) != apiAudiences_.end())
        v.apiMatched.push_back(a);
    const json::object* k8s = obj(&c, "kubernetes.io");
    v.ns = str(k8s, "namespace");
    v.name = str(obj(k8s, "serviceaccount"), "name");
    v.uid = str(obj(k8s, "serviceaccount"), "uid");
    if (const json::object* ref = obj(k8s, "secret"))
      v.secret = BoundObject{"Secret", str(ref, "name"), str(ref, "uid")};
    if (const json::object* ref = obj(k8s, "pod")) {
      v.pod = BoundObject{"Pod", str(ref, "name"), str(ref, "uid")};
      user.extra["authentication.kubernetes.io/pod-name"] = {v.pod->name};
      user.extra["authentication.kubernetes.io/pod-uid"] = {v.pod->uid};
    }
    if (std::string jti = str(&c, "jti"); !jti.empty())
      user.extra["authentication.kubernetes.io/credential-id"] = {"JTI=" + jti};
  }
  if (v.ns.empty() || v.name.empty() || v.uid.empty() ||
      view(&c, "sub") != serviceAccountUser(v.ns, v.name))
    v.malformed = malformed;
  user.user = serviceAccountUser(v.ns, v.name);
  user.uid = v.uid;
  user.groups = serviceAccountGroups(v.ns);
  // What the request authenticator adds to every authenticated user (withAuthenticatedGroup,
  // which then finds it): added once here, so that each request shares this very user.
  user.groups.emplace_back("system:authenticated");
  v.user = std::make_shared<const UserInfo>(std::move(user));
  return v;
}

bool ServiceAccountTokens::servesApiAudience(const std::vector<std::string>& audiences) const {
  if (audiences.empty()) return true;
  for (const auto& a : audiences)
    if (std::find(apiAudiences_.begin(), apiAudiences_.end(), a) != apiAudiences_.end())
      return true;
  return false;
}

// Upstream's legacy validator: the Secret must still exist and hold this very token, and the
// account must exist with the uid in the token.
TokenResult ServiceAccountTokens::judgeLegacy(std::string_view token, const Verified& v) const {
  if (!v.malformed.empty()) return TokenResult::refused(v.malformed);
  auto secret = lookup_("secrets", v.ns, v.secret->name);
  if (!secret || !view(obj(secret.get(), "metadata"), "deletionTimestamp").empty())
    return TokenResult::refused("token has been invalidated");
  std::optional<std::string> stored = base64Decode(view(obj(secret.get(), "data"), "token"));
  if (!stored || *stored != token)
    return TokenResult::refused("token does not match server's copy");
  auto account = lookup_("serviceaccounts", v.ns, v.name);
  if (!account) return TokenResult::refused("serviceaccounts \"" + v.name + "\" not found");
  if (!view(obj(account.get(), "metadata"), "deletionTimestamp").empty())
    return TokenResult::refused("service account " + v.ns + "/" + v.name + " has been deleted");
  if (uidOf(*account) != v.uid)
    return TokenResult::refused("service account UID (" + std::string(uidOf(*account)) +
                                ") does not match claim (" + v.uid + ")");
  TokenResult result;
  result.outcome = TokenResult::Authenticated;
  result.user = v.user;
  result.audiences = v.apiMatched;
  return result;
}

TokenResult ServiceAccountTokens::judgeBound(const Verified& v,
                                             const std::vector<std::string>& audiences) const {
  const int64_t now = now_();
  if (!v.exp || now > *v.exp + kClockLeewaySeconds)
    return TokenResult::refused("service account token has expired");
  if (v.nbf && now < *v.nbf - kClockLeewaySeconds)
    return TokenResult::refused("service account token is not valid yet");
  if (v.iat && now < *v.iat - kClockLeewaySeconds)
    return TokenResult::refused("service account token is issued in the future");

  // The API audiences (every request) were matched when the token was decoded; a reviewer's
  // own audiences are matched here.
  std::vector<std::string> matched;
  if (!audiences.empty())
    for (const auto& a : v.audiences)
      if (std::find(audiences.begin(), audiences.end(), a) != audiences.end()) matched.push_back(a);
  if ((audiences.empty() ? v.apiMatched : matched).empty())
    return TokenResult::refused("token audiences " + quotedList(v.audiences) +
                                " is invalid for the target audiences " +
                                quotedList(audiences.empty() ? apiAudiences_ : audiences));
  if (!v.malformed.empty()) return TokenResult::refused(v.malformed);

  // Upstream's order and words: the ServiceAccount, a bound Secret, a bound Pod.
  const char* invalidated = "service account token has been invalidated";
  auto account = lookup_("serviceaccounts", v.ns, v.name);
  if (!account) return TokenResult::refused("serviceaccounts \"" + v.name + "\" not found");
  if (uidOf(*account) != v.uid)
    return TokenResult::refused("service account UID (" + std::string(uidOf(*account)) +
                                ") does not match claim (" + v.uid + ")");
  if (deletedLongAgo(*account, now))
    return TokenResult::refused("service account " + v.ns + "/" + v.name + " has been deleted");
  struct Binding {
    const std::optional<BoundObject>& ref;
    const char* resource;
    const char* kind;  // as the messages name it
  };
  for (const Binding& b : {Binding{v.secret, "secrets", "secret"}, Binding{v.pod, "pods", "pod"}}) {
    if (!b.ref) continue;
    auto object = lookup_(b.resource, v.ns, b.ref->name);
    if (!object) return TokenResult::refused(invalidated);
    if (uidOf(*object) != b.ref->uid)
      return TokenResult::refused(std::string(b.kind) + " UID (" + std::string(uidOf(*object)) +
                                  ") does not match service account " + b.kind + " ref claim (" +
                                  b.ref->uid + ")");
    if (deletedLongAgo(*object, now)) return TokenResult::refused(invalidated);
  }
  TokenResult result;
  result.outcome = TokenResult::Authenticated;
  result.user = v.user;
  result.audiences = audiences.empty() ? v.apiMatched : std::move(matched);
  return result;
}

TokenResult ServiceAccountTokens::authenticate(std::string_view token,
                                               const std::vector<std::string>& audiences) const {
  std::shared_ptr<const Verified> verified = verifiedToken(token);
  if (!verified) {
    auto jwt = parseJwt(token);
    if (!jwt) return {};
    std::string_view iss = view(&jwt->claims, "iss");
    const bool legacy = iss == kLegacyIssuer && issuer_ != kLegacyIssuer;
    if (!legacy && iss != issuer_) return {};  // another issuer's token: not ours to judge
    // A legacy token asked for another audience is not ours to judge either (upstream's
    // legacy authenticator serves only the API audiences).
    if (legacy && !servesApiAudience(audiences)) return {};
    if (!key_.verify(*jwt)) return TokenResult::refused("invalid signature");
    verified = remember(token, decode(jwt->claims, legacy));
  }
  if (verified->legacy)
    return servesApiAudience(audiences) ? judgeLegacy(token, *verified) : TokenResult{};
  return judgeBound(*verified, audiences);
}

}  // namespace skiff::apiserver::auth
