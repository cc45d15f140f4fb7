#include "common/resource_stats.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>

#include "common/metrics.h"

namespace json = boost::json;

namespace skiff {
namespace {

// A sample value as Prometheus' Go client writes it (strconv 'g', shortest): exponent form
// when the decimal exponent is below -4 or at least 6 ("6.7108864e+07"), plain otherwise
// ("254.050927655").
std::string goFloat(double v) {
  if (std::isnan(v) || std::isinf(v)) return Metrics::formatValue(v);
  char buf[64];
  auto sci = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string s(buf, sci.ptr);
  auto e = s.find('e');
  int exp = e == std::string::npos ? 0 : std::atoi(s.c_str() + e + 1);
  if (v != 0 && (exp < -4 || exp >= 6)) return s;
  auto fixed = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, fixed.ptr);
}

// One family's HELP and TYPE lines; the stability prefix is part of upstream's HELP text.
void family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const char* name, const std::string& labels, double value,
            int64_t timeMs) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += goFloat(value);
  if (timeMs > 0) {
    out += ' ';
    out += std::to_string(timeMs);
  }
  out += '\n';
}

std::string label(const char* name, const std::string& value) {
  return std::string(name) + "=\"" + Metrics::escapeLabelValue(value) + "\"";
}

double seconds(uint64_t nanos) { return static_cast<double>(nanos) / 1e9; }

json::object cpuJson(const ResourceUsage& u) {
  json::object cpu{{"time", formatUnixMillis(u.timeMs)}};
  if (u.cpuNanoCores) cpu["usageNanoCores"] = *u.cpuNanoCores;
  if (u.cpuCoreNanos) cpu["usageCoreNanoSeconds"] = *u.cpuCoreNanos;
  return cpu;
}

json::object memoryJson(const ResourceUsage& u) {
  json::object m{{"time", formatUnixMillis(u.timeMs)}};
  auto put = [&m](const char* key, const std::optional<uint64_t>& v) {
    if (v) m[key] = *v;
  };
  put("availableBytes", u.availableBytes);
  put("usageBytes", u.usageBytes);
  put("workingSetBytes", u.workingSetBytes);
  put("rssBytes", u.rssBytes);
  put("pageFaults", u.pageFaults);
  put("majorPageFaults", u.majorPageFaults);
  return m;
}

}  // namespace

