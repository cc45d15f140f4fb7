// Leader election between candidates on a real API server, with short timings.
#include "client/leader_election.h"

#include <gtest/gtest.h>

#include <atomic>

#include "common/api_error.h"
#include "test_server.h"

namespace skiff::client {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::newClient;

LeaderElectionConfig fastConfig(const std::string& lease, const std::string& id,
                                std::atomic<int>& started, std::atomic<int>& stopped) {
  LeaderElectionConfig c;
  c.leaseNamespace = "default";
  c.leaseName = lease;
  c.identity = id;
  c.leaseDuration = 1000ms;  // the Lease holds whole seconds
  c.renewDeadline = 700ms;
  c.retryPeriod = 100ms;
  c.onStartedLeading = [&started] { ++started; };
  c.onStoppedLeading = [&stopped] { ++stopped; };
  return c;
}

TEST(LeaderElection, OneCandidateLeadsAndTheOtherTakesOverWhenItStopsRenewing) {
  auto client = newClient();
  std::atomic<int> aStarted{0}, aStopped{0}, bStarted{0}, bStopped{0};
  auto aCfg = fastConfig("crash-test", "a", aStarted, aStopped);
  aCfg.releaseOnCancel = false;  // a "crash": the Lease is left to expire
  auto a = std::make_unique<LeaderElector>(*client, aCfg);
  a->start();
  ASSERT_TRUE(eventually([&] { return a->isLeader(); }));
  LeaderElector b(*client, fastConfig("crash-test", "b", bStarted, bStopped));
  b.start();
  std::this_thread::sleep_for(400ms);
  EXPECT_FALSE(b.isLeader());  // a keeps renewing
  EXPECT_EQ(b.leader(), "a");

  auto stoppedAt = std::chrono::steady_clock::now();
  a.reset();
  EXPECT_EQ(aStarted.load(), 1);
  EXPECT_EQ(aStopped.load(), 1);
  ASSERT_TRUE(eventually([&] { return b.isLeader(); }, 5s));
  // b waited for the lease (1 s from its last observed change) to expire.
  EXPECT_GE(std::chrono::steady_clock::now() - stoppedAt, 500ms);
  EXPECT_EQ(bStarted.load(), 1);

  auto lease = client->get(resources::leases, "default", "crash-test");
  const auto& spec = lease.at("spec").as_object();
  EXPECT_EQ(spec.at("holderIdentity"), "b");
  EXPECT_EQ(spec.at("leaseTransitions").as_int64(), 1);
  EXPECT_EQ(spec.at("leaseDurationSeconds").as_int64(), 1);
  EXPECT_NE(spec.at("renewTime").as_string().find('.'), boost::json::string::npos);  // MicroTime
}

TEST(LeaderElection, ReleaseOnStopHandsOverQuickly) {
  auto client = newClient();
  std::atomic<int> aStarted{0}, aStopped{0}, bStarted{0}, bStopped{0};
  auto a =
      std::make_unique<LeaderElector>(*client, fastConfig("release-test", "a", aStarted, aStopped));
  a->start();
  ASSERT_TRUE(eventually([&] { return a->isLeader(); }));
  LeaderElector b(*client, fastConfig("release-test", "b", bStarted, bStopped));
  b.start();
  std::this_thread::sleep_for(150ms);
  a.reset();
  auto lease = client->get(resources::leases, "default", "release-test");
  EXPECT_EQ(lease.at("spec").at("holderIdentity"), "");
  ASSERT_TRUE(eventually([&] { return b.isLeader(); }, 5s));
  EXPECT_FALSE(a);
}

TEST(LeaderElection, RejectsInconsistentTimings) {
  auto client = newClient();
  LeaderElectionConfig c;
  c.leaseName = "x";
  c.identity = "me";
  c.renewDeadline = c.leaseDuration;
  EXPECT_THROW(LeaderElector(*client, c), std::invalid_argument);
}

}  // namespace
}  // namespace skiff::client
