// The kubelet: the node agent that runs the pods bound to its node through a CRI runtime.
//
// Shape (upstream's, reduced): a Pod informer limited to spec.nodeName=<node> feeds a work
// queue of pod keys; workers run an idempotent syncPod(key) that compares the pod spec with
// what the runtime holds (sandbox, init containers in order, containers with restart policy
// and CrashLoopBackOff), acts, and writes pods/status when it changed. A relist of the runtime
// every second (upstream's PLEG) re-queues pods whose containers changed state, so exits are
// noticed without polling the API. Node registration, the Lease heartbeat (every 10 s) and
// node status run on their own thread (node_status.cpp).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "client/event_recorder.h"
#include "client/informer.h"
#include "client/rest_client.h"
#include "client/work_queue.h"
#include "common/metrics.h"
#include "common/resource_stats.h"
#include "kubelet/cgroup_stats.h"
#include "kubelet/container_env.h"
#include "kubelet/cri/runtime_service.h"
#include "kubelet/kubelet_server.h"
#include "kubelet/local_path_volumes.h"
#include "kubelet/prober.h"
#include "kubelet/runtime_state.h"
#include "kubelet/static_pods.h"
#include "kubelet/volumes.h"

namespace skiff::kubelet {

struct KubeletOptions {
  std::string nodeName;
  std::string rootDir = "/var/lib/skiff/kubelet";  // pods/ (volumes), logs/ (container logs), pki/
  std::string cniConfDir;  // where the pod network config is written (the runtime's CNI conf dir)
  std::string cniIpamDataDir;  // host-local IPAM's folder; empty: /var/lib/cni/networks
  std::string clusterCidr;     // all pods' range: not masqueraded (empty: only this node's)
  // Install the host's nftables rule that masquerades this node's pods (table ip skiff-node)
  // when the podCIDR arrives. Off only for kubelets that run no real node (unit tests): the
  // table is the host's, one per machine.
  bool podMasquerade = true;
  std::string cgroupRoot;  // upstream's --cgroup-root: parent of all pod cgroups
  std::string nodeIp;      // InternalIP; empty: the address of the default route
  // Where the HTTPS server listens (--address). Empty: the node IP only, the address the API
  // server dials (upstream binds 0.0.0.0, which would also expose exec and logs on every
  // other interface, e.g. a public one); "0.0.0.0" or "::" listen everywhere.
  std::string serverAddress;
  int port = 10250;          // the kubelet's HTTPS port (logs, exec, port-forward)
  std::string clientCaFile;  // CA whose client certificates the server accepts
  std::string kubeReservedCpu = "0", kubeReservedMemory = "0";
  std::string evictionHardMemory = "100Mi";  // upstream's memory.available default
  int maxPods = 110;
  std::map<std::string, std::string> nodeLabels;
  std::vector<std::string> clusterDns;  // nameservers for dnsPolicy ClusterFirst
  std::string clusterDomain = "cluster.local";
  std::string runtimeHandler;   // CRI runtime handler ("" = runtime default)
  std::string podManifestPath;  // static pods (--pod-manifest-path); "" = none
  std::chrono::milliseconds fileCheckFrequency{20000};  // upstream's manifest re-read period
  int leaseDurationSeconds = 40;                        // upstream's timings
  std::chrono::milliseconds leaseRenewInterval{10000};
  std::chrono::milliseconds nodeStatusUpdateInterval{10000};
  std::chrono::milliseconds nodeStatusReportInterval{60000};  // post even when unchanged
  std::chrono::milliseconds relistPeriod{1000};               // runtime relist (PLEG)
  std::chrono::milliseconds resyncPeriod{60000};  // every pod re-synced at least this often
  int workers = 8;
};

class Kubelet {
 public:
  // `client`, `runtime` and `images` must outlive the kubelet.
  Kubelet(client::RestClient& client, cri::RuntimeService& runtime, cri::ImageService& images,
          KubeletOptions options);
  ~Kubelet();
  Kubelet(const Kubelet&) = delete;
  Kubelet& operator=(const Kubelet&) = delete;

