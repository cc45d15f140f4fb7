#include "client/work_queue.h"
#include "common/thread_name.h"

#include <cmath>

namespace skiff::client {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds RateLimiter::when(const std::string& key) {
  std::lock_guard lock(mu_);
  int exp = failures_[key]++;
  // 2^exp overflows long before the cap matters; clamp the exponent.
  double ms = options_.baseDelay.count() * std::pow(2.0, std::min(exp, 62));
  auto perItem = std::chrono::milliseconds(
      static_cast<int64_t>(std::min(ms, static_cast<double>(options_.maxDelay.count()))));
  if (options_.qps <= 0) return perItem;
  // Token bucket reservation: take a token now, wait for it if the bucket is in debt.
  auto now = Clock::now();
  tokens_ = std::min<double>(options_.burst,
                             tokens_ + std::chrono::duration<double>(now - last_).count() * options_.qps);
  last_ = now;
  tokens_ -= 1;
  auto bucket = tokens_ >= 0 ? std::chrono::milliseconds(0)
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

WorkQueue::WorkQueue(std::string name, RateLimiterOptions limiter)
    : name_(std::move(name)), limiter_(limiter), timer_(namedThread("q/" + name_, [this] { timerLoop(); })) {}

WorkQueue::~WorkQueue() {
  shutDown();
  if (timer_.joinable()) timer_.join();
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  if (shuttingDown_ || dirty_.count(key)) return;
  dirty_.insert(key);
  if (processing_.count(key)) return;  // re-queued by done()
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::addAfter(const std::string& key, std::chrono::milliseconds delay) {
  if (delay <= std::chrono::milliseconds(0)) return add(key);
  std::lock_guard lock(mu_);
  if (shuttingDown_) return;
  auto at = Clock::now() + delay;
  if (auto it = waitingAt_.find(key); it != waitingAt_.end()) {
    if (it->second <= at) return;  // an earlier add is already pending
    for (auto w = waiting_.lower_bound(it->second); w != waiting_.end() && w->first == it->second; ++w)
      if (w->second == key) {
        waiting_.erase(w);
        break;
      }
  }
  waiting_.emplace(at, key);
  waitingAt_[key] = at;
  timerCv_.notify_one();
}

void WorkQueue::addRateLimited(const std::string& key) { addAfter(key, limiter_.when(key)); }

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !queue_.empty() || shuttingDown_; });
  if (queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key)) {
    queue_.push_back(key);
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

void WorkQueue::timerLoop() {
  std::unique_lock lock(mu_);
  while (!shuttingDown_) {
    if (waiting_.empty()) {
      timerCv_.wait(lock);
      continue;
    }
    auto next = waiting_.begin()->first;
    if (Clock::now() < next) {
      timerCv_.wait_until(lock, next);
      continue;
    }
    std::string key = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    waitingAt_.erase(key);
    lock.unlock();
    add(key);
    lock.lock();
  }
}

}  // namespace skiff::client