std::string formatUnixMillis(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string renderResourceMetrics(const NodeResourceStats& stats) {
  // Series in the order Prometheus' registry writes them: families by name, series by label
  // values (container, namespace, pod for containers; namespace, pod for pods).
  struct ContainerRef {
    const PodResourceStats* pod;
    const ContainerResourceStats* c;
  };
  std::vector<ContainerRef> containers;
  std::vector<const PodResourceStats*> pods;
  for (const auto& p : stats.pods) {
    pods.push_back(&p);
    for (const auto& c : p.containers) containers.push_back({&p, &c});
  }
  std::sort(containers.begin(), containers.end(), [](const auto& a, const auto& b) {
    return std::tie(a.c->name, a.pod->ns, a.pod->name) <
           std::tie(b.c->name, b.pod->ns, b.pod->name);
  });
  std::sort(pods.begin(), pods.end(), [](const auto* a, const auto* b) {
    return std::tie(a->ns, a->name) < std::tie(b->ns, b->name);
  });
  auto containerLabels = [](const ContainerRef& r) {
    return label("container", r.c->name) + "," + label("namespace", r.pod->ns) + "," +
           label("pod", r.pod->name);
  };
  auto podLabels = [](const PodResourceStats& p) {
    return label("namespace", p.ns) + "," + label("pod", p.name);
  };

  std::string out;
  out.reserve(256 + containers.size() * 400 + pods.size() * 200);
  // Upstream reports a container (and a pod) only with both its CPU and memory numbers.
  auto complete = [](const ResourceUsage& u) { return u.cpuCoreNanos && u.workingSetBytes; };
  family(out, "container_cpu_usage_seconds_total", "counter",
         "[STABLE] Cumulative cpu time consumed by the container in core-seconds");
  for (const auto& r : containers)
    if (complete(r.c->usage))
      sample(out, "container_cpu_usage_seconds_total", containerLabels(r),
             seconds(*r.c->usage.cpuCoreNanos), r.c->usage.timeMs);
  family(out, "container_memory_working_set_bytes", "gauge",
         "[STABLE] Current working set of the container in bytes");
  for (const auto& r : containers)
    if (complete(r.c->usage))
      sample(out, "container_memory_working_set_bytes", containerLabels(r),
             static_cast<double>(*r.c->usage.workingSetBytes), r.c->usage.timeMs);
  family(out, "container_start_time_seconds", "gauge",
         "[STABLE] Start time of the container since unix epoch in seconds");
  for (const auto& r : containers)
    if (complete(r.c->usage) && r.c->startTimeMs > 0)
      sample(out, "container_start_time_seconds", containerLabels(r),
             static_cast<double>(r.c->startTimeMs) / 1000.0, r.c->startTimeMs);
  family(out, "node_cpu_usage_seconds_total", "counter",
         "[STABLE] Cumulative cpu time consumed by the node in core-seconds");
  if (stats.usage.cpuCoreNanos)
    sample(out, "node_cpu_usage_seconds_total", "", seconds(*stats.usage.cpuCoreNanos),
           stats.usage.timeMs);
  family(out, "node_memory_working_set_bytes", "gauge",
         "[STABLE] Current working set of the node in bytes");
  if (stats.usage.workingSetBytes)
    sample(out, "node_memory_working_set_bytes", "",
           static_cast<double>(*stats.usage.workingSetBytes), stats.usage.timeMs);
  family(out, "pod_cpu_usage_seconds_total", "counter",
         "[STABLE] Cumulative cpu time consumed by the pod in core-seconds");
  for (const auto* p : pods)
    if (complete(p->usage))
      sample(out, "pod_cpu_usage_seconds_total", podLabels(*p), seconds(*p->usage.cpuCoreNanos),
             p->usage.timeMs);
  family(out, "pod_memory_working_set_bytes", "gauge",
         "[STABLE] Current working set of the pod in bytes");
  for (const auto* p : pods)
    if (complete(p->usage))
      sample(out, "pod_memory_working_set_bytes", podLabels(*p),
             static_cast<double>(*p->usage.workingSetBytes), p->usage.timeMs);
  family(out, "resource_scrape_error", "gauge",
         "[STABLE] 1 if there was an error while getting container metrics, 0 otherwise");
  sample(out, "resource_scrape_error", "", stats.scrapeError ? 1 : 0, 0);
  // Renamed in 1.29; still written for scrapers that read the old name.
  family(out, "scrape_error", "gauge",
         "[ALPHA] (Deprecated since 1.29.0) 1 if there was an error while getting container "
         "metrics, 0 otherwise");
  sample(out, "scrape_error", "", stats.scrapeError ? 1 : 0, 0);
  return out;
}

json::object renderStatsSummary(const NodeResourceStats& stats) {
  json::object node{{"nodeName", stats.nodeName},
                    {"startTime", formatUnixMillis(stats.startTimeMs)},
                    {"cpu", cpuJson(stats.usage)},
                    {"memory", memoryJson(stats.usage)}};
  json::array pods;
  for (const auto& p : stats.pods) {
    json::array containers;
    for (const auto& c : p.containers)
      containers.push_back(json::object{
          {"name", c.name},
          {"startTime", formatUnixMillis(c.startTimeMs > 0 ? c.startTimeMs : p.startTimeMs)},
          {"cpu", cpuJson(c.usage)},
          {"memory", memoryJson(c.usage)}});
    pods.push_back(json::object{
        {"podRef", json::object{{"name", p.name}, {"namespace", p.ns}, {"uid", p.uid}}},
        {"startTime", formatUnixMillis(p.startTimeMs)},
        {"containers", std::move(containers)},
        {"cpu", cpuJson(p.usage)},
        {"memory", memoryJson(p.usage)}});
  }
  return json::object{{"node", std::move(node)}, {"pods", std::move(pods)}};
}

}  // namespace skiff
