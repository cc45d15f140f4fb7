// The kubelet API's authentication and authorization (kubelet_auth.h): path → attributes as
// upstream, TokenReview and SubjectAccessReview caching with a fake clock, and the 401/403
// answers.
#include "kubelet/kubelet_auth.h"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>

#include "common/base64.h"

namespace skiff::kubelet {
namespace {

using std::chrono::seconds;

TEST(NodeRequestAttributesTest, SubresourceByPath) {
  EXPECT_EQ(nodeRequestAttributes("GET", "/stats/summary"),
            (NodeRequestAttributes{"get", "stats"}));
  EXPECT_EQ(nodeRequestAttributes("GET", "/stats"), (NodeRequestAttributes{"get", "stats"}));
  EXPECT_EQ(nodeRequestAttributes("GET", "/metrics/cadvisor"),
            (NodeRequestAttributes{"get", "metrics"}));
  EXPECT_EQ(nodeRequestAttributes("GET", "/metrics"), (NodeRequestAttributes{"get", "metrics"}));
  EXPECT_EQ(nodeRequestAttributes("GET", "/logs/syslog"), (NodeRequestAttributes{"get", "log"}));
  EXPECT_EQ(nodeRequestAttributes("GET", "/spec/"), (NodeRequestAttributes{"get", "spec"}));
  // Only whole segments count: /statsx is not /stats.
  EXPECT_EQ(nodeRequestAttributes("GET", "/statsx").subresource, "proxy");
  EXPECT_EQ(nodeRequestAttributes("GET", "/metricsfoo").subresource, "proxy");
  for (const char* p :
       {"/pods", "/exec/default/web/app", "/attach/default/web/app", "/portForward/default/web",
        "/run/default/web/app", "/containerLogs/default/web/app", "/configz", "/debug/pprof", "/"})
    EXPECT_EQ(nodeRequestAttributes("GET", p).subresource, "proxy") << p;
}

TEST(NodeRequestAttributesTest, VerbFromMethod) {
  EXPECT_EQ(nodeRequestAttributes("POST", "/exec/a/b/c").verb, "create");
  EXPECT_EQ(nodeRequestAttributes("PUT", "/pods").verb, "update");
  EXPECT_EQ(nodeRequestAttributes("PATCH", "/pods").verb, "patch");
  EXPECT_EQ(nodeRequestAttributes("DELETE", "/pods").verb, "delete");
  EXPECT_EQ(nodeRequestAttributes("HEAD", "/pods").verb, "");
  // A WebSocket exec is an HTTP GET: upstream 1.32 authorizes it as get on nodes/proxy.
  EXPECT_EQ(nodeRequestAttributes("GET", "/exec/default/web/app").verb, "get");
}

// Fake reviewers that count their calls.
struct Reviews {
  std::map<std::string, std::string> tokens;  // token → user
  std::map<std::string, bool> grants;         // "user verb subresource" → allowed
  int tokenCalls = 0, accessCalls = 0;
  bool failing = false;
  std::string lastNode;

  TokenReviewFn tokenFn() {
    return [this](const std::string& token) -> std::optional<net::ClientIdentity> {
      ++tokenCalls;
      if (failing) throw std::runtime_error("connection refused");
      auto it = tokens.find(token);
      if (it == tokens.end()) return std::nullopt;
      net::ClientIdentity id;
      id.user = it->second;
      id.groups = {"system:serviceaccounts", "system:authenticated"};
      return id;
    };
  }
  AccessReviewFn accessFn() {
    return [this](const net::ClientIdentity& u, const std::string& verb, const std::string& node,
                  const std::string& sub, std::string& reason) {
      ++accessCalls;
      lastNode = node;
      if (failing) throw std::runtime_error("connection refused");
      reason = "test";
      auto it = grants.find(u.user + " " + verb + " " + sub);
      return it != grants.end() && it->second;
    };
  }
};

class KubeletAuthTest : public ::testing::Test {
 protected:
  KubeletAuthTest() {
    KubeletAuthOptions o;
    o.clock = &clock_;
    o.maxCacheEntries = 3;
    auth_ = std::make_unique<KubeletAuth>("node-1", reviews_.tokenFn(), reviews_.accessFn(), o);
  }
  net::HttpRequest request(const std::string& method, const std::string& path,
                           const std::string& token = "", const std::string& certUser = "") {
    net::HttpRequest r;
    r.method = method;
    r.path = path;
    if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
    if (!certUser.empty())
      r.client =
          std::make_shared<const net::ClientIdentity>(net::ClientIdentity{certUser, {}, {}, {}});
    return r;
  }

