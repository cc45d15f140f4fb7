#include "scheduler/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common/thread_name.h"

namespace skiff::scheduler {

namespace {

// One job at a time (callers are serialized by jobMu): helpers wake on a new generation,
// take chunks until the counter passes n, and report back. The caller never waits for a
// helper that has not started: on a busy machine a woken thread may not run for a
// scheduler tick, and the caller would rather do all chunks itself. So the caller closes the
// job once its own loop finds no chunk left and waits only for helpers that joined before.
class Pool {
 public:
  static Pool& instance() {
    // Never destroyed: its detached threads wait on its condition variable until exit, and
    // destroying a condition variable with waiters blocks the exiting process.
    static Pool* pool = new Pool;
    return *pool;
  }
  size_t helpers() const { return threads_.size(); }

  void run(size_t n, size_t helpersWanted, const std::function<bool(size_t)>& fn) {
    std::lock_guard job(jobMu_);
    {
      std::lock_guard lock(mu_);
      fn_ = &fn;
      n_ = n;
      next_.store(0);
      ended_.store(false);
      active_ = helpersWanted;
      open_ = true;
      ++generation_;
    }
    cv_.notify_all();
    work(n, fn);
    std::unique_lock lock(mu_);
    open_ = false;  // late helpers skip this job
    done_.wait(lock, [this] { return inFlight_ == 0; });
    fn_ = nullptr;
  }

 private:
  static constexpr size_t kChunk = 64;
  Pool() {
    unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 1; i < hw; ++i)
      threads_.emplace_back(namedThread("sched-pool", [this, i] { loop(i); }));
    for (auto& t : threads_) t.detach();  // lives as long as the process
  }
  void work(size_t n, const std::function<bool(size_t)>& fn) {
    for (size_t start = next_.fetch_add(kChunk); start < n; start = next_.fetch_add(kChunk)) {
      for (size_t i = start; i < std::min(n, start + kChunk); ++i) {
        if (ended_.load(std::memory_order_relaxed)) return;
        if (fn(i)) {
          ended_.store(true, std::memory_order_relaxed);
          return;
        }
      }
    }
  }
  void loop(size_t id) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<bool(size_t)>* fn;
      size_t n;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (id > active_ || !open_) continue;  // not needed, or already finished by others
        ++inFlight_;
        fn = fn_;
        n = n_;
      }
      work(n, *fn);
      std::lock_guard lock(mu_);
      if (--inFlight_ == 0) done_.notify_one();
    }
  }

  std::mutex jobMu_, mu_;
  std::condition_variable cv_, done_;
  const std::function<bool(size_t)>* fn_ = nullptr;
  size_t n_ = 0, active_ = 0, inFlight_ = 0;
  bool open_ = false;
  uint64_t generation_ = 0;
  std::atomic<size_t> next_{0};
  std::atomic<bool> ended_{false};
  std::vector<std::thread> threads_;
};

}  // namespace

void parallelForUntil(size_t n, unsigned parallelism, const std::function<bool(size_t)>& fn,
                      size_t expectedWork) {
  // Below this, handing work to other threads costs more than it saves: the default
  // plugins take ~0.1 us per node, and waking a helper costs tens of microseconds on a busy
  // machine (bench/scheduler_cycle_bench: 500 scored nodes ran 2x slower on two threads).
  constexpr size_t kMinPerThread = 1024;
  Pool& pool = Pool::instance();
  size_t threads =
      std::min<size_t>({parallelism == 0 ? 1 : parallelism, pool.helpers() + 1,
                        (std::min(n, expectedWork) + kMinPerThread - 1) / kMinPerThread});
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i)
      if (fn(i)) return;
    return;
  }
  pool.run(n, threads - 1, fn);
}

void parallelFor(size_t n, unsigned parallelism, const std::function<void(size_t)>& fn) {
  parallelForUntil(n, parallelism, [&fn](size_t i) {
    fn(i);
    return false;
  });
}

}  // namespace skiff::scheduler
