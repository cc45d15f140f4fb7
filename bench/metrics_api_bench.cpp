// The metrics API at scale, in one process (not a test: it prints numbers):
//
//   metrics_api_bench [--nodes 1000] [--pods-per-node 30]
//
// A fake kubelet serves /metrics/resource over HTTPS for every node, each node at its own
// loopback address (127.0.x.y: one kept-alive connection per node, as with real nodes). The
// API server side is the real one: ResourceStore + watch cache with the Nodes and Running
// Pods, MetricsApi's scraper (KubeletProxy::getWhole, the parser, the store). Reported:
//   - scrape pass: wall time for all nodes, CPU of the process per node (the fake kubelet's
//     answers included: an upper bound), bytes read per node, store bytes per node;
//   - serving: GET .../pods (all namespaces, what `kubectl top pod -A` asks) and .../nodes
//     (`kubectl top node`), JSON built in-process without HTTP.
#include <sys/resource.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "apiserver/admission.h"
#include "apiserver/kubelet_proxy.h"
#include "apiserver/metrics_api.h"
#include "apiserver/resource_store.h"
#include "common/log.h"
#include "common/pki.h"
#include "net/http_server.h"
#include "storage/store.h"

using namespace skiff;
using namespace skiff::apiserver;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string nodeIp(int i) {
  return "127.0." + std::to_string(1 + i / 250) + "." + std::to_string(1 + i % 250);
}

std::string podName(int node, int k) {
  return "app-" + std::to_string(k % 7) + "-7d9f8c6b5d-n" + std::to_string(node) + "x" +
         std::to_string(k);
}

std::string podNamespace(int k) { return "team-" + std::to_string(k % 10); }

}  // namespace

