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
  if (rv.empty() || rv.size() > 18 || rv.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoll(rv);
}

bool isIndexed(const json::object& job) {
  return stringAt(job, {"spec", "completionMode"}) == "Indexed";
}

// The pod's completion index, or -1 when it has none or it is out of [0, completions).
int64_t podIndex(const json::object& pod, int64_t completions) {
  std::string s = stringAt(pod, {"metadata", "annotations", kJobCompletionIndexAnnotation});
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return -1;
  int64_t i = std::stoll(s);
  return i < completions ? i : -1;
}

// "1,3-5" <-> {1,3,4,5} (status.completedIndexes); malformed parts are ignored.
std::set<int64_t> parseIndexes(const std::string& s, int64_t completions) {
  std::set<int64_t> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t comma = s.find(',', start);
    std::string part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
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
                if (isBeingDeleted(p)) expectations_.deletionObserved(*key);
                else expectations_.creationObserved(*key);
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
    json::array patch{json::object{{"op", "test"}, {"path", path}, {"value", kJobTrackingFinalizer}},
                      json::object{{"op", "remove"}, {"path", path}}};
    try {
      client_.patch(client::resources::pods, namespaceOf(pod), nameOf(pod), client::PatchType::Json, patch);
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
  for (const auto& [k, v] : {std::pair{kJobControllerUidLabel, uidOf(job)}, std::pair{kJobNameLabel, jobName},
                             std::pair{kLegacyControllerUidLabel, uidOf(job)},
                             std::pair{kLegacyJobNameLabel, jobName}})
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
             json::object{{"fieldRef",
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
      recorder_.event(job, client::kEventTypeNormal, "SuccessfulDelete", "Deleted pod: " + nameOf(*p));
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

void JobController::sync(const std::string& key) {
  auto cached = jobs_.get(key);
  releaseOrphans(key, cached ? uidOf(*cached) : "");
  if (!cached) {
    expectations_.forget(key);
    return;
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
      if (e.code() == 404) return;
      throw;
    }
  }
  const std::string uid = uidOf(job);
  if (uid.empty()) return;
  const auto now = syncClock().now();

  std::vector<client::ObjectPtr> pods;
  for (auto& p : pods_.byIndex(client::kIndexOwnerUid, uid))
    if (isControlledBy(*p, uid)) pods.push_back(p);

  if (jobFinished(job) || isBeingDeleted(job)) {
    // Nothing more to count or create; pods still holding the finalizer are released (all
    // of them when the Job itself is going, so the garbage collector can remove them).
    for (const auto& p : pods)
      if (hasTrackingFinalizer(*p) && (isPodTerminal(*p) || isBeingDeleted(*p) || isBeingDeleted(job)))
        removeFinalizer(*p);
    return;
  }

  const bool indexed = isIndexed(job);
  const auto* completionsV = valueAt(job, {"spec", "completions"});
  const bool hasCompletions = completionsV && !completionsV->is_null();
  const int64_t completions = intAt(job, {"spec", "completions"}, 0);
  const int64_t parallelism = std::max<int64_t>(0, intAt(job, {"spec", "parallelism"}, 1));
  const int64_t backoffLimit = intAt(job, {"spec", "backoffLimit"}, 6);
  const bool suspended = boolAt(job, {"spec", "suspend"});

  json::object status;
  if (auto* s = objectAt(job, {"status"})) status = *s;

  // --- 1. record newly finished pods in uncountedTerminatedPods.
  auto uncountedSucceeded = uidSet(status, "succeeded");
  auto uncountedFailed = uidSet(status, "failed");
  std::set<int64_t> completedIndexes;
  if (indexed) completedIndexes = parseIndexes(stringAt(status, {"completedIndexes"}), completions);
  bool newlyFinished = false;
  int newFailures = 0, newSuccesses = 0;
  for (const auto& p : pods) {
    const std::string puid = uidOf(*p);
    if (!hasTrackingFinalizer(*p) || finalizerRemovalPending(puid)) continue;
    if (uncountedSucceeded.count(puid) || uncountedFailed.count(puid)) continue;
    if (podPhase(*p) == "Succeeded") {
      uncountedSucceeded.insert(puid);
      if (indexed)
        if (auto i = podIndex(*p, completions); i >= 0) completedIndexes.insert(i);
      ++newSuccesses;
      newlyFinished = true;
    } else if (isPodFailed(*p, job)) {
      uncountedFailed.insert(puid);
      ++newFailures;
      newlyFinished = true;
    }
  }
  if (newlyFinished) {
    auto& u = ensureObject(status, {"uncountedTerminatedPods"});
    u["succeeded"] = uidArray(uncountedSucceeded);
    u["failed"] = uidArray(uncountedFailed);
    if (indexed) status["completedIndexes"] = formatIndexes(completedIndexes);
    job = writeStatus(job, status);
    status = job["status"].as_object();
    std::lock_guard lock(mu_);
    auto& b = backoff_[key];
    if (newSuccesses > 0) b.failuresSinceSuccess = 0;
    if (newFailures > 0) {
      b.failuresSinceSuccess += newFailures;
      b.lastFailure = now;
    }
  }

  // --- 2. release their finalizers, 3. move them into the counters.
  if (!uncountedSucceeded.empty() || !uncountedFailed.empty()) {
    for (const auto& p : pods) {
      const std::string puid = uidOf(*p);
      if ((uncountedSucceeded.count(puid) || uncountedFailed.count(puid)) && hasTrackingFinalizer(*p) &&
          !finalizerRemovalPending(puid))
        removeFinalizer(*p);
    }
    if (!indexed) status["succeeded"] = intAt(status, {"succeeded"}) + static_cast<int64_t>(uncountedSucceeded.size());
    status["failed"] = intAt(status, {"failed"}) + static_cast<int64_t>(uncountedFailed.size());
  }
  status["uncountedTerminatedPods"] = json::object{};
  if (indexed) {
    status["completedIndexes"] = formatIndexes(completedIndexes);
    status["succeeded"] = static_cast<int64_t>(completedIndexes.size());
  }
  const int64_t succeeded = intAt(status, {"succeeded"});
  const int64_t failed = intAt(status, {"failed"});

  std::vector<client::ObjectPtr> active;
  int64_t ready = 0, terminating = 0, restarts = 0;
  for (const auto& p : pods) {
    if (isPodActive(*p)) {
      active.push_back(p);
      if (isPodReady(*p)) ++ready;
      if (auto* cs = arrayAt(*p, {"status", "containerStatuses"}))
        for (const auto& c : *cs)
          if (c.is_object()) restarts += intAt(c.get_object(), {"restartCount"});
    } else if (isBeingDeleted(*p) && !isPodTerminal(*p)) {
      ++terminating;
    }
  }

  // --- 4. suspend / resume.
  bool wasSuspended = conditionTrue(job, "Suspended");
  if (suspended) {
    if (setStatusCondition(status, "Suspended", "True", "JobSuspended", "Job suspended"))
      recorder_.event(job, client::kEventTypeNormal, "Suspended", "Job suspended");
  } else if (wasSuspended) {
    setStatusCondition(status, "Suspended", "False", "JobResumed", "Job resumed");
    recorder_.event(job, client::kEventTypeNormal, "Resumed", "Job resumed");
    // The active deadline counts from the resume.
    status["startTime"] = nowTime();
  }
  if (!suspended && stringAt(status, {"startTime"}).empty()) status["startTime"] = nowTime();

  // --- 5. success or failure criteria (interim conditions first, as v1.32 does).
  std::string finishType, reason, message;
  if (conditionTrue(job, "FailureTarget")) {
    auto* c = findCondition(job, "FailureTarget");
    finishType = "Failed", reason = stringAt(*c, {"reason"}), message = stringAt(*c, {"message"});
  } else if (conditionTrue(job, "SuccessCriteriaMet")) {
    auto* c = findCondition(job, "SuccessCriteriaMet");
    finishType = "Complete", reason = stringAt(*c, {"reason"}), message = stringAt(*c, {"message"});
  } else {
    bool onFailure = stringAt(job, {"spec", "template", "spec", "restartPolicy"}) == "OnFailure";
    auto start = timeAt(status, {"startTime"});
    int64_t ads = intAt(job, {"spec", "activeDeadlineSeconds"}, 0);
    if (failed + (onFailure ? restarts : 0) > backoffLimit) {
      finishType = "Failed", reason = "BackoffLimitExceeded",
      message = "Job has reached the specified backoff limit";
    } else if (!suspended && ads > 0 && start && now - *start >= std::chrono::seconds(ads)) {
      finishType = "Failed", reason = "DeadlineExceeded",
      message = "Job was active longer than specified deadline";
    } else if (hasCompletions ? succeeded >= completions
                              : succeeded > 0 && active.empty() && terminating == 0) {
      finishType = "Complete", reason = "CompletionsReached",
      message = "Reached expected number of succeeded pods";
    }
    if (!finishType.empty()) {
      setStatusCondition(status, finishType == "Failed" ? "FailureTarget" : "SuccessCriteriaMet", "True",
                   reason, message);
      if (finishType == "Failed") recorder_.event(job, client::kEventTypeWarning, reason, message);
    }
  }

  const bool settled = expectations_.satisfied(key);
  if (!finishType.empty()) {
    // Lingering pods go; the terminal condition waits until none is left terminating (and
    // until the cache has seen our own deletions).
    if (settled) deletePods(job, key, active);
    if (settled && active.empty() && terminating == 0) {
      setStatusCondition(status, finishType, "True", reason, message);
      if (finishType == "Complete") {
        status["completionTime"] = nowTime();
        recorder_.event(job, client::kEventTypeNormal, "Completed", "Job completed");
      }
    }
    active.clear();
    ready = 0;
  } else if (suspended) {
    if (settled) deletePods(job, key, active);
    active.clear();
    ready = 0;
  } else if (settled) {
    // --- 6. converge the number of active pods.
    int64_t wantActive;
    if (hasCompletions) wantActive = std::clamp<int64_t>(completions - succeeded, 0, parallelism);
    else wantActive = succeeded > 0 ? static_cast<int64_t>(active.size()) : parallelism;
    // With podReplacementPolicy Failed a terminating pod still holds its slot.
    int64_t occupied = static_cast<int64_t>(active.size()) +
                       (stringAt(job, {"spec", "podReplacementPolicy"}) == "Failed" ? terminating : 0);

    std::vector<client::ObjectPtr> excess;
    std::vector<int64_t> toCreate;
    if (indexed) {
      // Duplicates and indexes already done are excess; then the highest indexes.
      std::set<int64_t> seen;
      std::vector<client::ObjectPtr> keep;
      auto sorted = active;
      std::sort(sorted.begin(), sorted.end(), [&](auto& a, auto& b) {
        return podIndex(*a, completions) < podIndex(*b, completions);
      });
      for (const auto& p : sorted) {
        int64_t i = podIndex(*p, completions);
        if (i < 0 || completedIndexes.count(i) || !seen.insert(i).second) excess.push_back(p);
        else keep.push_back(p);
      }
      while (static_cast<int64_t>(keep.size()) > wantActive) {
        excess.push_back(keep.back());
        keep.pop_back();
      }
      occupied -= static_cast<int64_t>(excess.size());
      for (int64_t i = 0; i < completions && occupied + static_cast<int64_t>(toCreate.size()) < wantActive &&
                          toCreate.size() < kMaxPodCreatesPerSync;
           ++i)
        if (!completedIndexes.count(i) && !seen.count(i)) toCreate.push_back(i);
    } else if (occupied > wantActive) {
      // Not-yet-running pods go first, then the newest.
      auto sorted = active;
      std::stable_sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) {
        bool ra = podPhase(*a) == "Running", rb = podPhase(*b) == "Running";
        if (ra != rb) return !ra;
        return stringAt(*a, {"metadata", "creationTimestamp"}) > stringAt(*b, {"metadata", "creationTimestamp"});
      });
      excess.assign(sorted.begin(), sorted.begin() + std::min<int64_t>(occupied - wantActive, sorted.size()));
    } else {
      for (int64_t i = occupied; i < wantActive && toCreate.size() < kMaxPodCreatesPerSync; ++i)
        toCreate.push_back(-1);
    }

    deletePods(job, key, excess);
    std::erase_if(active, [&](auto& p) { return std::find(excess.begin(), excess.end(), p) != excess.end(); });

    if (!toCreate.empty()) {
      std::chrono::milliseconds wait{0};
      {
        std::lock_guard lock(mu_);
        auto& b = backoff_[key];
        if (b.failuresSinceSuccess > 0) {
          int64_t delay = backoffBaseMs.load();
          for (int i = 1; i < b.failuresSinceSuccess && delay < backoffMaxMs; ++i) delay *= 2;
          delay = std::min<int64_t>(delay, backoffMaxMs);
          auto retryAt = b.lastFailure + std::chrono::milliseconds(delay);
          if (retryAt > now) wait = std::chrono::duration_cast<std::chrono::milliseconds>(retryAt - now);
        }
      }
      if (wait.count() > 0) {
        enqueueAfter(key, wait);
      } else {
        expectations_.expect(key, static_cast<int>(toCreate.size()), 0);
        for (size_t i = 0; i < toCreate.size(); ++i) {
          try {
            auto created = createPod(job, toCreate[i]);
            recorder_.event(job, client::kEventTypeNormal, "SuccessfulCreate", "Created pod: " + nameOf(created));
            active.push_back(std::make_shared<const json::object>(std::move(created)));
          } catch (const std::exception& e) {
            // The remaining creations will not happen: stop expecting them.
            expectations_.lower(key, static_cast<int>(toCreate.size() - i), 0);
            recorder_.event(job, client::kEventTypeWarning, "FailedCreate", std::string("Error creating: ") + e.what());
            throw;
          }
        }
      }
    }
  }

  // --- 7. publish the counters.
  status["active"] = static_cast<int64_t>(active.size());
  status["ready"] = ready;
  status["terminating"] = terminating;
  status["succeeded"] = succeeded;
  status["failed"] = failed;
  auto* current = objectAt(job, {"status"});
  if (!current || status != *current) writeStatus(job, status);

  // The deadline is time-based: come back when it passes.
  if (finishType.empty() && !suspended) {
    int64_t ads = intAt(job, {"spec", "activeDeadlineSeconds"}, 0);
    if (auto start = timeAt(status, {"startTime"}); ads > 0 && start) {
      auto left = *start + std::chrono::seconds(ads) - now;
      enqueueAfter(key, std::max(std::chrono::milliseconds(1),
                                 std::chrono::duration_cast<std::chrono::milliseconds>(left)));
    }
  }
}

ControllerRegistration reg("job", [](ControllerContext& ctx) { return std::make_unique<JobController>(ctx); });

}  // namespace
}  // namespace skiff::controller
