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
      auto deadline =
          now - std::chrono::seconds(std::min<int64_t>(
                    intAt(cj, {"spec", "startingDeadlineSeconds"}), kMaxDeadlineSeconds));
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
    if (it->is_object() && stringAt(it->get_object(), {"uid"}) == uid)
      it = active.erase(it);
    else
      ++it;
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
      if (ref && stringAt(*ref, {"kind"}) == "CronJob")
        enqueueKey(makeKey(namespaceOf(job), stringAt(*ref, {"name"})));
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
  // What one sync works on: the CronJob, its jobs, the status being built.
  struct State {
    json::object cj;
    std::string ns, uid;
    SysSeconds now;
    std::vector<client::ObjectPtr> jobs;  // controlled by the CronJob
    json::object status;
    json::array active;
    std::optional<std::chrono::milliseconds> requeue;  // when to look again
  };

  std::optional<State> load(const std::string& key);
  // status.active against the jobs that exist (SawCompletedJob, MissingJob, UnexpectedJob);
  // false when the CronJob is gone.
  bool reconcileActive(State& st);
  // The schedule in the CronJob's zone; nullopt (with a warning event) when it cannot run,
  // or when suspended.
  std::optional<CronSchedule> parseSchedule(const State& st);
  // From now to just after the schedule time following the latest one reached.
  std::chrono::milliseconds nextDelay(const State& st, const CronSchedule& sched);
  // Starts the job of the most recent due time, as the concurrency policy allows.
  void scheduleNext(State& st);
  // The job for `scheduled`; nullopt when it already exists and is accounted for.
  std::optional<json::object> createJob(State& st, const std::string& jobName,
                                        SysSeconds scheduled);
  // Finished jobs of `type` beyond spec.<limitField> go, oldest start first.
  void cleanupFinishedJobs(State& st, const char* type, const char* limitField);
  // false when the CronJob was replaced meanwhile (nothing more to do for it).
  bool writeStatus(State& st);
  bool deleteJob(const json::object& cj, const std::string& ns, const std::string& name);

  client::SharedInformer& cronJobs_;
  client::SharedInformer& jobs_;
};

bool CronJobController::deleteJob(const json::object& cj, const std::string& ns,
                                  const std::string& name) {
  try {
    client_.remove(
        client::resources::jobs, ns, name,
        json::object{
            {"apiVersion", "v1"}, {"kind", "DeleteOptions"}, {"propagationPolicy", "Background"}});
  } catch (const ApiError& e) {
    if (e.code() == 404) return true;
    recorder_.event(cj, client::kEventTypeWarning, "FailedDelete",
                    "Deleted job: " + std::string(e.what()));
    return false;
  }
  recorder_.event(cj, client::kEventTypeNormal, "SuccessfulDelete", "Deleted job " + name);
  return true;
}

// One sync, step by step (as ReplicaSetController::sync reads): load the CronJob and its
// jobs, reconcile status.active with them, start the job of the latest due time, trim the
// history, write the status, come back just after the next schedule time.
void CronJobController::sync(const std::string& key) {
  auto st = load(key);
  if (!st) return;
  if (!reconcileActive(*st)) return;
  if (!isBeingDeleted(st->cj)) {
    scheduleNext(*st);
    cleanupFinishedJobs(*st, "Complete", "successfulJobsHistoryLimit");
    cleanupFinishedJobs(*st, "Failed", "failedJobsHistoryLimit");
  }
  if (!writeStatus(*st)) return;
  if (st->requeue) enqueueAfter(key, *st->requeue);
}

std::optional<CronJobController::State> CronJobController::load(const std::string& key) {
  auto cached = cronJobs_.get(key);
  if (!cached) return std::nullopt;
  State st;
  st.cj = *cached;
  st.ns = namespaceOf(st.cj);
  st.uid = uidOf(st.cj);
  if (st.uid.empty()) return std::nullopt;
  st.now = toSeconds(clock_.now());
  for (auto& j : jobs_.byIndex(client::kIndexOwnerUid, st.uid))
    if (isControlledBy(*j, st.uid)) st.jobs.push_back(j);
  if (auto* s = objectAt(st.cj, {"status"})) st.status = *s;
  if (auto* a = arrayAt(st.status, {"active"})) st.active = *a;
  return st;
}

