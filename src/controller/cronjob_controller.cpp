// CronJob controller (upstream's cronjob-controller, the v2 one): creates a Job for each
// scheduled time of a CronJob's spec.schedule.
//
// - The schedule is read in spec.timeZone when set, else in the controller's local zone; a
//   TZ=/CRON_TZ= prefix in the schedule still works but draws an UnsupportedSchedule warning
//   (cron_schedule.h has the syntax).
// - Jobs are named "<cronjob>-<scheduled time in minutes since the epoch>", carry the
//   jobTemplate's labels and annotations plus batch.kubernetes.io/cronjob-scheduled-timestamp
//   and the controller ownerReference.
// - Only the most recent missed time is run; more than 100 missed times draw a
//   TooManyMissedTimes warning; a time older than startingDeadlineSeconds is a MissSchedule.
// - concurrencyPolicy Allow / Forbid (JobAlreadyActive) / Replace (active jobs deleted).
// - status.active follows the jobs (SawCompletedJob, MissingJob), lastScheduleTime and
//   lastSuccessfulTime are kept; finished jobs beyond the history limits are deleted, oldest
//   start time first.
// - After each sync the CronJob is requeued for just after its next scheduled time: no polling.
#include <algorithm>
#include <mutex>

#include "common/api_error.h"
#include "common/ids.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"
#include "controller/cron_schedule.h"
#include "controller/job_controller.h"

namespace skiff::controller {

namespace json = boost::json;
using Clock = std::chrono::system_clock;

namespace {

// Upstream requeues slightly after the scheduled time so the time has surely passed.
constexpr auto kNextScheduleDelta = std::chrono::milliseconds(100);
// Bounds startingDeadlineSeconds so time arithmetic cannot overflow (a century is "forever").
constexpr int64_t kMaxDeadlineSeconds = int64_t{100} * 366 * 86400;

SysSeconds toSeconds(Clock::time_point t) { return std::chrono::floor<std::chrono::seconds>(t); }

std::optional<SysSeconds> timeField(const json::object& obj, Path path) {
  Clock::time_point t;
  if (!parseTime(stringAt(obj, path), t)) return std::nullopt;
  return toSeconds(t);
}

std::string finishedCondition(const json::object& job) {
  for (const char* type : {"Complete", "Failed"})
    if (conditionTrue(job, type)) return type;
  return "";
}

enum class Missed { None, Few, Many };

struct Recent {
  SysSeconds earliest;
  std::optional<SysSeconds> mostRecent;
  Missed missed = Missed::None;
};

// The latest scheduled time in (earliest, now], where earliest is the last schedule time (or
// the creation time), moved up to now − startingDeadlineSeconds when `withDeadline`. Like
// upstream, the number of missed times is estimated from the gap between the next two
// times instead of walking them all.
std::optional<Recent> mostRecentScheduleTime(const json::object& cj, SysSeconds now,
                                             const CronSchedule& sched, bool withDeadline,
                                             std::string* error) {
  Recent r;
  r.earliest = timeField(cj, {"metadata", "creationTimestamp"}).value_or(now);
  if (auto last = timeField(cj, {"status", "lastScheduleTime"})) r.earliest = *last;
  if (withDeadline) {
    if (auto* sds = valueAt(cj, {"spec", "startingDeadlineSeconds"}); sds && sds->is_number()) {
      auto deadline = now - std::chrono::seconds(std::min<int64_t>(intAt(cj, {"spec", "startingDeadlineSeconds"}), kMaxDeadlineSeconds));
      if (deadline > r.earliest) r.earliest = deadline;
    }
  }
  auto t1 = sched.next(r.earliest);
  if (!t1 || now < *t1) return r;
  auto t2 = sched.next(*t1);
  if (!t2 || now < *t2) {
    r.mostRecent = t1;
    r.missed = Missed::Few;
    return r;
  }
  int64_t between = (*t2 - *t1).count();
  if (between < 1) {
    *error = "time difference between two schedules is less than 1 second";
    return std::nullopt;
  }
  int64_t missed = (now - *t1).count() / between + 1;
  r.missed = missed > 100 ? Missed::Many : Missed::Few;
  // Start one interval before the estimate and walk forward to the last time <= now, which
  // is exact for irregular schedules too.
  auto t = sched.next(*t1 + std::chrono::seconds((missed - 2) * between));
  for (; t && *t <= now; t = sched.next(*t)) r.mostRecent = t;
  return r;
}

bool inActive(const json::array& active, const std::string& uid) {
  for (const auto& a : active)
    if (a.is_object() && stringAt(a.get_object(), {"uid"}) == uid) return true;
  return false;
}

void removeFromActive(json::array& active, const std::string& uid) {
  for (auto it = active.begin(); it != active.end();) {
    if (it->is_object() && stringAt(it->get_object(), {"uid"}) == uid) it = active.erase(it);
    else ++it;
  }
}

json::object jobRef(const json::object& job) {
  return json::object{{"kind", "Job"},
                      {"namespace", namespaceOf(job)},
                      {"name", nameOf(job)},
                      {"uid", uidOf(job)},
                      {"apiVersion", "batch/v1"},
                      {"resourceVersion", stringAt(job, {"metadata", "resourceVersion"})}};
}

class CronJobController : public QueueController {
 public:
  explicit CronJobController(ControllerContext& ctx)
      : QueueController(ctx, "cronjob", "cronjob-controller"),
        cronJobs_(ctx.informers.informer(client::resources::cronJobs)),
        jobs_(ctx.informers.informer(client::resources::jobs)) {
    jobs_.addIndexer(client::kIndexOwnerUid, client::indexByOwnerUid);
    cronJobs_.addEventHandler({
        .onAdd = [this](const json::object& cj) { enqueue(cj); },
        .onUpdate = [this](const json::object&, const json::object& cj) { enqueue(cj); },
    });
    auto onJob = [this](const json::object& job) {
      auto* ref = controllerRefOf(job);
      if (ref && stringAt(*ref, {"kind"}) == "CronJob") enqueueKey(makeKey(namespaceOf(job), stringAt(*ref, {"name"})));
    };
    jobs_.addEventHandler({
        .onAdd = onJob,
        .onUpdate = [onJob](const json::object&, const json::object& j) { onJob(j); },
        .onDelete = onJob,
    });
  }

