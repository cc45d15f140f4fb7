#include "scheduler/scheduling_queue.h"

#include <algorithm>

namespace skiff::scheduler {
namespace {

// Which plugins' rejections an event can undo (upstream EventsToRegister, simplified).
bool eventMayHelp(ClusterEvent event, const std::set<std::string>& plugins) {
  if (plugins.empty() || event == ClusterEvent::UnschedulableTimeout) return true;
  static const std::set<std::string> kNodeEvents = {
      "NodeUnschedulable", "NodeName",          "TaintToleration",  "NodeAffinity", "NodePorts",
      "NodeResourcesFit",  "PodTopologySpread", "InterPodAffinity", "VolumeBinding"};
  static const std::set<std::string> kPodDelete = {"NodePorts", "NodeResourcesFit",
                                                   "PodTopologySpread", "InterPodAffinity"};
  static const std::set<std::string> kPodAdd = {"PodTopologySpread", "InterPodAffinity"};
  static const std::set<std::string> kStorage = {"VolumeBinding"};
  const auto& interested = event == ClusterEvent::PodDelete        ? kPodDelete
                           : event == ClusterEvent::AssignedPodAdd ? kPodAdd
                           : event == ClusterEvent::StorageChange  ? kStorage
                                                                   : kNodeEvents;
  return std::any_of(plugins.begin(), plugins.end(),
                     [&](const std::string& p) { return interested.contains(p); });
}

}  // namespace

bool SchedulingQueue::ActiveOrder::operator()(const QueuedPodInfo* a,
                                              const QueuedPodInfo* b) const {
  if (a->pod->priority != b->pod->priority) return a->pod->priority > b->pod->priority;
  if (a->timestamp != b->timestamp) return a->timestamp < b->timestamp;
  return a->pod->key() < b->pod->key();
}

SchedulingQueue::SchedulingQueue(Clock clock) : SchedulingQueue(Options{}, std::move(clock)) {}
SchedulingQueue::SchedulingQueue(Options options, Clock clock)
    : options_(options), clock_(std::move(clock)) {}

void SchedulingQueue::pushActive(QueuedPodInfo info) {
  std::string key = info.pod->key();
  eraseActive(key);
  auto [it, _] = active_.emplace(key, std::move(info));
  activeOrder_.insert(&it->second);
  cv_.notify_one();
}

void SchedulingQueue::eraseActive(const std::string& key) {
  auto it = active_.find(key);
  if (it == active_.end()) return;
  activeOrder_.erase(&it->second);
  active_.erase(it);
}

void SchedulingQueue::add(PodInfoPtr pod) {
  std::lock_guard lock(mu_);
  std::string key = pod->key();
  backoff_.erase(key);
  unschedulable_.erase(key);
  QueuedPodInfo info{std::move(pod), clock_(), {}, 0, {}};
  pushActive(std::move(info));
}

void SchedulingQueue::update(PodInfoPtr pod) {
  std::lock_guard lock(mu_);
  std::string key = pod->key();
  if (auto it = active_.find(key); it != active_.end()) {
    QueuedPodInfo info = it->second;
    info.pod = std::move(pod);
    pushActive(std::move(info));
  } else if (auto b = backoff_.find(key); b != backoff_.end()) {
    b->second.pod = std::move(pod);
  } else if (auto u = unschedulable_.find(key); u != unschedulable_.end()) {
    // The change may make it schedulable; give it another try right away (or after backoff).
    QueuedPodInfo info = std::move(u->second);
    unschedulable_.erase(u);
    info.pod = std::move(pod);
    moveToActiveOrBackoff(std::move(info));
  } else {
    pushActive({std::move(pod), clock_(), {}, 0, {}});
  }
}

void SchedulingQueue::remove(const std::string& key) {
  std::lock_guard lock(mu_);
  eraseActive(key);
  backoff_.erase(key);
  unschedulable_.erase(key);
}

std::optional<QueuedPodInfo> SchedulingQueue::pop() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return closed_ || !activeOrder_.empty(); });
  if (closed_) return std::nullopt;
  const QueuedPodInfo* first = *activeOrder_.begin();
  std::string key = first->pod->key();
  QueuedPodInfo info = *first;
  eraseActive(key);
  ++info.attempts;
  if (info.initialAttempt == TimePoint{}) info.initialAttempt = clock_();
  ++schedulingCycle_;
  return info;
}

int64_t SchedulingQueue::schedulingCycle() const {
  std::lock_guard lock(mu_);
  return schedulingCycle_;
}

std::chrono::milliseconds SchedulingQueue::backoffDuration(const QueuedPodInfo& info) const {
  auto d = options_.initialBackoff;
  for (int i = 1; i < info.attempts && d < options_.maxBackoff; ++i) d *= 2;
  return std::min(d, options_.maxBackoff);
}

bool SchedulingQueue::backingOff(const QueuedPodInfo& info) const {
  return clock_() < info.timestamp + backoffDuration(info);
}

void SchedulingQueue::moveToActiveOrBackoff(QueuedPodInfo info) {
  std::string key = info.pod->key();
  if (backingOff(info)) {
    backoff_[key] = std::move(info);
  } else {
    pushActive(std::move(info));
  }
}

void SchedulingQueue::addUnschedulableIfNotPresent(QueuedPodInfo info, int64_t podSchedulingCycle) {
  std::lock_guard lock(mu_);
  std::string key = info.pod->key();
  if (active_.contains(key) || backoff_.contains(key) || unschedulable_.contains(key)) return;
  info.timestamp = clock_();
  if (moveRequestCycle_ >= podSchedulingCycle) {
    backoff_[key] = std::move(info);
  } else {
    unschedulable_[key] = std::move(info);
  }
}

void SchedulingQueue::moveAllToActiveOrBackoff(ClusterEvent event) {
  std::lock_guard lock(mu_);
  for (auto it = unschedulable_.begin(); it != unschedulable_.end();) {
    if (!eventMayHelp(event, it->second.unschedulablePlugins)) {
      ++it;
      continue;
    }
    QueuedPodInfo info = std::move(it->second);
    it = unschedulable_.erase(it);
    moveToActiveOrBackoff(std::move(info));
  }
  // Pods being scheduled right now will go to backoff rather than be parked.
  moveRequestCycle_ = schedulingCycle_;
}

void SchedulingQueue::flushBackoffCompleted() {
  std::lock_guard lock(mu_);
  for (auto it = backoff_.begin(); it != backoff_.end();) {
    if (backingOff(it->second)) {
      ++it;
      continue;
    }
    pushActive(std::move(it->second));
    it = backoff_.erase(it);
  }
}

void SchedulingQueue::flushUnschedulableLeftover() {
  std::lock_guard lock(mu_);
  auto now = clock_();
  for (auto it = unschedulable_.begin(); it != unschedulable_.end();) {
    if (now - it->second.timestamp <= options_.maxUnschedulable) {
      ++it;
      continue;
    }
    QueuedPodInfo info = std::move(it->second);
    it = unschedulable_.erase(it);
    moveToActiveOrBackoff(std::move(info));
  }
}

void SchedulingQueue::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

size_t SchedulingQueue::activeSize() const {
  std::lock_guard l(mu_);
  return active_.size();
}
size_t SchedulingQueue::backoffSize() const {
  std::lock_guard l(mu_);
  return backoff_.size();
}
size_t SchedulingQueue::unschedulableSize() const {
  std::lock_guard l(mu_);
  return unschedulable_.size();
}

}  // namespace skiff::scheduler
