// CronJob controller against the real API server. The controller's clock is moved forward
// (setCronJobClock) instead of waiting for minutes; a label patch makes it look again, as
// its own requeue would at the real time.
#include <atomic>

#include "common/ids.h"
#include "controller/job_controller.h"
#include "unit/controller/batch_test_util.h"
#include "unit/controller/test_env.h"

namespace skiff::controller::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::system_clock;

json::object makeCronJob(const std::string& name, const std::string& specExtra) {
  std::string text = R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":")" + name +
                     R"("},"spec":{"schedule":"* * * * *",)" + specExtra +
                     R"("jobTemplate":{"metadata":{"labels":{"team":"a"}},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}}}})";
  return json::parse(text).as_object();
}

// A fake clock `offset` seconds ahead of the real one, installed for the test's lifetime.
struct ShiftedClock {
  std::shared_ptr<std::atomic<int64_t>> offset = std::make_shared<std::atomic<int64_t>>(0);
  ShiftedClock() {
    auto o = offset;
    setCronJobClock([o] { return Clock::now() + std::chrono::seconds(o->load()); });
  }
  ~ShiftedClock() { setCronJobClock(nullptr); }
  void set(int64_t seconds) { *offset = seconds; }
};

struct CronFixture {
  ShiftedClock clock;
  ControllerEnv env{{"cronjob"}};
  client::RestClient& c = env.c();
  std::string ns;
  int pokes = 0;
  explicit CronFixture(const std::string& prefix) { ns = freshNamespace(c, prefix); }

  void poke(const std::string& cj) {
    c.patch(client::resources::cronJobs, ns, cj, client::PatchType::Merge,
            json::object{{"metadata", json::object{{"labels", json::object{{"poke", std::to_string(++pokes)}}}}}});
  }
  json::array jobs() { return listItems(c, client::resources::jobs, ns); }
  std::set<std::string> jobNames() {
    std::set<std::string> out;
    for (auto& j : jobs())
      if (!isBeingDeleted(j.as_object())) out.insert(nameOf(j.as_object()));
    return out;
  }
  json::object cronJob(const std::string& name) { return c.get(client::resources::cronJobs, ns, name); }
  bool hasEvent(const std::string& reason, const std::string& messagePart = "") {
    for (auto& e : listItems(c, client::resources::events, ns)) {
      auto& ev = e.as_object();
      if (stringAt(ev, {"reason"}) == reason && stringAt(ev, {"message"}).find(messagePart) != std::string::npos)
        return true;
    }
    return false;
  }
  // Finishes a job as the Job controller would.
  void finishJob(const std::string& name, const std::string& type, const std::string& startTime) {
    auto job = c.get(client::resources::jobs, ns, name);
    auto& st = ensureObject(job, {"status"});
    st["startTime"] = startTime;
    if (type == "Complete") st["completionTime"] = nowTime();
    setCondition(job, type, "True", type == "Complete" ? "CompletionsReached" : "BackoffLimitExceeded", "");
    c.updateStatus(client::resources::jobs, ns, job);
  }
};

std::vector<std::string> activeNames(const json::object& cj) {
  std::vector<std::string> out;
  if (auto* a = arrayAt(cj, {"status", "active"}))
    for (auto& r : *a) out.push_back(stringAt(r.as_object(), {"name"}));
  return out;
}

}  // namespace

