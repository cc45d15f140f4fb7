// A small parallel-for: runs fn(i) for i in [0, n) on up to `parallelism` threads (the caller
// included). Work is handed out one index at a time, so slow nodes do not stall a chunk.
// Threads are started per call: a cycle filters thousands of nodes, so the start cost
// (tens of microseconds) is noise next to the work; a persistent pool can replace this later.
#pragma once
#include <cstddef>
#include <functional>

namespace skiff::scheduler {

void parallelFor(size_t n, unsigned parallelism, const std::function<void(size_t)>& fn);

}  // namespace skiff::scheduler
