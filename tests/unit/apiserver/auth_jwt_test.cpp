// ServiceAccount JWTs: signing, verification and every way a token must be refused.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>

#include "apiserver/auth/jwt.h"
#include "apiserver/auth/service_account_token.h"
#include "common/ids.h"

using namespace skiff::apiserver::auth;
namespace json = boost::json;

namespace {

using Objects = std::map<std::string, std::shared_ptr<const json::object>>;

std::shared_ptr<const json::object> object(const std::string& name, const std::string& uid) {
  return std::make_shared<json::object>(
      json::object{{"metadata", json::object{{"name", name}, {"uid", uid}}}});
}

struct Fixture {
  Objects objects{{"serviceaccounts/ns/build", object("build", "sa-uid")},
                  {"pods/ns/web", object("web", "pod-uid")}};
  int64_t now = 1'800'000'000;
  ServiceAccountTokens tokens{Es256Key::generate(),
                              kDefaultIssuer,
                              {kDefaultIssuer},
                              [this](const std::string& r, const std::string& ns,
                                     const std::string& n) -> std::shared_ptr<const json::object> {
                                auto it = objects.find(r + "/" + ns + "/" + n);
                                return it == objects.end() ? nullptr : it->second;
                              },
                              [this] { return now; }};
  TokenClaimsInput input() const {
    TokenClaimsInput in;
    in.namespace_ = "ns";
    in.serviceAccountName = "build";
    in.serviceAccountUid = "sa-uid";
    in.audiences = {kDefaultIssuer};
    return in;
  }
};

// A token whose claims were changed after signing, re-assembled with the old signature.
std::string withClaims(const std::string& token, const json::object& claims) {
  size_t a = token.find('.'), b = token.rfind('.');
  return token.substr(0, a) + "." + base64UrlEncode(json::serialize(claims)) + token.substr(b);
}

}  // namespace

TEST(AuthJwt, Base64UrlRoundTripAndStrictAlphabet) {
  std::string bytes = "\xfb\xff\x00\x10?>";
  std::string enc = base64UrlEncode(bytes);
  EXPECT_EQ(enc.find_first_of("+/="), std::string::npos);
  EXPECT_EQ(base64UrlDecode(enc), bytes);
  EXPECT_FALSE(base64UrlDecode("ab+c"));
  EXPECT_FALSE(base64UrlDecode("abc="));
  EXPECT_FALSE(base64UrlDecode("a"));
}

TEST(AuthJwt, SignVerifyRoundTrip) {
  Es256Key key = Es256Key::generate();
  std::string token = key.sign(json::object{{"sub", "x"}});
  auto jwt = parseJwt(token);
  ASSERT_TRUE(jwt);
  EXPECT_EQ(jwt->header.at("alg"), "ES256");
  EXPECT_EQ(jwt->header.at("kid").as_string(), key.keyId());
  EXPECT_EQ(jwt->claims.at("sub"), "x");
  EXPECT_EQ(jwt->signature.size(), 64u);
  EXPECT_TRUE(key.verify(*jwt));
  // The same key read back from its PEM verifies it too, under the same kid.
  Es256Key again = Es256Key::fromPrivatePem(key.privatePem());
  EXPECT_EQ(again.keyId(), key.keyId());
  EXPECT_TRUE(again.verify(*jwt));
  // Another key does not.
  EXPECT_FALSE(Es256Key::generate().verify(*jwt));
}

TEST(AuthJwt, JwkCarriesThePublicPoint) {
  Es256Key key = Es256Key::generate();
  json::object jwk = key.publicJwk();
  EXPECT_EQ(jwk.at("kty"), "EC");
  EXPECT_EQ(jwk.at("crv"), "P-256");
  EXPECT_EQ(jwk.at("alg"), "ES256");
  EXPECT_EQ(jwk.at("use"), "sig");
  EXPECT_EQ(jwk.at("kid").as_string(), key.keyId());
  EXPECT_EQ(base64UrlDecode(jwk.at("x").as_string())->size(), 32u);
  EXPECT_EQ(base64UrlDecode(jwk.at("y").as_string())->size(), 32u);
  EXPECT_EQ(key.keyId().size(), 43u);  // SHA-256, base64url without padding
  EXPECT_THROW(Es256Key::fromPrivatePem("not a key"), std::runtime_error);
}

