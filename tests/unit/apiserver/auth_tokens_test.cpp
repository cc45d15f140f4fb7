// Bootstrap tokens, the static token file and the request authenticator's chain.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>

#include "apiserver/auth/authenticator.h"
#include "apiserver/auth/bootstrap_token.h"
#include "apiserver/auth/token_file.h"
#include "common/api_error.h"
#include "common/base64.h"

using namespace skiff::apiserver::auth;
using skiff::ApiError;
using skiff::base64Encode;
namespace json = boost::json;

namespace {

constexpr int64_t kNow = 1'800'000'000;  // 2027-01-15T08:00:00Z

json::object bootstrapSecret(std::map<std::string, std::string> data,
                             std::string type = "bootstrap.kubernetes.io/token") {
  json::object d;
  for (const auto& [k, v] : data) d[k] = base64Encode(v);
  return json::object{
      {"metadata", json::object{{"name", "bootstrap-token-abcdef"}, {"namespace", "kube-system"}}},
      {"type", type},
      {"data", std::move(d)}};
}

std::map<std::string, std::string> goodData() {
  return {{"token-id", "abcdef"},
          {"token-secret", "0123456789abcdef"},
          {"usage-bootstrap-authentication", "true"},
          {"expiration", "2027-06-01T00:00:00Z"},
          {"auth-extra-groups", "system:bootstrappers:kubeadm:default-node-token"}};
}

ObjectLookup lookupOf(std::map<std::string, json::object>& objects) {
  return [&objects](const std::string& r, const std::string& ns,
                    const std::string& n) -> std::shared_ptr<const json::object> {
    auto it = objects.find(r + "/" + ns + "/" + n);
    return it == objects.end() ? nullptr : std::make_shared<json::object>(it->second);
  };
}

}  // namespace

TEST(AuthBootstrapToken, ValidTokenAuthenticates) {
  std::map<std::string, json::object> objects{
      {"secrets/kube-system/bootstrap-token-abcdef", bootstrapSecret(goodData())}};
  TokenResult r = authenticateBootstrapToken("abcdef.0123456789abcdef", lookupOf(objects), kNow);
  ASSERT_EQ(r.outcome, TokenResult::Authenticated);
  EXPECT_EQ(r.user->user, "system:bootstrap:abcdef");
  EXPECT_EQ(r.user->groups,
            (std::vector<std::string>{"system:bootstrappers",
                                      "system:bootstrappers:kubeadm:default-node-token"}));
}

TEST(AuthBootstrapToken, RefusedVariants) {
  std::map<std::string, json::object> objects;
  auto lookup = lookupOf(objects);
  const std::string token = "abcdef.0123456789abcdef";
  auto with = [&](std::map<std::string, std::string> data,
                  std::string type = "bootstrap.kubernetes.io/token") {
    objects["secrets/kube-system/bootstrap-token-abcdef"] = bootstrapSecret(data, type);
    return authenticateBootstrapToken(token, lookup, kNow).outcome;
  };
  EXPECT_EQ(authenticateBootstrapToken(token, lookup, kNow).outcome, TokenResult::NotMine)
      << "no Secret";
  auto data = goodData();
  EXPECT_EQ(with(data), TokenResult::Authenticated);
  EXPECT_EQ(with(data, "Opaque"), TokenResult::NotMine) << "wrong type";
  auto d = data;
  d["token-secret"] = "0123456789abcdee";
  EXPECT_EQ(with(d), TokenResult::NotMine) << "wrong secret";
  d = data;
  d["expiration"] = "2026-01-01T00:00:00Z";
  EXPECT_EQ(with(d), TokenResult::NotMine) << "expired";
  d["expiration"] = "yesterday";
  EXPECT_EQ(with(d), TokenResult::NotMine) << "unparsable expiration";
  d = data;
  d.erase("expiration");
  EXPECT_EQ(with(d), TokenResult::Authenticated) << "no expiration: valid";
  d = data;
  d["usage-bootstrap-authentication"] = "false";
  EXPECT_EQ(with(d), TokenResult::NotMine) << "not for authentication";
  d = data;
  d["auth-extra-groups"] = "system:masters";
  EXPECT_EQ(with(d), TokenResult::NotMine) << "extra group outside system:bootstrappers:";
  d = data;
  d["token-id"] = "zzzzzz";
  EXPECT_EQ(with(d), TokenResult::NotMine) << "token-id mismatch";
  with(data);
  for (const char* bad : {"abcdef", "abcdef.0123", "ABCDEF.0123456789abcdef",
                          "abcdef.0123456789abcdefg", "abcde.0123456789abcdef"})
    EXPECT_EQ(authenticateBootstrapToken(bad, lookup, kNow).outcome, TokenResult::NotMine) << bad;
}