  FakeClock clock_;
  Reviews reviews_;
  std::unique_ptr<KubeletAuth> auth_;
};

TEST_F(KubeletAuthTest, AnonymousIs401WithUpstreamsPlainBody) {
  auto r = request("GET", "/pods");
  auto res = auth_->check(r);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(res->body, "Unauthorized");
  EXPECT_EQ(reviews_.tokenCalls, 0);
  EXPECT_EQ(reviews_.accessCalls, 0);
}

TEST_F(KubeletAuthTest, WebSocketTokenProtocolIsDroppedAfterAuthentication) {
  reviews_.tokens["my-token?"] = "alice";
  reviews_.grants["alice get proxy"] = true;
  auto r = request("GET", "/exec/default/web/app");
  r.headers["sec-websocket-protocol"] =
      "v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.bXktdG9rZW4_, v4.channel.k8s.io";
  EXPECT_FALSE(auth_->check(r));
  EXPECT_EQ(r.identity().user, "alice");
  EXPECT_EQ(r.header("sec-websocket-protocol"), "v5.channel.k8s.io, v4.channel.k8s.io");
  r = request("GET", "/exec/default/web/app");
  r.headers["sec-websocket-protocol"] = "base64url.bearer.authorization.k8s.io.bXktdG9rZW4_";
  EXPECT_FALSE(auth_->check(r));
  EXPECT_EQ(r.headers.count("sec-websocket-protocol"), 0u);  // nothing else offered
}

TEST_F(KubeletAuthTest, InvalidTokenIs401AndCachedBriefly) {
  auto r = request("GET", "/pods", "bogus");
  ASSERT_EQ(auth_->check(r)->status, 401);
  r = request("GET", "/pods", "bogus");
  ASSERT_EQ(auth_->check(r)->status, 401);
  EXPECT_EQ(reviews_.tokenCalls, 1);
  clock_.step(seconds(11));
  r = request("GET", "/pods", "bogus");
  ASSERT_EQ(auth_->check(r)->status, 401);
  EXPECT_EQ(reviews_.tokenCalls, 2);
}

TEST_F(KubeletAuthTest, TokenUserIsAuthorizedOnThisNode) {
  reviews_.tokens["t1"] = "system:serviceaccount:default:reader";
  reviews_.grants["system:serviceaccount:default:reader get stats"] = true;
  auto r = request("GET", "/stats/summary", "t1");
  EXPECT_FALSE(auth_->check(r));
  EXPECT_EQ(r.identity().user, "system:serviceaccount:default:reader");
  EXPECT_EQ(reviews_.lastNode, "node-1");

  r = request("GET", "/pods", "t1");
  auto res = auth_->check(r);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_EQ(res->body,
            "Forbidden (user=system:serviceaccount:default:reader, verb=get, resource=nodes, "
            "subresource(s)=[proxy])");
  r = request("POST", "/exec/default/web/app", "t1");
  EXPECT_EQ(auth_->check(r)->body,
            "Forbidden (user=system:serviceaccount:default:reader, verb=create, "
            "resource=nodes, subresource(s)=[proxy])");
}

TEST_F(KubeletAuthTest, ValidTokensAreCachedTwoMinutes) {
  reviews_.tokens["t1"] = "alice";
  reviews_.grants["alice get stats"] = true;
  for (int i = 0; i < 3; ++i) {
    auto r = request("GET", "/stats/summary", "t1");
    EXPECT_FALSE(auth_->check(r));
  }
  EXPECT_EQ(reviews_.tokenCalls, 1);
  clock_.step(seconds(119));
  auto r = request("GET", "/stats/summary", "t1");
  EXPECT_FALSE(auth_->check(r));
  EXPECT_EQ(reviews_.tokenCalls, 1);
  clock_.step(seconds(2));
  reviews_.tokens.erase("t1");  // revoked: seen once the cached answer expired
  r = request("GET", "/stats/summary", "t1");
  EXPECT_EQ(auth_->check(r)->status, 401);
  EXPECT_EQ(reviews_.tokenCalls, 2);
}

TEST_F(KubeletAuthTest, DecisionsAreCachedAllowedFiveMinutesDeniedThirtySeconds) {
  auto cert = [&](const std::string& path) { return request("GET", path, "", "bob"); };
  reviews_.grants["bob get proxy"] = true;
  auto r = cert("/pods");
  EXPECT_FALSE(auth_->check(r));
  r = cert("/pods");
  EXPECT_FALSE(auth_->check(r));
  EXPECT_EQ(reviews_.accessCalls, 1);
  r = cert("/stats/summary");  // another subresource: another review
  EXPECT_EQ(auth_->check(r)->status, 403);
  EXPECT_EQ(reviews_.accessCalls, 2);

  reviews_.grants["bob get stats"] = true;
  clock_.step(seconds(29));
  r = cert("/stats/summary");
  EXPECT_EQ(auth_->check(r)->status, 403);  // the denial is still cached
  EXPECT_EQ(reviews_.accessCalls, 2);
  clock_.step(seconds(2));
  r = cert("/stats/summary");
  EXPECT_FALSE(auth_->check(r));
  EXPECT_EQ(reviews_.accessCalls, 3);

  reviews_.grants["bob get proxy"] = false;
  clock_.step(seconds(240));
  r = cert("/pods");
  EXPECT_FALSE(auth_->check(r));  // allowed 4.5 minutes ago: still cached
  clock_.step(seconds(61));
  r = cert("/pods");
  EXPECT_EQ(auth_->check(r)->status, 403);
}

TEST_F(KubeletAuthTest, ReviewErrorsAreNotCached) {
  reviews_.tokens["t1"] = "alice";
  reviews_.grants["alice get proxy"] = true;
  reviews_.failing = true;
  auto r = request("GET", "/pods", "t1");
  EXPECT_EQ(auth_->check(r)->status, 401);
  r = request("GET", "/pods", "", "carol");
  auto res = auth_->check(r);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->body,
            "Authorization error (user=carol, verb=get, resource=nodes, subresource(s)=[proxy])");
  reviews_.failing = false;
  r = request("GET", "/pods", "t1");
  EXPECT_FALSE(auth_->check(r));
  EXPECT_EQ(reviews_.tokenCalls, 2);
}

TEST_F(KubeletAuthTest, CachesAreBounded) {
  for (int i = 0; i < 10; ++i) {
    auto r = request("GET", "/pods", "token-" + std::to_string(i));
    EXPECT_EQ(auth_->check(r)->status, 401);
  }
  EXPECT_EQ(reviews_.tokenCalls, 10);
  // token-0 was evicted (3 entries at most): asked again; token-9 is still cached.
  auto r = request("GET", "/pods", "token-9");
  auth_->check(r);
  EXPECT_EQ(reviews_.tokenCalls, 10);
  r = request("GET", "/pods", "token-0");
  auth_->check(r);
  EXPECT_EQ(reviews_.tokenCalls, 11);
}

TEST(ExpiringCacheTest, EvictsOldestAndExpires) {
  FakeClock clock;
  ExpiringCache<int> c(2, &clock);
  c.put("a", 1, seconds(10));
  c.put("b", 2, seconds(10));
  c.put("c", 3, seconds(10));
  EXPECT_FALSE(c.get("a"));
  EXPECT_EQ(c.get("b"), 2);
  EXPECT_EQ(c.size(), 2u);
  clock.step(seconds(10));
  EXPECT_FALSE(c.get("b"));
  EXPECT_EQ(c.size(), 1u);
}

TEST(KubeletAuthBearerTest, HeaderOrWebSocketSubprotocol) {
  net::HttpRequest r;
  EXPECT_EQ(KubeletAuth::bearerToken(r), "");
  r.headers["authorization"] = "Bearer abc.def";
  EXPECT_EQ(KubeletAuth::bearerToken(r), "abc.def");
  r.headers["authorization"] = "bearer   xyz ";
  EXPECT_EQ(KubeletAuth::bearerToken(r), "xyz");
  r.headers["authorization"] = "Basic Zm9vOmJhcg==";
  EXPECT_EQ(KubeletAuth::bearerToken(r), "");
  r.headers.erase("authorization");
  // base64url("my-token?") without padding is "bXktdG9rZW4_"
  r.headers["sec-websocket-protocol"] =
      "v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.bXktdG9rZW4_";
  EXPECT_EQ(KubeletAuth::bearerToken(r), "my-token?");
}

}  // namespace
}  // namespace skiff::kubelet
