#include "kubelet/cgroup_stats.h"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace skiff::kubelet {
namespace {

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::optional<uint64_t> field(const std::map<std::string, uint64_t>& m, const char* key) {
  auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

// A cgroup path joined under a hierarchy root, without letting ".." climb out of it.
std::string join(const std::string& base, const std::string& path) {
  if (path.find("..") != std::string::npos) return base + "/.invalid";
  if (path.empty() || path == "/") return base;
  return path.front() == '/' ? base + path : base + "/" + path;
}

}  // namespace

std::map<std::string, uint64_t> parseFlatKeyed(std::string_view text) {
  std::map<std::string, uint64_t> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    std::string_view key = line.substr(0, sp), value = trim(line.substr(sp + 1));
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || ptr != value.data() + value.size()) continue;
    out[std::string(key)] = v;
  }
  return out;
}

std::optional<uint64_t> parseSingleValue(std::string_view text) {
  text = trim(text);
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

uint64_t workingSetBytes(uint64_t usage, uint64_t inactiveFile) {
  return inactiveFile < usage ? usage - inactiveFile : 0;
}

CgroupStatsReader::CgroupStatsReader(std::string mountRoot) : root_(std::move(mountRoot)) {
  std::error_code ec;
  if (fs::exists(root_ + "/cgroup.controllers", ec))
    version_ = CgroupVersion::V2;
  else if (fs::exists(root_ + "/cpuacct", ec) || fs::exists(root_ + "/memory", ec))
    version_ = CgroupVersion::V1;
}

bool CgroupStatsReader::exists(const std::string& path) const {
  std::error_code ec;
  switch (version_) {
    case CgroupVersion::V2:
      return fs::exists(join(root_, path) + "/cpu.stat", ec);
    case CgroupVersion::V1:
      return fs::exists(join(root_ + "/cpuacct", path) + "/cpuacct.usage", ec);
    default:
      return false;
  }
}

std::optional<CgroupUsage> CgroupStatsReader::read(const std::string& path) const {
  CgroupUsage u;
  bool found = false;
  if (version_ == CgroupVersion::V2) {
    std::string dir = join(root_, path);
    if (auto cpu = slurp(dir + "/cpu.stat")) {
      found = true;
      if (auto usec = field(parseFlatKeyed(*cpu), "usage_usec")) u.cpuUsageNanos = *usec * 1000;
    }
    if (auto current = slurp(dir + "/memory.current")) {
      found = true;
      u.memoryUsageBytes = parseSingleValue(*current);
      auto stat = parseFlatKeyed(slurp(dir + "/memory.stat").value_or(""));
      if (u.memoryUsageBytes)
        u.workingSetBytes =
            workingSetBytes(*u.memoryUsageBytes, field(stat, "inactive_file").value_or(0));
      u.rssBytes = field(stat, "anon");
      u.pageFaults = field(stat, "pgfault");
      u.majorPageFaults = field(stat, "pgmajfault");
    }
  } else if (version_ == CgroupVersion::V1) {
    if (auto cpu = slurp(join(root_ + "/cpuacct", path) + "/cpuacct.usage")) {
      found = true;
      u.cpuUsageNanos = parseSingleValue(*cpu);
    }
    std::string mem = join(root_ + "/memory", path);
    if (auto usage = slurp(mem + "/memory.usage_in_bytes")) {
      found = true;
      u.memoryUsageBytes = parseSingleValue(*usage);
      // The total_ fields include descendants, as the usage does.
      auto stat = parseFlatKeyed(slurp(mem + "/memory.stat").value_or(""));
      if (u.memoryUsageBytes)
        u.workingSetBytes =
            workingSetBytes(*u.memoryUsageBytes, field(stat, "total_inactive_file").value_or(0));
      u.rssBytes = field(stat, "total_rss");
      u.pageFaults = field(stat, "total_pgfault");
      u.majorPageFaults = field(stat, "total_pgmajfault");
    }
  }
  if (!found) return std::nullopt;
  return u;
}

std::optional<uint64_t> CpuRateTracker::update(const std::string& key, uint64_t coreNanos,
                                               Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& e = it->second;
  e.seen = now;
  if (inserted || coreNanos < e.nanos) {  // first sample, or the counter went back: restart
    e.at = now;
    e.nanos = coreNanos;
    e.rate.reset();
    return std::nullopt;
  }
  auto dt = std::chrono::duration_cast<std::chrono::nanoseconds>(now - e.at).count();
  if (dt < std::chrono::duration_cast<std::chrono::nanoseconds>(minInterval_).count())
    return e.rate;
  e.rate = static_cast<uint64_t>(static_cast<double>(coreNanos - e.nanos) * 1e9 /
                                 static_cast<double>(dt));
  e.at = now;
  e.nanos = coreNanos;
  return e.rate;
}

void CpuRateTracker::prune(std::chrono::seconds age, Clock::time_point now) {
  std::lock_guard lock(mu_);
  std::erase_if(entries_, [&](const auto& kv) { return now - kv.second.seen > age; });
}

}  // namespace skiff::kubelet
