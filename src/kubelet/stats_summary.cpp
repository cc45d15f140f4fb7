// GET /stats/summary: the kubelet's Summary API (stats.k8s.io v1alpha1 shape): node CPU and
// memory from /proc, pod and container CPU and memory from the runtime's cgroup stats (CRI
// ListContainerStats).
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

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

std::map<std::string, int64_t> meminfo() {
  std::map<std::string, int64_t> out;
  std::ifstream in("/proc/meminfo");
  for (std::string key; in >> key;) {
    int64_t kb = 0;
    std::string unit;
    in >> kb;
    std::getline(in, unit);
    if (!key.empty() && key.back() == ':') key.pop_back();
    out[key] = kb * 1024;
  }
  return out;
}

json::object cpuStats(const std::string& time, uint64_t coreNanos,
                      std::optional<uint64_t> nanoCores) {
  json::object cpu{{"time", time}, {"usageCoreNanoSeconds", coreNanos}};
  if (nanoCores) cpu["usageNanoCores"] = *nanoCores;
  return cpu;
}

}  // namespace

json::object Kubelet::statsSummary() {
  auto now = SysClock::now();
  auto time = formatTime(now);
  // Node CPU rate: from the previous call's sample, like cAdvisor's rate over its interval.
  uint64_t busy = machineCpuBusyNanos();
  std::optional<uint64_t> nodeNanoCores;
  {
    std::lock_guard lock(mu_);
    if (lastCpuSample_.first.time_since_epoch().count() > 0) {
      auto dt =
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - lastCpuSample_.first).count();
      if (dt > 0 && busy >= lastCpuSample_.second)
        nodeNanoCores = static_cast<uint64_t>(static_cast<double>(busy - lastCpuSample_.second) *
                                              1e9 / static_cast<double>(dt));
    }
    lastCpuSample_ = {now, busy};
  }
  auto mem = meminfo();
  int64_t total = mem["MemTotal"], available = mem["MemAvailable"], free = mem["MemFree"];
  json::object node{
      {"nodeName", options_.nodeName},
      {"startTime", startTime_},
      {"cpu", cpuStats(time, busy, nodeNanoCores)},
      {"memory", json::object{{"time", time},
                              {"availableBytes", available},
                              {"usageBytes", total - free},
                              {"workingSetBytes", total - available},
                              {"rssBytes", total - free - mem["Cached"] - mem["Buffers"]}}},
  };

  // Pods: the runtime's per-container stats grouped by the pod labels the kubelet set.
  struct PodAgg {
    json::object ref;
    json::array containers;
    uint64_t cpuNanos = 0, nanoCores = 0, workingSet = 0, usage = 0;
    bool haveCores = false;
  };
  std::map<std::string, PodAgg> pods;
  try {
    for (auto& s : runtime_.listContainerStats()) {
      auto& labels = s.attributes().labels();
      auto uid = label(labels, labels::kPodUid);
      if (uid.empty()) continue;
      auto& p = pods[uid];
      p.ref = json::object{{"name", label(labels, labels::kPodName)},
                           {"namespace", label(labels, labels::kPodNamespace)},
                           {"uid", uid}};
      auto& cpu = s.cpu();
      auto& m = s.memory();
      std::optional<uint64_t> cores;
      if (cpu.has_usage_nano_cores()) cores = cpu.usage_nano_cores().value();
      json::object c{{"name", label(labels, labels::kContainerName)},
                     {"startTime", time},
                     {"cpu", cpuStats(time, cpu.usage_core_nano_seconds().value(), cores)},
                     {"memory", json::object{{"time", time},
                                             {"workingSetBytes", m.working_set_bytes().value()},
                                             {"usageBytes", m.usage_bytes().value()},
                                             {"rssBytes", m.rss_bytes().value()}}}};
      p.containers.push_back(std::move(c));
      p.cpuNanos += cpu.usage_core_nano_seconds().value();
      if (cores) {
        p.nanoCores += *cores;
        p.haveCores = true;
      }
      p.workingSet += m.working_set_bytes().value();
      p.usage += m.usage_bytes().value();
    }
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("kubelet stats: container stats failed error=\"{}\"", e.what());
  }
  json::array podList;
  for (auto& [uid, p] : pods) {
    auto pod = podInformer_.get(stringAt(p.ref, {"namespace"}) + "/" + stringAt(p.ref, {"name"}));
    auto start = pod ? stringAt(*pod, {"status", "startTime"}, time) : time;
    podList.push_back(json::object{
        {"podRef", p.ref},
        {"startTime", start},
        {"containers", std::move(p.containers)},
        {"cpu", cpuStats(time, p.cpuNanos,
                         p.haveCores ? std::optional<uint64_t>(p.nanoCores) : std::nullopt)},
        {"memory",
         json::object{{"time", time}, {"workingSetBytes", p.workingSet}, {"usageBytes", p.usage}}},
    });
  }
  return json::object{{"node", std::move(node)}, {"pods", std::move(podList)}};
}

}  // namespace skiff::kubelet
