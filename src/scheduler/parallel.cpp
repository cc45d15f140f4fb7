#include "scheduler/parallel.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace skiff::scheduler {

void parallelFor(size_t n, unsigned parallelism, const std::function<void(size_t)>& fn) {
  // Below this, handing work to threads costs more than it saves.
  constexpr size_t kMinPerThread = 8;
  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  size_t threads = std::min<size_t>({parallelism == 0 ? 1 : parallelism, hw, (n + kMinPerThread - 1) / kMinPerThread});
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  };
  std::vector<std::jthread> pool;
  pool.reserve(threads - 1);
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
}

}  // namespace skiff::scheduler