TEST(AuthTokenFile, ParsesUpstreamCsv) {
  auto tokens = parseTokenFile(
      "tok1,alice,uid-1\n"
      "tok2,bob,uid-2,\"devs,qa\"\n"
      "\n"
      "tok3,carol,uid-3,ops,ignored-extra-column\r\n"
      "\"tok,4\",\"dave \"\"the\"\" admin\",uid-4,\" spaced , groups \"\n",
      "/f.csv");
  ASSERT_EQ(tokens.size(), 4u);
  EXPECT_EQ(tokens.at("tok1").user, "alice");
  EXPECT_EQ(tokens.at("tok1").uid, "uid-1");
  EXPECT_TRUE(tokens.at("tok1").groups.empty());
  EXPECT_EQ(tokens.at("tok2").groups, (std::vector<std::string>{"devs", "qa"}));
  EXPECT_EQ(tokens.at("tok3").groups, (std::vector<std::string>{"ops"}));
  EXPECT_EQ(tokens.at("tok,4").user, "dave \"the\" admin");
  EXPECT_EQ(tokens.at("tok,4").groups, (std::vector<std::string>{"spaced", "groups"}));
}

TEST(AuthTokenFile, BadLinesAreErrors) {
  EXPECT_THROW(parseTokenFile("tok1,alice\n", "/f.csv"), std::runtime_error);
  EXPECT_THROW(parseTokenFile(",alice,uid\n", "/f.csv"), std::runtime_error);
  EXPECT_THROW(parseTokenFile("tok,,uid\n", "/f.csv"), std::runtime_error);
  EXPECT_THROW(parseTokenFile("\"tok,alice,uid\n", "/f.csv"), std::runtime_error);
  EXPECT_THROW(parseTokenFile("to\"k,alice,uid\n", "/f.csv"), std::runtime_error);
  try {
    parseTokenFile("ok,a,1\nbad\n", "/etc/tokens.csv");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "token file '/etc/tokens.csv' must have at least 3 columns (token, user name, "
              "unique user ID), found 1");
  }
  // A repeated token keeps the last record.
  EXPECT_EQ(parseTokenFile("t,a,1\nt,b,2\n", "/f").at("t").user, "b");
}

TEST(AuthRequestAuthenticator, ChainOrderAndGroups) {
  std::map<std::string, json::object> objects{
      {"secrets/kube-system/bootstrap-token-abcdef", bootstrapSecret(goodData())}};
  AuthenticatorConfig config;
  config.lookup = lookupOf(objects);
  config.staticTokens = parseTokenFile("static-token,jane,uid-9,devs\n", "/f");
  config.now = [] { return kNow; };
  RequestAuthenticator authn(config);

  skiff::net::HttpRequest req;
  // No credentials: anonymous, without system:authenticated.
  auto anon = authn.authenticate(req);
  EXPECT_EQ(anon->user, "system:anonymous");
  EXPECT_EQ(anon->groups, std::vector<std::string>{"system:unauthenticated"});

  // A verified certificate wins over a token, and gains system:authenticated.
  req.client = std::make_shared<const skiff::net::ClientIdentity>(
      skiff::net::ClientIdentity{"admin", {"system:masters"}, {}, {}});
  req.headers["authorization"] = "Bearer garbage";
  auto cert = authn.authenticate(req);
  EXPECT_EQ(cert->user, "admin");
  EXPECT_EQ(cert->groups, (std::vector<std::string>{"system:masters", "system:authenticated"}));
  // An identity already in system:authenticated (the in-process endpoint's) is answered as
  // it is, not copied.
  auto loopback = std::make_shared<const skiff::net::ClientIdentity>(skiff::net::ClientIdentity{
      "system:apiserver", {"system:masters", "system:authenticated"}, {}, {}});
  req.client = loopback;
  EXPECT_EQ(authn.authenticate(req), loopback);

  req.client = nullptr;
  req.headers["authorization"] = "Bearer static-token";
  auto jane = authn.authenticate(req);
  EXPECT_EQ(jane->user, "jane");
  EXPECT_EQ(jane->uid, "uid-9");
  EXPECT_EQ(jane->groups, (std::vector<std::string>{"devs", "system:authenticated"}));

  req.headers["authorization"] = "bearer abcdef.0123456789abcdef";  // scheme is case-insensitive
  auto boot = authn.authenticate(req);
  EXPECT_EQ(boot->user, "system:bootstrap:abcdef");
  EXPECT_EQ(boot->groups.back(), "system:authenticated");

  // A token nobody accepts is a 401, never anonymous.
  req.headers["authorization"] = "Bearer garbage";
  try {
    authn.authenticate(req);
    FAIL() << "expected 401";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 401);
    EXPECT_EQ(e.reason(), "Unauthorized");
    EXPECT_EQ(std::string(e.what()), "Unauthorized");
  }
  EXPECT_EQ(authn.authenticateToken("garbage").error, "invalid bearer token");
  // Another scheme is no bearer token at all.
  req.headers["authorization"] = "Basic YWRtaW46YWRtaW4=";
  EXPECT_EQ(authn.authenticate(req)->user, "system:anonymous");
  req.headers["authorization"] = "Bearer ";
  EXPECT_EQ(authn.authenticate(req)->user, "system:anonymous");
}