 protected:
  void sync(const std::string& key) override;

 private:
  bool deleteJob(const json::object& cj, const std::string& ns, const std::string& name);

  client::SharedInformer& cronJobs_;
  client::SharedInformer& jobs_;
};

bool CronJobController::deleteJob(const json::object& cj, const std::string& ns, const std::string& name) {
  try {
    client_.remove(client::resources::jobs, ns, name,
                   json::object{{"apiVersion", "v1"}, {"kind", "DeleteOptions"}, {"propagationPolicy", "Background"}});
  } catch (const ApiError& e) {
    if (e.code() == 404) return true;
    recorder_.event(cj, client::kEventTypeWarning, "FailedDelete", "Deleted job: " + std::string(e.what()));
    return false;
  }
  recorder_.event(cj, client::kEventTypeNormal, "SuccessfulDelete", "Deleted job " + name);
  return true;
}

void CronJobController::sync(const std::string& key) {
  auto cached = cronJobs_.get(key);
  if (!cached) return;
  json::object cj = *cached;
  const std::string ns = namespaceOf(cj), uid = uidOf(cj);
  if (uid.empty()) return;
  const SysSeconds now = toSeconds(clock_.now());

  std::vector<client::ObjectPtr> jobs;
  for (auto& j : jobs_.byIndex(client::kIndexOwnerUid, uid))
    if (isControlledBy(*j, uid)) jobs.push_back(j);

  json::object status;
  if (auto* s = objectAt(cj, {"status"})) status = *s;
  json::array active;
  if (auto* a = arrayAt(status, {"active"})) active = *a;
  bool refreshed = false;

  // --- reconcile status.active with the jobs that exist.
  for (const auto& j : jobs) {
    const std::string juid = uidOf(*j);
    const std::string finished = finishedCondition(*j);
    bool found = inActive(active, juid);
    if (!found && finished.empty()) {
      // Perhaps only our cache is behind our own status write: ask the server once.
      if (!refreshed) {
        refreshed = true;
        try {
          auto fresh = client_.get(client::resources::cronJobs, ns, nameOf(cj));
          if (uidOf(fresh) == uid) {
            cj = fresh;
            status = objectAt(cj, {"status"}) ? *objectAt(cj, {"status"}) : json::object{};
            active = arrayAt(status, {"active"}) ? *arrayAt(status, {"active"}) : json::array{};
          }
        } catch (const ApiError& e) {
          if (e.code() == 404) return;
          throw;
        }
      }
      if (!inActive(active, juid))
        recorder_.event(cj, client::kEventTypeWarning, "UnexpectedJob",
                        "Saw a job that the controller did not create or forgot: " + nameOf(*j));
    } else if (found && !finished.empty()) {
      removeFromActive(active, juid);
      recorder_.event(cj, client::kEventTypeNormal, "SawCompletedJob",
                      "Saw completed job: " + nameOf(*j) + ", condition: " + finished);
    }
    if (finished == "Complete") {
      auto done = timeField(*j, {"status", "completionTime"});
      auto last = timeField(status, {"lastSuccessfulTime"});
      if (done && (!last || *done > *last)) status["lastSuccessfulTime"] = formatTime(*done);
    }
  }
  // Active references whose job is gone.
  for (auto it = active.begin(); it != active.end();) {
    auto* ref = it->if_object();
    std::string juid = ref ? stringAt(*ref, {"uid"}) : "";
    bool exists = std::any_of(jobs.begin(), jobs.end(), [&](auto& j) { return uidOf(*j) == juid; });
    if (!exists && ref) {
      try {
        auto j = client_.get(client::resources::jobs, stringAt(*ref, {"namespace"}, ns), stringAt(*ref, {"name"}));
        exists = uidOf(j) == juid;
      } catch (const ApiError& e) {
        if (e.code() != 404) throw;
      }
      if (!exists)
        recorder_.event(cj, client::kEventTypeNormal, "MissingJob", "Active job went missing: " + stringAt(*ref, {"name"}));
    }
    if (!exists) it = active.erase(it);
    else ++it;
  }

  std::optional<std::chrono::milliseconds> requeue;
  auto scheduleAndCreate = [&]() {
    if (isBeingDeleted(cj)) return;
    TimeZone zone = TimeZone::load("Local").value_or(TimeZone::utc());
    if (auto* tz = valueAt(cj, {"spec", "timeZone"}); tz && tz->is_string()) {
      auto z = TimeZone::load(std::string(tz->get_string()));
      if (!z) {
        recorder_.event(cj, client::kEventTypeWarning, "UnknownTimeZone",
                        "invalid timeZone: \"" + std::string(tz->get_string()) + "\": unknown time zone " +
                            std::string(tz->get_string()));
        return;
      }
      zone = *z;
    }
    if (boolAt(cj, {"spec", "suspend"})) return;
    const std::string schedule = stringAt(cj, {"spec", "schedule"});
    if (schedule.find("TZ") != std::string::npos)
      recorder_.event(cj, client::kEventTypeWarning, "UnsupportedSchedule",
                      "CRON_TZ or TZ used in schedule \"" + schedule +
                          "\" is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details");
    std::string err;
    auto sched = CronSchedule::parse(schedule, &err, zone);
    if (!sched) {
      recorder_.event(cj, client::kEventTypeWarning, "UnparseableSchedule",
                      "unparseable schedule: \"" + schedule + "\" : " + err);
      return;
    }
    // Where to come back: just after the schedule time following the latest one reached.
    auto nextDelay = [&](const json::object& forCj) -> std::chrono::milliseconds {
      std::string e;
      auto r = mostRecentScheduleTime(forCj, now, *sched, false, &e);
      if (!r) return kNextScheduleDelta;
      auto base = r->mostRecent ? *r->mostRecent : r->earliest;
      auto next = sched->next(base);
      if (!next) return std::chrono::hours(24);  // no time within five years: look again daily
      auto realNow = clock_.now();
      return std::max(kNextScheduleDelta,
                      std::chrono::duration_cast<std::chrono::milliseconds>(*next - realNow) + kNextScheduleDelta);
    };
    json::object view = cj;
    view["status"] = status;
    auto recent = mostRecentScheduleTime(view, now, *sched, true, &err);
    if (!recent) {
      recorder_.event(cj, client::kEventTypeWarning, "InvalidSchedule", "invalid schedule: " + schedule + " : " + err);
      return;
    }
    if (!recent->mostRecent) {
      requeue = nextDelay(view);
      return;
    }
    if (recent->missed == Missed::Many)
      recorder_.event(cj, client::kEventTypeWarning, "TooManyMissedTimes",
                      "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew");
    const SysSeconds scheduled = *recent->mostRecent;
    if (auto* sds = valueAt(cj, {"spec", "startingDeadlineSeconds"}); sds && sds->is_number()) {
      if (scheduled + std::chrono::seconds(std::min<int64_t>(intAt(cj, {"spec", "startingDeadlineSeconds"}), kMaxDeadlineSeconds)) < now) {
        recorder_.event(cj, client::kEventTypeWarning, "MissSchedule",
                        "Missed scheduled time to start a job: " + formatRfc1123z(scheduled));
        requeue = nextDelay(view);
        return;
      }
    }
    const std::string jobName =
        nameOf(cj) + "-" + std::to_string(scheduled.time_since_epoch().count() / 60);
    bool processed = timeField(status, {"lastScheduleTime"}) == scheduled;
    for (const auto& a : active)
      if (a.is_object() && stringAt(a.get_object(), {"name"}) == jobName) processed = true;
    if (processed) {
      requeue = nextDelay(view);
      return;
    }
    const std::string policy = stringAt(cj, {"spec", "concurrencyPolicy"}, "Allow");
    if (policy == "Forbid" && !active.empty()) {
      recorder_.event(cj, client::kEventTypeNormal, "JobAlreadyActive",
                      "Not starting job because prior execution is running and concurrency policy is Forbid");
      requeue = nextDelay(view);
      return;
    }
    if (policy == "Replace") {
      for (auto it = active.begin(); it != active.end();) {
        auto* ref = it->if_object();
        if (ref && !deleteJob(cj, stringAt(*ref, {"namespace"}, ns), stringAt(*ref, {"name"})))
          throw std::runtime_error("could not replace job " + stringAt(*ref, {"name"}));
        it = active.erase(it);
      }
    }
    json::object meta{{"name", jobName}, {"namespace", ns}};
    if (auto* l = valueAt(cj, {"spec", "jobTemplate", "metadata", "labels"}); l && l->is_object()) meta["labels"] = *l;
    json::object annotations;
    if (auto* a = objectAt(cj, {"spec", "jobTemplate", "metadata", "annotations"})) annotations = *a;
    // Go formats the annotation in spec.timeZone, UTC when unset.
    auto annZone = TimeZone::utc();
    if (auto* tz = valueAt(cj, {"spec", "timeZone"}); tz && tz->is_string())
      annZone = TimeZone::load(std::string(tz->get_string())).value_or(TimeZone::utc());
    annotations[kCronJobScheduledTimestampAnnotation] = formatRfc3339In(scheduled, annZone);
    meta["annotations"] = std::move(annotations);
    meta["ownerReferences"] = json::array{makeControllerRef(cj, "batch/v1", "CronJob")};
    json::object job{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", std::move(meta)}};
    if (auto* spec = objectAt(cj, {"spec", "jobTemplate", "spec"})) job["spec"] = *spec;
    json::object created;
    try {
      created = client_.create(client::resources::jobs, ns, job);
      recorder_.event(cj, client::kEventTypeNormal, "SuccessfulCreate", "Created job " + nameOf(created));
    } catch (const ApiError& e) {
      if (e.code() != 409) {
        recorder_.event(cj, client::kEventTypeWarning, "FailedCreate", "Error creating job: " + std::string(e.what()));
        throw;
      }
      // Made earlier (by us before a lost status write, or by someone else).
      created = client_.get(client::resources::jobs, ns, jobName);
      if (!isControlledBy(created, uid)) return;
      if (inActive(active, uidOf(created))) {
        requeue = nextDelay(view);
        return;
      }
    }
    active.push_back(jobRef(created));
    status["lastScheduleTime"] = formatTime(scheduled);
    view["status"] = status;
    requeue = nextDelay(view);
  };
  scheduleAndCreate();

  // --- history limits: finished jobs beyond them go, oldest start first.
  auto cleanup = [&](const char* type, const char* limitField) {
    auto* lv = valueAt(cj, {"spec", limitField});
    if (!lv || !lv->is_number()) return;
    int64_t limit = std::max<int64_t>(0, intAt(cj, {"spec", limitField}));
    std::vector<client::ObjectPtr> done;
    for (const auto& j : jobs)
      if (finishedCondition(*j) == type && !isBeingDeleted(*j)) done.push_back(j);
    if (static_cast<int64_t>(done.size()) <= limit) return;
    std::sort(done.begin(), done.end(), [](auto& a, auto& b) {
      auto sa = timeField(*a, {"status", "startTime"}), sb = timeField(*b, {"status", "startTime"});
      if (sa.has_value() != sb.has_value()) return sa.has_value();  // no start time: newest
      if (sa && *sa != *sb) return *sa < *sb;
      return nameOf(*a) < nameOf(*b);
    });
    for (size_t i = 0; i + limit < done.size(); ++i)
      if (deleteJob(cj, ns, nameOf(*done[i]))) removeFromActive(active, uidOf(*done[i]));
  };
  if (!isBeingDeleted(cj)) {
    cleanup("Complete", "successfulJobsHistoryLimit");
    cleanup("Failed", "failedJobsHistoryLimit");
  }

  if (active.empty()) status.erase("active");
  else status["active"] = active;
  auto* current = objectAt(cj, {"status"});
  bool changed = current ? *current != status : !status.empty();
  if (changed) {
    json::object copy = cj;
    copy["status"] = status;
    try {
      client_.updateStatus(client::resources::cronJobs, ns, copy);
    } catch (const ApiError& e) {
      if (e.code() != 409) throw;
      // Someone changed the CronJob (its spec or labels) since we read it. Status is ours
      // alone and records jobs we just created: write it onto the fresh object rather than
      // lose it (a lost write would leave a created job out of status.active for good).
      auto fresh = client_.get(client::resources::cronJobs, ns, nameOf(cj));
      if (uidOf(fresh) != uid) return;
      fresh["status"] = status;
      client_.updateStatus(client::resources::cronJobs, ns, fresh);
    }
  }
  if (requeue) enqueueAfter(key, *requeue);
}

ControllerRegistration reg("cronjob", [](ControllerContext& ctx) { return std::make_unique<CronJobController>(ctx); });

}  // namespace
}  // namespace skiff::controller
