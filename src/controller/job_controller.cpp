// Job controller (upstream's job-controller): runs a Job's pods to completion.
//
// - Pods come from spec.template with generateName "<job>-" (Indexed: "<job>-<index>-"), the
//   controller ownerReference, the job's controller-uid/job-name labels and the
//   batch.kubernetes.io/job-tracking finalizer. Indexed pods carry their completion index as
//   annotation and label, hostname "<job>-<index>" and JOB_COMPLETION_INDEX in every container.
// - Every finished pod is counted exactly once with upstream's protocol: its UID is first
//   written to status.uncountedTerminatedPods, then its finalizer is removed, then the UID
//   moves into status.succeeded/failed. A pod whose finalizer removal this process has not
//   yet seen in its cache is never recounted.
// - A pod that is deleted before succeeding counts as failed (podReplacementPolicy
//   TerminatingOrFailed); pods the controller deletes itself (suspend, too many, finishing)
//   lose the finalizer first and are not counted.
// - Finishing follows v1.32: SuccessCriteriaMet / FailureTarget first, lingering pods are
//   deleted, and Complete / Failed once no pod is left terminating.
// - Failed pods are replaced after upstream's exponential backoff (see job_controller.h).
// Not implemented: podFailurePolicy rules (the field is accepted and ignored, so failures all
// count against backoffLimit), backoffLimitPerIndex, successPolicy, orphan adoption.
#include "controller/job_controller.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "common/api_error.h"
#include "common/ids.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"