bool CronJobController::reconcileActive(State& st) {
  bool refreshed = false;
  for (const auto& j : st.jobs) {
    const std::string juid = uidOf(*j);
    const std::string finished = finishedCondition(*j);
    bool found = inActive(st.active, juid);
    if (!found && finished.empty()) {
      // Perhaps only our cache is behind our own status write: ask the server once.
      if (!refreshed) {
        refreshed = true;
        try {
          auto fresh = client_.get(client::resources::cronJobs, st.ns, nameOf(st.cj));
          if (uidOf(fresh) == st.uid) {
            st.cj = fresh;
            st.status = objectAt(st.cj, {"status"}) ? *objectAt(st.cj, {"status"}) : json::object{};
            st.active =
                arrayAt(st.status, {"active"}) ? *arrayAt(st.status, {"active"}) : json::array{};
          }
        } catch (const ApiError& e) {
          if (e.code() == 404) return false;
          throw;
        }
      }
      if (!inActive(st.active, juid))
        recorder_.event(st.cj, client::kEventTypeWarning, "UnexpectedJob",
                        "Saw a job that the controller did not create or forgot: " + nameOf(*j));
    } else if (found && !finished.empty()) {
      removeFromActive(st.active, juid);
      recorder_.event(st.cj, client::kEventTypeNormal, "SawCompletedJob",
                      "Saw completed job: " + nameOf(*j) + ", condition: " + finished);
    }
    if (finished == "Complete") {
      auto done = timeField(*j, {"status", "completionTime"});
      auto last = timeField(st.status, {"lastSuccessfulTime"});
      if (done && (!last || *done > *last)) st.status["lastSuccessfulTime"] = formatTime(*done);
    }
  }
  // Active references whose job is gone.
  for (auto it = st.active.begin(); it != st.active.end();) {
    auto* ref = it->if_object();
    std::string juid = ref ? stringAt(*ref, {"uid"}) : "";
    bool exists =
        std::any_of(st.jobs.begin(), st.jobs.end(), [&](auto& j) { return uidOf(*j) == juid; });
    if (!exists && ref) {
      try {
        auto j = client_.get(client::resources::jobs, stringAt(*ref, {"namespace"}, st.ns),
                             stringAt(*ref, {"name"}));
        exists = uidOf(j) == juid;
      } catch (const ApiError& e) {
        if (e.code() != 404) throw;
      }
      if (!exists)
        recorder_.event(st.cj, client::kEventTypeNormal, "MissingJob",
                        "Active job went missing: " + stringAt(*ref, {"name"}));
    }
    if (!exists)
      it = st.active.erase(it);
    else
      ++it;
  }
  return true;
}

std::optional<CronSchedule> CronJobController::parseSchedule(const State& st) {
  TimeZone zone = TimeZone::load("Local").value_or(TimeZone::utc());
  if (auto* tz = valueAt(st.cj, {"spec", "timeZone"}); tz && tz->is_string()) {
    auto z = TimeZone::load(std::string(tz->get_string()));
    if (!z) {
      recorder_.event(st.cj, client::kEventTypeWarning, "UnknownTimeZone",
                      "invalid timeZone: \"" + std::string(tz->get_string()) +
                          "\": unknown time zone " + std::string(tz->get_string()));
      return std::nullopt;
    }
    zone = *z;
  }
  if (boolAt(st.cj, {"spec", "suspend"})) return std::nullopt;
  const std::string schedule = stringAt(st.cj, {"spec", "schedule"});
  if (schedule.find("TZ") != std::string::npos)
    recorder_.event(st.cj, client::kEventTypeWarning, "UnsupportedSchedule",
                    "CRON_TZ or TZ used in schedule \"" + schedule +
                        "\" is not officially supported, see "
                        "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for "
                        "more details");
  std::string err;
  auto sched = CronSchedule::parse(schedule, &err, zone);
  if (!sched)
    recorder_.event(st.cj, client::kEventTypeWarning, "UnparseableSchedule",
                    "unparseable schedule: \"" + schedule + "\" : " + err);
  return sched;
}

