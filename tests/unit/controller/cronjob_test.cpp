// CronJob controller over fakes: the clock is a FakeClock stepped past schedule times, the
// jobs and the CronJob's status come back through the informers (reflectWrites), and the
// assertions are on the writes the fake API recorded.
#include "common/ids.h"
#include "controller/job_controller.h"
#include "unit/controller/fake_env.h"

namespace skiff::controller::testing {
namespace {

namespace json = boost::json;
using client::resources::cronJobs;
using client::resources::jobs;
using std::chrono::minutes;
using std::chrono::seconds;

json::object makeCronJob(const std::string& name, const std::string& specExtra) {
  std::string text =
      R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":")" + name +
      R"(","namespace":"ns"},"spec":{"schedule":"* * * * *",)" + specExtra +
      R"("jobTemplate":{"metadata":{"labels":{"team":"a"}},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}}})";
  return json::parse(text).as_object();
}

struct CronEnv : ControllerTestEnv {
  CronEnv() : ControllerTestEnv("cronjob") { reflectWrites(); }
  json::object cronJob(const std::string& name) { return *api->object("cronjobs", "ns", name); }
  std::vector<std::string> jobNames() {
    std::vector<std::string> out;
    for (auto& j : api->objects("jobs", "ns"))
      if (!isBeingDeleted(j)) out.push_back(nameOf(j));
    return out;
  }
  // Finishes a job as the Job controller would.
  void finishJob(const std::string& name, const std::string& type, const std::string& startTime) {
    auto job = *api->object("jobs", "ns", name);
    auto& st = ensureObject(job, {"status"});
    st["startTime"] = startTime;
    if (type == "Complete") st["completionTime"] = formatTime(clock.now());
    SyncClockScope scope(clock);
    setCondition(job, type, "True",
                 type == "Complete" ? "CompletionsReached" : "BackoffLimitExceeded", "");
    update(jobs, job);
  }
};

std::vector<std::string> activeNames(const json::object& cj) {
  std::vector<std::string> out;
  if (auto* a = arrayAt(cj, {"status", "active"}))
    for (auto& r : *a) out.push_back(stringAt(r.as_object(), {"name"}));
  return out;
}

// Job names carry the scheduled time in minutes since the epoch.
std::string jobNameAt(const std::string& cj, Clock::WallTime t) {
  return cj + "-" +
         std::to_string(std::chrono::duration_cast<minutes>(t.time_since_epoch()).count());
}

}  // namespace

TEST(CronJobController, CreatesJobForScheduledTimeAndTracksIt) {
  CronEnv env;
  auto cj = env.add(cronJobs, makeCronJob("tick", ""));
  env.sync();
  EXPECT_TRUE(env.writes().empty()) << "nothing is due at creation";
  env.step(seconds(30));
  env.sync();
  EXPECT_TRUE(env.writes().empty()) << "nor half a minute later";

  env.step(seconds(31));  // 00:01:01: the 00:01:00 run is due
  env.sync();
  auto scheduled = FakeClock::defaultStart() + minutes(1);
  auto name = jobNameAt("tick", scheduled);
  EXPECT_EQ(env.writes(), (std::vector<std::string>{"create jobs", "update cronjobs/status"}));
  auto job = *env.api->object("jobs", "ns", name);
  EXPECT_EQ(stringAt(job, {"metadata", "annotations", kCronJobScheduledTimestampAnnotation}),
            "2026-01-01T00:01:00Z");
  EXPECT_TRUE(isControlledBy(job, uidOf(cj)));
  EXPECT_EQ(stringAt(*controllerRefOf(job), {"kind"}), "CronJob");
  EXPECT_EQ(stringAt(job, {"metadata", "labels", "team"}), "a");
  EXPECT_EQ(activeNames(env.cronJob("tick")), std::vector<std::string>{name});
  EXPECT_EQ(stringAt(env.cronJob("tick"), {"status", "lastScheduleTime"}), "2026-01-01T00:01:00Z");
  EXPECT_TRUE(env.hasEvent("SuccessfulCreate", "Created job " + name));

  // Looking again at the same time creates nothing new.
  env.api->clearActions();
  env.syncKey("ns/tick");
  EXPECT_TRUE(env.writes().empty());

  env.finishJob(name, "Complete", formatTime(env.clock.now()));
  env.sync();
  EXPECT_TRUE(activeNames(env.cronJob("tick")).empty());
  EXPECT_FALSE(stringAt(env.cronJob("tick"), {"status", "lastSuccessfulTime"}).empty());
  EXPECT_TRUE(
      env.hasEvent("SawCompletedJob", "Saw completed job: " + name + ", condition: Complete"));
}

