// Job controller against the real API server; the tests play the kubelet by moving pods to
// Succeeded/Failed through pods/status. The logic tests that need no server (backoff,
// deadlines, TTL) are in job_controller_test.cpp, over fakes.
#include "controller/job_controller.h"
#include "unit/controller/batch_test_util.h"
#include "unit/controller/test_env.h"

namespace skiff::controller::testing {
namespace {

namespace json = boost::json;

json::object makeJob(const std::string& name, const std::string& specExtra) {
  std::string text =
      R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":")" + name + R"("},"spec":{)" +
      specExtra +
      R"("template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})";
  return json::parse(text).as_object();
}

json::array jobPods(client::RestClient& c, const std::string& ns, const std::string& job) {
  return listItems(c, client::resources::pods, ns, "job-name=" + job);
}

std::vector<std::string> activePodNames(client::RestClient& c, const std::string& ns,
                                        const std::string& job) {
  std::vector<std::string> out;
  for (auto& p : jobPods(c, ns, job))
    if (isPodActive(p.as_object())) out.push_back(nameOf(p.as_object()));
  return out;
}

json::object getJob(client::RestClient& c, const std::string& ns, const std::string& name) {
  return c.get(client::resources::jobs, ns, name);
}

bool hasCondition(client::RestClient& c, const std::string& ns, const std::string& name,
                  const std::string& type, const std::string& reason = "") {
  auto job = getJob(c, ns, name);
  auto* cond = findCondition(job, type);
  return cond && stringAt(*cond, {"status"}) == "True" &&
         (reason.empty() || stringAt(*cond, {"reason"}) == reason);
}

bool hasEvent(client::RestClient& c, const std::string& ns, const std::string& reason) {
  for (auto& e : listItems(c, client::resources::events, ns))
    if (stringAt(e.as_object(), {"reason"}) == reason) return true;
  return false;
}

}  // namespace

TEST(JobController, ServerGeneratesSelectorAndLabels) {
  auto c = newClient();
  auto ns = freshNamespace(*c, "job-sel");
  auto job = c->create(client::resources::jobs, ns, makeJob("sel", ""));
  auto uid = uidOf(job);
  EXPECT_EQ(stringAt(job, {"spec", "selector", "matchLabels", kJobControllerUidLabel}), uid);
  for (const auto& [k, v] :
       {std::pair{kJobControllerUidLabel, uid}, std::pair{kLegacyControllerUidLabel, uid},
        std::pair{kJobNameLabel, std::string("sel")},
        std::pair{kLegacyJobNameLabel, std::string("sel")}}) {
    EXPECT_EQ(stringAt(job, {"spec", "template", "metadata", "labels", k}), v) << k;
    EXPECT_EQ(stringAt(job, {"metadata", "labels", k}), v) << k;
  }
}