std::chrono::milliseconds CronJobController::nextDelay(const State& st, const CronSchedule& sched) {
  json::object view = st.cj;
  view["status"] = st.status;
  std::string e;
  auto r = mostRecentScheduleTime(view, st.now, sched, false, &e);
  if (!r) return kNextScheduleDelta;
  auto base = r->mostRecent ? *r->mostRecent : r->earliest;
  auto next = sched.next(base);
  if (!next) return std::chrono::hours(24);  // no time within five years: look again daily
  return std::max(kNextScheduleDelta,
                  std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock_.now()) +
                      kNextScheduleDelta);
}

void CronJobController::scheduleNext(State& st) {
  auto sched = parseSchedule(st);
  if (!sched) return;
  const std::string schedule = stringAt(st.cj, {"spec", "schedule"});
  json::object view = st.cj;
  view["status"] = st.status;
  std::string err;
  auto recent = mostRecentScheduleTime(view, st.now, *sched, true, &err);
  if (!recent) {
    recorder_.event(st.cj, client::kEventTypeWarning, "InvalidSchedule",
                    "invalid schedule: " + schedule + " : " + err);
    return;
  }
  // From here on, whatever happens, come back just after the next schedule time.
  st.requeue = nextDelay(st, *sched);
  if (!recent->mostRecent) return;
  if (recent->missed == Missed::Many)
    recorder_.event(st.cj, client::kEventTypeWarning, "TooManyMissedTimes",
                    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or "
                    "check clock skew");
  const SysSeconds scheduled = *recent->mostRecent;
  if (auto* sds = valueAt(st.cj, {"spec", "startingDeadlineSeconds"}); sds && sds->is_number()) {
    if (scheduled + std::chrono::seconds(std::min<int64_t>(
                        intAt(st.cj, {"spec", "startingDeadlineSeconds"}), kMaxDeadlineSeconds)) <
        st.now) {
      recorder_.event(st.cj, client::kEventTypeWarning, "MissSchedule",
                      "Missed scheduled time to start a job: " + formatRfc1123z(scheduled));
      return;
    }
  }
  const std::string jobName =
      nameOf(st.cj) + "-" + std::to_string(scheduled.time_since_epoch().count() / 60);
  bool processed = timeField(st.status, {"lastScheduleTime"}) == scheduled;
  for (const auto& a : st.active)
    if (a.is_object() && stringAt(a.get_object(), {"name"}) == jobName) processed = true;
  if (processed) return;
  const std::string policy = stringAt(st.cj, {"spec", "concurrencyPolicy"}, "Allow");
  if (policy == "Forbid" && !st.active.empty()) {
    recorder_.event(
        st.cj, client::kEventTypeNormal, "JobAlreadyActive",
        "Not starting job because prior execution is running and concurrency policy is Forbid");
    return;
  }
  if (policy == "Replace") {
    for (auto it = st.active.begin(); it != st.active.end();) {
      auto* ref = it->if_object();
      if (ref && !deleteJob(st.cj, stringAt(*ref, {"namespace"}, st.ns), stringAt(*ref, {"name"})))
        throw std::runtime_error("could not replace job " + stringAt(*ref, {"name"}));
      it = st.active.erase(it);
    }
  }
  auto created = createJob(st, jobName, scheduled);
  if (!created) return;
  st.active.push_back(jobRef(*created));
  st.status["lastScheduleTime"] = formatTime(scheduled);
  st.requeue = nextDelay(st, *sched);
}

