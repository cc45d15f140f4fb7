// The kubelet's Prometheus endpoints (upstream's names):
//
//   GET /metrics           kubelet_node_name{node}, kubelet_running_pods,
//                          kubelet_running_containers{container_state},
//                          kubelet_pod_start_duration_seconds,
//                          kubelet_pleg_relist_duration_seconds, process_* — this kubelet's own
//                          registry (in `skiff up` the control plane's metrics stay on the API
//                          server's /metrics).
//   GET /metrics/cadvisor  cAdvisor's container_cpu_usage_seconds_total,
//                          container_memory_working_set_bytes, container_memory_usage_bytes,
//                          container_memory_rss{container,id,image,name,namespace,pod} from the
//                          runtime's cgroup statistics (CRI ListContainerStats, the same source as
//                          /stats/summary), plus the machine as id="/" from /proc.
//   GET /metrics/resource  upstream's resource metrics (node/pod/container CPU seconds and
//                          working set, container start times, resource_scrape_error) with
//                          millisecond timestamps, from the same collection as /stats/summary
//                          (the cgroups; common/resource_stats.h renders them). This is what
//                          metrics-server ≥ 0.6 and the API server's metrics.k8s.io scrape.
// All three are authorized as nodes/metrics (kubelet_auth.cpp).
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "api/json_access.h"
#include "common/api_error.h"
#include "common/log.h"
#include "kubelet/kubelet.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace skiff::kubelet {

namespace {

constexpr const char* kTextFormat = "text/plain; version=0.0.4; charset=utf-8";

const std::vector<double>& podStartBuckets() {
  static const std::vector<double> b = {0.5, 1,   2,   3,    4,    5,    6,   8,   10,
                                        20,  30,  45,  60,   120,  180,  240, 300, 360,
                                        480, 600, 900, 1200, 1800, 2700, 3600};
  return b;
}

const std::vector<double>& relistBuckets() {
  static const std::vector<double> b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return b;
}

const char* stateLabel(ContainerRunState s) {
  switch (s) {
    case ContainerRunState::Created:
      return "created";
    case ContainerRunState::Running:
      return "running";
    case ContainerRunState::Exited:
      return "exited";
    default:
      return "unknown";
  }
}

std::string mapValue(const google::protobuf::Map<std::string, std::string>& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

// The container's cgroup as cAdvisor names it (its `id`): containerd puts a container without
// a cgroup parent at /<namespace>/<id>; when that is not where it is, the bare ID.
std::string cgroupId(const std::string& containerId) {
  std::string path = "/k8s.io/" + containerId;
  std::error_code ec;
  if (fs::exists("/sys/fs/cgroup" + path, ec) || fs::exists("/sys/fs/cgroup/memory" + path, ec))
    return path;
  return containerId;
}

// Busy CPU seconds of the whole machine (first line of /proc/stat).
double machineCpuSeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  if (tick <= 0) tick = 100;
  return (user + nice + system + irq + softirq + steal) / tick;
}

std::map<std::string, double> meminfoBytes() {
  std::map<std::string, double> out;
  std::ifstream in("/proc/meminfo");
  for (std::string key; in >> key;) {
    double kb = 0;
    std::string rest;
    in >> kb;
    std::getline(in, rest);
    if (!key.empty() && key.back() == ':') key.pop_back();
    out[key] = kb * 1024;
  }
  return out;
}

}  // namespace

void Kubelet::addMetricsRoutes() {
  metrics_.describe("kubelet_node_name", "gauge",
                    "The node this kubelet runs, as the label node; always 1.");
  metrics_.describe("kubelet_running_pods", "gauge",
                    "Pods whose newest sandbox is ready (running).");
  metrics_.describe("kubelet_running_containers", "gauge",
                    "Containers the runtime holds for this kubelet's pods, by container_state.");
  metrics_.describe("kubelet_pod_start_duration_seconds", "histogram",
                    "Seconds from the kubelet first seeing a pod to its first Running status.");
  metrics_.describe("kubelet_pleg_relist_duration_seconds", "histogram",
                    "Seconds one relist of the runtime's pods and containers took.");
  metrics_.setGauge("kubelet_node_name", {{"node", options_.nodeName}}, 1);
  metrics_.setGauge("kubelet_running_pods", 0);
  for (auto s : {ContainerRunState::Created, ContainerRunState::Running, ContainerRunState::Exited,
                 ContainerRunState::Unknown})
    metrics_.setGauge("kubelet_running_containers", {{"container_state", stateLabel(s)}}, 0);

  auto textAnswer = [](net::HttpRequest& req, std::string body) {
    net::HttpResponse res;
    if (req.method != "GET" && req.method != "HEAD") {
      res.status = 405;
      res.contentType = "text/plain; charset=utf-8";
      res.body = "method not allowed\n";
      return res;
    }
    res.contentType = kTextFormat;
    res.body = std::move(body);
    return res;
  };
  // The longer prefixes first: routes match a path and everything below it.
  server_->addRoute("/metrics/resource", [this, textAnswer](net::HttpRequest& req) {
    if (req.path != "/metrics/resource" && req.path != "/metrics/resource/")
      throw ApiError(404, "NotFound", "404 page not found");
    return textAnswer(req, renderResourceMetrics(collectResourceStats()));
  });
  server_->addRoute("/metrics/cadvisor", [this, textAnswer](net::HttpRequest& req) {
    return textAnswer(req, cadvisorMetrics());
  });
  server_->addRoute("/metrics", [this, textAnswer](net::HttpRequest& req) {
    if (req.path != "/metrics" && req.path != "/metrics/")
      throw ApiError(404, "NotFound", "404 page not found");
    return textAnswer(req, metrics_.render());
  });
}