TEST(CronJobController, RequeuesItselfForTheNextScheduleTime) {
  CronEnv env;
  env.add(cronJobs, makeCronJob("tick", ""));
  env.sync();
  // No poke: the delayed re-queue made by the first sync fires when the clock passes 00:01.
  env.step(seconds(61));
  EXPECT_EQ(env.queueController->queue().len(), 1u);
  env.sync();
  EXPECT_EQ(env.jobNames().size(), 1u);
  env.step(seconds(60));
  env.sync();
  EXPECT_EQ(env.jobNames().size(), 2u) << "Allow runs jobs concurrently";
}

TEST(CronJobController, TimeZoneAndUnknownZone) {
  CronEnv env;
  env.add(cronJobs, makeCronJob("ny", R"("timeZone":"America/New_York",)"));
  env.add(cronJobs, makeCronJob("nowhere", R"("timeZone":"Nowhere/Atlantis",)"));
  env.step(seconds(61));
  env.sync();
  ASSERT_EQ(env.jobNames().size(), 1u);
  auto job = env.api->objects("jobs", "ns").at(0);
  EXPECT_EQ(nameOf(job).rfind("ny-", 0), 0u);
  // The scheduled-timestamp annotation is written in the CronJob's zone (EST in January).
  EXPECT_EQ(stringAt(job, {"metadata", "annotations", kCronJobScheduledTimestampAnnotation}),
            "2025-12-31T19:01:00-05:00");
  EXPECT_TRUE(env.hasEvent("UnknownTimeZone", "invalid timeZone: \"Nowhere/Atlantis\""));
}

TEST(CronJobController, SuspendedCreatesNothing) {
  CronEnv env;
  env.add(cronJobs, makeCronJob("sus", R"("suspend":true,)"));
  env.step(seconds(61));
  env.sync();
  env.syncKey("ns/sus");
  EXPECT_TRUE(env.writes().empty());
}

TEST(CronJobController, ForbidSkipsWhileActive) {
  CronEnv env;
  env.add(cronJobs, makeCronJob("fb", R"("concurrencyPolicy":"Forbid",)"));
  env.step(seconds(61));
  env.sync();
  ASSERT_EQ(activeNames(env.cronJob("fb")).size(), 1u);
  env.api->clearActions();
  env.step(seconds(60));
  env.sync();
  EXPECT_TRUE(env.hasEvent("JobAlreadyActive", "concurrency policy is Forbid"));
  EXPECT_EQ(env.jobNames().size(), 1u);
  EXPECT_EQ(env.writes(), std::vector<std::string>{}) << "no job, and status unchanged";
}

TEST(CronJobController, ReplaceDeletesTheActiveJob) {
  CronEnv env;
  env.add(cronJobs, makeCronJob("rp", R"("concurrencyPolicy":"Replace",)"));
  env.step(seconds(61));
  env.sync();
  auto first = activeNames(env.cronJob("rp")).at(0);
  env.api->clearActions();
  env.step(seconds(60));
  env.sync();
  auto second = jobNameAt("rp", FakeClock::defaultStart() + minutes(2));
  EXPECT_EQ(env.writes(),
            (std::vector<std::string>{"delete jobs", "create jobs", "update cronjobs/status"}));
  EXPECT_EQ(env.api->writes().at(0).name, first);
  EXPECT_EQ(activeNames(env.cronJob("rp")), std::vector<std::string>{second});
  EXPECT_EQ(env.jobNames(), std::vector<std::string>{second});
  EXPECT_TRUE(env.hasEvent("SuccessfulDelete", "Deleted job " + first));
}