TEST(AuthRequestAuthenticator, PlainHttpIsTheOldInsecurePort) {
  AuthenticatorConfig config;
  config.plainHttp = true;
  RequestAuthenticator authn(config);
  skiff::net::HttpRequest req;
  auto user = authn.authenticate(req);
  EXPECT_EQ(user->user, "system:unsecured");
  EXPECT_EQ(user->groups[0], "system:masters");
}

TEST(AuthRequestAuthenticator, BearerTokenParsing) {
  skiff::net::HttpRequest req;
  EXPECT_FALSE(bearerToken(req));
  req.headers["authorization"] = "  Bearer abc  ";
  EXPECT_EQ(bearerToken(req), "abc");
  req.headers["authorization"] = "Bearer abc def";
  EXPECT_EQ(bearerToken(req), "abc");
  req.headers["authorization"] = "Bearer";
  EXPECT_FALSE(bearerToken(req));
  req.headers["authorization"] = "Token abc";
  EXPECT_FALSE(bearerToken(req));
  req.headers["authorization"] = "bEaReR abc";  // the scheme is case-insensitive
  EXPECT_EQ(bearerToken(req), "abc");
  req.headers["authorization"] = "Bearers abc";
  EXPECT_FALSE(bearerToken(req));
  req.headers["authorization"] = "Bearer  abc";  // the second space-separated part is empty
  EXPECT_FALSE(bearerToken(req));
  req.headers["authorization"] = " \t ";
  EXPECT_FALSE(bearerToken(req));
}

// Legacy ServiceAccount tokens (Secret-based, issuer kubernetes/serviceaccount): valid while
// the Secret holds the very token and the account exists with the uid in it.
#include "apiserver/auth/service_account_token.h"

TEST(AuthLegacyServiceAccountToken, ValidWhileSecretAndAccountExist) {
  std::map<std::string, json::object> objects;
  ServiceAccountTokens tokens(Es256Key::generate(), kDefaultIssuer, {kDefaultIssuer},
                              lookupOf(objects), [] { return kNow; });
  const std::string token = tokens.issueLegacy("ns", "robot", "uid-1", "robot-token");
  objects["serviceaccounts/ns/robot"] =
      json::object{{"metadata", json::object{{"name", "robot"}, {"uid", "uid-1"}}}};
  objects["secrets/ns/robot-token"] =
      json::object{{"metadata", json::object{{"name", "robot-token"}}},
                   {"type", "kubernetes.io/service-account-token"},
                   {"data", json::object{{"token", base64Encode(token)}}}};

  TokenResult r = tokens.authenticate(token);
  ASSERT_EQ(r.outcome, TokenResult::Authenticated) << r.error;
  EXPECT_EQ(r.user->user, "system:serviceaccount:ns:robot");
  EXPECT_EQ(r.user->uid, "uid-1");
  EXPECT_EQ(r.user->groups,
            (std::vector<std::string>{"system:serviceaccounts", "system:serviceaccounts:ns",
                                      "system:authenticated"}));
  EXPECT_EQ(r.audiences, std::vector<std::string>{kDefaultIssuer});
  // Another audience than the API's: not a legacy token's business.
  EXPECT_EQ(tokens.authenticate(token, {"vault"}).outcome, TokenResult::NotMine);

  // The Secret holds another token.
  objects["secrets/ns/robot-token"]["data"].as_object()["token"] = base64Encode("other");
  r = tokens.authenticate(token);
  EXPECT_EQ(r.outcome, TokenResult::Refused);
  EXPECT_EQ(r.error, "token does not match server's copy");
  objects["secrets/ns/robot-token"]["data"].as_object()["token"] = base64Encode(token);

  // The account was re-created (another uid).
  objects["serviceaccounts/ns/robot"]["metadata"].as_object()["uid"] = "uid-2";
  r = tokens.authenticate(token);
  EXPECT_EQ(r.error, "service account UID (uid-2) does not match claim (uid-1)");
  objects.erase("serviceaccounts/ns/robot");
  EXPECT_EQ(tokens.authenticate(token).error, "serviceaccounts \"robot\" not found");
  objects["serviceaccounts/ns/robot"] =
      json::object{{"metadata", json::object{{"name", "robot"}, {"uid", "uid-1"}}}};
  EXPECT_EQ(tokens.authenticate(token).outcome, TokenResult::Authenticated);

  // The Secret was deleted.
  objects.erase("secrets/ns/robot-token");
  r = tokens.authenticate(token);
  EXPECT_EQ(r.outcome, TokenResult::Refused);
  EXPECT_EQ(r.error, "token has been invalidated");

  // Signed by another key: refused.
  ServiceAccountTokens stranger(Es256Key::generate(), kDefaultIssuer, {kDefaultIssuer},
                                lookupOf(objects), [] { return kNow; });
  EXPECT_EQ(tokens.authenticate(stranger.issueLegacy("ns", "robot", "uid-1", "robot-token")).error,
            "invalid signature");
}
