// PodGC over fakes: orphaned pods (bound to a node that does not exist) are force-deleted
// after the quarantine (the node monitor grace period, passed with a FakeClock), terminated
// pods beyond the threshold oldest first.
#include "unit/controller/fake_env.h"
#include "unit/controller/node_test_util.h"

namespace skiff::controller::testing {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::nodes;
using client::resources::pods;

namespace {

struct PodGcEnv : ControllerTestEnv {
  explicit PodGcEnv(std::function<void(ControllerOptions&)> tweak = {})
      : ControllerTestEnv("podgc", std::move(tweak)) {
    add(nodes,
        json::object{{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "present"}}}});
  }
  void addPod(const std::string& name, const std::string& node,
              const std::string& phase = "Running") {
    auto p = boundPod(name, node);
    p["metadata"].as_object()["namespace"] = "ns";
    p["status"] = json::object{{"phase", phase}};
    add(pods, p);
  }
  // One pass (the controller's periodic task queues it).
  void pass() {
    runPeriodic();
    sync();
  }
  std::vector<std::string> deleted() {
    std::vector<std::string> out;
    for (auto& a : api->writes())
      if (a.verb == "delete") out.push_back(a.name);
    return out;
  }
};

}  // namespace

TEST(PodGc, OrphanedPodIsForceDeletedAfterQuarantine) {
  PodGcEnv env;  // quarantine: the default node monitor grace period, 40 s
  env.addPod("orphan", "missing");
  env.addPod("homed", "present");
  env.pass();
  env.step(39s);
  env.pass();
  EXPECT_TRUE(env.writes().empty()) << "still in quarantine";
  env.step(1s);
  env.pass();
  // Failed with DisruptionTarget first, then deleted with grace period 0 (no kubelet would
  // ever confirm it).
  EXPECT_EQ(env.writes(), (std::vector<std::string>{"patch pods/status", "delete pods"}));
  auto w = env.api->writes();
  EXPECT_EQ(w[1].name, "orphan");
  EXPECT_EQ(intAt(w[1].object(), {"gracePeriodSeconds"}), 0);
  auto& cond = w[0].object().at("status").as_object().at("conditions").as_array()[0].as_object();
  EXPECT_EQ(stringAt(cond, {"reason"}), "DeletionByPodGC");
  EXPECT_TRUE(env.api->object("pods", "ns", "homed"));
}

TEST(PodGc, NodeThatReturnsEndsTheQuarantine) {
  PodGcEnv env;
  env.addPod("p", "flaky");
  env.pass();
  env.step(30s);
  env.add(nodes,
          json::object{{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "flaky"}}}});
  env.pass();
  env.step(30s);
  env.pass();
  EXPECT_TRUE(env.writes().empty());
}

TEST(PodGc, TerminatedPodsBeyondThresholdOldestFirst) {
  PodGcEnv env([](ControllerOptions& o) { o.terminatedPodGcThreshold = 2; });
  env.addPod("old", "present", "Succeeded");
  env.step(1s);  // creationTimestamp has second precision
  env.addPod("mid", "present", "Failed");
  env.addPod("new", "present", "Failed");
  env.addPod("running", "present");
  env.pass();
  EXPECT_EQ(env.deleted(), std::vector<std::string>{"old"});
  EXPECT_EQ(env.writes(), std::vector<std::string>{"delete pods"})
      << "terminal pods are not patched";
}

}  // namespace skiff::controller::testing
