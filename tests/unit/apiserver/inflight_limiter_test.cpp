// The max-in-flight filter: separate read-only and mutating budgets, long-running requests
// and system:masters / in-process requests never refused.
#include "apiserver/inflight_limiter.h"

#include <gtest/gtest.h>

namespace skiff::apiserver {
namespace {

HttpRequest request(const std::string& method, const std::string& target) {
  HttpRequest r;
  r.method = method;
  r.target = target;
  parseTarget(r);
  r.remoteAddress = "127.0.0.1:5555";
  return r;
}

std::optional<RequestInfo> resourceOf(const std::string& sub = "") {
  RequestInfo info;
  info.resource = "pods";
  info.subresource = sub;
  return info;
}

TEST(InflightLimiter, ReadOnlyAndMutatingHaveTheirOwnBudgets) {
  InflightLimiter limiter(2, 1);
  auto get = request("GET", "/api/v1/pods");
  auto post = request("POST", "/api/v1/namespaces/default/pods");
  auto r1 = limiter.admit(get, resourceOf());
  auto r2 = limiter.admit(get, resourceOf());
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(limiter.readOnlyInflight(), 2);
  EXPECT_FALSE(limiter.admit(get, resourceOf()));  // third read: 429
  auto w1 = limiter.admit(post, resourceOf());
  ASSERT_TRUE(w1);                                  // writes are counted apart
  EXPECT_FALSE(limiter.admit(post, resourceOf()));  // second write: 429
  EXPECT_FALSE(limiter.admit(request("DELETE", "/api/v1/namespaces/default/pods/x"), resourceOf()));
  EXPECT_EQ(limiter.mutatingInflight(), 1);
  r1.reset();  // a finished request frees its slot
  EXPECT_EQ(limiter.readOnlyInflight(), 1);
  EXPECT_TRUE(limiter.admit(get, resourceOf()));
}

TEST(InflightLimiter, LongRunningRequestsAreNotCounted) {
  InflightLimiter limiter(1, 1);
  auto busy = limiter.admit(request("GET", "/api/v1/pods"), resourceOf());
  ASSERT_TRUE(busy);
  EXPECT_TRUE(limiter.admit(request("GET", "/api/v1/pods?watch=true"), resourceOf()));
  EXPECT_TRUE(limiter.admit(request("GET", "/api/v1/watch/pods"), std::nullopt));
  EXPECT_TRUE(limiter.admit(request("GET", "/api/v1/namespaces/d/pods/p/log?follow=true"),
                            resourceOf("log")));
  auto busyWrite = limiter.admit(request("POST", "/api/v1/namespaces/d/pods"), resourceOf());
  ASSERT_TRUE(busyWrite);
  for (const char* sub : {"exec", "attach", "portforward", "proxy"})
    EXPECT_TRUE(limiter.admit(request("POST", "/api/v1/namespaces/d/pods/p/x"), resourceOf(sub)))
        << sub;
  EXPECT_EQ(limiter.readOnlyInflight(), 1);
  EXPECT_EQ(limiter.mutatingInflight(), 1);
}

TEST(InflightLimiter, SystemMastersAndInProcessClientsAreNeverRefused) {
  InflightLimiter limiter(1, 1);
  auto busy = limiter.admit(request("GET", "/api/v1/pods"), resourceOf());
  ASSERT_TRUE(busy);
  auto admin = request("GET", "/api/v1/pods");
  admin.client = std::make_shared<const skiff::net::ClientIdentity>(
      skiff::net::ClientIdentity{"admin", {"system:masters"}, {}, {}});
  EXPECT_TRUE(limiter.admit(admin, resourceOf()));
  auto local = request("GET", "/api/v1/pods");
  local.remoteAddress = "in-process";
  EXPECT_TRUE(limiter.admit(local, resourceOf()));
  auto anon = request("GET", "/api/v1/pods");
  anon.client = std::make_shared<const skiff::net::ClientIdentity>(
      skiff::net::ClientIdentity{"someone", {"system:authenticated"}, {}, {}});
  EXPECT_FALSE(limiter.admit(anon, resourceOf()));
}

// Credentials the limiter cannot see (a bearer token) are asked about only at the limit; an
// exempt one is served uncounted.
TEST(InflightLimiter, CredentialsAreAskedAboutOnlyAtTheLimit) {
  InflightLimiter limiter(1, 1);
  int asked = 0;
  auto exempt = [&] { return ++asked, true; };
  auto notExempt = [&] { return ++asked, false; };
  auto post = request("POST", "/api/v1/namespaces/d/pods");
  auto busy = limiter.admit(post, resourceOf(), notExempt);
  ASSERT_TRUE(busy);
  EXPECT_EQ(asked, 0);  // below the limit: not asked
  EXPECT_FALSE(limiter.admit(post, resourceOf(), notExempt));
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(limiter.admit(post, resourceOf(), exempt));
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(limiter.mutatingInflight(), 1);  // the exempt one is not counted
}

TEST(InflightLimiter, ZeroMeansNoLimit) {
  InflightLimiter limiter(0, 0);
  std::vector<InflightLimiter::Slot> held;
  for (int i = 0; i < 1000; ++i) {
    auto s = limiter.admit(request("POST", "/api/v1/namespaces/d/pods"), resourceOf());
    ASSERT_TRUE(s);
    held.push_back(std::move(*s));
  }
}

TEST(InflightLimiter, AnswerIsUpstreams) {
  auto res = tooManyRequestsResponse();
  EXPECT_EQ(res.status, 429);
  EXPECT_EQ(res.body, "Too many requests, please try again later.\n");
  bool retryAfter = false;
  for (const auto& [k, v] : res.headers)
    if (k == "Retry-After") retryAfter = v == "1";
  EXPECT_TRUE(retryAfter);
}

}  // namespace
}  // namespace skiff::apiserver