TEST(CronJobController, OnlyTheMostRecentMissedTimeRuns) {
  CronEnv env;
  env.add(cronJobs, makeCronJob("al", ""));
  env.sync();
  env.step(minutes(200) + seconds(30));  // 200 missed minutes
  env.sync();
  EXPECT_EQ(env.jobNames(),
            std::vector<std::string>{jobNameAt("al", FakeClock::defaultStart() + minutes(200))});
  EXPECT_TRUE(env.hasEvent("TooManyMissedTimes", "too many missed start times"));
  EXPECT_EQ(stringAt(env.cronJob("al"), {"status", "lastScheduleTime"}), "2026-01-01T03:20:00Z");
}

TEST(CronJobController, MissedStartsBeyondTheStartingDeadlineAreSkipped) {
  CronEnv env;
  env.add(cronJobs, makeCronJob("dl", R"("startingDeadlineSeconds":10,)"));
  env.sync();
  // 00:03:30: the 00:03:00 start is 30 s late, beyond the 10 s deadline.
  env.step(minutes(3) + seconds(30));
  env.sync();
  EXPECT_TRUE(env.jobNames().empty());
  EXPECT_FALSE(env.hasEvent("TooManyMissedTimes"));
  // Within 10 s of a schedule time it runs.
  env.step(seconds(35));  // 00:04:05
  env.sync();
  EXPECT_EQ(env.jobNames(),
            std::vector<std::string>{jobNameAt("dl", FakeClock::defaultStart() + minutes(4))});
}

TEST(CronJobController, StatusConflictIsWrittenOntoTheFreshObject) {
  CronEnv env;
  env.add(cronJobs, makeCronJob("cf", ""));
  env.step(seconds(61));
  env.api->fail("update", "cronjobs/status", 409, "Conflict");
  env.sync();
  // The job is created once; the lost status write is retried on a re-read CronJob.
  EXPECT_EQ(env.writes(), (std::vector<std::string>{"create jobs", "update cronjobs/status",
                                                    "update cronjobs/status"}));
  EXPECT_EQ(activeNames(env.cronJob("cf")).size(), 1u);
}

TEST(CronJobController, HistoryLimitsDeleteOldestFinishedJobs) {
  CronEnv env;
  auto cj = env.add(
      cronJobs,
      makeCronJob("hist",
                  R"("suspend":true,"successfulJobsHistoryLimit":2,"failedJobsHistoryLimit":1,)"));
  for (const char* n : {"ok-1", "ok-2", "ok-3", "bad-1", "bad-2"}) {
    auto job =
        json::parse(
            R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"namespace":"ns","name":")" +
            std::string(n) + R"("}})")
            .as_object();
    job["metadata"].as_object()["ownerReferences"] =
        json::array{makeControllerRef(cj, "batch/v1", "CronJob")};
    env.add(jobs, job);
  }
  env.finishJob("ok-2", "Complete", "2026-01-01T00:02:00Z");
  env.finishJob("ok-1", "Complete", "2026-01-01T00:01:00Z");
  env.finishJob("ok-3", "Complete", "2026-01-01T00:03:00Z");
  env.finishJob("bad-1", "Failed", "2026-01-01T00:01:00Z");
  env.finishJob("bad-2", "Failed", "2026-01-01T00:02:00Z");
  env.sync();
  auto names = env.jobNames();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"bad-2", "ok-2", "ok-3"}));
  EXPECT_TRUE(env.hasEvent("SuccessfulDelete", "Deleted job ok-1"));
}

}  // namespace skiff::controller::testing
