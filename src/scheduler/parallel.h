// A small parallel-for: runs fn(i) for i in [0, n) on up to `parallelism` threads (the caller
// included). Work is handed out in chunks from a shared counter, so slow nodes do not stall
// a thread. Helper threads are a persistent process-wide pool (hardware threads - 1):
// a scheduling cycle calls this several times (filter, each score plugin), and starting
// threads per call cost more than the work on small clusters.
#pragma once
#include <cstddef>
#include <functional>
#include <limits>

namespace skiff::scheduler {

void parallelFor(size_t n, unsigned parallelism, const std::function<void(size_t)>& fn);

// Like parallelFor, but a call of fn returning true ends the job: no index starts after it
// (the filter stops at numFeasibleNodesToFind). Indexes already started on other threads
// finish. `expectedWork`: how many items the job likely runs before it ends; threads are
// chosen for that much work, since helpers woken for a job that is soon over only cost.
void parallelForUntil(size_t n, unsigned parallelism, const std::function<bool(size_t)>& fn,
                      size_t expectedWork = std::numeric_limits<size_t>::max());

}  // namespace skiff::scheduler