std::optional<json::object> CronJobController::createJob(State& st, const std::string& jobName,
                                                         SysSeconds scheduled) {
  json::object meta{{"name", jobName}, {"namespace", st.ns}};
  if (auto* l = valueAt(st.cj, {"spec", "jobTemplate", "metadata", "labels"}); l && l->is_object())
    meta["labels"] = *l;
  json::object annotations;
  if (auto* a = objectAt(st.cj, {"spec", "jobTemplate", "metadata", "annotations"}))
    annotations = *a;
  // Go formats the annotation in spec.timeZone, UTC when unset.
  auto annZone = TimeZone::utc();
  if (auto* tz = valueAt(st.cj, {"spec", "timeZone"}); tz && tz->is_string())
    annZone = TimeZone::load(std::string(tz->get_string())).value_or(TimeZone::utc());
  annotations[kCronJobScheduledTimestampAnnotation] = formatRfc3339In(scheduled, annZone);
  meta["annotations"] = std::move(annotations);
  meta["ownerReferences"] = json::array{makeControllerRef(st.cj, "batch/v1", "CronJob")};
  json::object job{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", std::move(meta)}};
  if (auto* spec = objectAt(st.cj, {"spec", "jobTemplate", "spec"})) job["spec"] = *spec;
  try {
    auto created = client_.create(client::resources::jobs, st.ns, job);
    recorder_.event(st.cj, client::kEventTypeNormal, "SuccessfulCreate",
                    "Created job " + nameOf(created));
    return created;
  } catch (const ApiError& e) {
    if (e.code() != 409) {
      recorder_.event(st.cj, client::kEventTypeWarning, "FailedCreate",
                      "Error creating job: " + std::string(e.what()));
      throw;
    }
  }
  // Made earlier (by us before a lost status write, or by someone else): ours and not yet
  // in status.active, it is taken as created now.
  auto existing = client_.get(client::resources::jobs, st.ns, jobName);
  if (!isControlledBy(existing, st.uid)) {
    st.requeue.reset();  // someone else's job has the name: wait for an event, as before
    return std::nullopt;
  }
  if (inActive(st.active, uidOf(existing))) return std::nullopt;
  return existing;
}

void CronJobController::cleanupFinishedJobs(State& st, const char* type, const char* limitField) {
  auto* lv = valueAt(st.cj, {"spec", limitField});
  if (!lv || !lv->is_number()) return;
  int64_t limit = std::max<int64_t>(0, intAt(st.cj, {"spec", limitField}));
  std::vector<client::ObjectPtr> done;
  for (const auto& j : st.jobs)
    if (finishedCondition(*j) == type && !isBeingDeleted(*j)) done.push_back(j);
  if (static_cast<int64_t>(done.size()) <= limit) return;
  std::sort(done.begin(), done.end(), [](auto& a, auto& b) {
    auto sa = timeField(*a, {"status", "startTime"}), sb = timeField(*b, {"status", "startTime"});
    if (sa.has_value() != sb.has_value()) return sa.has_value();  // no start time: newest
    if (sa && *sa != *sb) return *sa < *sb;
    return nameOf(*a) < nameOf(*b);
  });
  for (size_t i = 0; i + limit < done.size(); ++i)
    if (deleteJob(st.cj, st.ns, nameOf(*done[i]))) removeFromActive(st.active, uidOf(*done[i]));
}

bool CronJobController::writeStatus(State& st) {
  if (st.active.empty())
    st.status.erase("active");
  else
    st.status["active"] = st.active;
  auto* current = objectAt(st.cj, {"status"});
  bool changed = current ? *current != st.status : !st.status.empty();
  if (!changed) return true;
  json::object copy = st.cj;
  copy["status"] = st.status;
  try {
    client_.updateStatus(client::resources::cronJobs, st.ns, copy);
  } catch (const ApiError& e) {
    if (e.code() != 409) throw;
    // Someone changed the CronJob (its spec or labels) since we read it. Status is ours
    // alone and records jobs we just created: write it onto the fresh object rather than
    // lose it (a lost write would leave a created job out of status.active for good).
    auto fresh = client_.get(client::resources::cronJobs, st.ns, nameOf(st.cj));
    if (uidOf(fresh) != st.uid) return false;
    fresh["status"] = st.status;
    client_.updateStatus(client::resources::cronJobs, st.ns, fresh);
  }
  return true;
}

ControllerRegistration reg("cronjob", [](ControllerContext& ctx) {
  return std::make_unique<CronJobController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
