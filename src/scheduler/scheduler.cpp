#include "scheduler/scheduler.h"

#include <boost/json.hpp>

#include "api/json_access.h"
#include "common/api_error.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/thread_name.h"

namespace skiff::scheduler {

namespace json = boost::json;

namespace {

std::string str(const json::object& o, std::string_view path1, std::string_view path2 = {}) {
  const json::value* v = o.if_contains(path1);
  if (v && !path2.empty()) v = v->is_object() ? v->as_object().if_contains(path2) : nullptr;
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Upstream's scheduler buckets: 1 ms doubling, 15 buckets (~16 s).
const std::vector<double>& latencyBuckets() {
  static const auto buckets = Metrics::exponentialBuckets(0.001, 2, 15);
  return buckets;
}

// Upstream's scheduler metric names; HELP in skiff's words.
void describeMetrics() {
  static const bool done = [] {
    auto& m = Metrics::global();
    m.describe("scheduler_scheduling_algorithm_duration_seconds", "histogram",
               "Seconds the scheduling algorithm (filter, score, preemption search) took per pod.");
    m.describe("scheduler_scheduling_attempt_duration_seconds", "histogram",
               "Seconds from taking a pod off the queue to its binding (or failure), by result and "
               "profile.");
    m.describe(
        "scheduler_schedule_attempts_total", "counter",
        "Attempts to schedule a pod, by result (scheduled, unschedulable, error) and profile.");
    return true;
  }();
  (void)done;
}

void countAttempt(const std::string& profile, const char* result) {
  Metrics::global().increment("scheduler_schedule_attempts_total",
                              {{"profile", profile}, {"result", result}});
}

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

bool isAssigned(const json::object& pod) { return !str(pod, "spec", "nodeName").empty(); }

bool isFinished(const json::object& pod) {
  std::string phase = str(pod, "status", "phase");
  return phase == "Succeeded" || phase == "Failed";
}

const client::Resource kStorageClasses{"storage.k8s.io", "v1", "storageclasses"};

PodInfoPtr podInfo(const json::object& pod) {
  return std::make_shared<const PodInfo>(PodInfo::fromJson(pod));
}

}  // namespace

Scheduler::Scheduler(client::RestClient& client, SchedulerOptions options,
                     client::SharedInformerFactory* shared)
    : client_(client),
      options_(std::move(options)),
      algorithm_(defaultProfile(volumeListers())),
      recorder_(client, options_.schedulerName),
      ownInformers_(shared ? nullptr : std::make_unique<client::SharedInformerFactory>(client)),
      informers_(shared ? *shared : *ownInformers_),
      pods_(informers_.informer(client::resources::pods)),
      nodes_(informers_.informer(client::resources::nodes)),
      claims_(informers_.informer(client::resources::persistentVolumeClaims)),
      volumes_(informers_.informer(client::resources::persistentVolumes)),
      storageClasses_(informers_.informer(kStorageClasses)),
      volumeBinder_(std::make_unique<VolumeBinder>(
          volumeListers(),
          [this](const std::string& ns, const std::string& name, const std::string& patch) {
            client_.patch(client::resources::persistentVolumeClaims, ns, name,
                          client::PatchType::Merge, json::parse(patch));
          },
          options_.volumeBindTimeout)) {
  pods_.addEventHandler(
      {[this](const json::object& p) { onPodAdd(p); },
       [this](const json::object& o, const json::object& n) { onPodUpdate(o, n); },
       [this](const json::object& p) { onPodDelete(p); }});
  nodes_.addEventHandler(
      {[this](const json::object& n) { onNode(n, ClusterEvent::NodeAdd); },
       [this](const json::object&, const json::object& n) { onNode(n, ClusterEvent::NodeUpdate); },
       [this](const json::object& n) { cache_.removeNode(client::metaString(n, "name")); }});
  // Pods waiting for their claims (missing, unbound Immediate, no fitting PV) are retried
  // when claims, volumes or classes change.
  auto storageChanged = [this] { queue_.moveAllToActiveOrBackoff(ClusterEvent::StorageChange); };
  for (auto* informer : {&claims_, &volumes_, &storageClasses_})
    informer->addEventHandler(
        {[storageChanged](const json::object&) { storageChanged(); },
         [storageChanged](const json::object&, const json::object&) { storageChanged(); },
         [storageChanged](const json::object&) { storageChanged(); }});
}

// The plugin reads the informers' caches (the algorithm is built before the informer members
// are bound, so the lambdas look them up when called).
VolumeListers Scheduler::volumeListers() {
  VolumeListers l;
  l.claim = [this](const std::string& ns, const std::string& name) {
    return claims_.get(ns + "/" + name);
  };
  l.volume = [this](const std::string& name) { return volumes_.get(name); };
  l.storageClass = [this](const std::string& name) { return storageClasses_.get(name); };
  l.volumes = [this] { return volumes_.list(); };
  return l;
}

Scheduler::~Scheduler() { stop(); }

bool Scheduler::responsibleFor(const json::object& pod) const {
  std::string name = str(pod, "spec", "schedulerName");
  return name.empty() || name == options_.schedulerName;
}

void Scheduler::onPodAdd(const json::object& pod) {
  try {
    if (isAssigned(pod)) {
      if (!isFinished(pod)) cache_.addPod(podInfo(pod));
      queue_.moveAllToActiveOrBackoff(ClusterEvent::AssignedPodAdd);
    } else if (responsibleFor(pod) && !isFinished(pod)) {
      queue_.add(podInfo(pod));
    }
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("scheduler: skipping pod key={} error=\"{}\"", client::objectKey(pod), e.what());
  }
}

void Scheduler::onPodUpdate(const json::object& oldPod, const json::object& newPod) {
  try {
    std::string key = client::objectKey(newPod);
    if (isAssigned(newPod)) {
      if (!isAssigned(oldPod)) queue_.remove(key);  // bound (by us or someone else)
      if (isFinished(newPod))
        cache_.removePod(key);
      else if (isAssigned(oldPod) && PodInfo::sameInfo(oldPod, newPod))
        return;  // e.g. Running, Ready
      else if (isAssigned(oldPod))
        cache_.updatePod(podInfo(newPod));
      else
        cache_.addPod(podInfo(newPod));
    } else if (responsibleFor(newPod)) {
      queue_.update(podInfo(newPod));
    }
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("scheduler: skipping pod update key={} error=\"{}\"", client::objectKey(newPod),
                   e.what());
  }
}

void Scheduler::onPodDelete(const json::object& pod) {
  std::string key = client::objectKey(pod);
  if (isAssigned(pod)) {
    cache_.removePod(key);
    queue_.moveAllToActiveOrBackoff(ClusterEvent::PodDelete);
  } else {
    queue_.remove(key);
  }
}

void Scheduler::onNode(const json::object& node, ClusterEvent event) {
  try {
    cache_.addOrUpdateNode(NodeInfo::fromJson(node));
    queue_.moveAllToActiveOrBackoff(event);
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("scheduler: skipping node name={} error=\"{}\"",
                   client::metaString(node, "name"), e.what());
  }
}

void Scheduler::start() {
  describeMetrics();
  pendingPods_ = Metrics::global().collect(
      "scheduler_pending_pods", "gauge",
      "Pods waiting to be scheduled, by queue: active, backoff, unschedulable, gated (skiff has no "
      "gates).",
      [this] {
        return std::vector<MetricSample>{
            {{{"queue", "active"}}, static_cast<double>(queue_.activeSize())},
            {{{"queue", "backoff"}}, static_cast<double>(queue_.backoffSize())},
            {{{"queue", "gated"}}, 0},
            {{{"queue", "unschedulable"}}, static_cast<double>(queue_.unschedulableSize())}};
      });
  informers_.start();  // starts only those not running yet (a shared factory's may be)
  if (!nodes_.waitForSync(std::chrono::seconds(30)) ||
      !pods_.waitForSync(std::chrono::seconds(30)) ||
      !claims_.waitForSync(std::chrono::seconds(30)) ||
      !volumes_.waitForSync(std::chrono::seconds(30)) ||
      !storageClasses_.waitForSync(std::chrono::seconds(30)))
    SKIFF_LOG_WARN("scheduler: informers not synced after 30s; scheduling anyway");
  for (int i = 0; i < std::max(1, options_.bindWorkers); ++i)
    binders_.emplace_back(namedThread("sched-bind", [this] { binderLoop(); }));
  loopThread_ = namedThread("sched-loop", [this] { loop(); });
  housekeepingThread_ = namedThread("sched-house", [this] { housekeeping(); });
  SKIFF_LOG_INFO("scheduler started name={}", options_.schedulerName);
}

void Scheduler::stop() {
  if (stopping_.exchange(true)) return;
  pendingPods_.reset();
  queue_.close();
  if (loopThread_.joinable()) loopThread_.join();
  if (housekeepingThread_.joinable()) housekeepingThread_.join();
  { std::lock_guard lock(bindMu_); }  // a binder between its check and its wait sees stopping_
  bindCv_.notify_all();
  for (auto& t : binders_) t.join();
  binders_.clear();
  if (ownInformers_) ownInformers_->stop();
}

void Scheduler::housekeeping() {
  int tick = 0;
  while (!stopping_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    queue_.flushBackoffCompleted();
    if (++tick % 60 == 0) {
      queue_.flushUnschedulableLeftover();
      cache_.cleanupExpiredAssumedPods();
    }
  }
}

void Scheduler::loop() {
  while (!stopping_) {
    auto info = queue_.pop();
    if (!info) return;  // closed
    try {
      scheduleOne(std::move(*info));
    } catch (const std::exception& e) {
      SKIFF_LOG_ERROR("scheduler: cycle failed error=\"{}\"", e.what());
    }
  }
}

void Scheduler::binderLoop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(bindMu_);
      bindCv_.wait(lock, [this] { return stopping_ || !bindTasks_.empty(); });
      if (bindTasks_.empty()) return;  // stopping and drained
      task = std::move(bindTasks_.front());
      bindTasks_.pop_front();
    }
    task();
  }
}

