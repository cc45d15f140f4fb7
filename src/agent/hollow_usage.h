// Synthetic resource usage of hollow nodes, so the metrics pipeline (metrics.k8s.io, kubectl
// top, the HPA) can be exercised at scale without running anything:
//
//   skiff.io/synthetic-cpu: 250m      a pod's CPU use (a Quantity, cores); split evenly over
//                                     its containers
//   skiff.io/synthetic-memory: 64Mi   a pod's working set (a Quantity, bytes); split the same way
//
// Pods without the annotations use the agent's --synthetic-pod-cpu / --synthetic-pod-memory.
// Changing an annotation changes the rate from then on: the cumulative CPU counters grow at
// exactly the configured rate between any two scrapes that do not straddle a change, so a
// scraper computing (Δ counter / Δ time) sees the configured value.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace skiff::agent {

inline constexpr const char* kSyntheticCpuAnnotation = "skiff.io/synthetic-cpu";
inline constexpr const char* kSyntheticMemoryAnnotation = "skiff.io/synthetic-memory";

// Non-negative Quantities: CPU as nanocores ("250m" → 250'000'000), memory as bytes ("64Mi").
// nullopt when malformed or negative.
std::optional<uint64_t> parseCpuNanoCores(const std::string& text);
std::optional<uint64_t> parseMemoryBytes(const std::string& text);

struct SyntheticPodUsage {
  uint64_t cpuNanoCores = 0;
  uint64_t memoryBytes = 0;
};
// The pod's usage from its annotations, else the defaults (a malformed annotation counts as
// absent: a typo must not take the node's metrics down).
SyntheticPodUsage syntheticUsageOf(const boost::json::object& pod,
                                   const SyntheticPodUsage& defaults);

// Cumulative CPU counters (core-nanoseconds) that grow at a piecewise-constant rate. Thread-safe.
class SyntheticCounters {
 public:
  using Clock = std::chrono::system_clock;
  // Advances `key`'s counter to `now` at the rate it had, sets `nanoCores` as the rate from now
  // on, and returns the counter. A new key starts as if it had run at `nanoCores` since
  // `since` (the pod's start), so counters look like a real container's.
  uint64_t advance(const std::string& key, uint64_t nanoCores, Clock::time_point now,
                   Clock::time_point since);
  // Forgets keys not advanced for `age` (deleted pods).
  void prune(std::chrono::seconds age, Clock::time_point now);
  size_t size() const;

 private:
  struct Counter {
    Clock::time_point at;
    double nanos = 0;  // double: sub-nanosecond rounding does not accumulate into drift
    uint64_t rate = 0;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, Counter> counters_;
};

}  // namespace skiff::agent
