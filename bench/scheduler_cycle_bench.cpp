// The scheduler's own per-pod cost, without the API server: NODES hollow-shaped nodes in a
// SchedulerCache, then PODS scheduler_perf-shaped pods each taken through one cycle as
// Scheduler::scheduleOne does it (snapshot, schedulePod, assume). Prints wall time per cycle;
// under callgrind (`valgrind --tool=callgrind build/scheduler_cycle_bench 5000 2000`) the
// instruction count divided by PODS is a deterministic per-cycle cost for A/B comparisons.
// COLD=1 in the environment overwrites 16 MB between cycles (not timed), as the API server's
// threads do to the CPU caches in `skiff server`, so node data is loaded from memory.
// Usage: scheduler_cycle_bench [NODES] [PODS] [PARALLELISM]
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "scheduler/framework.h"
#include "scheduler/scheduler_algorithm.h"
#include "scheduler/scheduler_cache.h"

namespace json = boost::json;
using namespace skiff::scheduler;

namespace {

// The node the hollow agent registers (labels, capacity) after its first status post.
json::value hollowNode(const std::string& name) {
  json::object resources{
      {"cpu", "4"}, {"memory", "16Gi"}, {"ephemeral-storage", "100Gi"}, {"pods", "110"}};
  return json::object{{"metadata",
                       {{"name", name},
                        {"labels",
                         {{"kubernetes.io/hostname", name},
                          {"kubernetes.io/os", "linux"},
                          {"kubernetes.io/arch", "amd64"},
                          {"beta.kubernetes.io/os", "linux"},
                          {"beta.kubernetes.io/arch", "amd64"},
                          {"node.kubernetes.io/instance-type", "hollow"},
                          {"skiff.io/hollow-node", "true"}}}}},
                      {"spec", json::object{}},
                      {"status", {{"capacity", resources}, {"allocatable", resources}}}};
}

// scheduler_perf's pod-default, as the API server stores it (default tolerations included).
json::value perfPod(const std::string& name) {
  json::array tolerations;
  for (const char* key : {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"})
    tolerations.push_back({{"key", key},
                           {"operator", "Exists"},
                           {"effect", "NoExecute"},
                           {"tolerationSeconds", 300}});
  return json::object{
      {"metadata", {{"name", name}, {"namespace", "sched-perf"}, {"uid", "uid-" + name}}},
      {"spec",
       {{"schedulerName", "default-scheduler"},
        {"priority", 0},
        {"tolerations", std::move(tolerations)},
        {"containers",
         json::array{{{"name", "pause"},
                      {"image", "registry.k8s.io/pause:3.10"},
                      {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "500Mi"}}}}}}}}}}};
}

}  // namespace

int main(int argc, char** argv) {
  const int nodes = argc > 1 ? std::atoi(argv[1]) : 5000;
  const int pods = argc > 2 ? std::atoi(argv[2]) : 2000;
  ScheduleOptions options;
  if (argc > 3) options.parallelism = static_cast<unsigned>(std::atoi(argv[3]));

  SchedulerCache cache;
  for (int i = 0; i < nodes; ++i)
    cache.addOrUpdateNode(NodeInfo::fromJson(hollowNode("perf-" + std::to_string(i))));
  SchedulingAlgorithm algorithm(defaultProfile(), options);

  const bool cold = std::getenv("COLD") != nullptr;
  std::vector<char> evict(cold ? 16 << 20 : 0);
  int scheduled = 0;
  std::chrono::steady_clock::duration busy{};
  for (int i = 0; i < pods; ++i) {
    auto pod = std::make_shared<PodInfo>(PodInfo::fromJson(perfPod("pod-" + std::to_string(i))));
    for (size_t b = 0; b < evict.size(); b += 64) evict[b] = static_cast<char>(i + b);
    auto start = std::chrono::steady_clock::now();
    auto snapshot = cache.snapshot();
    ScheduleResult result = algorithm.schedulePod(*pod, *snapshot);
    if (!result.ok()) continue;
    pod->nodeName = result.suggestedHost;
    if (cache.assumePod(pod)) ++scheduled;
    busy += std::chrono::steady_clock::now() - start;
  }
  double seconds = std::chrono::duration<double>(busy).count();
  std::printf("nodes %d, pods %d, scheduled %d%s: %.1f us per cycle (%.0f pods/s)\n", nodes, pods,
              scheduled, cold ? " (cold caches)" : "", seconds * 1e6 / pods, pods / seconds);
  return scheduled == pods ? 0 : 1;
}