void Scheduler::scheduleOne(QueuedPodInfo info) {
  auto started = std::chrono::steady_clock::now();
  const PodInfo& pod = *info.pod;
  // The informer may know better by now (bound elsewhere, deleted).
  auto current = pods_.get(pod.key());
  if (!current || isAssigned(*current) || pod.terminating) return;
  int64_t cycle = queue_.schedulingCycle();
  auto snapshot = cache_.snapshot();
  ScheduleResult result = algorithm_.schedulePod(pod, *snapshot);
  Metrics::global().observe("scheduler_scheduling_algorithm_duration_seconds", {},
                            secondsSince(started), latencyBuckets());
  if (!result.ok()) {
    Metrics::global().observe("scheduler_scheduling_attempt_duration_seconds",
                              {{"profile", options_.schedulerName}, {"result", "unschedulable"}},
                              secondsSince(started), latencyBuckets());
    countAttempt(options_.schedulerName, "unschedulable");
    for (const auto& [node, status] : result.statuses)
      if (!status.plugin().empty()) info.unschedulablePlugins.insert(status.plugin());
    if (!result.preemption.nominatedNode.empty()) {
      // Make room: evict the victims (graceful delete); the pod retries when they are gone.
      for (const auto& victim : result.preemption.victims) {
        try {
          client_.remove(client::resources::pods, victim->ns, victim->name);
          // A reference, not the informer's copy: the victim may already be gone from the
          // informer (a node agent with no grace period deletes it at once).
          json::object victimRef{{"kind", "Pod"},
                                 {"apiVersion", "v1"},
                                 {"namespace", victim->ns},
                                 {"name", victim->name},
                                 {"uid", victim->uid}};
          recorder_.event(
              victimRef, "Normal", "Preempted",
              "Preempted by pod " + pod.uid + " on node " + result.preemption.nominatedNode);
        } catch (const std::exception& e) {
          SKIFF_LOG_WARN("scheduler: preemption delete failed victim={} error=\"{}\"",
                         victim->key(), e.what());
        }
      }
    }
    markUnschedulable(pod, result.message);
    queue_.addUnschedulableIfNotPresent(std::move(info), cycle);
    return;
  }
  auto assumed = std::make_shared<PodInfo>(pod);
  assumed->nodeName = result.suggestedHost;
  cache_.assumePod(assumed);
  // The next pod is scheduled against the cache with this one assumed while it binds.
  auto task = [this, info = std::move(info), node = result.suggestedHost, cycle,
               started]() mutable {
    bindingCycle(std::move(info), std::move(node), cycle, started);
  };
  {
    std::lock_guard lock(bindMu_);
    bindTasks_.push_back(std::move(task));
  }
  bindCv_.notify_one();
}