  // Checks the runtime answers, registers the node, starts informers, workers, the relist,
  // the heartbeat and the HTTPS server. Throws std::runtime_error when the runtime is down.
  void start();
  // Stops the kubelet's own threads; containers keep running (a restarted kubelet adopts them).
  void stop();
  // For `skiff up`'s shutdown: stops and removes every pod sandbox of this node in the
  // runtime (containers get `graceSeconds` each) and tears down their volumes.
  void removeAllPods(int64_t graceSeconds);

  const KubeletOptions& options() const { return options_; }
  std::string podLogsDir() const { return options_.rootDir + "/logs"; }
  std::string podsDir() const { return options_.rootDir + "/pods"; }
  unsigned short serverPort() const;

 private:
  friend class KubeletTestPeer;

  // --- pods (pod_sync.cpp)
  struct PodRecord {
    std::string uid;
    std::map<std::string, ContainerSyncNote> notes;
    struct Backoff {
      std::chrono::system_clock::time_point lastUpdate{};
      std::chrono::seconds duration{0};
    };
    std::map<std::string, Backoff> backoff;      // CrashLoopBackOff, by container name
    std::map<std::string, Backoff> pullBackoff;  // ImagePullBackOff, by container name
    uint64_t lastStatusHash = 0;
    std::chrono::steady_clock::time_point lastStatusPost{};
    std::string startTime;
    // kubelet_pod_start_duration_seconds: from first sight to the first Running status.
    std::chrono::steady_clock::time_point firstSeen = std::chrono::steady_clock::now();
    bool startObserved = false;
  };
  void podWorker();
  void syncPod(const std::string& key);
  void syncRunningPod(const boost::json::object& pod, PodRecord& rec, const RuntimePod& rt);
  // --- the steps of syncRunningPod (pod_sync.cpp)
  struct RunningSandbox {
    std::string id, ip;
    std::vector<std::string> ips;
  };
  bool podNetworkReady(const boost::json::object& pod);
  // false when volumes cannot be set up (status posted, pod re-queued).
  bool mountVolumes(const boost::json::object& pod, PodRecord& rec, const PodSyncView& view,
                    std::map<std::string, std::string>& volumePaths);
  // The sandbox to run containers in (`out.id` empty: none is needed); false when this
  // sync is over (creation failed, or the pod was synced again over the new sandbox).
  bool ensureSandbox(const boost::json::object& pod, PodRecord& rec, const RuntimePod& rt,
                     const PodSyncView& view, RunningSandbox& out);
  bool runInitContainers(const boost::json::object& pod, PodRecord& rec, const RuntimePod& rt,
                         const RunningSandbox& sandbox,
                         const std::map<std::string, std::string>& volumePaths);
  void syncAppContainers(const boost::json::object& pod, PodRecord& rec, const RuntimePod& rt,
                         const RunningSandbox& sandbox,
                         const std::map<std::string, std::string>& volumePaths);
  void terminatePod(const boost::json::object& pod, const RuntimePod& rt);
  void killRuntimePod(const RuntimePod& rt, int64_t graceSeconds, const boost::json::object* pod);
  void cleanupOrphan(const std::string& uid, const RuntimePod& rt);
  void removeRuntimePod(const RuntimePod& rt);
  client::ObjectPtr resolveStaticPod(const std::string& key, client::ObjectPtr apiPod);
  // Starts one container; false (with the note filled) when it cannot start yet.
  bool startContainer(const boost::json::object& pod, const boost::json::object& container,
                      bool init, const std::string& sandboxId, const RuntimePod& rt, PodRecord& rec,
                      const std::map<std::string, std::string>& volumePaths,
                      const std::string& podIp);
  bool ensureImage(const boost::json::object& pod, const boost::json::object& container, bool init,
                   PodRecord& rec, std::string& imageRef);
  // Restart decision with CrashLoopBackOff: true when the exited container may be started
  // again now; otherwise the note says CrashLoopBackOff and the pod is re-queued for then.
  bool backoffAllows(const boost::json::object& pod, const std::string& name, PodRecord& rec,
                     const RuntimeContainer& last);
  void postStatus(const boost::json::object& pod, PodRecord& rec, const PodSyncView& view);
  PodRecord& recordFor(const std::string& key, const std::string& uid);

