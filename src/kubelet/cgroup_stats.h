// CPU and memory of one cgroup read straight from the cgroup filesystem, as cAdvisor reads them
// for the kubelet's /stats/summary and /metrics/resource:
//
//   cgroup v1 (cpuacct and memory hierarchies; also the "hybrid" layout, where the unified
//   tree at <root>/unified holds no controllers):
//     cpu      <root>/cpuacct/<path>/cpuacct.usage             (nanoseconds)
//     memory   <root>/memory/<path>/memory.usage_in_bytes, memory.stat (total_inactive_file,
//              total_rss, total_pgfault, total_pgmajfault)
//   cgroup v2 (unified at <root>, detected by <root>/cgroup.controllers):
//     cpu      <root>/<path>/cpu.stat usage_usec               (microseconds)
//     memory   <root>/<path>/memory.current, memory.stat (inactive_file, anon, pgfault,
//              pgmajfault)
//
// The working set is usage minus inactive file cache (never below zero), cAdvisor's definition,
// the number `kubectl top` shows and the HPA scales on.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace skiff::kubelet {

struct CgroupUsage {
  std::optional<uint64_t> cpuUsageNanos;  // cumulative CPU time, core-nanoseconds
  std::optional<uint64_t> memoryUsageBytes, workingSetBytes, rssBytes, pageFaults, majorPageFaults;
};

enum class CgroupVersion { None, V1, V2 };

class CgroupStatsReader {
 public:
  // `mountRoot`: where the cgroup filesystems are mounted (tests pass a temp dir).
  explicit CgroupStatsReader(std::string mountRoot = "/sys/fs/cgroup");
  CgroupVersion version() const { return version_; }
  // The usage of cgroup `path` ("/k8s.io/<id>", "/skiff-n1/<id>"); nullopt when neither its
  // CPU nor its memory files exist (the cgroup is gone or was never there). Bad content in a
  // file leaves that field empty instead of failing.
  std::optional<CgroupUsage> read(const std::string& path) const;
  // Whether the cgroup exists in the CPU hierarchy.
  bool exists(const std::string& path) const;

 private:
  std::string root_;
  CgroupVersion version_ = CgroupVersion::None;
};

// "key value\n" lines (memory.stat, cpu.stat) → map; malformed lines are skipped.
std::map<std::string, uint64_t> parseFlatKeyed(std::string_view text);
// One unsigned integer file (cpuacct.usage, memory.current); nullopt for "max" or junk.
std::optional<uint64_t> parseSingleValue(std::string_view text);
// cAdvisor's working set: usage - inactive_file, or 0 when the cache exceeds the usage.
uint64_t workingSetBytes(uint64_t usage, uint64_t inactiveFile);

// Turns cumulative CPU counters into a rate (nanocores), per key, between samples at least
// `minInterval` apart: a scrape right after another reuses the previous rate instead of
// dividing a few microseconds' worth of CPU by a few microseconds. Thread-safe.
class CpuRateTracker {
 public:
  using Clock = std::chrono::steady_clock;
  explicit CpuRateTracker(std::chrono::milliseconds minInterval = std::chrono::seconds(1))
      : minInterval_(minInterval) {}
  // The rate for `key` given its counter `coreNanos` at `now`; nullopt for the first sample
  // (and after a counter reset, as when a container restarts under the same key).
  std::optional<uint64_t> update(const std::string& key, uint64_t coreNanos,
                                 Clock::time_point now = Clock::now());
  // Forgets keys not updated for `age` (containers that went away).
  void prune(std::chrono::seconds age, Clock::time_point now = Clock::now());

 private:
  struct Entry {
    Clock::time_point at;
    uint64_t nanos = 0;
    std::optional<uint64_t> rate;
    Clock::time_point seen;
  };
  std::chrono::milliseconds minInterval_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace skiff::kubelet
