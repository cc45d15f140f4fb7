// The kubelet's token manager: upstream's refresh rule (80 % of the lifetime, 24 h, jitter),
// caching per pod, and keeping a valid token when a refresh fails.
#include "kubelet/token_manager.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace skiff::kubelet {
namespace {

using namespace std::chrono;
using TimePoint = system_clock::time_point;

const TimePoint kStart = system_clock::from_time_t(1'800'000'000);

IssuedToken tokenExpiring(TimePoint expiresAt, int64_t lifetime) {
  return IssuedToken{"t", expiresAt, lifetime};
}

TEST(TokenRefreshRule, AtEightyPercentOfTheLifetime) {
  IssuedToken t = tokenExpiring(kStart + seconds(3600), 3600);
  EXPECT_FALSE(tokenRequiresRefresh(t, kStart, seconds(0)));
  EXPECT_FALSE(tokenRequiresRefresh(t, kStart + seconds(2880), seconds(0)));  // exactly 80 %
  EXPECT_TRUE(tokenRequiresRefresh(t, kStart + seconds(2881), seconds(0)));
  // The jitter moves the point earlier.
  EXPECT_TRUE(tokenRequiresRefresh(t, kStart + seconds(2875), seconds(9)));
  EXPECT_FALSE(tokenRequiresRefresh(t, kStart + seconds(2870), seconds(9)));
}

TEST(TokenRefreshRule, LongLivedTokensAtTwentyFourHours) {
  // A one-year token (upstream's extended 3607 s tokens) is refreshed after a day.
  const int64_t year = 365LL * 24 * 3600;
  IssuedToken t = tokenExpiring(kStart + seconds(year), year);
  EXPECT_FALSE(tokenRequiresRefresh(t, kStart + hours(23), seconds(0)));
  EXPECT_TRUE(tokenRequiresRefresh(t, kStart + hours(24) + seconds(1), seconds(0)));
  EXPECT_TRUE(tokenRequiresRefresh(t, kStart + hours(24) - seconds(5), seconds(9)));
}

struct FakeRequests {
  TimePoint now = kStart;
  int calls = 0;
  bool fail = false;
  TokenManager manager{[this](const TokenRequestSpec& spec) {
                         ++calls;
                         if (fail) throw std::runtime_error("connection refused");
                         return IssuedToken{spec.podName + "-" + std::to_string(calls),
                                            now + seconds(spec.expirationSeconds),
                                            spec.expirationSeconds};
                       },
                       [this] { return now; }, [] { return seconds(0); }};
};

TokenRequestSpec podSpec(const std::string& name) {
  return TokenRequestSpec{"ns", "default", {}, 3607, name, name + "-uid"};
}

TEST(TokenManager, CachesUntilRefreshIsDue) {
  FakeRequests f;
  EXPECT_EQ(f.manager.token(podSpec("a")), "a-1");
  f.now += minutes(40);
  EXPECT_EQ(f.manager.token(podSpec("a")), "a-1");
  EXPECT_EQ(f.calls, 1);
  EXPECT_EQ(f.manager.token(podSpec("b")), "b-2") << "another pod, another token";
  f.now += minutes(9);  // 49 min of 60: past 80 %
  EXPECT_EQ(f.manager.token(podSpec("a")), "a-3");
}

TEST(TokenManager, KeepsAValidTokenWhenRefreshFails) {
  FakeRequests f;
  EXPECT_EQ(f.manager.token(podSpec("a")), "a-1");
  f.fail = true;
  f.now += minutes(55);
  EXPECT_EQ(f.manager.token(podSpec("a")), "a-1") << "still valid for 5 minutes";
  f.now += minutes(10);
  EXPECT_THROW(f.manager.token(podSpec("a")), std::runtime_error) << "expired: no token";
}

TEST(TokenManager, ForgetsPodsAndExpiredTokens) {
  FakeRequests f;
  f.manager.token(podSpec("a"));
  f.manager.token(podSpec("b"));
  EXPECT_EQ(f.manager.cached(), 2u);
  f.manager.forgetPod("a-uid");
  EXPECT_EQ(f.manager.cached(), 1u);
  f.now += hours(2);
  f.manager.forgetPod("");
  EXPECT_EQ(f.manager.cached(), 0u);
}

}  // namespace
}  // namespace skiff::kubelet