int main(int argc, char** argv) {
  int nodes = 1000, podsPerNode = 30;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--nodes")) nodes = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--pods-per-node")) podsPerNode = std::atoi(argv[i + 1]);
  }
  spdlog::set_level(spdlog::level::warn);
  auto dir =
      std::filesystem::temp_directory_path() / ("skiff-metrics-bench-" + std::to_string(getpid()));
  ServerPki pki = ensureServerPki(dir.string(), {"127.0.0.1"}, {"localhost"});

  // The fake kubelets: one HTTPS server on 0.0.0.0, told apart by the Host header.
  const int64_t t0 = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  net::HttpServerOptions ho;
  ho.listen = "0.0.0.0:0";
  ho.threads = 2;
  ho.tlsCertFile = pki.serverCert;
  ho.tlsKeyFile = pki.serverKey;
  std::atomic<int> scrapes{0};
  net::HttpServer kubelet(ho, [&](net::HttpRequest& req) {
    ++scrapes;
    std::string host = req.header("host");
    host = host.substr(0, host.rfind(':'));
    int a = 0, b = 0;
    std::sscanf(host.c_str(), "127.0.%d.%d", &a, &b);
    const int node = (a - 1) * 250 + (b - 1);
    const int64_t ts = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    const double t = static_cast<double>(ts - t0) / 1000 + 100;
    std::string out;
    out.reserve(static_cast<size_t>(podsPerNode) * 600);
    const std::string tsText = " " + std::to_string(ts) + "\n";
    out += "node_cpu_usage_seconds_total " + std::to_string(2.0 * t) + tsText;
    out += "node_memory_working_set_bytes 4.294967296e+09" + tsText;
    for (int k = 0; k < podsPerNode; ++k) {
      const std::string labels = "{container=\"app\",namespace=\"" + podNamespace(k) + "\",pod=\"" +
                                 podName(node, k) + "\"}";
      out += "container_cpu_usage_seconds_total" + labels + " " + std::to_string(0.05 * t) + tsText;
      out += "container_memory_working_set_bytes" + labels + " 3.3554432e+07" + tsText;
      out += "container_start_time_seconds" + labels + " 1.7e+09" + tsText;
    }
    net::HttpResponse res;
    res.contentType = "text/plain; version=0.0.4";
    res.body = std::move(out);
    return res;
  });
  kubelet.start();

  // The API server's side.
  const auto& registry = api::ResourceRegistry::builtin();
  auto store = storage::openMemoryStore();
  CacheHub caches(*store);
  for (const auto& r : registry.all()) caches.cacheFor(r.storagePrefix());
  caches.start();
  Admission admission(caches);
  ResourceStore resources(*store, caches, admission);
  RequestContext ctx;
  const auto& nsInfo = *registry.find("", "v1", "namespaces");
  const auto& nodeInfo = *registry.find("", "v1", "nodes");
  const auto& podInfo = *registry.find("", "v1", "pods");
  for (int k = 0; k < 10; ++k)
    resources.create(nsInfo, "", json::object{{"metadata", {{"name", podNamespace(k)}}}}, ctx);
  auto created = Clock::now();
  for (int i = 0; i < nodes; ++i) {
    json::object node{
        {"metadata", {{"name", "node-" + std::to_string(i)}}},
        {"status",
         {{"addresses", json::array{json::object{{"type", "InternalIP"}, {"address", nodeIp(i)}}}},
          {"daemonEndpoints",
           {{"kubeletEndpoint", {{"Port", static_cast<int64_t>(kubelet.port())}}}}}}}};
    resources.create(nodeInfo, "", std::move(node), ctx);
    for (int k = 0; k < podsPerNode; ++k) {
      json::object pod{
          {"metadata", {{"name", podName(i, k)}, {"labels", {{"app", "x"}}}}},
          {"spec",
           {{"nodeName", "node-" + std::to_string(i)},
            {"containers", json::array{json::object{{"name", "app"}, {"image", "x"}}}}}}};
      auto obj = resources.create(podInfo, podNamespace(k), std::move(pod), ctx);
      json::object running = *obj;
      running["status"] = json::object{{"phase", "Running"}};
      resources.update(podInfo, podNamespace(k), podName(i, k), "status", std::move(running), ctx);
    }
  }
  caches.syncWithStore();
  std::printf("setup: %d nodes, %d pods in %.1f s\n", nodes, nodes * podsPerNode,
              std::chrono::duration<double>(Clock::now() - created).count());

  KubeletClientOptions ko;
  ko.allowLoopback = true;
  KubeletProxy kubelets(ko);
  MetricsApiOptions mo;
  mo.resolution = std::chrono::seconds(15);
  MetricsApi api(resources, kubelets, mo);

  for (int pass = 1; pass <= 3; ++pass) {
    if (pass > 1) std::this_thread::sleep_for(std::chrono::seconds(1));
    double cpu0 = cpuSeconds();
    ScrapeStats s = api.scrapeOnce();
    double cpu = cpuSeconds() - cpu0;
    std::printf(
        "scrape pass %d: %zu/%zu nodes in %.0f ms; per node: %.0f us CPU (fake kubelets "
        "included), %zu bytes read, %zu store bytes; connections kept %zu\n",
        pass, s.succeeded, s.nodes, static_cast<double>(s.took.count()) / 1e3, cpu * 1e6 / nodes,
        s.bytesRead / static_cast<size_t>(nodes), s.storeBytes / static_cast<size_t>(nodes),
        kubelets.keptConnections());
  }

  for (const char* path :
       {"/apis/metrics.k8s.io/v1beta1/pods", "/apis/metrics.k8s.io/v1beta1/nodes"}) {
    std::vector<double> ms, cpuMs;
    size_t bytes = 0, items = 0;
    for (int i = 0; i < 5; ++i) {
      HttpRequest req;
      req.method = "GET";
      req.path = path;
      req.target = path;
      auto start = Clock::now();
      double cpu0 = cpuSeconds();
      HttpResponse res = api.handle(req);
      cpuMs.push_back((cpuSeconds() - cpu0) * 1e3);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      bytes = res.body.size();
      items = json::parse(res.body).at("items").as_array().size();
    }
    std::sort(ms.begin(), ms.end());
    std::sort(cpuMs.begin(), cpuMs.end());
    std::printf("GET %s: %zu items, %zu bytes, median %.0f ms (min %.0f), CPU median %.0f ms\n",
                path, items, bytes, ms[ms.size() / 2], ms.front(), cpuMs[cpuMs.size() / 2]);
  }
  kubelet.stop();
  std::filesystem::remove_all(dir);
  return 0;
}
