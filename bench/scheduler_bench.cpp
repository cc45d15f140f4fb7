// Scheduler throughput benchmark, shaped like upstream scheduler_perf's SchedulingBasic:
// nodes already registered (hollow nodes), `--initial` pods scheduled first, then `--pods`
// pods created as fast as the API server takes them while a watch records when each one
// gets spec.nodeName. Prints end-to-end pods/s (first create → last bound), per-pod
// create→bound latency percentiles, and the scheduler's own attempt-latency percentiles
// from its /metrics histogram. Not a test: it prints numbers.
//
//   scheduler_bench --kubeconfig DIR/kubeconfig --nodes 5000 --initial 1000 --pods 10000
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "client/kubeconfig.h"
#include "client/rest_client.h"
#include "client/watch.h"

namespace json = boost::json;
using namespace skiff::client;
using Clock = std::chrono::steady_clock;

namespace {

json::object pod(const std::string& ns, const std::string& name) {
  // scheduler_perf's pod-default: one container with small requests.
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"app", "sched-bench"}}}}},
      {"spec",
       {{"containers",
         json::array{json::object{
             {"name", "pause"},
             {"image", "registry.k8s.io/pause:3.10"},
             {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "500Mi"}}}}}}}}}}};
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1,
                      static_cast<size_t>(std::ceil(p / 100.0 * v.size())) - (p > 0 ? 1 : 0));
  return v[i];
}

// One histogram family read off /metrics: cumulative buckets, sum and count of the series
// whose labels contain `labelMatch` (empty: the unlabelled series).
struct Histogram {
  std::map<double, double> buckets;
  double sum = 0, count = 0;
};

Histogram readHistogram(RestClient& c, const std::string& name, const std::string& labelMatch) {
  Histogram out;
  std::string text = c.transport().request("GET", "/metrics").body;
  std::istringstream in(text);
  std::string line;
  auto matches = [&](const std::string& l) {
    return labelMatch.empty() || l.find(labelMatch) != std::string::npos;
  };
  auto value = [](const std::string& l) { return std::stod(l.substr(l.rfind(' ') + 1)); };
  while (std::getline(in, line)) {
    if (line.rfind(name + "_sum", 0) == 0 && matches(line)) out.sum = value(line);
    if (line.rfind(name + "_count", 0) == 0 && matches(line)) out.count = value(line);
    if (line.rfind(name + "_bucket{", 0) != 0 || !matches(line)) continue;
    auto le = line.find(",le=\"");  // not the "le=" inside profile=
    if (le == std::string::npos) le = line.find("{le=\"");
    if (le == std::string::npos) continue;
    auto end = line.find('"', le + 5);
    std::string bound = line.substr(le + 5, end - le - 5);
    double b = bound == "+Inf" ? INFINITY : std::stod(bound);
    out.buckets[b] = value(line);
  }
  return out;
}

// Percentile from the difference of two cumulative histograms (linear within a bucket).
double histogramPercentile(const Histogram& before, const Histogram& after, double p) {
  std::vector<std::pair<double, double>> cum;
  for (auto& [b, n] : after.buckets)
    cum.push_back({b, n - (before.buckets.count(b) ? before.buckets.at(b) : 0)});
  if (cum.empty() || cum.back().second <= 0) return 0;
  double target = cum.back().second * p / 100.0, lower = 0, prevCount = 0;
  for (auto& [b, n] : cum) {
    if (n >= target) {
      if (std::isinf(b)) return lower;
      double frac = n > prevCount ? (target - prevCount) / (n - prevCount) : 1;
      return lower + (b - lower) * frac;
    }
    lower = b;
    prevCount = n;
  }
  return lower;
}

void createAll(RestClient& c, const std::string& ns, const std::string& prefix, int count,
               int threads, std::unordered_map<std::string, Clock::time_point>* created,
               std::mutex* mu) {
  std::atomic<int> next{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      for (int i; (i = next++) < count;) {
        std::string name = prefix + std::to_string(i);
        if (created) {
          std::lock_guard lock(*mu);
          (*created)[name] = Clock::now();
        }
        for (int attempt = 0;; ++attempt) {
          try {
            c.create(skiff::client::resources::pods, ns, pod(ns, name));
            break;
          } catch (const std::exception& e) {
            if (attempt > 5) throw;
          }
        }
      }
    });
  for (auto& t : ts) t.join();
}

}  // namespace