TEST(JobController, CompletionsWithBoundedParallelism) {
  ControllerEnv env({"job"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "job-par");
  c.create(client::resources::jobs, ns, makeJob("par", R"("completions":5,"parallelism":2,)"));
  int succeeded = 0;
  size_t maxActive = 0;
  while (succeeded < 5) {
    std::vector<std::string> active;
    ASSERT_TRUE(waitFor([&] {
      active = activePodNames(c, ns, "par");
      maxActive = std::max(maxActive, active.size());
      return static_cast<int>(active.size()) == std::min(2, 5 - succeeded);
    })) << "succeeded="
        << succeeded << " active=" << active.size();
    markPodRunning(c, ns, active[0]);
    markPodPhase(c, ns, active[0], "Succeeded");
    ++succeeded;
  }
  ASSERT_TRUE(
      waitFor([&] { return hasCondition(c, ns, "par", "Complete", "CompletionsReached"); }));
  EXPECT_LE(maxActive, 2u);
  auto job = getJob(c, ns, "par");
  EXPECT_EQ(intAt(job, {"status", "succeeded"}), 5);
  EXPECT_EQ(intAt(job, {"status", "failed"}), 0);
  EXPECT_EQ(intAt(job, {"status", "active"}), 0);
  EXPECT_TRUE(conditionTrue(job, "SuccessCriteriaMet"));
  EXPECT_FALSE(stringAt(job, {"status", "startTime"}).empty());
  EXPECT_FALSE(stringAt(job, {"status", "completionTime"}).empty());
  auto pods = jobPods(c, ns, "par");
  EXPECT_EQ(pods.size(), 5u);
  for (auto& p : pods) {
    auto& pod = p.as_object();
    EXPECT_EQ(nameOf(pod).rfind("par-", 0), 0u);
    EXPECT_TRUE(isControlledBy(pod, uidOf(job)));
    EXPECT_EQ(stringAt(pod, {"metadata", "labels", kJobControllerUidLabel}), uidOf(job));
    // Counted pods lose the tracking finalizer.
    auto* fins = arrayAt(pod, {"metadata", "finalizers"});
    EXPECT_TRUE(!fins || fins->empty()) << json::serialize(pod);
  }
  EXPECT_TRUE(
      waitFor([&] { return hasEvent(c, ns, "SuccessfulCreate") && hasEvent(c, ns, "Completed"); }));
}

TEST(JobController, PodsCarryTheTrackingFinalizerWhileRunning) {
  ControllerEnv env({"job"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "job-fin");
  c.create(client::resources::jobs, ns, makeJob("fin", ""));
  ASSERT_TRUE(waitFor([&] { return activePodNames(c, ns, "fin").size() == 1; }));
  auto pod = jobPods(c, ns, "fin")[0].as_object();
  EXPECT_EQ(arrayAt(pod, {"metadata", "finalizers"})->at(0).as_string(), kJobTrackingFinalizer);
  markPodPhase(c, ns, nameOf(pod), "Succeeded");
  ASSERT_TRUE(waitFor([&] { return hasCondition(c, ns, "fin", "Complete"); }));
  EXPECT_EQ(intAt(getJob(c, ns, "fin"), {"status", "succeeded"}), 1);
}

TEST(JobController, SuspendAndResume) {
  ControllerEnv env({"job"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "job-sus");
  c.create(client::resources::jobs, ns,
           makeJob("sus", R"("parallelism":2,"completions":2,"suspend":true,)"));
  ASSERT_TRUE(waitFor([&] { return hasCondition(c, ns, "sus", "Suspended", "JobSuspended"); }));
  EXPECT_TRUE(jobPods(c, ns, "sus").empty());
  EXPECT_TRUE(stringAt(getJob(c, ns, "sus"), {"status", "startTime"}).empty());

  auto setSuspend = [&](bool v) {
    c.patch(client::resources::jobs, ns, "sus", client::PatchType::Merge,
            json::object{{"spec", json::object{{"suspend", v}}}});
  };
  setSuspend(false);
  ASSERT_TRUE(waitFor([&] { return activePodNames(c, ns, "sus").size() == 2; }));
  // The pods are created before the status write that records the resume: wait for it.
  json::object resumed;
  const json::object* cond = nullptr;
  ASSERT_TRUE(waitFor([&] {
    resumed = getJob(c, ns, "sus");
    cond = findCondition(resumed, "Suspended");
    return cond && stringAt(*cond, {"status"}) == "False";
  }));
  EXPECT_EQ(stringAt(*cond, {"status"}), "False");
  EXPECT_EQ(stringAt(*cond, {"reason"}), "JobResumed");

  setSuspend(true);
  ASSERT_TRUE(waitFor([&] { return jobPods(c, ns, "sus").empty(); }));
  ASSERT_TRUE(waitFor([&] { return hasCondition(c, ns, "sus", "Suspended"); }));
  auto job = getJob(c, ns, "sus");
  EXPECT_EQ(intAt(job, {"status", "failed"}), 0);
  EXPECT_EQ(intAt(job, {"status", "active"}), 0);
}

TEST(JobController, IndexedCompletion) {
  ControllerEnv env({"job"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "job-idx");
  c.create(client::resources::jobs, ns,
           makeJob("idx", R"("completions":3,"parallelism":3,"completionMode":"Indexed",)"));
  ASSERT_TRUE(waitFor([&] { return activePodNames(c, ns, "idx").size() == 3; }));
  std::set<std::string> indexes;
  for (auto& p : jobPods(c, ns, "idx")) {
    auto& pod = p.as_object();
    auto idx = stringAt(pod, {"metadata", "annotations", kJobCompletionIndexAnnotation});
    indexes.insert(idx);
    EXPECT_EQ(stringAt(pod, {"metadata", "labels", kJobCompletionIndexAnnotation}), idx);
    EXPECT_EQ(stringAt(pod, {"spec", "hostname"}), "idx-" + idx);
    EXPECT_EQ(nameOf(pod).rfind("idx-" + idx + "-", 0), 0u);
  }
  EXPECT_EQ(indexes, (std::set<std::string>{"0", "1", "2"}));
  for (auto& p : jobPods(c, ns, "idx")) markPodPhase(c, ns, nameOf(p.as_object()), "Succeeded");
  ASSERT_TRUE(waitFor([&] { return hasCondition(c, ns, "idx", "Complete"); }));
  auto job = getJob(c, ns, "idx");
  EXPECT_EQ(stringAt(job, {"status", "completedIndexes"}), "0-2");
  EXPECT_EQ(intAt(job, {"status", "succeeded"}), 3);
}

TEST(JobController, ReleasesPodsOfADeletedJob) {
  ControllerEnv env({"job"});
  auto& c = env.c();
  auto ns = freshNamespace(c, "job-orphan");
  c.create(client::resources::jobs, ns, makeJob("gone", ""));
  ASSERT_TRUE(waitFor([&] { return activePodNames(c, ns, "gone").size() == 1; }));
  c.remove(client::resources::jobs, ns, "gone");
  // No garbage collector here: the pod stays, but without the finalizer that would pin it.
  EXPECT_TRUE(waitFor([&] {
    auto pods = jobPods(c, ns, "gone");
    auto* fins =
        pods.size() == 1 ? arrayAt(pods[0].as_object(), {"metadata", "finalizers"}) : nullptr;
    return pods.size() == 1 && (!fins || fins->empty());
  }));
}

}  // namespace skiff::controller::testing
