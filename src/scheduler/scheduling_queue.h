// The scheduling queue (upstream internal/queue/scheduling_queue.go, simplified): activeQ
// ordered by priority then enqueue time; backoffQ for pods that failed recently (per-pod
// exponential backoff, 1 s doubling to 10 s); unschedulable pods parked until a cluster event
// that could help them (or 5 minutes pass). Thread-safe; pop() blocks until a pod or close().
// Time is injected so tests control it; the owner calls the flush methods periodically
// (upstream: backoff every 1 s, unschedulable leftovers every 30 s).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "scheduler/types.h"

namespace skiff::scheduler {

enum class ClusterEvent {
  NodeAdd,
  NodeUpdate,
  PodDelete,
  AssignedPodAdd,
  UnschedulableTimeout,
  StorageChange  // a PersistentVolumeClaim, PersistentVolume or StorageClass was added/changed
};

struct QueuedPodInfo {
  PodInfoPtr pod;
  TimePoint timestamp{};       // when it last entered the queue
  TimePoint initialAttempt{};  // first pop
  int attempts = 0;
  std::set<std::string> unschedulablePlugins;  // who rejected it; chooses which events wake it
};

class SchedulingQueue {
 public:
  using Clock = std::function<TimePoint()>;
  struct Options {
    std::chrono::milliseconds initialBackoff{1000};
    std::chrono::milliseconds maxBackoff{10000};
    std::chrono::milliseconds maxUnschedulable{std::chrono::minutes(5)};
  };
  explicit SchedulingQueue(Clock clock = [] { return std::chrono::system_clock::now(); });
  SchedulingQueue(Options options, Clock clock);

  // A new pending pod (informer add).
  void add(PodInfoPtr pod);
  // The pod changed: replaces it where it is; an unschedulable pod goes back to active.
  void update(PodInfoPtr pod);
  void remove(const std::string& key);
  // Blocks until a pod is active or close(); nullopt once closed.
  std::optional<QueuedPodInfo> pop();
  // The scheduling cycle of the last pop; give it back to addUnschedulableIfNotPresent.
  int64_t schedulingCycle() const;
  // A pod whose attempt failed. If a cluster event came in while it was being scheduled it
  // goes to backoff (the event may have helped), otherwise it is parked as unschedulable.
  void addUnschedulableIfNotPresent(QueuedPodInfo info, int64_t podSchedulingCycle);
  // Moves parked pods the event could help to active (or backoff if still backing off).
  void moveAllToActiveOrBackoff(ClusterEvent event);
  // Backoff-completed pods to active; parked pods older than maxUnschedulable to active/backoff.
  void flushBackoffCompleted();
  void flushUnschedulableLeftover();
  void close();

  size_t activeSize() const;
  size_t backoffSize() const;
  size_t unschedulableSize() const;
  std::chrono::milliseconds backoffDuration(const QueuedPodInfo& info) const;

 private:
  struct ActiveOrder {
    bool operator()(const QueuedPodInfo* a, const QueuedPodInfo* b) const;
  };
  void pushActive(QueuedPodInfo info);  // mu_ held
  void eraseActive(const std::string& key);
  bool backingOff(const QueuedPodInfo& info) const;
  void moveToActiveOrBackoff(QueuedPodInfo info);

  Options options_;
  Clock clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, QueuedPodInfo> active_;
  std::set<const QueuedPodInfo*, ActiveOrder> activeOrder_;
  std::map<std::string, QueuedPodInfo> backoff_;
  std::map<std::string, QueuedPodInfo> unschedulable_;
  int64_t schedulingCycle_ = 0;
  int64_t moveRequestCycle_ = -1;
  uint64_t seq_ = 0;
  bool closed_ = false;
};

}  // namespace skiff::scheduler
