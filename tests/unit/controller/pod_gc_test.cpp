// PodGC: orphaned pods (bound to a node that does not exist) are force-deleted after the
// quarantine, terminated pods beyond the threshold oldest first.
#include "unit/controller/node_test_util.h"

namespace skiff::controller::testing {

using namespace std::chrono_literals;

namespace {
bool exists(client::RestClient& c, const std::string& ns, const std::string& name) {
  try {
    c.get(client::resources::pods, ns, name);
    return true;
  } catch (const ApiError& e) {
    if (e.code() == 404) return false;
    throw;
  }
}
}  // namespace

TEST(PodGc, OrphanedPodIsForceDeletedAfterQuarantine) {
  ControllerEnv env({"podgc"}, [](ControllerOptions& o) {
    o.nodeMonitorGracePeriod = 1500ms;  // the orphan quarantine
    o.nodeMonitorPeriod = 50ms;         // pass every 200 ms
  });
  auto ns = freshNamespace(env.c(), "gc");
  FakeNode node(env.c(), "gc-present");
  env.c().create(client::resources::pods, ns, boundPod("orphan", uniqueNodeName("gc-missing")));
  env.c().create(client::resources::pods, ns, boundPod("homed", node.name));
  markPodRunning(env.c(), ns, "orphan");
  std::this_thread::sleep_for(600ms);
  EXPECT_TRUE(exists(env.c(), ns, "orphan"));  // still in quarantine
  // Gone for good (grace period 0: no kubelet would ever confirm it).
  ASSERT_TRUE(eventually([&] { return !exists(env.c(), ns, "orphan"); }, 5s));
  EXPECT_TRUE(exists(env.c(), ns, "homed"));
  auto p = env.c().get(client::resources::pods, ns, "homed");
  EXPECT_FALSE(isBeingDeleted(p));
}

TEST(PodGc, TerminatedPodsBeyondThresholdOldestFirst) {
  ControllerEnv env({"podgc"}, [](ControllerOptions& o) {
    o.terminatedPodGcThreshold = 2;
    o.nodeMonitorPeriod = 50ms;
  });
  auto ns = freshNamespace(env.c(), "gc");
  FakeNode node(env.c(), "gc-term");
  auto& c = env.c();
  // creationTimestamp has second precision: the oldest is created a second earlier.
  c.create(client::resources::pods, ns, boundPod("old", node.name));
  markPodPhase(c, ns, "old", "Succeeded");
  std::this_thread::sleep_for(1100ms);
  for (const char* n : {"mid", "new"}) {
    c.create(client::resources::pods, ns, boundPod(n, node.name));
    markPodPhase(c, ns, n, "Failed");
  }
  c.create(client::resources::pods, ns, boundPod("running", node.name));
  ASSERT_TRUE(eventually([&] { return !exists(c, ns, "old"); }, 5s));
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(exists(c, ns, "mid"));
  EXPECT_TRUE(exists(c, ns, "new"));
  EXPECT_TRUE(exists(c, ns, "running"));
}

}  // namespace skiff::controller::testing
