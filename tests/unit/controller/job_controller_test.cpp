// Job and TTL-after-finished controllers over fakes: the test plays the kubelet by updating
// pods in the informer, a FakeClock stands in for backoffs and deadlines, and assertions
// are on the writes the fake API recorded. job_test.cpp keeps the tests that need the real
// server (selector generation, the finalizer protocol against real deletes).
#include "controller/job_controller.h"

#include "common/ids.h"
#include "unit/controller/fake_env.h"

namespace skiff::controller::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using client::resources::jobs;
using client::resources::pods;

json::object makeJob(const std::string& name, const std::string& specExtra) {
  std::string text =
      R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":")" + name +
      R"(","namespace":"ns"},"spec":{)" + specExtra +
      R"("template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})";
  return json::parse(text).as_object();
}

struct JobEnv : ControllerTestEnv {
  explicit JobEnv(const std::string& controller = "job") : ControllerTestEnv(controller) {
    setJobPodFailureBackoff(10s, 6min);  // upstream's; other tests may have shortened it
    reflectWrites();
  }
  json::object job(const std::string& name) { return *api->object("jobs", "ns", name); }
  std::vector<json::object> activePods() {
    std::vector<json::object> out;
    for (auto& p : api->objects("pods", "ns"))
      if (isPodActive(p)) out.push_back(p);
    return out;
  }
  // The kubelet's report: the pod ran to `phase`.
  void finishPod(const json::object& pod, const std::string& phase) {
    auto p = *api->object("pods", "ns", nameOf(pod));
    ensureObject(p, {"status"})["phase"] = phase;
    update(pods, p);
  }
  bool condition(const std::string& name, const std::string& type, const std::string& reason) {
    auto j = job(name);
    auto* c = findCondition(j, type);
    return c && stringAt(*c, {"status"}) == "True" && stringAt(*c, {"reason"}) == reason;
  }
  int creates(const std::string& resource) {
    int n = 0;
    for (auto& w : writes()) n += w == "create " + resource;
    return n;
  }
};

}  // namespace

TEST(JobController, RunsPodsToCompletion) {
  JobEnv env;
  env.add(jobs, makeJob("c", R"("completions":2,"parallelism":1,)"));
  env.sync();
  ASSERT_EQ(env.activePods().size(), 1u);
  auto first = env.activePods()[0];
  EXPECT_EQ(stringAt(first, {"metadata", "labels", kJobNameLabel}), "c");
  EXPECT_EQ(arrayAt(first, {"metadata", "finalizers"})->at(0).as_string(), kJobTrackingFinalizer);
  EXPECT_EQ(stringAt(env.job("c"), {"status", "startTime"}), formatTime(env.clock.now()));
  EXPECT_EQ(intAt(env.job("c"), {"status", "active"}), 1);

  env.api->clearActions();
  env.finishPod(first, "Succeeded");
  env.sync();
  // Upstream's protocol: the UID into uncountedTerminatedPods, the finalizer off, the count.
  auto w = env.writes();
  ASSERT_GE(w.size(), 3u);
  EXPECT_EQ(w[0], "update jobs/status");
  EXPECT_EQ(w[1], "patch pods");
  EXPECT_EQ(env.api->writes()[1].patchType, "json");
  EXPECT_EQ(intAt(env.job("c"), {"status", "succeeded"}), 1);
  ASSERT_EQ(env.activePods().size(), 1u);  // the second completion's pod

  env.step(5s);
  env.finishPod(env.activePods()[0], "Succeeded");
  env.sync();
  auto job = env.job("c");
  EXPECT_EQ(intAt(job, {"status", "succeeded"}), 2);
  EXPECT_TRUE(env.condition("c", "Complete", "CompletionsReached"));
  EXPECT_TRUE(env.condition("c", "SuccessCriteriaMet", "CompletionsReached"));
  EXPECT_EQ(stringAt(job, {"status", "completionTime"}), formatTime(env.clock.now()));
  EXPECT_EQ(env.creates("pods"), 1) << "one more since the first pod";
  EXPECT_TRUE(env.hasEvent("Completed", "Job completed"));
}