TEST(AuthJwt, MalformedTokensAreNotJwts) {
  EXPECT_FALSE(parseJwt("abc"));
  EXPECT_FALSE(parseJwt("a.b"));
  EXPECT_FALSE(parseJwt("a.b.c.d"));
  EXPECT_FALSE(parseJwt("!!!.e30.AA"));                          // bad base64
  EXPECT_FALSE(parseJwt(base64UrlEncode("{nope") + ".e30.AA"));  // bad JSON
  EXPECT_FALSE(parseJwt(base64UrlEncode("[1]") + ".e30.AA"));    // not an object
  EXPECT_TRUE(parseJwt(base64UrlEncode("{}") + "." + base64UrlEncode("{}") + "."));
}

TEST(AuthServiceAccountToken, IssuedTokenAuthenticatesAsTheServiceAccount) {
  Fixture f;
  auto issued = f.tokens.issue(f.input());
  EXPECT_EQ(issued.expiresAt, f.now + 3600);
  auto claims = parseJwt(issued.token)->claims;
  EXPECT_EQ(claims.at("iss"), kDefaultIssuer);
  EXPECT_EQ(claims.at("sub"), "system:serviceaccount:ns:build");
  EXPECT_EQ(claims.at("aud").as_array().size(), 1u);
  EXPECT_EQ(claims.at("exp").as_int64(), f.now + 3600);
  EXPECT_EQ(claims.at("nbf").as_int64(), f.now);
  EXPECT_EQ(claims.at("iat").as_int64(), f.now);
  EXPECT_EQ(claims.at("kubernetes.io").at("serviceaccount").at("uid"), "sa-uid");
  EXPECT_FALSE(claims.at("jti").as_string().empty());

  TokenResult r = f.tokens.authenticate(issued.token);
  ASSERT_EQ(r.outcome, TokenResult::Authenticated) << r.error;
  EXPECT_EQ(r.user->user, "system:serviceaccount:ns:build");
  EXPECT_EQ(r.user->uid, "sa-uid");
  EXPECT_EQ(r.user->groups,
            (std::vector<std::string>{"system:serviceaccounts", "system:serviceaccounts:ns",
                                      "system:authenticated"}));
  EXPECT_EQ(r.user->extra.at("authentication.kubernetes.io/credential-id").at(0),
            "JTI=" + std::string(claims.at("jti").as_string()));
  EXPECT_EQ(r.audiences, std::vector<std::string>{kDefaultIssuer});
}

TEST(AuthServiceAccountToken, RefusesTamperedSignatureAndForeignAlgorithms) {
  Fixture f;
  std::string token = f.tokens.issue(f.input()).token;
  auto claims = parseJwt(token)->claims;
  claims["sub"] = "system:serviceaccount:ns:admin";
  EXPECT_EQ(f.tokens.authenticate(withClaims(token, claims)).outcome, TokenResult::Refused);

  std::string flipped = token;
  flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(f.tokens.authenticate(flipped).outcome, TokenResult::Refused);

  std::string payload = token.substr(token.find('.') + 1);
  payload = payload.substr(0, payload.find('.'));
  for (const char* alg : {"none", "HS256", "RS256"}) {
    std::string header = base64UrlEncode(json::serialize(json::object{{"alg", alg}}));
    TokenResult r =
        f.tokens.authenticate(header + "." + payload + "." + token.substr(token.rfind('.') + 1));
    EXPECT_EQ(r.outcome, TokenResult::Refused) << alg;
    EXPECT_EQ(r.error, "invalid signature") << alg;
    EXPECT_EQ(f.tokens.authenticate(header + "." + payload + ".").outcome, TokenResult::Refused)
        << alg;
  }
}

TEST(AuthServiceAccountToken, UnknownKeyIsRefused) {
  Fixture f;
  Fixture other;
  std::string token = other.tokens.issue(other.input()).token;
  EXPECT_EQ(f.tokens.authenticate(token).outcome, TokenResult::Refused);
}

TEST(AuthServiceAccountToken, WrongIssuerIsNotOurs) {
  Fixture f;
  std::string token = f.tokens.issue(f.input()).token;
  auto claims = parseJwt(token)->claims;
  claims["iss"] = "https://elsewhere";
  EXPECT_EQ(f.tokens.authenticate(withClaims(token, claims)).outcome, TokenResult::NotMine);
  EXPECT_EQ(f.tokens.authenticate("not.a.jwt").outcome, TokenResult::NotMine);
  EXPECT_EQ(f.tokens.authenticate("abc").outcome, TokenResult::NotMine);
}