void Scheduler::bindingCycle(QueuedPodInfo info, std::string node, int64_t cycle,
                             std::chrono::steady_clock::time_point started) {
  const PodInfo& pod = *info.pod;
  // PreBind of VolumeBinding: claims provisioned for this node and bound before the pod is.
  if (!pod.claims.empty()) {
    auto error = volumeBinder_->bindPodVolumes(pod, node, [this, &pod] {
      auto current = pods_.get(pod.key());
      return stopping_.load() || !current || current->if_contains("metadata") == nullptr ||
             api::valueAt(*current, {"metadata", "deletionTimestamp"}) != nullptr;
    });
    if (!error.empty()) {
      SKIFF_LOG_WARN("scheduler: volume binding failed pod={} node={} error=\"{}\"", pod.key(),
                     node, error);
      cache_.forgetPod(pod.key());
      Metrics::global().observe("scheduler_scheduling_attempt_duration_seconds",
                                {{"profile", options_.schedulerName}, {"result", "error"}},
                                secondsSince(started), latencyBuckets());
      countAttempt(options_.schedulerName, "error");
      markUnschedulable(pod, "running PreBind plugin \"VolumeBinding\": " + error);
      queue_.addUnschedulableIfNotPresent(std::move(info), cycle);
      return;
    }
  }
  if (bind(pod, node)) {
    cache_.finishBinding(pod.key());
    Metrics::global().observe("scheduler_scheduling_attempt_duration_seconds",
                              {{"profile", options_.schedulerName}, {"result", "scheduled"}},
                              secondsSince(started), latencyBuckets());
    countAttempt(options_.schedulerName, "scheduled");
    if (auto current = pods_.get(pod.key()))
      recorder_.event(*current, "Normal", "Scheduled",
                      "Successfully assigned " + pod.key() + " to " + node);
  } else {
    cache_.forgetPod(pod.key());
    Metrics::global().observe("scheduler_scheduling_attempt_duration_seconds",
                              {{"profile", options_.schedulerName}, {"result", "error"}},
                              secondsSince(started), latencyBuckets());
    countAttempt(options_.schedulerName, "error");
    queue_.addUnschedulableIfNotPresent(std::move(info), cycle);
  }
}

