// The running scheduler (`skiff scheduler`, and inside `skiff server`): informers on pods
// and nodes feed the scheduling queue and cache; one loop pops a pod, runs the algorithm on
// a snapshot, binds through pods/binding and records Scheduled / FailedScheduling events,
// like upstream's scheduleOne. Everything goes through the API server.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "client/event_recorder.h"
#include "client/informer.h"
#include "client/rest_client.h"
#include "common/metrics.h"
#include "scheduler/plugins/volume_binding.h"
#include "scheduler/scheduler_algorithm.h"
#include "scheduler/scheduler_cache.h"
#include "scheduler/scheduling_queue.h"

namespace skiff::scheduler {

struct SchedulerOptions {
  std::string schedulerName = "default-scheduler";
  // Binding runs off the scheduling loop (upstream's binding cycle goroutine), so the loop
  // does not wait for the API server's round trip; this many binds may be in flight. 16
  // cover a network round trip; `skiff server`, whose binds are calls in the process
  // (~50 us), uses 2: more threads there only add wake-ups.
  int bindWorkers = 16;
  // How long a pod's binding waits for its WaitForFirstConsumer claims to be provisioned
  // and bound (upstream's VolumeBinding bindTimeoutSeconds, 600 s).
  std::chrono::milliseconds volumeBindTimeout{600000};
};

class Scheduler {
 public:
  // `client` must outlive the scheduler. With `shared`, the pod and node informers come from
  // that factory (shared with the controller manager in `skiff server`), and its owner stops
  // it after stop(), before destroying the scheduler; without, the scheduler has its own.
  Scheduler(client::RestClient& client, SchedulerOptions options = {},
            client::SharedInformerFactory* shared = nullptr);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts informers, waits for their first sync, then the scheduling loop.
  void start();
  void stop();

 private:
  bool responsibleFor(const boost::json::object& pod) const;
  void onPodAdd(const boost::json::object& pod);
  void onPodUpdate(const boost::json::object& oldPod, const boost::json::object& newPod);
  void onPodDelete(const boost::json::object& pod);
  void onNode(const boost::json::object& node, ClusterEvent event);
  void loop();
  void housekeeping();
  void scheduleOne(QueuedPodInfo info);
  // The binding cycle: POST pods/binding, then confirm or forget the assumed pod.
  void bindingCycle(QueuedPodInfo info, std::string node, int64_t cycle,
                    std::chrono::steady_clock::time_point started);
  bool bind(const PodInfo& pod, const std::string& node);
  void binderLoop();
  void markUnschedulable(const PodInfo& pod, const std::string& message);
  VolumeListers volumeListers();

  client::RestClient& client_;
  SchedulerOptions options_;
  SchedulingQueue queue_;
  SchedulerCache cache_;
  SchedulingAlgorithm algorithm_;
  client::EventRecorder recorder_;
  std::unique_ptr<client::SharedInformerFactory> ownInformers_;
  client::SharedInformerFactory& informers_;
  client::SharedInformer& pods_;
  client::SharedInformer& nodes_;
  client::SharedInformer& claims_;
  client::SharedInformer& volumes_;
  client::SharedInformer& storageClasses_;
  std::unique_ptr<VolumeBinder> volumeBinder_;
  std::atomic<bool> stopping_{false};
  std::thread loopThread_, housekeepingThread_;
  std::mutex bindMu_;
  std::condition_variable bindCv_;
  std::deque<std::function<void()>> bindTasks_;
  std::vector<std::thread> binders_;
  MetricsCollectorHandle pendingPods_;  // scheduler_pending_pods while started
};

}  // namespace skiff::scheduler
