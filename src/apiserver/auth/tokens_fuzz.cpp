// libFuzzer target for what the API server parses from the network or from files before it
// knows who is asking: bearer tokens (JWTs, ServiceAccount tokens, bootstrap tokens), the
// static token file, audit policies and YAML bodies. The first byte picks the parser; the
// rest is its input. Refusals are fine (nullopt, NotMine/Refused, ApiError,
// std::runtime_error); a crash, sanitizer report or broken invariant is a bug.
#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

#include "api/yaml_json.h"
#include "apiserver/audit.h"
#include "apiserver/auth/bootstrap_token.h"
#include "apiserver/auth/jwt.h"
#include "apiserver/auth/service_account_token.h"
#include "apiserver/auth/token_file.h"
#include "common/api_error.h"

namespace {

namespace json = boost::json;
using namespace skiff::apiserver;
using namespace skiff::apiserver::auth;

constexpr int64_t kNow = 1'800'000'000;

[[noreturn]] void invariantBroken() { __builtin_trap(); }

// The objects tokens refer to: a ServiceAccount, a Pod, a Secret and a bootstrap Secret.
std::shared_ptr<const json::object> lookup(const std::string& resource, const std::string& ns,
                                           const std::string& name) {
  static const json::object sa =
      json::parse(R"({"metadata":{"name":"default","namespace":"default","uid":"sa-uid"}})")
          .as_object();
  static const json::object pod =
      json::parse(
          R"({"metadata":{"name":"web","namespace":"default","uid":"pod-uid"},
          "spec":{"nodeName":"n1"}})")
          .as_object();
  static const json::object secret =
      json::parse(R"({"metadata":{"name":"s","namespace":"default","uid":"secret-uid"}})")
          .as_object();
  // token-id abcdef, secret 0123456789abcdef, expires 2030, extra groups.
  static const json::object boot =
      json::parse(
          R"({"metadata":{"name":"bootstrap-token-abcdef","namespace":"kube-system"},
          "type":"bootstrap.kubernetes.io/token",
          "data":{"token-id":"YWJjZGVm","token-secret":"MDEyMzQ1Njc4OWFiY2RlZg==",
                  "usage-bootstrap-authentication":"dHJ1ZQ==",
                  "expiration":"MjAzMC0wMS0wMVQwMDowMDowMFo=",
                  "auth-extra-groups":"c3lzdGVtOmJvb3RzdHJhcHBlcnM6eA=="}})")
          .as_object();
  if (resource == "serviceaccounts" && ns == "default" && name == "default")
    return std::make_shared<json::object>(sa);
  if (resource == "pods" && ns == "default" && name == "web")
    return std::make_shared<json::object>(pod);
  if (resource == "secrets" && ns == "default" && name == "s")
    return std::make_shared<json::object>(secret);
  if (resource == "secrets" && ns == "kube-system" && name == "bootstrap-token-abcdef")
    return std::make_shared<json::object>(boot);
  return nullptr;
}

const ServiceAccountTokens& tokens() {
  static const ServiceAccountTokens t(Es256Key::generate(), kDefaultIssuer, {kDefaultIssuer},
                                      lookup, [] { return kNow; });
  return t;
}

void checkResult(const TokenResult& r) {
  if (r.outcome == TokenResult::Authenticated && (!r.user || r.user->user.empty()))
    invariantBroken();
  if (r.outcome == TokenResult::Refused && r.error.empty()) invariantBroken();
}

// Any text as a bearer token: parsed, and (for ours) verified; nothing forged passes.
void fuzzJwt(std::string_view input) {
  std::string token(input);
  if (auto jwt = parseJwt(token)) {
    if (tokens().key().verify(*jwt)) invariantBroken();  // no forged signature verifies
  }
  TokenResult r = tokens().authenticate(token);
  if (r.outcome == TokenResult::Authenticated) invariantBroken();
  checkResult(r);
  if (auto decoded = base64UrlDecode(input)) {
    // Non-zero trailing bits are accepted (as Go's non-strict decoder, which upstream's JWT
    // library uses), so only decode(encode(x)) == x holds, not encode(decode(s)) == s.
    if (base64UrlDecode(base64UrlEncode(*decoded)) != decoded) invariantBroken();
  }
}

// Any JSON object as the claims of a token signed with our key: the claim checks (iss, aud,
// exp/nbf/iat, the kubernetes.io section, bound objects) see every shape.
void fuzzSignedClaims(std::string_view input) {
  json::error_code ec;
  json::value v = json::parse(input, ec);
  if (ec || !v.is_object()) return;
  std::string token = tokens().key().sign(v.as_object());
  auto jwt = parseJwt(token);
  if (!jwt || !tokens().key().verify(*jwt)) invariantBroken();
  checkResult(tokens().authenticate(token));
  checkResult(tokens().authenticate(token, {"other-audience"}));
}

void fuzzBootstrapToken(std::string_view input) {
  checkResult(authenticateBootstrapToken(std::string(input), lookup, kNow));
}

void fuzzTokenFile(std::string_view input) {
  try {
    auto users = parseTokenFile(std::string(input), "fuzz.csv");
    for (const auto& [token, user] : users)
      if (token.empty() || user.user.empty()) invariantBroken();
  } catch (const std::runtime_error&) {
  }
}

// a == b, except that doubles may differ in their last bits: Boost.JSON 1.81 parses numbers
// with a fast, not correctly rounded algorithm (no precise option before 1.83), so a long
// literal can come back one ulp off.
bool sameJson(const json::value& a, const json::value& b) {
  if (a.is_double() && b.is_double()) {
    double x = a.get_double(), y = b.get_double();
    return x == y || std::fabs(x - y) <= 4 * std::numeric_limits<double>::epsilon() *
                                             std::max(std::fabs(x), std::fabs(y));
  }
  if (a.is_array() && b.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (!sameJson(x[i], y[i])) return false;
    return true;
  }
  if (a.is_object() && b.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const json::value* other = y.if_contains(kv.key());
      if (!other || !sameJson(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

void fuzzYaml(std::string_view input) {
  try {
    json::value v = skiff::api::yamlToJson(input);
    // Whatever came out serializes and parses back.
    json::value again = json::parse(json::serialize(v));
    if (!sameJson(again, v)) invariantBroken();
  } catch (const skiff::ApiError&) {
  }
}

void fuzzAuditPolicy(std::string_view input) {
  try {
    AuditPolicy p = parseAuditPolicy(input);
    UserInfo user{"u", {"g"}, "", {}};
    AuthorizationAttributes a;
    a.user = &user;
    a.verb = "get";
    a.resourceRequest = true;
    a.resource = "pods";
    a.subresource = "log";
    evaluateAuditPolicy(p, a);
    a.resourceRequest = false;
    a.path = "/healthz";
    evaluateAuditPolicy(p, a);
  } catch (const std::runtime_error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    switch (data[0] % 6) {
      case 0:
        fuzzJwt(input);
        break;
      case 1:
        fuzzSignedClaims(input);
        break;
      case 2:
        fuzzBootstrapToken(input);
        break;
      case 3:
        fuzzTokenFile(input);
        break;
      case 4:
        fuzzYaml(input);
        break;
      case 5:
        fuzzAuditPolicy(input);
        break;
    }
  } catch (const json::system_error&) {
    // Boost.JSON's own refusals (depth, sizes) from inputs built on parsed JSON.
  }
  return 0;
}
