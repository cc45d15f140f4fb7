// GET /metrics/resource, minimal (helper A's stand-in until the kubelet's own lands): the
// metrics the API server's metrics.k8s.io scraper reads, with upstream's names and ms
// timestamps, from the same sources as /stats/summary and /metrics/cadvisor:
//   node_cpu_usage_seconds_total, node_memory_working_set_bytes   /proc/stat, /proc/meminfo
//   container_cpu_usage_seconds_total{container,namespace,pod}    CRI ListContainerStats
//   container_memory_working_set_bytes{container,namespace,pod}   CRI ListContainerStats
//   container_start_time_seconds{container,namespace,pod}         CRI ListContainers created_at
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>

#include "common/log.h"
#include "common/metrics.h"
#include "kubelet/kubelet.h"

namespace skiff::kubelet {

namespace {

std::string label(const google::protobuf::Map<std::string, std::string>& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

std::string sample(const std::string& name, const std::string& labels, double value, int64_t ms) {
  return name + labels + " " + Metrics::formatValue(value) + " " + std::to_string(ms) + "\n";
}

}  // namespace

std::string Kubelet::resourceMetricsMin() {
  const int64_t nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  std::string out;
  {
    std::ifstream in("/proc/stat");
    std::string cpu;
    double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
    double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    if (tick <= 0) tick = 100;
    out += "# TYPE node_cpu_usage_seconds_total counter\n";
    out += sample("node_cpu_usage_seconds_total", "",
                  (user + nice + system + irq + softirq + steal) / tick, nowMs);
    std::map<std::string, double> mem;
    std::ifstream meminfo("/proc/meminfo");
    for (std::string key; meminfo >> key;) {
      double kb = 0;
      std::string rest;
      meminfo >> kb;
      std::getline(meminfo, rest);
      mem[key] = kb * 1024;
    }
    out += "# TYPE node_memory_working_set_bytes gauge\n";
    out +=
        sample("node_memory_working_set_bytes", "", mem["MemTotal:"] - mem["MemAvailable:"], nowMs);
  }
  try {
    std::map<std::string, int64_t> created;  // container ID → created_at (ns)
    for (const auto& c : runtime_.listContainers()) created[c.id()] = c.created_at();
    std::string cpu, memory, start;
    for (const auto& s : runtime_.listContainerStats()) {
      const auto& attrs = s.attributes();
      const auto& l = attrs.labels();
      if (label(l, labels::kPodUid).empty()) continue;
      const std::string labels = "{container=\"" + label(l, labels::kContainerName) +
                                 "\",namespace=\"" + label(l, labels::kPodNamespace) + "\",pod=\"" +
                                 label(l, labels::kPodName) + "\"}";
      if (s.has_cpu() && s.cpu().has_usage_core_nano_seconds())
        cpu += sample("container_cpu_usage_seconds_total", labels,
                      static_cast<double>(s.cpu().usage_core_nano_seconds().value()) / 1e9,
                      s.cpu().timestamp() > 0 ? s.cpu().timestamp() / 1000000 : nowMs);
      if (s.has_memory() && s.memory().has_working_set_bytes())
        memory += sample("container_memory_working_set_bytes", labels,
                         static_cast<double>(s.memory().working_set_bytes().value()),
                         s.memory().timestamp() > 0 ? s.memory().timestamp() / 1000000 : nowMs);
      if (auto it = created.find(attrs.id()); it != created.end() && it->second > 0)
        start += sample("container_start_time_seconds", labels,
                        static_cast<double>(it->second) / 1e9, it->second / 1000000);
    }
    out += "# TYPE container_cpu_usage_seconds_total counter\n" + cpu;
    out += "# TYPE container_memory_working_set_bytes gauge\n" + memory;
    out += "# TYPE container_start_time_seconds gauge\n" + start;
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("kubelet /metrics/resource: container stats failed error=\"{}\"", e.what());
  }
  out += "# TYPE scrape_error gauge\nscrape_error 0\n";
  return out;
}

}  // namespace skiff::kubelet