TEST(AuthServiceAccountToken, WrongAudienceIsRefused) {
  Fixture f;
  TokenClaimsInput in = f.input();
  in.audiences = {"vault"};
  std::string token = f.tokens.issue(in).token;
  TokenResult r = f.tokens.authenticate(token);
  EXPECT_EQ(r.outcome, TokenResult::Refused);
  EXPECT_EQ(r.error, "token audiences [\"vault\"] is invalid for the target audiences [\"" +
                         std::string(kDefaultIssuer) + "\"]");
  // A reviewer that accepts "vault" takes it.
  EXPECT_EQ(f.tokens.authenticate(token, {"vault"}).outcome, TokenResult::Authenticated);
}

// A verified token's decoded claims are cached, but each request is still judged on its own:
// the audiences asked for, and a token differing in one byte is decoded and verified anew.
TEST(AuthServiceAccountToken, CachedTokenIsStillCheckedPerRequest) {
  Fixture f;
  std::string token = f.tokens.issue(f.input()).token;
  ASSERT_EQ(f.tokens.authenticate(token).outcome, TokenResult::Authenticated);
  EXPECT_EQ(f.tokens.authenticate(token, {"vault"}).outcome, TokenResult::Refused);
  EXPECT_EQ(f.tokens.authenticate(token).outcome, TokenResult::Authenticated);
  std::string tampered = token;              // one signature byte changed (not the last character's
  char& c = tampered[tampered.size() - 10];  // padding bits)
  c = c == 'A' ? 'B' : 'A';
  EXPECT_EQ(f.tokens.authenticate(tampered).outcome, TokenResult::Refused);
  json::object claims = parseJwt(token)->claims;
  claims["sub"] = "system:serviceaccount:ns:other";
  EXPECT_EQ(f.tokens.authenticate(withClaims(token, claims)).outcome, TokenResult::Refused);

  // The user and audiences made once serve every request alike; a reviewer's audiences are
  // matched per request against the token's.
  TokenResult again = f.tokens.authenticate(token);
  ASSERT_EQ(again.outcome, TokenResult::Authenticated);
  EXPECT_EQ(again.user->user, "system:serviceaccount:ns:build");
  EXPECT_EQ(again.user->groups,
            (std::vector<std::string>{"system:serviceaccounts", "system:serviceaccounts:ns",
                                      "system:authenticated"}));
  EXPECT_EQ(again.audiences, std::vector<std::string>{kDefaultIssuer});
  EXPECT_EQ(again.user, f.tokens.authenticate(token).user);  // one user, shared, not copied
  TokenResult reviewed = f.tokens.authenticate(token, {"vault", kDefaultIssuer});
  ASSERT_EQ(reviewed.outcome, TokenResult::Authenticated);
  EXPECT_EQ(reviewed.audiences, std::vector<std::string>{kDefaultIssuer});
  TokenResult refused = f.tokens.authenticate(token, {"vault"});
  EXPECT_EQ(refused.error, "token audiences [\"" + std::string(kDefaultIssuer) +
                               "\"] is invalid for the target audiences [\"vault\"]");

  // Malformed claims under a valid signature stay refused when repeated (cached as such).
  TokenClaimsInput noName = f.input();
  noName.serviceAccountName.clear();
  std::string malformed = f.tokens.issue(noName).token;
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(f.tokens.authenticate(malformed).error, "service account token claims are malformed");
}

TEST(AuthServiceAccountToken, ExpiryAndNotBeforeWithLeeway) {
  Fixture f;
  std::string token = f.tokens.issue(f.input()).token;  // valid [now, now+3600]
  const int64_t issuedAt = f.now;
  f.now = issuedAt + 3600 + kClockLeewaySeconds;
  EXPECT_EQ(f.tokens.authenticate(token).outcome, TokenResult::Authenticated);
  f.now = issuedAt + 3600 + kClockLeewaySeconds + 1;
  TokenResult expired = f.tokens.authenticate(token);
  EXPECT_EQ(expired.outcome, TokenResult::Refused);
  EXPECT_EQ(expired.error, "service account token has expired");
  f.now = issuedAt - kClockLeewaySeconds;
  EXPECT_EQ(f.tokens.authenticate(token).outcome, TokenResult::Authenticated);
  f.now = issuedAt - kClockLeewaySeconds - 1;
  TokenResult early = f.tokens.authenticate(token);
  EXPECT_EQ(early.outcome, TokenResult::Refused);
  EXPECT_EQ(early.error, "service account token is not valid yet");
}