TEST(JobController, FailedPodsAreReplacedAfterBackoffUntilTheLimit) {
  JobEnv env;
  env.add(jobs, makeJob("bo", R"("backoffLimit":1,)"));
  env.sync();
  ASSERT_EQ(env.activePods().size(), 1u);
  env.finishPod(env.activePods()[0], "Failed");
  env.sync();
  EXPECT_EQ(intAt(env.job("bo"), {"status", "failed"}), 1);
  EXPECT_EQ(env.activePods().size(), 0u) << "the replacement waits for the 10 s backoff";

  env.step(9s);
  env.sync();
  EXPECT_EQ(env.activePods().size(), 0u);
  env.step(1s);  // the delayed re-queue fires
  env.sync();
  ASSERT_EQ(env.activePods().size(), 1u);

  env.finishPod(env.activePods()[0], "Failed");
  env.sync();
  env.step(10min);
  env.sync();
  auto job = env.job("bo");
  EXPECT_EQ(intAt(job, {"status", "failed"}), 2);
  EXPECT_TRUE(env.condition("bo", "FailureTarget", "BackoffLimitExceeded"));
  EXPECT_TRUE(env.condition("bo", "Failed", "BackoffLimitExceeded"));
  EXPECT_EQ(env.creates("pods"), 2) << "no third attempt";
  EXPECT_TRUE(env.hasEvent("BackoffLimitExceeded", "Job has reached the specified backoff limit"));
}

TEST(JobController, ActiveDeadlineFailsAndDeletesPods) {
  JobEnv env;
  env.add(jobs, makeJob("dl", R"("parallelism":2,"completions":4,"activeDeadlineSeconds":30,)"));
  env.sync();
  EXPECT_EQ(env.activePods().size(), 2u);
  env.api->clearActions();
  env.step(29s);
  env.sync();
  EXPECT_TRUE(env.writes().empty()) << "nothing due before the deadline";

  env.step(1s);  // the re-queue the controller scheduled for the deadline
  env.sync();
  EXPECT_TRUE(env.condition("dl", "FailureTarget", "DeadlineExceeded"));
  EXPECT_TRUE(env.condition("dl", "Failed", "DeadlineExceeded"));
  EXPECT_TRUE(env.api->objects("pods", "ns").empty());
  auto job = env.job("dl");
  EXPECT_EQ(intAt(job, {"status", "active"}), 0);
  EXPECT_EQ(intAt(job, {"status", "failed"}), 0) << "pods the controller removed are not failures";
  EXPECT_TRUE(env.hasEvent("DeadlineExceeded", "Job was active longer than specified deadline"));
  EXPECT_TRUE(env.hasEvent("SuccessfulDelete"));
}

TEST(JobController, PodCreateFailureIsRetriedWithBackoff) {
  JobEnv env;
  env.api->fail("create", "pods", 500, "InternalError");
  env.add(jobs, makeJob("f", ""));
  env.sync();
  EXPECT_EQ(env.activePods().size(), 0u);
  EXPECT_TRUE(env.hasEvent("FailedCreate"));
  env.step(5ms);  // the queue's first per-key backoff
  env.sync();
  EXPECT_EQ(env.activePods().size(), 1u);
}

TEST(TtlAfterFinishedController, DeletesFinishedJobAfterTtl) {
  JobEnv env("ttl-after-finished");
  auto finished = [&](const std::string& name, const std::string& extra) {
    auto j = makeJob(name, extra);
    SyncClockScope scope(env.clock);
    setCondition(j, "Complete", "True", "CompletionsReached", "");
    return j;
  };
  env.add(jobs, finished("ttl", R"("ttlSecondsAfterFinished":100,)"));
  env.add(jobs, finished("keep", ""));
  env.add(jobs, makeJob("running", R"("ttlSecondsAfterFinished":0,)"));
  env.sync();
  env.step(100s);
  env.sync();
  EXPECT_TRUE(env.writes().empty());
  env.step(1s);
  env.sync();
  ASSERT_EQ(env.writes(), std::vector<std::string>{"delete jobs"});
  EXPECT_EQ(env.api->writes()[0].name, "ttl");
  EXPECT_FALSE(env.api->object("jobs", "ns", "ttl"));
  EXPECT_TRUE(env.api->object("jobs", "ns", "keep")) << "no TTL: kept";
}

}  // namespace skiff::controller::testing