TEST(CronJobController, CreatesJobForScheduledTimeAndTracksIt) {
  CronFixture f("cj-basic");
  auto cj = f.c.create(client::resources::cronJobs, f.ns, makeCronJob("tick", ""));
  f.clock.set(61);
  f.poke("tick");
  ASSERT_TRUE(waitFor([&] { return f.jobNames().size() == 1; }));
  auto job = f.jobs()[0].as_object();
  auto name = nameOf(job);
  // Named after the scheduled minute, which the annotation records.
  auto stamp = stringAt(job, {"metadata", "annotations", kCronJobScheduledTimestampAnnotation});
  Clock::time_point scheduled;
  ASSERT_TRUE(parseTime(stamp, scheduled)) << stamp;
  EXPECT_EQ(stamp.back(), 'Z');
  auto minutes = std::chrono::duration_cast<std::chrono::minutes>(scheduled.time_since_epoch()).count();
  EXPECT_EQ(name, "tick-" + std::to_string(minutes));
  EXPECT_TRUE(isControlledBy(job, uidOf(cj)));
  EXPECT_EQ(stringAt(*controllerRefOf(job), {"kind"}), "CronJob");
  EXPECT_EQ(stringAt(job, {"metadata", "labels", "team"}), "a");
  ASSERT_TRUE(waitFor([&] { return activeNames(f.cronJob("tick")) == std::vector<std::string>{name}; }));
  EXPECT_EQ(stringAt(f.cronJob("tick"), {"status", "lastScheduleTime"}), stamp);
  EXPECT_TRUE(waitFor([&] { return f.hasEvent("SuccessfulCreate", "Created job " + name); }));

  // Looking again at the same time creates nothing new.
  f.poke("tick");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(f.jobNames().size(), 1u);

  f.finishJob(name, "Complete", nowTime());
  ASSERT_TRUE(waitFor([&] { return activeNames(f.cronJob("tick")).empty(); }));
  EXPECT_FALSE(stringAt(f.cronJob("tick"), {"status", "lastSuccessfulTime"}).empty());
  EXPECT_TRUE(waitFor([&] { return f.hasEvent("SawCompletedJob", "Saw completed job: " + name + ", condition: Complete"); }));
}

TEST(CronJobController, TimeZoneAndUnknownZone) {
  CronFixture f("cj-tz");
  f.c.create(client::resources::cronJobs, f.ns, makeCronJob("ny", R"("timeZone":"America/New_York",)"));
  f.c.create(client::resources::cronJobs, f.ns, makeCronJob("nowhere", R"("timeZone":"Nowhere/Atlantis",)"));
  f.clock.set(61);
  f.poke("ny");
  f.poke("nowhere");
  ASSERT_TRUE(waitFor([&] { return f.jobNames().size() == 1; }));
  // The scheduled-timestamp annotation is written in the CronJob's zone.
  auto stamp = stringAt(f.jobs()[0].as_object(), {"metadata", "annotations", kCronJobScheduledTimestampAnnotation});
  EXPECT_TRUE(stamp.ends_with("-05:00") || stamp.ends_with("-04:00")) << stamp;
  EXPECT_TRUE(waitFor([&] { return f.hasEvent("UnknownTimeZone", "invalid timeZone: \"Nowhere/Atlantis\""); }));
  EXPECT_EQ(nameOf(f.jobs()[0].as_object()).rfind("ny-", 0), 0u);
}

TEST(CronJobController, SuspendedCreatesNothing) {
  CronFixture f("cj-sus");
  f.c.create(client::resources::cronJobs, f.ns, makeCronJob("sus", R"("suspend":true,)"));
  f.clock.set(61);
  f.poke("sus");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(f.jobNames().empty());
}

TEST(CronJobController, ForbidSkipsWhileActive) {
  CronFixture f("cj-forbid");
  f.c.create(client::resources::cronJobs, f.ns, makeCronJob("fb", R"("concurrencyPolicy":"Forbid",)"));
  f.clock.set(61);
  f.poke("fb");
  ASSERT_TRUE(waitFor([&] { return f.jobNames().size() == 1 && activeNames(f.cronJob("fb")).size() == 1; }));
  f.clock.set(121);
  f.poke("fb");
  ASSERT_TRUE(waitFor([&] { return f.hasEvent("JobAlreadyActive", "concurrency policy is Forbid"); }));
  EXPECT_EQ(f.jobNames().size(), 1u);
}