void Kubelet::noteRelist(const std::map<std::string, RuntimePod>& pods, double seconds) {
  metrics_.observe("kubelet_pleg_relist_duration_seconds", {}, seconds, relistBuckets());
  double runningPods = 0;
  std::map<ContainerRunState, double> byState = {{ContainerRunState::Created, 0},
                                                 {ContainerRunState::Running, 0},
                                                 {ContainerRunState::Exited, 0},
                                                 {ContainerRunState::Unknown, 0}};
  for (const auto& [uid, rt] : pods) {
    if (auto* sb = rt.latestSandbox(); sb && sb->ready) ++runningPods;
    for (const auto& c : rt.containers) byState[c.state] += 1;
  }
  metrics_.setGauge("kubelet_running_pods", runningPods);
  for (const auto& [state, n] : byState)
    metrics_.setGauge("kubelet_running_containers", {{"container_state", stateLabel(state)}}, n);
}

void Kubelet::notePodStatus(PodRecord& rec, const json::object& status) {
  if (rec.startObserved || api::stringAt(status, {"phase"}) != "Running") return;
  rec.startObserved = true;
  metrics_.observe(
      "kubelet_pod_start_duration_seconds", {},
      std::chrono::duration<double>(std::chrono::steady_clock::now() - rec.firstSeen).count(),
      podStartBuckets());
}

std::string Kubelet::cadvisorMetrics() {
  Metrics m;
  m.describe("container_cpu_usage_seconds_total", "counter",
             "CPU time the container used, in seconds.");
  m.describe("container_memory_working_set_bytes", "gauge",
             "The container's working set: memory in use minus inactive file cache, in bytes.");
  m.describe("container_memory_usage_bytes", "gauge",
             "The container's memory usage including cache, in bytes.");
  m.describe("container_memory_rss", "gauge",
             "The container's anonymous and swap cache memory, in bytes.");
  auto labelsOf = [](const std::string& container, const std::string& id, const std::string& image,
                     const std::string& name, const std::string& ns,
                     const std::string& pod) -> MetricLabels {
    return {{"container", container}, {"id", id},        {"image", image},
            {"name", name},           {"namespace", ns}, {"pod", pod}};
  };
  // The machine, as cAdvisor's root cgroup.
  auto mem = meminfoBytes();
  MetricLabels root = labelsOf("", "/", "", "", "", "");
  m.increment("container_cpu_usage_seconds_total", root, machineCpuSeconds());
  m.setGauge("container_memory_working_set_bytes", root, mem["MemTotal"] - mem["MemAvailable"]);
  m.setGauge("container_memory_usage_bytes", root, mem["MemTotal"] - mem["MemFree"]);
  try {
    std::map<std::string, std::string>
        images;  // container ID → image as the runtime has it (an ID)
    for (const auto& c : runtime_.listContainers()) images[c.id()] = c.image().image();
    // cAdvisor's image label is the name the container was started from: the pod spec's.
    auto specImage = [this](const std::string& ns, const std::string& pod,
                            const std::string& container) {
      auto obj = podInformer_.get(ns + "/" + pod);
      if (!obj) return std::string();
      for (const char* field : {"containers", "initContainers"})
        if (auto* list = api::arrayAt(*obj, {"spec", field}))
          for (const auto& c : *list)
            if (c.is_object() && api::stringAt(c.as_object(), {"name"}) == container)
              return api::stringAt(c.as_object(), {"image"});
      return std::string();
    };
    for (const auto& s : runtime_.listContainerStats()) {
      const auto& attrs = s.attributes();
      const auto& l = attrs.labels();
      if (mapValue(l, labels::kPodUid).empty()) continue;  // not one of the kubelet's containers
      const std::string ns = mapValue(l, labels::kPodNamespace),
                        pod = mapValue(l, labels::kPodName);
      const std::string container = mapValue(l, labels::kContainerName);
      std::string image = specImage(ns, pod, container);
      if (image.empty()) image = images[attrs.id()];
      MetricLabels labels = labelsOf(container, cgroupId(attrs.id()), image, attrs.id(), ns, pod);
      if (s.has_cpu() && s.cpu().has_usage_core_nano_seconds())
        m.increment("container_cpu_usage_seconds_total", labels,
                    static_cast<double>(s.cpu().usage_core_nano_seconds().value()) / 1e9);
      if (s.has_memory()) {
        const auto& mu = s.memory();
        if (mu.has_working_set_bytes())
          m.setGauge("container_memory_working_set_bytes", labels,
                     static_cast<double>(mu.working_set_bytes().value()));
        if (mu.has_usage_bytes())
          m.setGauge("container_memory_usage_bytes", labels,
                     static_cast<double>(mu.usage_bytes().value()));
        if (mu.has_rss_bytes())
          m.setGauge("container_memory_rss", labels, static_cast<double>(mu.rss_bytes().value()));
      }
    }
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("kubelet metrics: container stats failed error=\"{}\"", e.what());
  }
  return m.render();
}

}  // namespace skiff::kubelet
