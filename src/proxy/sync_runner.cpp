#include "proxy/sync_runner.h"

#include <algorithm>

#include "common/log.h"
#include "common/thread_name.h"

namespace skiff::proxy {

SyncRunner::SyncRunner(SyncRunnerOptions options, std::function<bool()> ready,
                       std::function<bool(bool periodic)> sync)
    : options_(std::move(options)), ready_(std::move(ready)), sync_(std::move(sync)) {}

SyncRunner::~SyncRunner() { stop(); }

void SyncRunner::start() {
  {
    std::lock_guard lk(mu_);
    stopping_ = false;
    dirtySince_ = std::chrono::steady_clock::now();
  }
  thread_ = std::thread([this] { loop(); });
}

void SyncRunner::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SyncRunner::markDirty() {
  {
    std::lock_guard lk(mu_);
    if (!dirty_) dirtySince_ = std::chrono::steady_clock::now();
    dirty_ = true;
  }
  cv_.notify_all();
}

std::optional<std::chrono::steady_clock::time_point> SyncRunner::pendingSince() const {
  std::lock_guard lk(mu_);
  if (!dirty_) return std::nullopt;
  return dirtySince_;
}

void SyncRunner::loop() {
  setThreadName(options_.threadName);
  auto lastSync = std::chrono::steady_clock::now() - options_.minSyncPeriod;
  int failures = 0;
  std::unique_lock lk(mu_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    lk.unlock();
    bool ready = ready_();
    lk.lock();
    if (stopping_) break;
    auto gap = options_.minSyncPeriod;
    if (failures > 0) {
      auto backoff =
          std::max(gap, std::chrono::milliseconds(1000)) * (1 << std::min(failures - 1, 8));
      gap = std::max(gap, std::min<std::chrono::milliseconds>(backoff, options_.maxBackoff));
    }
    bool due = now - lastSync >= options_.syncPeriod;
    if (!ready || (!due && (!dirty_ || now - lastSync < gap))) {
      auto wake = dirty_ ? lastSync + gap : lastSync + options_.syncPeriod;
      if (!ready) wake = now + std::chrono::milliseconds(50);
      cv_.wait_until(lk, wake);
      continue;
    }
    bool periodic = due || !dirty_;
    dirty_ = false;
    lk.unlock();
    bool ok = false;
    try {
      ok = sync_(periodic);
    } catch (const std::exception& e) {
      SKIFF_LOG_ERROR("{}: sync failed error=\"{}\"", options_.threadName, e.what());
    }
    failures = ok ? 0 : failures + 1;
    lastSync = std::chrono::steady_clock::now();
    lk.lock();
    // Still pending since the first change that failed to apply (health turns 503 when
    // that grows past two sync periods).
    if (!ok) dirty_ = true;
  }
}

}  // namespace skiff::proxy