TEST(CronJobController, ReplaceDeletesTheActiveJob) {
  CronFixture f("cj-replace");
  f.c.create(client::resources::cronJobs, f.ns, makeCronJob("rp", R"("concurrencyPolicy":"Replace",)"));
  f.clock.set(61);
  f.poke("rp");
  ASSERT_TRUE(waitFor([&] { return activeNames(f.cronJob("rp")).size() == 1; }));
  auto first = activeNames(f.cronJob("rp"))[0];
  f.clock.set(121);
  f.poke("rp");
  ASSERT_TRUE(waitFor([&] {
    auto a = activeNames(f.cronJob("rp"));
    return a.size() == 1 && a[0] != first;
  }));
  auto second = activeNames(f.cronJob("rp"))[0];
  EXPECT_TRUE(waitFor([&] { return f.jobNames() == std::set<std::string>{second}; }));
  EXPECT_TRUE(waitFor([&] { return f.hasEvent("SuccessfulDelete", "Deleted job " + first); }));
}

TEST(CronJobController, AllowRunsConcurrentlyAndCountsMissedTimes) {
  CronFixture f("cj-allow");
  f.c.create(client::resources::cronJobs, f.ns, makeCronJob("al", ""));
  f.clock.set(61);
  f.poke("al");
  ASSERT_TRUE(waitFor([&] { return f.jobNames().size() == 1; }));
  // Far in the future: only the most recent missed time runs, with a warning.
  f.clock.set(200 * 60);
  f.poke("al");
  // (Two jobs; a third only if a real minute boundary passes meanwhile.)
  ASSERT_TRUE(waitFor([&] {
    auto n = f.jobNames().size();
    return n >= 2 && n <= 3 && activeNames(f.cronJob("al")).size() == n;
  })) << "jobs=" << f.jobNames().size() << " active=" << activeNames(f.cronJob("al")).size()
      << " cronjob=" << json::serialize(f.cronJob("al")) << " jobs=" << [&] {
           std::string out;
           for (auto& j : f.jobs()) out += nameOf(j.as_object()) + "@" + stringAt(j.as_object(), {"metadata", "creationTimestamp"}) + " ";
           for (auto& e : listItems(f.c, client::resources::events, f.ns))
             out += "\n  event " + stringAt(e.as_object(), {"reason"}) + ": " + stringAt(e.as_object(), {"message"});
           return out;
         }();
  EXPECT_TRUE(waitFor([&] { return f.hasEvent("TooManyMissedTimes", "too many missed start times"); }));
  auto last = stringAt(f.cronJob("al"), {"status", "lastScheduleTime"});
  Clock::time_point t;
  ASSERT_TRUE(parseTime(last, t));
  auto fakeNow = Clock::now() + std::chrono::seconds(200 * 60);
  EXPECT_LE(t, fakeNow);
  EXPECT_GT(t, fakeNow - std::chrono::seconds(61));
}

TEST(CronJobController, HistoryLimitsDeleteOldestFinishedJobs) {
  CronFixture f("cj-hist");
  auto cj = f.c.create(client::resources::cronJobs, f.ns,
                       makeCronJob("hist", R"("suspend":true,"successfulJobsHistoryLimit":2,"failedJobsHistoryLimit":1,)"));
  auto own = [&](const std::string& name) {
    auto job = json::parse(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":")" + name +
                           R"("},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}}})")
                   .as_object();
    job["metadata"].as_object()["ownerReferences"] = json::array{makeControllerRef(cj, "batch/v1", "CronJob")};
    f.c.create(client::resources::jobs, f.ns, job);
  };
  for (const char* n : {"ok-1", "ok-2", "ok-3", "bad-1", "bad-2"}) own(n);
  f.finishJob("ok-2", "Complete", "2026-01-01T00:02:00Z");
  f.finishJob("ok-1", "Complete", "2026-01-01T00:01:00Z");
  f.finishJob("ok-3", "Complete", "2026-01-01T00:03:00Z");
  f.finishJob("bad-1", "Failed", "2026-01-01T00:01:00Z");
  f.finishJob("bad-2", "Failed", "2026-01-01T00:02:00Z");
  EXPECT_TRUE(waitFor([&] { return f.jobNames() == std::set<std::string>{"ok-2", "ok-3", "bad-2"}; }))
      << f.jobNames().size();
  EXPECT_TRUE(waitFor([&] { return f.hasEvent("SuccessfulDelete", "Deleted job ok-1"); }));
}

}  // namespace skiff::controller::testing