namespace skiff::controller {

namespace json = boost::json;
using Clock = std::chrono::system_clock;

namespace {
std::atomic<int64_t> backoffBaseMs{10'000};
std::atomic<int64_t> backoffMaxMs{360'000};
// Like upstream's MaxPodCreateDeletePerSync: a huge parallelism is reached over several syncs
// (each creation event requeues the Job).
constexpr size_t kMaxPodCreatesPerSync = 500;
}  // namespace

void setJobPodFailureBackoff(std::chrono::milliseconds base, std::chrono::milliseconds max) {
  backoffBaseMs = base.count();
  backoffMaxMs = max.count();
}

namespace {

bool hasTrackingFinalizer(const json::object& pod) {
  if (auto* f = arrayAt(pod, {"metadata", "finalizers"}))
    for (const auto& v : *f)
      if (v.is_string() && v.get_string() == kJobTrackingFinalizer) return true;
  return false;
}

bool jobFinished(const json::object& job) {
  return conditionTrue(job, "Complete") || conditionTrue(job, "Failed");
}

std::optional<Clock::time_point> timeAt(const json::object& obj, Path path) {
  Clock::time_point t;
  if (!parseTime(stringAt(obj, path), t)) return std::nullopt;
  return t;
}

// A pod counts as failed when it failed, or when it is going away before succeeding (its
// containers may never report: upstream counts these as failures unless the job replaces
// only Failed pods).
bool isPodFailed(const json::object& pod, const json::object& job) {
  auto phase = podPhase(pod);
  if (phase == "Failed") return true;
  if (stringAt(job, {"spec", "podReplacementPolicy"}) == "Failed") return false;
  return isBeingDeleted(pod) && phase != "Succeeded";
}

int64_t resourceVersionOf(const json::object& obj) {
  auto rv = stringAt(obj, {"metadata", "resourceVersion"});
  if (rv.empty() || rv.size() > 18 || rv.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  return std::stoll(rv);
}

bool isIndexed(const json::object& job) {
  return stringAt(job, {"spec", "completionMode"}) == "Indexed";
}

// The pod's completion index, or -1 when it has none or it is out of [0, completions).
int64_t podIndex(const json::object& pod, int64_t completions) {
  std::string s = stringAt(pod, {"metadata", "annotations", kJobCompletionIndexAnnotation});
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
    return -1;
  int64_t i = std::stoll(s);
  return i < completions ? i : -1;
}

// "1,3-5" <-> {1,3,4,5} (status.completedIndexes); malformed parts are ignored.
std::set<int64_t> parseIndexes(const std::string& s, int64_t completions) {
  std::set<int64_t> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t comma = s.find(',', start);
    std::string part =
        s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? s.size() : comma + 1;
    size_t dash = part.find('-');
    try {
      int64_t a = std::stoll(part.substr(0, dash));
      int64_t b = dash == std::string::npos ? a : std::stoll(part.substr(dash + 1));
      for (int64_t i = std::max<int64_t>(a, 0); i <= b && i < completions; ++i) out.insert(i);
    } catch (const std::exception&) {
    }
  }
  return out;
}

std::string formatIndexes(const std::set<int64_t>& s) {
  std::string out;
  for (auto it = s.begin(); it != s.end();) {
    int64_t a = *it, b = a;
    for (++it; it != s.end() && *it == b + 1; ++it) b = *it;
    if (!out.empty()) out += ",";
    out += std::to_string(a);
    if (b > a) out += (b == a + 1 ? "," : "-") + std::to_string(b);
  }
  return out;
}

// setCondition works on a whole object; the controller builds the status on its own.
bool setStatusCondition(json::object& status, const std::string& type, const std::string& value,
                        const std::string& reason, const std::string& message) {
  json::object holder{{"status", std::move(status)}};
  bool changed = setCondition(holder, type, value, reason, message);
  status = std::move(holder["status"].as_object());
  return changed;
}

json::array uidArray(const std::set<std::string>& s) {
  json::array a;
  for (const auto& u : s) a.push_back(json::string(u));
  return a;
}

std::set<std::string> uidSet(const json::object& status, std::string_view which) {
  std::set<std::string> out;
  if (auto* a = arrayAt(status, {"uncountedTerminatedPods", which}))
    for (const auto& v : *a)
      if (v.is_string()) out.insert(std::string(v.get_string()));
  return out;
}

class JobController : public QueueController {
 public:
  explicit JobController(ControllerContext& ctx)
      : QueueController(ctx, "job", "job-controller"),
        jobs_(ctx.informers.informer(client::resources::jobs)),
        pods_(ctx.informers.informer(client::resources::pods)) {
    pods_.addIndexer(client::kIndexOwnerUid, client::indexByOwnerUid);
    jobs_.addEventHandler({
        .onAdd = [this](const json::object& j) { enqueue(j); },
        .onUpdate = [this](const json::object&, const json::object& j) { enqueue(j); },
        .onDelete =
            [this](const json::object& j) {
              auto key = client::objectKey(j);
              expectations_.forget(key);
              {
                std::lock_guard lock(mu_);
                backoff_.erase(key);
                written_.erase(key);
                orphans_[key].insert(uidOf(j));
              }
              enqueueKey(key);
            },
    });
    pods_.addEventHandler({
        .onAdd =
            [this](const json::object& p) {
              if (auto key = jobKeyOf(p)) {
                noteOrphan(*key, p);
                if (isBeingDeleted(p))
                  expectations_.deletionObserved(*key);
                else
                  expectations_.creationObserved(*key);
                enqueueKey(*key);
              }
            },
        .onUpdate =
            [this](const json::object& o, const json::object& p) {
              if (!hasTrackingFinalizer(p)) forgetRemoved(uidOf(p));
              if (auto key = jobKeyOf(p)) {
                noteOrphan(*key, p);
                if (isBeingDeleted(p) && !isBeingDeleted(o)) expectations_.deletionObserved(*key);
                enqueueKey(*key);
              }
            },
        .onDelete =
            [this](const json::object& p) {
              forgetRemoved(uidOf(p));
              if (auto key = jobKeyOf(p)) {
                if (!isBeingDeleted(p)) expectations_.deletionObserved(*key);
                enqueueKey(*key);
              }
            },
    });
  }

 protected:
  void sync(const std::string& key) override;

 private:
  struct Backoff {
    int failuresSinceSuccess = 0;
    Clock::time_point lastFailure;
  };

  static std::optional<std::string> jobKeyOf(const json::object& pod) {
    auto* ref = controllerRefOf(pod);
    if (!ref || stringAt(*ref, {"kind"}) != "Job") return std::nullopt;
    auto name = stringAt(*ref, {"name"});
    if (name.empty()) return std::nullopt;
    return makeKey(namespaceOf(pod), name);
  }
  // A pod still holding our finalizer whose Job is gone (or is another Job of that name):
  // remember the owner's uid so sync releases the pod, which could otherwise never go away.
  void noteOrphan(const std::string& key, const json::object& pod) {
    if (!hasTrackingFinalizer(pod)) return;
    auto ownerUid = stringAt(*controllerRefOf(pod), {"uid"});
    auto job = jobs_.get(key);
    if (job && uidOf(*job) == ownerUid) return;
    std::lock_guard lock(mu_);
    orphans_[key].insert(ownerUid);
  }
  void releaseOrphans(const std::string& key, const std::string& currentUid);
  void forgetRemoved(const std::string& uid) {
    std::lock_guard lock(mu_);
    removed_.erase(uid);
  }
  bool finalizerRemovalPending(const std::string& uid) {
    std::lock_guard lock(mu_);
    return removed_.count(uid) > 0;
  }

  // What one sync works on: the Job, its pods, the status being built, the counts.
  struct State {
    std::string key, uid;
    json::object job;
    Clock::time_point now;
    std::vector<client::ObjectPtr> pods;  // controlled by the Job
    bool indexed = false, hasCompletions = false, suspended = false;
    int64_t completions = 0, parallelism = 1, backoffLimit = 6;
    json::object status;
    std::set<std::string> uncountedSucceeded, uncountedFailed;
    std::set<int64_t> completedIndexes;
    int64_t succeeded = 0, failed = 0;
    std::vector<client::ObjectPtr> active;
    int64_t ready = 0, terminating = 0, restarts = 0;
    std::string finishType, reason, message;  // set once the Job is done
  };

  // The Job to sync (read fresh when our last status write is newer than the cache).
  std::optional<json::object> load(const std::string& key);
  State observe(const std::string& key, json::object job);
  void releaseFinishedPods(const State& st);
  void recordFinishedPods(State& st);
  void countFinishedPods(State& st);
  void countActivePods(State& st);
  void followSuspend(State& st);
  void checkFinished(State& st);
  void finish(State& st, bool settled);
  void manageActivePods(State& st);
  std::chrono::milliseconds failureBackoffLeft(const State& st);
  void createPods(State& st, const std::vector<int64_t>& indexes);
  void publishStatus(State& st);
  void requeueForDeadline(const State& st);

  void removeFinalizer(const json::object& pod);
  json::object createPod(const json::object& job, int64_t index);
  void deletePods(const json::object& job, const std::string& key,
                  const std::vector<client::ObjectPtr>& pods);
  json::object writeStatus(const json::object& job, const json::object& status);

  client::SharedInformer& jobs_;
  client::SharedInformer& pods_;
  Expectations expectations_;
  std::mutex mu_;
  std::unordered_set<std::string> removed_;  // pod UIDs whose finalizer we removed
  std::unordered_map<std::string, Backoff> backoff_;
  // The resourceVersion of our last status write per job: a cached job older than that is
  // stale, and acting on it could count or create twice.
  std::unordered_map<std::string, int64_t> written_;
  std::unordered_map<std::string, std::set<std::string>> orphans_;  // job key -> old owner uids
};

void JobController::releaseOrphans(const std::string& key, const std::string& currentUid) {
  std::set<std::string> uids;
  {
    std::lock_guard lock(mu_);
    auto it = orphans_.find(key);
    if (it == orphans_.end()) return;
    uids.swap(it->second);
    orphans_.erase(it);
  }
  try {
    for (const auto& uid : uids) {
      if (uid == currentUid) continue;
      for (const auto& p : pods_.byIndex(client::kIndexOwnerUid, uid))
        if (isControlledBy(*p, uid) && hasTrackingFinalizer(*p)) removeFinalizer(*p);
    }
  } catch (...) {
    std::lock_guard lock(mu_);
    orphans_[key].insert(uids.begin(), uids.end());
    throw;
  }
}

void JobController::removeFinalizer(const json::object& pod) {
  auto* fins = arrayAt(pod, {"metadata", "finalizers"});
  if (!fins || finalizerRemovalPending(uidOf(pod))) return;
  for (size_t i = 0; i < fins->size(); ++i) {
    if (!(*fins)[i].is_string() || (*fins)[i].get_string() != kJobTrackingFinalizer) continue;
    // test+remove: only this finalizer at this position goes, whatever others do meanwhile.
    std::string path = "/metadata/finalizers/" + std::to_string(i);
    json::array patch{
        json::object{{"op", "test"}, {"path", path}, {"value", kJobTrackingFinalizer}},
        json::object{{"op", "remove"}, {"path", path}}};
    try {
      client_.patch(client::resources::pods, namespaceOf(pod), nameOf(pod), client::PatchType::Json,
                    patch);
    } catch (const ApiError& e) {
      if (e.code() != 404) throw;
    }
    std::lock_guard lock(mu_);
    removed_.insert(uidOf(pod));
    return;
  }
}

json::object JobController::createPod(const json::object& job, int64_t index) {
  const std::string jobName = nameOf(job), ns = namespaceOf(job);
  json::object tmpl;
  if (auto* t = objectAt(job, {"spec", "template"})) tmpl = *t;
  std::string prefix = jobName + "-" + (index >= 0 ? std::to_string(index) + "-" : "");
  auto pod = podFromTemplate(tmpl, ns, makeControllerRef(job, "batch/v1", "Job"), prefix);
  auto& meta = pod["metadata"].as_object();
  // The generated selector puts these in the template; a manual selector may not.
  auto& labels = ensureObject(meta, {"labels"});
  for (const auto& [k, v] :
       {std::pair{kJobControllerUidLabel, uidOf(job)}, std::pair{kJobNameLabel, jobName},
        std::pair{kLegacyControllerUidLabel, uidOf(job)}, std::pair{kLegacyJobNameLabel, jobName}})
    if (!labels.contains(k) && v.size() <= 63) labels[k] = v;
  meta["finalizers"] = json::array{json::string(kJobTrackingFinalizer)};
  if (index >= 0) {
    auto idx = std::to_string(index);
    ensureObject(meta, {"annotations"})[kJobCompletionIndexAnnotation] = idx;
    labels[kJobCompletionIndexAnnotation] = idx;
    auto& spec = ensureObject(pod, {"spec"});
    if (auto hostname = jobName + "-" + idx; !spec.contains("hostname") && hostname.size() <= 63)
      spec["hostname"] = hostname;
    for (const char* list : {"containers", "initContainers"}) {
      auto* cs = spec.if_contains(list);
      if (!cs || !cs->is_array()) continue;
      for (auto& c : cs->get_array()) {
        if (!c.is_object()) continue;
        auto& env = c.get_object()["env"];
        if (!env.is_array()) env = json::array{};
        env.get_array().push_back(json::object{
            {"name", "JOB_COMPLETION_INDEX"},
            {"valueFrom",
             json::object{
                 {"fieldRef",
                  json::object{{"apiVersion", "v1"},
                               {"fieldPath", "metadata.annotations['" +
                                                 kJobCompletionIndexAnnotation + "']"}}}}}});
      }
    }
  }
  return client_.create(client::resources::pods, ns, pod);
}

// Deletes pods the controller no longer wants; their finalizer goes first so they are not
// counted as failures.
void JobController::deletePods(const json::object& job, const std::string& key,
                               const std::vector<client::ObjectPtr>& pods) {
  if (pods.empty()) return;
  expectations_.expect(key, 0, static_cast<int>(pods.size()));
  for (const auto& p : pods) {
    try {
      removeFinalizer(*p);
      client_.remove(client::resources::pods, namespaceOf(*p), nameOf(*p));
      recorder_.event(job, client::kEventTypeNormal, "SuccessfulDelete",
                      "Deleted pod: " + nameOf(*p));
    } catch (const ApiError& e) {
      expectations_.deletionObserved(key);
      if (e.code() == 404) continue;
      recorder_.event(job, client::kEventTypeWarning, "FailedDelete",
                      "Error deleting: " + std::string(e.what()));
      throw;
    }
  }
}

json::object JobController::writeStatus(const json::object& job, const json::object& status) {
  json::object copy = job;
  copy["status"] = status;
  auto written = client_.updateStatus(client::resources::jobs, namespaceOf(job), copy);
  std::lock_guard lock(mu_);
  written_[client::objectKey(job)] = resourceVersionOf(written);
  return written;
}

// One sync, step by step (as ReplicaSetController::sync reads): load the Job, count the
// pods that finished (upstream's three-step protocol), follow suspend, decide whether the
// Job is done, converge its active pods, publish the counters.
void JobController::sync(const std::string& key) {
  auto job = load(key);
  if (!job) return;
  State st = observe(key, std::move(*job));
  if (jobFinished(st.job) || isBeingDeleted(st.job)) return releaseFinishedPods(st);
  recordFinishedPods(st);
  countFinishedPods(st);
  countActivePods(st);
  followSuspend(st);
  checkFinished(st);
  const bool settled = expectations_.satisfied(key);
  if (!st.finishType.empty()) {
    finish(st, settled);
  } else if (st.suspended) {
    if (settled) deletePods(st.job, key, st.active);
    st.active.clear();
    st.ready = 0;
  } else if (settled) {
    manageActivePods(st);
  }
  publishStatus(st);
  requeueForDeadline(st);
}

std::optional<json::object> JobController::load(const std::string& key) {
  auto cached = jobs_.get(key);
  releaseOrphans(key, cached ? uidOf(*cached) : "");
  if (!cached) {
    expectations_.forget(key);
    return std::nullopt;
  }
  json::object job = *cached;
  bool stale;
  {
    std::lock_guard lock(mu_);
    auto it = written_.find(key);
    stale = it != written_.end() && resourceVersionOf(job) < it->second;
  }
  if (stale) {
    // Our own status write has not reached the cache yet; counting or creating from the
    // older status could do it twice, so read the Job itself.
    auto [ns, name] = splitKey(key);
    try {
      job = client_.get(client::resources::jobs, ns, name);
    } catch (const ApiError& e) {
      if (e.code() == 404) return std::nullopt;
      throw;
    }
  }
  if (uidOf(job).empty()) return std::nullopt;
  return job;
}

JobController::State JobController::observe(const std::string& key, json::object job) {
  State st;
  st.key = key;
  st.job = std::move(job);
  st.uid = uidOf(st.job);
  st.now = syncClock().now();
  for (auto& p : pods_.byIndex(client::kIndexOwnerUid, st.uid))
    if (isControlledBy(*p, st.uid)) st.pods.push_back(p);
  st.indexed = isIndexed(st.job);
  const auto* completionsV = valueAt(st.job, {"spec", "completions"});
  st.hasCompletions = completionsV && !completionsV->is_null();
  st.completions = intAt(st.job, {"spec", "completions"}, 0);
  st.parallelism = std::max<int64_t>(0, intAt(st.job, {"spec", "parallelism"}, 1));
  st.backoffLimit = intAt(st.job, {"spec", "backoffLimit"}, 6);
  st.suspended = boolAt(st.job, {"spec", "suspend"});
  if (auto* s = objectAt(st.job, {"status"})) st.status = *s;
  return st;
}

void JobController::releaseFinishedPods(const State& st) {
  // Nothing more to count or create; pods still holding the finalizer are released (all of
  // them when the Job itself is going, so the garbage collector can remove them).
  for (const auto& p : st.pods)
    if (hasTrackingFinalizer(*p) &&
        (isPodTerminal(*p) || isBeingDeleted(*p) || isBeingDeleted(st.job)))
      removeFinalizer(*p);
}

// Step 1: newly finished pods into status.uncountedTerminatedPods (written before anything
// else, so a crash after the finalizer removal cannot lose them).
void JobController::recordFinishedPods(State& st) {
  st.uncountedSucceeded = uidSet(st.status, "succeeded");
  st.uncountedFailed = uidSet(st.status, "failed");
  if (st.indexed)
    st.completedIndexes = parseIndexes(stringAt(st.status, {"completedIndexes"}), st.completions);
  bool newlyFinished = false;
  int newFailures = 0, newSuccesses = 0;
  for (const auto& p : st.pods) {
    const std::string puid = uidOf(*p);
    if (!hasTrackingFinalizer(*p) || finalizerRemovalPending(puid)) continue;
    if (st.uncountedSucceeded.count(puid) || st.uncountedFailed.count(puid)) continue;
    if (podPhase(*p) == "Succeeded") {
      st.uncountedSucceeded.insert(puid);
      if (st.indexed)
        if (auto i = podIndex(*p, st.completions); i >= 0) st.completedIndexes.insert(i);
      ++newSuccesses;
      newlyFinished = true;
    } else if (isPodFailed(*p, st.job)) {
      st.uncountedFailed.insert(puid);
      ++newFailures;
      newlyFinished = true;
    }
  }
  if (!newlyFinished) return;
  auto& u = ensureObject(st.status, {"uncountedTerminatedPods"});
  u["succeeded"] = uidArray(st.uncountedSucceeded);
  u["failed"] = uidArray(st.uncountedFailed);
  if (st.indexed) st.status["completedIndexes"] = formatIndexes(st.completedIndexes);
  st.job = writeStatus(st.job, st.status);
  st.status = st.job["status"].as_object();
  std::lock_guard lock(mu_);
  auto& b = backoff_[st.key];
  if (newSuccesses > 0) b.failuresSinceSuccess = 0;
  if (newFailures > 0) {
    b.failuresSinceSuccess += newFailures;
    b.lastFailure = st.now;
  }
}

// Steps 2 and 3: release their finalizers, move them into the counters.
void JobController::countFinishedPods(State& st) {
  if (!st.uncountedSucceeded.empty() || !st.uncountedFailed.empty()) {
    for (const auto& p : st.pods) {
      const std::string puid = uidOf(*p);
      if ((st.uncountedSucceeded.count(puid) || st.uncountedFailed.count(puid)) &&
          hasTrackingFinalizer(*p) && !finalizerRemovalPending(puid))
        removeFinalizer(*p);
    }
    if (!st.indexed)
      st.status["succeeded"] =
          intAt(st.status, {"succeeded"}) + static_cast<int64_t>(st.uncountedSucceeded.size());
    st.status["failed"] =
        intAt(st.status, {"failed"}) + static_cast<int64_t>(st.uncountedFailed.size());
  }
  st.status["uncountedTerminatedPods"] = json::object{};
  if (st.indexed) {
    st.status["completedIndexes"] = formatIndexes(st.completedIndexes);
    st.status["succeeded"] = static_cast<int64_t>(st.completedIndexes.size());
  }
  st.succeeded = intAt(st.status, {"succeeded"});
  st.failed = intAt(st.status, {"failed"});
}

void JobController::countActivePods(State& st) {
  for (const auto& p : st.pods) {
    if (isPodActive(*p)) {
      st.active.push_back(p);
      if (isPodReady(*p)) ++st.ready;
      if (auto* cs = arrayAt(*p, {"status", "containerStatuses"}))
        for (const auto& c : *cs)
          if (c.is_object()) st.restarts += intAt(c.get_object(), {"restartCount"});
    } else if (isBeingDeleted(*p) && !isPodTerminal(*p)) {
      ++st.terminating;
    }
  }
}

// Step 4: the Suspended condition; the active deadline counts from a resume.
void JobController::followSuspend(State& st) {
  bool wasSuspended = conditionTrue(st.job, "Suspended");
  if (st.suspended) {
    if (setStatusCondition(st.status, "Suspended", "True", "JobSuspended", "Job suspended"))
      recorder_.event(st.job, client::kEventTypeNormal, "Suspended", "Job suspended");
  } else if (wasSuspended) {
    setStatusCondition(st.status, "Suspended", "False", "JobResumed", "Job resumed");
    recorder_.event(st.job, client::kEventTypeNormal, "Resumed", "Job resumed");
    st.status["startTime"] = nowTime();
  }
  if (!st.suspended && stringAt(st.status, {"startTime"}).empty())
    st.status["startTime"] = nowTime();
}

// Step 5: success or failure criteria (interim conditions first, as v1.32 does).
void JobController::checkFinished(State& st) {
  if (conditionTrue(st.job, "FailureTarget")) {
    auto* c = findCondition(st.job, "FailureTarget");
    st.finishType = "Failed", st.reason = stringAt(*c, {"reason"}),
    st.message = stringAt(*c, {"message"});
    return;
  }
  if (conditionTrue(st.job, "SuccessCriteriaMet")) {
    auto* c = findCondition(st.job, "SuccessCriteriaMet");
    st.finishType = "Complete", st.reason = stringAt(*c, {"reason"}),
    st.message = stringAt(*c, {"message"});
    return;
  }
  bool onFailure = stringAt(st.job, {"spec", "template", "spec", "restartPolicy"}) == "OnFailure";
  auto start = timeAt(st.status, {"startTime"});
  int64_t ads = intAt(st.job, {"spec", "activeDeadlineSeconds"}, 0);
  if (st.failed + (onFailure ? st.restarts : 0) > st.backoffLimit) {
    st.finishType = "Failed", st.reason = "BackoffLimitExceeded",
    st.message = "Job has reached the specified backoff limit";
  } else if (!st.suspended && ads > 0 && start && st.now - *start >= std::chrono::seconds(ads)) {
    st.finishType = "Failed", st.reason = "DeadlineExceeded",
    st.message = "Job was active longer than specified deadline";
  } else if (st.hasCompletions ? st.succeeded >= st.completions
                               : st.succeeded > 0 && st.active.empty() && st.terminating == 0) {
    st.finishType = "Complete", st.reason = "CompletionsReached",
    st.message = "Reached expected number of succeeded pods";
  }
  if (st.finishType.empty()) return;
  setStatusCondition(st.status, st.finishType == "Failed" ? "FailureTarget" : "SuccessCriteriaMet",
                     "True", st.reason, st.message);
  if (st.finishType == "Failed")
    recorder_.event(st.job, client::kEventTypeWarning, st.reason, st.message);
}

// Lingering pods go; the terminal condition waits until none is left terminating (and
// until the cache has seen our own deletions).
void JobController::finish(State& st, bool settled) {
  if (settled) deletePods(st.job, st.key, st.active);
  if (settled && st.active.empty() && st.terminating == 0) {
    setStatusCondition(st.status, st.finishType, "True", st.reason, st.message);
    if (st.finishType == "Complete") {
      st.status["completionTime"] = nowTime();
      recorder_.event(st.job, client::kEventTypeNormal, "Completed", "Job completed");
    }
  }
  st.active.clear();
  st.ready = 0;
}

// Step 6: converge the number of active pods.
void JobController::manageActivePods(State& st) {
  int64_t wantActive;
  if (st.hasCompletions)
    wantActive = std::clamp<int64_t>(st.completions - st.succeeded, 0, st.parallelism);
  else
    wantActive = st.succeeded > 0 ? static_cast<int64_t>(st.active.size()) : st.parallelism;
  // With podReplacementPolicy Failed a terminating pod still holds its slot.
  int64_t occupied =
      static_cast<int64_t>(st.active.size()) +
      (stringAt(st.job, {"spec", "podReplacementPolicy"}) == "Failed" ? st.terminating : 0);

  std::vector<client::ObjectPtr> excess;
  std::vector<int64_t> toCreate;
  if (st.indexed) {
    // Duplicates and indexes already done are excess; then the highest indexes.
    std::set<int64_t> seen;
    std::vector<client::ObjectPtr> keep;
    auto sorted = st.active;
    std::sort(sorted.begin(), sorted.end(), [&](auto& a, auto& b) {
      return podIndex(*a, st.completions) < podIndex(*b, st.completions);
    });
    for (const auto& p : sorted) {
      int64_t i = podIndex(*p, st.completions);
      if (i < 0 || st.completedIndexes.count(i) || !seen.insert(i).second)
        excess.push_back(p);
      else
        keep.push_back(p);
    }
    while (static_cast<int64_t>(keep.size()) > wantActive) {
      excess.push_back(keep.back());
      keep.pop_back();
    }
    occupied -= static_cast<int64_t>(excess.size());
    for (int64_t i = 0;
         i < st.completions && occupied + static_cast<int64_t>(toCreate.size()) < wantActive &&
         toCreate.size() < kMaxPodCreatesPerSync;
         ++i)
      if (!st.completedIndexes.count(i) && !seen.count(i)) toCreate.push_back(i);
  } else if (occupied > wantActive) {
    // Not-yet-running pods go first, then the newest.
    auto sorted = st.active;
    std::stable_sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) {
      bool ra = podPhase(*a) == "Running", rb = podPhase(*b) == "Running";
      if (ra != rb) return !ra;
      return stringAt(*a, {"metadata", "creationTimestamp"}) >
             stringAt(*b, {"metadata", "creationTimestamp"});
    });
    excess.assign(sorted.begin(),
                  sorted.begin() + std::min<int64_t>(occupied - wantActive, sorted.size()));
  } else {
    for (int64_t i = occupied; i < wantActive && toCreate.size() < kMaxPodCreatesPerSync; ++i)
      toCreate.push_back(-1);
  }

  deletePods(st.job, st.key, excess);
  std::erase_if(st.active, [&](auto& p) {
    return std::find(excess.begin(), excess.end(), p) != excess.end();
  });
  if (toCreate.empty()) return;
  if (auto wait = failureBackoffLeft(st); wait.count() > 0) {
    enqueueAfter(st.key, wait);
    return;
  }
  createPods(st, toCreate);
}

// How long replacements of failed pods must still wait (upstream's pod failure backoff).
std::chrono::milliseconds JobController::failureBackoffLeft(const State& st) {
  std::lock_guard lock(mu_);
  auto& b = backoff_[st.key];
  if (b.failuresSinceSuccess <= 0) return std::chrono::milliseconds(0);
  int64_t delay = backoffBaseMs.load();
  for (int i = 1; i < b.failuresSinceSuccess && delay < backoffMaxMs; ++i) delay *= 2;
  delay = std::min<int64_t>(delay, backoffMaxMs);
  auto retryAt = b.lastFailure + std::chrono::milliseconds(delay);
  if (retryAt <= st.now) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(retryAt - st.now);
}

void JobController::createPods(State& st, const std::vector<int64_t>& indexes) {
  expectations_.expect(st.key, static_cast<int>(indexes.size()), 0);
  for (size_t i = 0; i < indexes.size(); ++i) {
    try {
      auto created = createPod(st.job, indexes[i]);
      recorder_.event(st.job, client::kEventTypeNormal, "SuccessfulCreate",
                      "Created pod: " + nameOf(created));
      st.active.push_back(std::make_shared<const json::object>(std::move(created)));
    } catch (const std::exception& e) {
      // The remaining creations will not happen: stop expecting them.
      expectations_.lower(st.key, static_cast<int>(indexes.size() - i), 0);
      recorder_.event(st.job, client::kEventTypeWarning, "FailedCreate",
                      std::string("Error creating: ") + e.what());
      throw;
    }
  }
}

// Step 7: publish the counters.
void JobController::publishStatus(State& st) {
  st.status["active"] = static_cast<int64_t>(st.active.size());
  st.status["ready"] = st.ready;
  st.status["terminating"] = st.terminating;
  st.status["succeeded"] = st.succeeded;
  st.status["failed"] = st.failed;
  auto* current = objectAt(st.job, {"status"});
  if (!current || st.status != *current) writeStatus(st.job, st.status);
}

// The deadline is time-based: come back when it passes.
void JobController::requeueForDeadline(const State& st) {
  if (!st.finishType.empty() || st.suspended) return;
  int64_t ads = intAt(st.job, {"spec", "activeDeadlineSeconds"}, 0);
  if (auto start = timeAt(st.status, {"startTime"}); ads > 0 && start) {
    auto left = *start + std::chrono::seconds(ads) - st.now;
    enqueueAfter(st.key, std::max(std::chrono::milliseconds(1),
                                  std::chrono::duration_cast<std::chrono::milliseconds>(left)));
  }
}

ControllerRegistration reg("job", [](ControllerContext& ctx) {
  return std::make_unique<JobController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