TEST(AuthServiceAccountToken, DeletedOrRecreatedObjectsInvalidateTheToken) {
  Fixture f;
  TokenClaimsInput in = f.input();
  in.bound = BoundObject{"Pod", "web", "pod-uid"};
  std::string token = f.tokens.issue(in).token;
  TokenResult ok = f.tokens.authenticate(token);
  ASSERT_EQ(ok.outcome, TokenResult::Authenticated) << ok.error;
  EXPECT_EQ(ok.user->extra.at("authentication.kubernetes.io/pod-name").at(0), "web");
  EXPECT_EQ(ok.user->extra.at("authentication.kubernetes.io/pod-uid").at(0), "pod-uid");

  f.objects["pods/ns/web"] = object("web", "other-uid");  // deleted and recreated
  TokenResult r = f.tokens.authenticate(token);
  EXPECT_EQ(r.outcome, TokenResult::Refused);
  EXPECT_EQ(r.error, "pod UID (other-uid) does not match service account pod ref claim (pod-uid)");
  f.objects.erase("pods/ns/web");
  r = f.tokens.authenticate(token);
  EXPECT_EQ(r.outcome, TokenResult::Refused);
  EXPECT_EQ(r.error, "service account token has been invalidated");

  // Being deleted: tolerated for the leeway, then invalid.
  auto terminating = [&](int64_t agoSeconds) {
    json::object pod = *object("web", "pod-uid");
    pod["metadata"].as_object()["deletionTimestamp"] = skiff::formatTime(
        std::chrono::system_clock::time_point(std::chrono::seconds(f.now - agoSeconds)));
    f.objects["pods/ns/web"] = std::make_shared<json::object>(pod);
    return f.tokens.authenticate(token).outcome;
  };
  EXPECT_EQ(terminating(30), TokenResult::Authenticated);
  EXPECT_EQ(terminating(61), TokenResult::Refused);

  std::string unbound = f.tokens.issue(f.input()).token;
  EXPECT_EQ(f.tokens.authenticate(unbound).outcome, TokenResult::Authenticated);
  f.objects["serviceaccounts/ns/build"] = object("build", "new-sa-uid");
  r = f.tokens.authenticate(unbound);
  EXPECT_EQ(r.outcome, TokenResult::Refused);
  EXPECT_EQ(r.error, "service account UID (new-sa-uid) does not match claim (sa-uid)");
  f.objects.erase("serviceaccounts/ns/build");
  r = f.tokens.authenticate(unbound);
  EXPECT_EQ(r.outcome, TokenResult::Refused);
  EXPECT_EQ(r.error, "serviceaccounts \"build\" not found");
}

TEST(AuthServiceAccountToken, SecretBinding) {
  Fixture f;
  f.objects["secrets/ns/s"] = object("s", "secret-uid");
  TokenClaimsInput in = f.input();
  in.bound = BoundObject{"Secret", "s", "secret-uid"};
  std::string token = f.tokens.issue(in).token;
  EXPECT_EQ(parseJwt(token)->claims.at("kubernetes.io").at("secret").at("name"), "s");
  EXPECT_EQ(f.tokens.authenticate(token).outcome, TokenResult::Authenticated);
  f.objects.erase("secrets/ns/s");
  EXPECT_EQ(f.tokens.authenticate(token).outcome, TokenResult::Refused);
}

TEST(AuthServiceAccountToken, UserNameHelpers) {
  auto sa = splitServiceAccountUser("system:serviceaccount:kube-system:builder");
  ASSERT_TRUE(sa);
  EXPECT_EQ(sa->first, "kube-system");
  EXPECT_EQ(sa->second, "builder");
  EXPECT_FALSE(splitServiceAccountUser("jane"));
  EXPECT_FALSE(splitServiceAccountUser("system:serviceaccount:ns"));
  EXPECT_FALSE(splitServiceAccountUser("system:serviceaccount:ns:a:b"));
  EXPECT_FALSE(splitServiceAccountUser("system:serviceaccount::a"));
}

// What a ServiceAccount-token request costs (run with --gtest_also_run_disabled_tests).
TEST(AuthBench, DISABLED_TokenCost) {
  Fixture f;
  std::string token = f.tokens.issue(f.input()).token;
  auto time = [](const char* what, int n, const std::function<void()>& fn) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) fn();
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    std::printf("%-48s %8.0f ns/op\n", what, static_cast<double>(ns) / n);
  };
  time("issue (sign) a token", 2000, [&] { (void)f.tokens.issue(f.input()); });
  time("authenticate a repeated token (signature cached)", 2000, [&] {
    if (f.tokens.authenticate(token).outcome != TokenResult::Authenticated) std::abort();
  });
  auto jwt = parseJwt(token);
  time("parse only", 20000, [&] { (void)parseJwt(token); });
  time("ES256 verify only", 2000, [&] { (void)f.tokens.key().verify(*jwt); });
}
