// WorkQueue: client-go's rate-limited work queue of string keys ("ns/name").
//
// - A key added several times before a worker takes it is queued once (dirty set).
// - A key is never handed to two workers at once: if it is added while being processed it
//   is queued again only when the worker calls done() (processing set).
// - addRateLimited() re-adds after max(per-key exponential backoff, overall token bucket),
//   client-go's DefaultControllerRateLimiter: 5 ms · 2^failures capped at 1000 s, and
//   10 qps with burst 100. forget() resets the key's failures after a successful sync.
// - addAfter() delays an add (a timer thread; the earliest pending time per key wins).
// - Time comes from a Clock (common/clock.h): with a FakeClock, delays and backoffs pass
//   only when the test steps the clock, and the keys that became due are queued before
//   step() returns.
//
// - A named queue reports client-go's workqueue metrics to Metrics::global(), labelled
//   name=<queue>: workqueue_adds_total, workqueue_depth, workqueue_queue_duration_seconds,
//   workqueue_work_duration_seconds, workqueue_retries_total,
//   workqueue_unfinished_work_seconds and workqueue_longest_running_processor_seconds.
//
// Threading: all methods are thread-safe; get() blocks. Worker loop:
//   while (auto key = q.get()) { try { sync(*key); q.forget(*key); }
//                                catch (...) { q.addRateLimited(*key); } q.done(*key); }
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/clock.h"
#include "common/metrics.h"

namespace skiff::client {

struct RateLimiterOptions {
  std::chrono::milliseconds baseDelay{5};
  std::chrono::milliseconds maxDelay{1000 * 1000};
  double qps = 10;  // overall bucket; 0 disables it
  int burst = 100;
};

// max(per-item exponential, overall token bucket), as client-go's default controller limiter.
class RateLimiter {
 public:
  explicit RateLimiter(RateLimiterOptions options = {}, const Clock& clock = realClock())
      : options_(options), clock_(clock), tokens_(options.burst), last_(clock.monotonic()) {}
  std::chrono::milliseconds when(const std::string& key);
  void forget(const std::string& key);
  int numRequeues(const std::string& key) const;

 private:
  RateLimiterOptions options_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, int> failures_;
  double tokens_;
  Clock::MonoTime last_;
};

class WorkQueue {
 public:
  // `clock` must outlive the queue.
  explicit WorkQueue(std::string name = "", RateLimiterOptions limiter = {},
                     const Clock& clock = realClock());
  ~WorkQueue();  // shuts down and joins the timer thread
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void add(const std::string& key);
  void addAfter(const std::string& key, std::chrono::milliseconds delay);
  void addRateLimited(const std::string& key);
  void forget(const std::string& key) { limiter_.forget(key); }
  int numRequeues(const std::string& key) const { return limiter_.numRequeues(key); }

  // Blocks for the next key; nullopt once shut down and drained. Call done(key) after.
  std::optional<std::string> get();
  // get() without blocking: nullopt when nothing is queued now (tests drain a queue with it).
  std::optional<std::string> tryGet();
  void done(const std::string& key);
  // Wakes every get(); later adds are ignored. Keys already queued are still handed out.
  void shutDown();
  bool shuttingDown() const;
  size_t len() const;
  const std::string& name() const { return name_; }

 private:
  void timerLoop();
  // Under mu_: add() without taking the lock.
  void addLocked(const std::string& key);
  // Under mu_: queues every delayed key whose time has come.
  void promoteDueLocked();
  // Under mu_: an add was accepted (counted, its queue time starts).
  void noteAdded(const std::string& key);
  void noteDepth();
  // Under mu_, queue_ not empty: hands out the front key.
  std::string takeLocked();

  struct QueueMetrics {
    std::atomic<double>* adds = nullptr;
    std::atomic<double>* depth = nullptr;
    std::atomic<double>* retries = nullptr;
    Metrics::Histogram* queueDuration = nullptr;
    Metrics::Histogram* workDuration = nullptr;
  };

  const std::string name_;
  QueueMetrics metrics_;                         // all null for an unnamed queue
  MetricsCollectorHandle unfinished_, longest_;  // the scrape-time gauges
  const Clock& clock_;
  RateLimiter limiter_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;
  std::unordered_set<std::string> processing_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point>
      addedAt_;  // waiting in queue_
  std::unordered_map<std::string, std::chrono::steady_clock::time_point>
      startedAt_;  // being processed
  bool shuttingDown_ = false;

  // Delayed adds: ready time → keys, plus each key's pending time for de-duplication.
  std::condition_variable timerCv_;
  std::multimap<Clock::MonoTime, std::string> waiting_;
  std::unordered_map<std::string, Clock::MonoTime> waitingAt_;
  std::shared_ptr<void> onClockAdvance_;  // a fake clock's step queues what became due
  std::thread timer_;
};

}  // namespace skiff::client
