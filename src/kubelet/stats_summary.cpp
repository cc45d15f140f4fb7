// The kubelet's resource usage numbers, one collection for GET /stats/summary (Summary API,
// stats.k8s.io v1alpha1 shape) and GET /metrics/resource (kubelet_metrics.cpp):
//   - node: CPU from /proc/stat, memory from /proc/meminfo, page faults from /proc/vmstat;
//   - containers: their own cgroups, read directly (cgroup_stats.h; v1 or v2). containerd puts
//     a container without a cgroup parent at /k8s.io/<id>, and one under the kubelet's
//     --cgroup-root at <root>/<id> (the kubelet passes that root as every pod's cgroup parent);
//     a container whose cgroup cannot be found falls back to the runtime's own numbers (CRI
//     ListContainerStats);
//   - pods: the sum of their running containers and their sandbox (pause) container, which
//     is what a per-pod cgroup would hold.
// CPU rates (usageNanoCores) are computed between collections at least a second apart, as
// cAdvisor does between its housekeeping samples.
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>

#include "api/json_access.h"
#include "common/ids.h"
#include "common/log.h"
#include "kubelet/kubelet.h"
#include "kubelet/pod_status.h"

namespace json = boost::json;

namespace skiff::kubelet {
namespace {

using api::stringAt;
using SysClock = std::chrono::system_clock;

std::string label(const google::protobuf::Map<std::string, std::string>& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

// Busy CPU time of the whole machine in nanoseconds, from the first line of /proc/stat.
uint64_t machineCpuBusyNanos() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  long tick = sysconf(_SC_CLK_TCK);
  if (tick <= 0) tick = 100;
  return (user + nice + system + irq + softirq + steal) *
         (1000000000ull / static_cast<uint64_t>(tick));
}

// "/proc/meminfo"-style "Key: value [kB]" or "/proc/vmstat"-style "key value" lines.
std::map<std::string, uint64_t> procTable(const char* path, uint64_t scale) {
  std::map<std::string, uint64_t> out;
  std::ifstream in(path);
  for (std::string key; in >> key;) {
    uint64_t v = 0;
    std::string rest;
    in >> v;
    std::getline(in, rest);
    if (!key.empty() && key.back() == ':') key.pop_back();
    out[key] = v * scale;
  }
  return out;
}

int64_t unixMillis(SysClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

int64_t parseRfc3339Millis(const std::string& s) {
  std::tm tm{};
  if (s.size() < 20 || !strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

void add(std::optional<uint64_t>& sum, const std::optional<uint64_t>& v) {
  if (v) sum = sum.value_or(0) + *v;
}

ResourceUsage fromCgroup(const CgroupUsage& c, int64_t timeMs) {
  ResourceUsage u;
  u.timeMs = timeMs;
  u.cpuCoreNanos = c.cpuUsageNanos;
  u.workingSetBytes = c.workingSetBytes;
  u.usageBytes = c.memoryUsageBytes;
  u.rssBytes = c.rssBytes;
  u.pageFaults = c.pageFaults;
  u.majorPageFaults = c.majorPageFaults;
  return u;
}

ResourceUsage fromCri(const cri::v1::ContainerStats& s, int64_t timeMs) {
  ResourceUsage u;
  u.timeMs = timeMs;
  if (s.has_cpu() && s.cpu().has_usage_core_nano_seconds())
    u.cpuCoreNanos = s.cpu().usage_core_nano_seconds().value();
  if (s.has_memory()) {
    const auto& m = s.memory();
    if (m.has_working_set_bytes()) u.workingSetBytes = m.working_set_bytes().value();
    if (m.has_usage_bytes()) u.usageBytes = m.usage_bytes().value();
    if (m.has_rss_bytes()) u.rssBytes = m.rss_bytes().value();
    if (m.has_page_faults()) u.pageFaults = m.page_faults().value();
    if (m.has_major_page_faults()) u.majorPageFaults = m.major_page_faults().value();
  }
  return u;
}

}  // namespace

std::string Kubelet::containerCgroup(const std::string& containerId) const {
  return (options_.cgroupRoot.empty() ? std::string("/k8s.io") : options_.cgroupRoot) + "/" +
         containerId;
}

NodeResourceStats Kubelet::collectResourceStats() {
  auto now = SysClock::now();
  const int64_t nowMs = unixMillis(now);
  NodeResourceStats out;
  out.nodeName = options_.nodeName;
  out.startTimeMs = parseRfc3339Millis(startTime_);

  // The node.
  auto& node = out.usage;
  node.timeMs = nowMs;
  node.cpuCoreNanos = machineCpuBusyNanos();
  node.cpuNanoCores = cpuRates_.update("node", *node.cpuCoreNanos);
  auto mem = procTable("/proc/meminfo", 1024);
  uint64_t total = mem["MemTotal"], available = mem["MemAvailable"], free = mem["MemFree"];
  uint64_t cached = mem["Cached"] + mem["Buffers"];
  node.availableBytes = available;
  node.usageBytes = total - std::min(total, free);
  node.workingSetBytes = total - std::min(total, available);
  node.rssBytes = *node.usageBytes - std::min(*node.usageBytes, cached);
  auto vm = procTable("/proc/vmstat", 1);
  node.pageFaults = vm["pgfault"];
  node.majorPageFaults = vm["pgmajfault"];

  // Containers, grouped by pod.
  std::vector<cri::v1::Container> containers;
  std::map<std::string, cri::v1::ContainerStats> criStats;  // fetched only when needed
  bool criStatsFetched = false;
  try {
    containers = runtime_.listContainers();
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("kubelet stats: listing containers failed error=\"{}\"", e.what());
    out.scrapeError = true;
  }
  auto criFallback = [&](const std::string& id) -> std::optional<ResourceUsage> {
    if (!criStatsFetched) {
      criStatsFetched = true;
      try {
        for (auto& s : runtime_.listContainerStats()) criStats[s.attributes().id()] = s;
      } catch (const std::exception& e) {
        SKIFF_LOG_WARN("kubelet stats: container stats failed error=\"{}\"", e.what());
        out.scrapeError = true;
      }
    }
    auto it = criStats.find(id);
    if (it == criStats.end()) return std::nullopt;
    return fromCri(it->second, nowMs);
  };

  std::map<std::string, PodResourceStats> pods;  // by uid
  std::map<std::string, std::string> sandboxOf;  // pod uid → sandbox id
  for (const auto& c : containers) {
    if (c.state() != cri::v1::CONTAINER_RUNNING) continue;
    const auto& l = c.labels();
    auto uid = label(l, labels::kPodUid);
    if (uid.empty()) continue;  // not one of the kubelet's containers
    ContainerResourceStats cs;
    cs.name = label(l, labels::kContainerName);
    cs.startTimeMs = c.created_at() / 1000000;
    if (auto cg = cgroups_.read(containerCgroup(c.id()))) {
      cs.usage = fromCgroup(*cg, nowMs);
    } else if (auto cri = criFallback(c.id())) {
      cs.usage = *cri;
    } else {
      continue;  // gone between the listing and now
    }
    if (cs.usage.cpuCoreNanos)
      cs.usage.cpuNanoCores = cpuRates_.update("c/" + c.id(), *cs.usage.cpuCoreNanos);
    auto& p = pods[uid];
    p.uid = uid;
    p.ns = label(l, labels::kPodNamespace);
    p.name = label(l, labels::kPodName);
    sandboxOf[uid] = c.pod_sandbox_id();
    auto& pu = p.usage;
    pu.timeMs = nowMs;
    add(pu.cpuCoreNanos, cs.usage.cpuCoreNanos);
    add(pu.workingSetBytes, cs.usage.workingSetBytes);
    add(pu.usageBytes, cs.usage.usageBytes);
    add(pu.rssBytes, cs.usage.rssBytes);
    add(pu.pageFaults, cs.usage.pageFaults);
    add(pu.majorPageFaults, cs.usage.majorPageFaults);
    p.containers.push_back(std::move(cs));
  }
  for (auto& [uid, p] : pods) {
    // The pause container's share (small, but a per-pod cgroup would count it).
    if (auto sb = sandboxOf.find(uid); sb != sandboxOf.end() && !sb->second.empty())
      if (auto cg = cgroups_.read(containerCgroup(sb->second))) {
        add(p.usage.cpuCoreNanos, cg->cpuUsageNanos);
        add(p.usage.workingSetBytes, cg->workingSetBytes);
        add(p.usage.usageBytes, cg->memoryUsageBytes);
        add(p.usage.rssBytes, cg->rssBytes);
      }
    if (p.usage.cpuCoreNanos)
      p.usage.cpuNanoCores = cpuRates_.update("p/" + uid, *p.usage.cpuCoreNanos);
    auto pod = podInformer_.get(p.ns + "/" + p.name);
    p.startTimeMs = pod ? parseRfc3339Millis(stringAt(*pod, {"status", "startTime"})) : 0;
    if (p.startTimeMs == 0) p.startTimeMs = nowMs;
    out.pods.push_back(std::move(p));
  }
  cpuRates_.prune(std::chrono::minutes(5));
  return out;
}

json::object Kubelet::statsSummary() { return renderStatsSummary(collectResourceStats()); }

}  // namespace skiff::kubelet
