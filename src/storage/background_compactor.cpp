#include "storage/background_compactor.h"

#include <deque>
#include <utility>

#include "common/log.h"
#include "common/thread_name.h"

namespace skiff::storage {

BackgroundCompactor::BackgroundCompactor(Store& store, CompactionPolicy policy, std::string name)
    : store_(store), policy_(policy), name_(std::move(name)) {
  if (policy_.interval.count() > 0) thread_ = std::thread([this] { run(); });
}

BackgroundCompactor::~BackgroundCompactor() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BackgroundCompactor::run() {
  setThreadName("compactor");
  using Clock = std::chrono::steady_clock;
  // (time, revision) samples: every revision <= the sampled one was committed by that time.
  std::deque<std::pair<Clock::time_point, int64_t>> samples;
  samples.emplace_back(Clock::now(), store_.currentRevision());
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, policy_.interval, [&] { return stopping_; })) {
    lock.unlock();
    auto now = Clock::now();
    auto oldEnough = now - policy_.retention;
    samples.emplace_back(now, store_.currentRevision());
    // The target is the newest sample at least `retention` old; older samples are spent.
    while (samples.size() > 1 && samples[1].first <= oldEnough) samples.pop_front();
    int64_t target = samples.front().first <= oldEnough ? samples.front().second : 0;
    if (target > store_.compactedRevision()) {
      try {
        store_.compact(target);
        SKIFF_LOG_INFO("{} compacted: revision={}", name_, target);
      } catch (const CompactedError&) {
        // Someone compacted further in the meantime: nothing left to do.
      } catch (const std::exception& e) {
        SKIFF_LOG_ERROR("{} background compaction failed: revision={} error={}", name_, target,
                        e.what());
      }
    }
    lock.lock();
  }
}

}  // namespace skiff::storage
