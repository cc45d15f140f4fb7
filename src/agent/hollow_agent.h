// HollowAgent: N simulated kubelets ("hollow nodes") in one process, for scale work like
// kubemark/kwok. Nothing runs: pods are only *reported* as running.
//
// Per node it registers (or adopts) a Node, keeps its Lease in kube-node-lease renewed and
// re-posts node status periodically, and drives the pods bound to it through the phases a
// kubelet reports (Pending → Running/Ready → Succeeded for run-to-completion pods; graceful
// deletion finished with a uid-preconditioned delete). Pod IPs come from the node's
// spec.podCIDR (the nodeipam controller).
//
// Scale design: no thread per node. Two WorkQueues carry all the work — one for heartbeats
// ("lease/<node>", "status/<node>", "register/<node>"; timers are the queue's addAfter,
// with first renewals spread over the renew interval) and one for pod keys — each served by
// a few worker threads. One Node informer and one Pod informer (all pods) serve every node;
// events for nodes of other agents are dropped locally. Steady state only writes (lease
// renewals, status posts); reads come from the informers.
//
// Kubelet endpoints (hollow_kubelet.cpp): with `serveKubelet`, every node answers like a
// kubelet at its InternalIP — a loopback address of its own in 127.64.0.0/10 — and an
// ephemeral port published as status.daemonEndpoints.kubeletEndpoint.Port, so the API server
// reaches it as it reaches real kubelets (nodes/proxy, the metrics scraper). All listeners
// share one HTTPS server: one event loop thread, one TLS context. GET /healthz, and with a
// client certificate of the cluster CA (no SubjectAccessReview: any such certificate may read)
// /metrics/resource and /stats/summary with synthetic usage (hollow_usage.h).
#pragma once
#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "agent/hollow_usage.h"
#include "agent/pod_ip_allocator.h"
#include "client/informer.h"
#include "client/rest_client.h"
#include "client/work_queue.h"
#include "common/resource_stats.h"
#include "net/http_types.h"

namespace skiff::net {
class HttpServer;
}

namespace skiff::agent {

struct Taint {
  std::string key, value, effect;
};

struct HollowOptions {
  std::string namePrefix = "hollow";
  int nodes = 1;
  // One node running with its own node identity (`skiff agent --hollow --server --token`):
  // the Node authorizer lets it watch only its own pods, so the watch says which.
  bool ownNodeOnly = false;
  std::string cpu = "4";
  std::string memory = "16Gi";
  std::string ephemeralStorage = "100Gi";
  int maxPods = 110;
  std::map<std::string, std::string> labels;  // --node-labels, added to the defaults
  std::vector<Taint> taints;                  // --register-with-taints (at registration only)
  std::chrono::milliseconds readinessDelay{0};
  std::chrono::milliseconds jobDuration{5000};
  std::chrono::milliseconds terminationDelay{0};
  // Upstream kubelet: Lease of 40 s renewed every 10 s (a quarter); status re-posted when it
  // changes and otherwise every nodeStatusReportFrequency (5 min).
  int leaseDurationSeconds = 40;
  std::chrono::milliseconds leaseRenewInterval{10000};
  std::chrono::milliseconds statusReportInterval{std::chrono::minutes(5)};
  // Threads renewing Leases and posting node status, each one blocking write at a time;
  // 0 = heartbeatWorkersFor(nodes).
  int heartbeatWorkers = 0;
  // Threads acting on pods (status writes, deletions), one blocking write at a time;
  // 0 = podWorkersFor(nodes).
  int podWorkers = 0;
  // The thread counts the agent runs (the fields above with 0 resolved); the caller sizes its
  // client's connection pool by the same numbers.
  int heartbeatThreads() const;
  int podThreads() const;
  // Kubelet endpoints (see above). Needs the cluster CA (PEM) that signs accepted client
  // certificates — the API server's kubelet client certificate among them.
  bool serveKubelet = false;
  std::string clientCaPem;
  SyntheticPodUsage defaultPodUsage;  // --synthetic-pod-cpu, --synthetic-pod-memory
};

// Heartbeat threads for `nodes` hollow nodes: each renews its Lease every 10 s, so N nodes need
// N/10 renewals a second, and one blocking worker manages 1/(write latency) of them — about
// ten a second when a loaded server answers in 100 ms. One worker per 100 nodes keeps every
// Lease well inside its 40 s even then (2 fixed workers let 2,000 of 5,000 nodes expire).
int heartbeatWorkersFor(int nodes);
// Pod threads for `nodes` hollow nodes: a starting pod costs two status writes, each waiting
// for its commit, so 4 fixed workers held a 5,000-node ramp to ~200 pods Running a second.
// One per 100 nodes as above, at least 4.
int podWorkersFor(int nodes);

// "k=v,k2=v2" → map; throws std::invalid_argument on a malformed entry.
std::map<std::string, std::string> parseNodeLabels(const std::string& text);
// "key=value:Effect,key:Effect" → taints; throws std::invalid_argument.
std::vector<Taint> parseTaints(const std::string& text);

class HollowAgent {
 public:
  // `client` must outlive the agent.
  HollowAgent(client::RestClient& client, HollowOptions options);
  ~HollowAgent();
  HollowAgent(const HollowAgent&) = delete;
  HollowAgent& operator=(const HollowAgent&) = delete;

