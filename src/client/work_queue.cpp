#include "client/work_queue.h"

#include <cmath>

#include "common/thread_name.h"

namespace skiff::client {

// Metrics measure real durations whatever clock the queue schedules by.
using Steady = std::chrono::steady_clock;

std::chrono::milliseconds RateLimiter::when(const std::string& key) {
  std::lock_guard lock(mu_);
  int exp = failures_[key]++;
  // 2^exp overflows long before the cap matters; clamp the exponent.
  double ms = options_.baseDelay.count() * std::pow(2.0, std::min(exp, 62));
  auto perItem = std::chrono::milliseconds(
      static_cast<int64_t>(std::min(ms, static_cast<double>(options_.maxDelay.count()))));
  if (options_.qps <= 0) return perItem;
  // Token bucket reservation: take a token now, wait for it if the bucket is in debt.
  auto now = clock_.monotonic();
  tokens_ = std::min<double>(
      options_.burst, tokens_ + std::chrono::duration<double>(now - last_).count() * options_.qps);
  last_ = now;
  tokens_ -= 1;
  auto bucket =
      tokens_ >= 0
          ? std::chrono::milliseconds(0)
          : std::chrono::milliseconds(static_cast<int64_t>(-tokens_ / options_.qps * 1000));
  return std::max(perItem, bucket);
}

void RateLimiter::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

int RateLimiter::numRequeues(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

namespace {

// client-go's workqueue buckets: 10 ns · 10^i, ten of them (up to 10 s).
const std::vector<double>& durationBuckets() {
  static const auto buckets = Metrics::exponentialBuckets(10e-9, 10, 10);
  return buckets;
}

void describeWorkQueueMetrics() {
  static const bool done = [] {
    auto& m = Metrics::global();
    m.describe("workqueue_adds_total", "counter",
               "Keys added to the work queue (each accepted add).");
    m.describe("workqueue_depth", "gauge", "Keys waiting in the work queue now.");
    m.describe("workqueue_queue_duration_seconds", "histogram",
               "Seconds a key waited in the work queue before a worker took it.");
    m.describe("workqueue_work_duration_seconds", "histogram",
               "Seconds a worker spent on a key, from taking it to done().");
    m.describe("workqueue_retries_total", "counter",
               "Rate-limited re-adds (retries after a failed sync).");
    return true;
  }();
  (void)done;
}

double secondsBetween(Steady::time_point from, Steady::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

WorkQueue::WorkQueue(std::string name, RateLimiterOptions limiter, const Clock& clock)
    : name_(std::move(name)), clock_(clock), limiter_(limiter, clock) {
  if (!name_.empty()) {
    describeWorkQueueMetrics();
    auto& m = Metrics::global();
    MetricLabels labels{{"name", name_}};
    metrics_.adds = &m.series("workqueue_adds_total", labels);
    metrics_.depth = &m.series("workqueue_depth", labels);
    metrics_.retries = &m.series("workqueue_retries_total", labels);
    metrics_.queueDuration =
        &m.histogramSeries("workqueue_queue_duration_seconds", labels, durationBuckets());
    metrics_.workDuration =
        &m.histogramSeries("workqueue_work_duration_seconds", labels, durationBuckets());
    m.setGauge("workqueue_depth", labels, 0);
    // Work in progress, computed when scraped, as client-go's unfinished-work gauges.
    unfinished_ = m.collect(
        "workqueue_unfinished_work_seconds", "gauge",
        "Seconds of work in progress not yet done, summed over the keys being processed.", [this] {
          std::lock_guard lock(mu_);
          auto now = Steady::now();
          double total = 0;
          for (const auto& [key, at] : startedAt_) total += secondsBetween(at, now);
          return std::vector<MetricSample>{{{{"name", name_}}, total}};
        });
    longest_ =
        m.collect("workqueue_longest_running_processor_seconds", "gauge",
                  "Seconds the longest-running worker of this queue has been on its key.", [this] {
                    std::lock_guard lock(mu_);
                    auto now = Steady::now();
                    double longest = 0;
                    for (const auto& [key, at] : startedAt_)
                      longest = std::max(longest, secondsBetween(at, now));
                    return std::vector<MetricSample>{{{{"name", name_}}, longest}};
                  });
  }
  onClockAdvance_ = clock_.onAdvance([this] {
    std::lock_guard lock(mu_);
    promoteDueLocked();
    timerCv_.notify_one();
  });
  timer_ = namedThread("q/" + name_, [this] { timerLoop(); });
}

WorkQueue::~WorkQueue() {
  unfinished_.reset();  // before the state their functions read goes
  longest_.reset();
  onClockAdvance_.reset();
  shutDown();
  if (timer_.joinable()) timer_.join();
}

void WorkQueue::noteAdded(const std::string& key) {
  if (!metrics_.adds) return;
  metrics_.adds->fetch_add(1, std::memory_order_relaxed);
  addedAt_.emplace(key, Steady::now());
}

void WorkQueue::noteDepth() {
  if (metrics_.depth)
    metrics_.depth->store(static_cast<double>(queue_.size()), std::memory_order_relaxed);
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  addLocked(key);
}

void WorkQueue::addLocked(const std::string& key) {
  if (shuttingDown_ || dirty_.count(key)) return;
  dirty_.insert(key);
  noteAdded(key);
  if (processing_.count(key)) return;  // re-queued by done()
  queue_.push_back(key);
  noteDepth();
  cv_.notify_one();
}

void WorkQueue::addAfter(const std::string& key, std::chrono::milliseconds delay) {
  if (delay <= std::chrono::milliseconds(0)) return add(key);
  std::lock_guard lock(mu_);
  if (shuttingDown_) return;
  auto at = clock_.monotonic() + delay;
  if (auto it = waitingAt_.find(key); it != waitingAt_.end()) {
    if (it->second <= at) return;  // an earlier add is already pending
    for (auto w = waiting_.lower_bound(it->second); w != waiting_.end() && w->first == it->second;
         ++w)
      if (w->second == key) {
        waiting_.erase(w);
        break;
      }
  }
  waiting_.emplace(at, key);
  waitingAt_[key] = at;
  timerCv_.notify_one();
}

void WorkQueue::addRateLimited(const std::string& key) {
  if (metrics_.retries) metrics_.retries->fetch_add(1, std::memory_order_relaxed);
  addAfter(key, limiter_.when(key));
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !queue_.empty() || shuttingDown_; });
  if (queue_.empty()) return std::nullopt;
  return takeLocked();
}

std::optional<std::string> WorkQueue::tryGet() {
  std::lock_guard lock(mu_);
  if (queue_.empty()) return std::nullopt;
  return takeLocked();
}

std::string WorkQueue::takeLocked() {
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  if (metrics_.adds) {
    auto now = Steady::now();
    if (auto it = addedAt_.find(key); it != addedAt_.end()) {
      Metrics::observe(*metrics_.queueDuration, secondsBetween(it->second, now));
      addedAt_.erase(it);
    }
    startedAt_[key] = now;
    noteDepth();
  }
  return key;
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (metrics_.adds) {
    if (auto it = startedAt_.find(key); it != startedAt_.end()) {
      Metrics::observe(*metrics_.workDuration, secondsBetween(it->second, Steady::now()));
      startedAt_.erase(it);
    }
  }
  if (dirty_.count(key)) {
    queue_.push_back(key);
    noteDepth();
    cv_.notify_one();
  }
}

void WorkQueue::shutDown() {
  {
    std::lock_guard lock(mu_);
    shuttingDown_ = true;
  }
  cv_.notify_all();
  timerCv_.notify_all();
}

bool WorkQueue::shuttingDown() const {
  std::lock_guard lock(mu_);
  return shuttingDown_;
}

size_t WorkQueue::len() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void WorkQueue::promoteDueLocked() {
  auto now = clock_.monotonic();
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    std::string key = std::move(waiting_.begin()->second);
    waiting_.erase(waiting_.begin());
    waitingAt_.erase(key);
    addLocked(key);
  }
}

void WorkQueue::timerLoop() {
  std::unique_lock lock(mu_);
  while (!shuttingDown_) {
    promoteDueLocked();
    if (waiting_.empty())
      timerCv_.wait(lock);
    else
      clock_.waitUntil(timerCv_, lock, waiting_.begin()->first);
  }
}

}  // namespace skiff::client
