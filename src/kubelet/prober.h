// Container probes, as upstream's prober: liveness, readiness and startup probes of the exec,
// httpGet and tcpSocket kinds, with initialDelaySeconds, periodSeconds, timeoutSeconds,
// successThreshold and failureThreshold.
//
// One scheduler thread keeps every probe on a timer heap and hands due probes to a small pool
// of workers (a probe may block up to its timeout), so a node with many probed containers
// costs a few threads, not one per probe. When a result flips (ready ↔ not ready, startup
// done, liveness/startup failed) the pod's key is reported so its worker re-syncs it.
#pragma once
#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "kubelet/cri/runtime_service.h"

namespace skiff::kubelet {

enum class ProbeKind { Liveness, Readiness, Startup };

struct ProbeOutcome {
  bool success = false;
  std::string message;  // why it failed ("HTTP probe failed with statuscode: 500", ...)
};

// Runs one probe of a container once. `podIp` is where httpGet/tcpSocket connect when the
// probe names no host. Exec probes go through CRI ExecSync.
ProbeOutcome runProbe(const boost::json::object& probe, const boost::json::object& container,
                      const std::string& podIp, const std::string& containerId,
                      cri::RuntimeService& runtime);

class ProbeManager {
 public:
  using OnChange = std::function<void(const std::string& podKey)>;
  using OnEvent = std::function<void(const std::string& podKey, const std::string& container,
                                     const std::string& message)>;
  ProbeManager(cri::RuntimeService& runtime, OnChange onChange, OnEvent onUnhealthy,
               int workers = 3);
  ~ProbeManager();
  void start();
  void stop();

  // Starts the container's probes once (later calls for the same container id do nothing).
  void ensure(const std::string& podKey, const boost::json::object& container,
              const std::string& containerId, const std::string& podIp);
  // Forgets every container id not in `live` (exited, removed).
  void retainOnly(const std::vector<std::string>& live);

  // Readiness: true without a readiness probe once started; else the last result after
  // successThreshold successes. Started: the startup probe succeeded (or there is none).
  bool ready(const std::string& containerId) const;
  bool started(const std::string& containerId) const;
  // The liveness or startup probe failed failureThreshold times: the container must be
  // restarted. Returns the reason once, then clears it.
  std::optional<std::string> takeRestartReason(const std::string& containerId);

 private:
  struct ProbeState {
    std::string podKey, containerId, containerName, podIp;
    ProbeKind kind;
    boost::json::object probe, container;
    int successes = 0, failures = 0;
    bool result = false;  // current pass/fail after thresholds
    bool running = false;
  };
  struct ContainerProbes {
    bool hasReadiness = false, hasStartup = false;
    bool ready = false, started = false;
    std::optional<std::string> restartReason;
  };
  struct Due {
    std::chrono::steady_clock::time_point at;
    size_t id;
    bool operator>(const Due& o) const { return at > o.at; }
  };
  void schedulerLoop();
  void workerLoop();
  bool record(size_t id, const ProbeOutcome& outcome, std::string& unhealthy);
  void schedule(size_t id, std::chrono::milliseconds after);

  cri::RuntimeService& runtime_;
  OnChange onChange_;
  OnEvent onUnhealthy_;
  int workerCount_;
  mutable std::mutex mu_;
  std::condition_variable cv_, workCv_;
  std::map<size_t, ProbeState> probes_;
  std::map<std::string, ContainerProbes> containers_;  // by container id
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> timers_;
  std::deque<size_t> work_;
  size_t nextId_ = 1;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace skiff::kubelet