  // Starts informers (waits for their first sync, up to `syncTimeout`), adopts the pods
  // already running on our nodes, then registers the nodes and starts the workers.
  // Throws std::runtime_error when the informers cannot sync.
  void start(std::chrono::milliseconds syncTimeout = std::chrono::seconds(60));
  // Stops every worker; nothing is deleted, so the nodes simply stop heartbeating.
  void stop();

  // A stopped node behaves like a dead machine: no Lease renewals, no status posts, its pods
  // frozen. start resumes it (re-registering it when its Node was deleted). False when the
  // name is not one of ours.
  bool stopNode(const std::string& name);
  bool startNode(const std::string& name);

  struct NodeInfo {
    std::string name;
    std::string state;  // "running", "stopped", "registering", "deleted"
    std::string podCIDR;
    size_t pods = 0;  // pods holding an address on it
  };
  std::vector<NodeInfo> nodes() const;
  std::vector<std::string> nodeNames() const;
  const HollowOptions& options() const { return options_; }
  // "ip:port" of node NAME's kubelet endpoint; empty when not served or not ours.
  std::string kubeletAddress(const std::string& name) const;
  // The node's synthetic usage right now (what its /metrics/resource renders).
  NodeResourceStats syntheticStats(const std::string& name);

 private:
  struct Node {
    std::string name;
    std::string uid;
    std::string internalIp;
    int kubeletPort = 10250;
    size_t index = 0;
    bool registered = false;  // Node created/adopted and first status posted
    bool stopped = false;
    bool deleted = false;  // its Node vanished: heartbeats pause until startNode
    PodIpAllocator ips;
  };
  struct PodRecord {
    std::string uid;
    std::string node;
    std::string ip;
    std::chrono::system_clock::time_point startTime;
    std::optional<std::chrono::steady_clock::time_point> deletingSince;
    uint64_t lastPosted = 0;  // hash of the last status we wrote (stops write loops)
  };

  void heartbeatWorker();
  void podWorker();
  void handleHeartbeat(const std::string& key);
  void registerNode(const std::string& name);
  void renewLease(const std::string& name);
  void postStatus(const std::string& name);
  void syncPod(const std::string& key);
  void finishDeletion(const boost::json::object& pod, const std::string& key);
  void forgetPodLocked(const std::string& key);

  // hollow_kubelet.cpp
  void startKubeletServer();
  void stopKubeletServer();
  net::HttpResponse serveKubelet(net::HttpRequest& req);

  void onNode(const boost::json::object& node);
  void onNodeDeleted(const boost::json::object& node);
  void enqueuePodsOf(const std::string& node);
  void adoptRunningPods();

  boost::json::object nodeStatus(const Node& node, const boost::json::object* current) const;
  boost::json::object podStatus(const boost::json::object& pod, const PodRecord& rec, bool ready,
                                bool succeeded) const;
  std::chrono::milliseconds spreadOffset(size_t index) const;
  Node* findNode(const std::string& name);  // callers hold mu_
  const Node* findNode(const std::string& name) const;

  client::RestClient& client_;
  const HollowOptions options_;
  client::SharedInformer nodeInformer_;
  client::SharedInformer podInformer_;
  client::WorkQueue heartbeats_;
  client::WorkQueue pods_;

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Node>> nodeList_;            // fixed after construction
  std::unordered_map<std::string, Node*> nodesByName_;     // fixed after construction
  std::unordered_map<std::string, PodRecord> podRecords_;  // "ns/name" → record
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;

  std::unique_ptr<net::HttpServer> kubeletServer_;
  std::string kubeletDir_;                                        // its certificate and CA files
  std::unordered_map<std::string, Node*> nodesByKubeletAddress_;  // "ip:port" → node
  SyntheticCounters cpuCounters_;
};

}  // namespace skiff::agent
