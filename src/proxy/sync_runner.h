// The coalescing sync loop the Service proxy and the NetworkPolicy controller share: event
// handlers call markDirty(); one named thread calls `sync` at most once per minSyncPeriod
// (a burst of events becomes one sync), at least once per syncPeriod (a periodic sync, to
// repair what changed behind our back), and after a failed sync retries with a backoff of
// 1 s doubling up to maxBackoff, instead of rebuilding and logging the same error at every
// event.
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace skiff::proxy {

struct SyncRunnerOptions {
  std::string threadName;
  std::chrono::milliseconds minSyncPeriod{1000};
  std::chrono::milliseconds syncPeriod{30000};
  std::chrono::milliseconds maxBackoff{30000};  // the retry gap stops doubling here
};

class SyncRunner {
 public:
  // `ready`: whether the inputs can be synced (informers synced); polled every 50 ms until
  // true. `sync(periodic)`: one sync; periodic when nothing was marked dirty (or the sync
  // period elapsed); false when it failed (the state stays dirty and is retried).
  SyncRunner(SyncRunnerOptions options, std::function<bool()> ready,
             std::function<bool(bool periodic)> sync);
  ~SyncRunner();
  SyncRunner(const SyncRunner&) = delete;
  SyncRunner& operator=(const SyncRunner&) = delete;

  void start();
  void stop();  // joins the thread; a running sync finishes first
  void markDirty();
  // Since when changes have been waiting (none: nothing pending).
  std::optional<std::chrono::steady_clock::time_point> pendingSince() const;

 private:
  void loop();

  const SyncRunnerOptions options_;
  const std::function<bool()> ready_;
  const std::function<bool(bool)> sync_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool dirty_ = true, stopping_ = false;
  std::chrono::steady_clock::time_point dirtySince_ = std::chrono::steady_clock::now();
  std::thread thread_;
};

}  // namespace skiff::proxy