bool Scheduler::bind(const PodInfo& pod, const std::string& node) {
  json::object binding{{"apiVersion", "v1"},
                       {"kind", "Binding"},
                       {"metadata", {{"name", pod.name}, {"namespace", pod.ns}, {"uid", pod.uid}}},
                       {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
  try {
    client_.send("POST", client::resources::pods.path(pod.ns, pod.name, "binding"),
                 json::serialize(binding));
    return true;
  } catch (const ApiError& e) {
    SKIFF_LOG_WARN("scheduler: binding failed pod={} node={} code={} error=\"{}\"", pod.key(), node,
                   e.code(), e.what());
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("scheduler: binding failed pod={} node={} error=\"{}\"", pod.key(), node,
                   e.what());
  }
  return false;
}

void Scheduler::markUnschedulable(const PodInfo& pod, const std::string& message) {
  auto current = pods_.get(pod.key());
  if (current) recorder_.event(*current, "Warning", "FailedScheduling", message);
  json::object patch{{"status",
                      {{"conditions", json::array{json::object{
                                          {"type", "PodScheduled"},
                                          {"status", "False"},
                                          {"reason", "Unschedulable"},
                                          {"message", message},
                                          {"lastProbeTime", nullptr},
                                          {"lastTransitionTime",
                                           formatTime(std::chrono::system_clock::now())}}}}}}};
  try {
    client_.patch(client::resources::pods, pod.ns, pod.name, client::PatchType::StrategicMerge,
                  patch, "status");
  } catch (const std::exception& e) {
    SKIFF_LOG_DEBUG("scheduler: status patch failed pod={} error=\"{}\"", pod.key(), e.what());
  }
}

}  // namespace skiff::scheduler