int main(int argc, char** argv) {
  std::string kubeconfig;
  int nodes = 5000, initial = 1000, pods = 10000, threads = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--kubeconfig")
      kubeconfig = v;
    else if (a == "--nodes")
      nodes = std::stoi(v);
    else if (a == "--initial")
      initial = std::stoi(v);
    else if (a == "--pods")
      pods = std::stoi(v);
    else if (a == "--threads")
      threads = std::stoi(v);
  }
  RestClient c(loadKubeconfig(kubeconfig));
  const std::string ns = "sched-bench";

  // Wait for the nodes (the hollow agent registers them).
  for (int tries = 0;; ++tries) {
    auto list = c.listAll(skiff::client::resources::nodes, "");
    int64_t n = static_cast<int64_t>(list["items"].as_array().size());
    if (n >= nodes) break;
    if (tries > 600) {
      std::cerr << "only " << n << " nodes registered\n";
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  try {
    c.create(
        skiff::client::resources::namespaces, "",
        json::object{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  } catch (const std::exception&) {
  }

  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<std::string, Clock::time_point> created, bound;
  std::unordered_map<std::string, bool> initialSeen;
  size_t initialBound = 0;
  auto start = c.list(skiff::client::resources::pods, ns);
  WatcherOptions wo;
  wo.list.resourceVersion = start["metadata"].as_object()["resourceVersion"].as_string().c_str();
  wo.onEvent = [&](WatchEvent& e) {
    auto* spec = e.object->if_contains("spec");
    if (!spec || !spec->as_object().if_contains("nodeName")) return;
    std::string name = e.object->at("metadata").at("name").as_string().c_str();
    std::lock_guard lock(mu);
    if (name.rfind("initial-", 0) == 0) {
      if (!initialSeen[name]) ++initialBound, initialSeen[name] = true;
    } else if (!bound.count(name)) {
      bound[name] = Clock::now();
    }
    cv.notify_all();
  };
  Watcher watcher(c, skiff::client::resources::pods, ns, wo);

  createAll(c, ns, "initial-", initial, threads, nullptr, nullptr);
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::minutes(5),
                [&] { return initialBound >= static_cast<size_t>(initial); });
  }
  std::cout << "initial pods bound: " << initialBound << "/" << initial << "\n";

  const std::string attempt = "scheduler_scheduling_attempt_duration_seconds",
                    algorithm = "scheduler_scheduling_algorithm_duration_seconds";
  auto metricsBefore = readHistogram(c, attempt, "result=\"scheduled\"");
  auto algorithmBefore = readHistogram(c, algorithm, "");
  auto t0 = Clock::now();
  createAll(c, ns, "measured-", pods, threads, &created, &mu);
  auto createdAll = Clock::now();
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::minutes(10),
                [&] { return static_cast<int>(bound.size()) >= pods; });
  }
  auto metricsAfter = readHistogram(c, attempt, "result=\"scheduled\"");
  auto algorithmAfter = readHistogram(c, algorithm, "");
  std::vector<double> latencies;
  Clock::time_point last = t0;
  {
    std::lock_guard lock(mu);
    for (auto& [name, t] : bound) {
      last = std::max(last, t);
      if (created.count(name))
        latencies.push_back(std::chrono::duration<double, std::milli>(t - created[name]).count());
    }
  }
  watcher.stop();
  double seconds = std::chrono::duration<double>(last - t0).count();
  double createSeconds = std::chrono::duration<double>(createdAll - t0).count();
  std::printf("nodes %d, initial pods %d, measured pods %d (bound %zu)\n", nodes, initial, pods,
              latencies.size());
  std::printf("create: %.0f pods/s (%.2f s)\n", pods / createSeconds, createSeconds);
  std::printf("scheduling throughput (first create -> last bound): %.0f pods/s (%.2f s)\n",
              latencies.size() / seconds, seconds);
  std::printf("create->bound latency ms: p50 %.1f  p90 %.1f  p99 %.1f\n", percentile(latencies, 50),
              percentile(latencies, 90), percentile(latencies, 99));
  std::printf("scheduler attempt latency ms (histogram): p50 %.2f  p90 %.2f  p99 %.2f\n",
              1000 * histogramPercentile(metricsBefore, metricsAfter, 50),
              1000 * histogramPercentile(metricsBefore, metricsAfter, 90),
              1000 * histogramPercentile(metricsBefore, metricsAfter, 99));
  double cycles = algorithmAfter.count - algorithmBefore.count;
  std::printf(
      "scheduling algorithm ms (per cycle, serial part): mean %.3f over %.0f cycles; p99 %.2f\n",
      cycles > 0 ? 1000 * (algorithmAfter.sum - algorithmBefore.sum) / cycles : 0.0, cycles,
      1000 * histogramPercentile(algorithmBefore, algorithmAfter, 99));
  return static_cast<int>(latencies.size()) >= pods ? 0 : 1;
}