  // --- runtime view (runtime_inspect.cpp)
  std::map<std::string, RuntimePod> inspectPods(const std::string& ns, const std::string& name);
  std::map<std::string, RuntimePod> inspectAllPods();
  void relistLoop();

  // --- node (node_status.cpp)
  void nodeLoop();
  bool registerNode();
  void renewLease();
  void postNodeStatus(bool force);
  boost::json::object nodeStatus(const boost::json::object* current);
  void onNodeChanged(const boost::json::object& node);

  // The kubelet server's LogLocator (thread-safe: informer cache and CRI calls only).
  std::optional<LogTarget> locateLog(const std::string& ns, const std::string& pod,
                                     const std::string& container, bool previous,
                                     std::string& error, int& code);
  // The streaming endpoints' resolvers (kubelet_streaming.cpp); throw ApiError.
  std::string streamingContainerId(const std::string& ns, const std::string& pod,
                                   const std::string& container);
  std::string streamingSandboxId(const std::string& ns, const std::string& pod);
  // GET /stats/summary and the numbers of /metrics/resource (stats_summary.cpp).
  boost::json::object statsSummary();
  NodeResourceStats collectResourceStats();
  std::string containerCgroup(const std::string& containerId) const;
  // GET /metrics and /metrics/cadvisor (kubelet_metrics.cpp).
  void addMetricsRoutes();
  std::string cadvisorMetrics();
  void noteRelist(const std::map<std::string, RuntimePod>& pods, double seconds);
  void notePodStatus(PodRecord& rec, const boost::json::object& status);
  // Whether a pod of this node (not finished) uses the claim ns/name.
  bool claimInUse(const std::string& ns, const std::string& claim) const;
  PodRuntimeInfo runtimeInfo(const boost::json::object& pod, const std::string& podIp) const;
  std::optional<boost::json::object> fetchObject(const client::Resource& r, const std::string& ns,
                                                 const std::string& name);

  client::RestClient& client_;
  cri::RuntimeService& runtime_;
  cri::ImageService& images_;
  const KubeletOptions options_;
  std::string nodeIp_;
  client::SharedInformer podInformer_;
  client::SharedInformer nodeInformer_;
  // Services, for the service link variables (KUBERNETES_SERVICE_HOST, ...) of containers.
  client::SharedInformer serviceInformer_;
  client::WorkQueue queue_;
  client::EventRecorder recorder_;
  VolumeManager volumes_;
  // skiff.io/local-path volumes of this node (loop-mounted images).
  std::unique_ptr<LocalPathVolumes> localPath_;
  ProbeManager probes_;
  StaticPodSource static_;
  std::unique_ptr<KubeletServer> server_;
  Metrics metrics_{true};  // this kubelet's /metrics (its own: `skiff up` shares the process)

  mutable std::mutex mu_;
  std::unordered_map<std::string, PodRecord> records_;  // by "ns/name"
  std::string podCidr_;
  bool networkReady_ = false;
  std::string runtimeVersion_;
  std::string nodeUid_;
  std::string startTime_;      // when this kubelet started (RFC 3339)
  CgroupStatsReader cgroups_;  // pod and container CPU/memory (stats_summary.cpp)
  CpuRateTracker cpuRates_;
  bool registered_ = false;

  std::mutex nodeMu_;
  std::condition_variable nodeCv_;
  bool nodeWake_ = false;
  uint64_t lastNodeStatusHash_ = 0;
  std::chrono::steady_clock::time_point lastNodeStatusPost_{};

  std::map<std::string, std::string> lastRelist_;  // uid → fingerprint of runtime state
  std::atomic<bool> stopping_{false};
  std::mutex stopMu_;
  std::condition_variable stopCv_;
  std::vector<std::thread> threads_;
  bool started_ = false;
};

}  // namespace skiff::kubelet
