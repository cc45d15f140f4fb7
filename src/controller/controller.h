// The controller framework of `skiff controller-manager` (kube-controller-manager's role).
//
// A controller is built from a ControllerContext: it takes the shared informers it needs
// from the factory and registers its event handlers in its constructor; the manager then
// starts every informer, waits for their first sync and calls run(). Most controllers are
// QueueControllers: handlers turn events into keys on a rate-limited WorkQueue and worker
// threads call sync(key), which must be idempotent (it reads the informer caches, compares
// with the desired state and writes the difference through the API server). A sync that
// throws is retried with per-key exponential backoff, as upstream's controllers do.
//
// Controllers register themselves by name with a static ControllerRegistration in their own
// .cpp file (the library is linked whole-archive so those objects are kept).
//
// Tests (docs/architecture.md, "Testing controllers") build a controller from its
// registration with a ControllerContext whose client talks to a fake API server, informers
// filled directly and a FakeClock, and drive it on the test's thread with drainQueue() and
// runPeriodicTasks() instead of run().
#pragma once
#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/event_recorder.h"
#include "client/informer.h"
#include "client/rest_client.h"
#include "client/work_queue.h"
#include "common/clock.h"
#include "controller/controller_utils.h"

namespace skiff::controller {
namespace hpa {
struct Clients;
}

// Flags of the controller manager (upstream names in comments); tests shorten the timings.
struct ControllerOptions {
  // --node-monitor-grace-period: a node whose Lease/status is older is marked Unknown.
  std::chrono::milliseconds nodeMonitorGracePeriod{std::chrono::seconds(40)};
  // --node-startup-grace-period: the same for a node that never reported Ready.
  std::chrono::milliseconds nodeStartupGracePeriod{std::chrono::seconds(60)};
  // --node-monitor-period: how often node health is checked.
  std::chrono::milliseconds nodeMonitorPeriod{std::chrono::seconds(5)};
  // --cluster-cidr and --node-cidr-mask-size (node IPAM).
  std::string clusterCidr = "10.42.0.0/16";
  int nodeCidrMaskSize = 24;
  // --terminated-pod-gc-threshold (PodGC).
  int terminatedPodGcThreshold = 12500;
  // --resource-quota-sync-period: how often every quota's usage is recomputed in full.
  std::chrono::milliseconds resourceQuotaSyncPeriod{std::chrono::minutes(5)};
  // Worker threads per queue controller (upstream's --concurrent-*-syncs default to 5).
  int workers = 5;
  // csrsigning (upstream's --cluster-signing-cert-file / --cluster-signing-key-file /
  // --cluster-signing-duration): the CA that signs approved CertificateSigningRequests of the
  // kubernetes.io signers. Without the files the signer does not run. `skiff server` passes
  // its own DATA_DIR/tls/ca.crt and ca.key.
  std::string clusterSigningCertFile, clusterSigningKeyFile;
  std::chrono::seconds clusterSigningDuration{365 * 24 * 3600};
  // Controllers to run: "*" means all; "-name" disables one (upstream's --controllers).
  std::vector<std::string> controllers = {"*"};
  // The cluster CA (PEM) the root-ca-cert-publisher puts in every namespace's kube-root-ca.crt
  // ConfigMap and the tokens controller in legacy token Secrets; empty: those controllers
  // publish nothing. `skiff server` passes its CA, `skiff controller-manager` its
  // kubeconfig's certificate-authority-data.
  std::string rootCaPem;
  // Signs a legacy ServiceAccount token (namespace, account name, account uid, Secret name)
  // for the tokens controller. The signing key lives with the API server, so only
  // `skiff server` sets it; without it the controller only deletes token Secrets whose
  // account is gone.
  using LegacyTokenSigner =
      std::function<std::string(const std::string& ns, const std::string& account,
                                const std::string& accountUid, const std::string& secret)>;
  LegacyTokenSigner signLegacyToken;
  // HorizontalPodAutoscaler (upstream's --horizontal-pod-autoscaler-* flags).
  std::chrono::milliseconds hpaSyncPeriod{std::chrono::seconds(15)};
  double hpaTolerance = 0.1;
  std::chrono::milliseconds hpaDownscaleStabilization{std::chrono::minutes(5)};
  std::chrono::milliseconds hpaCpuInitializationPeriod{std::chrono::minutes(5)};
  std::chrono::milliseconds hpaInitialReadinessDelay{std::chrono::seconds(30)};
  // Test seam: the HPA's scale and metrics access (null: through the API server).
  std::shared_ptr<hpa::Clients> hpaClients;
  // --pvclaimbinder-sync-period: how often the persistentvolume-binder re-syncs every claim
  // and volume (events drive it in between).
  std::chrono::milliseconds pvClaimBinderSyncPeriod{std::chrono::seconds(15)};
  // Whether the local-path provisioner creates the default StorageClass `local-path` at
  // start when no class of that name exists (--default-storage-class=false: never).
  bool defaultStorageClass = true;
};

class ResourceDiscovery;

struct ControllerContext {
  client::RestClient& client;
  client::SharedInformerFactory& informers;
  const ControllerOptions& options;
  // What controllers read the time from (tests: a FakeClock). Must outlive the controllers.
  const Clock& clock = realClock();
  // The served resources (namespace controller, garbage collector); null: discovered from
  // `client` (controller/discovery.h). Tests pass a fake.
  std::shared_ptr<ResourceDiscovery> discovery = nullptr;
};

class Controller {
 public:
  virtual ~Controller() = default;
  virtual const std::string& name() const = 0;
  // Called once the informers have synced: start workers/timers. Must not block.
  virtual void run() = 0;
  // Stops and joins everything run() started. Idempotent.
  virtual void stop() = 0;
};

// A controller driven by one WorkQueue of "namespace/name" keys.
class QueueController : public Controller {
 public:
  ~QueueController() override;
  const std::string& name() const override { return name_; }
  void run() override;
  void stop() override;

  // --- test seams: the controller's work on the caller's thread, without run()'s threads.
  // Takes every key queued now (and those re-queued meanwhile, up to `limit` keys) and
  // handles each as a worker would: sync, then forget it or re-add it rate-limited when
  // sync threw. Delayed adds wait for their time (step a FakeClock). Returns the number of
  // keys handled.
  int drainQueue(int limit = 1000);
  // sync(key) once; exceptions propagate.
  void syncKey(const std::string& key);
  // Each periodic task (every()) once.
  void runPeriodicTasks();
  client::WorkQueue& queue() { return queue_; }
  client::EventRecorder& recorder() { return recorder_; }

 protected:
  // `component` is the Event source (e.g. "replicaset-controller").
  QueueController(ControllerContext& ctx, std::string name, std::string component, int workers = 0);

  // Brings the object `key` to its desired state; throw to retry with backoff.
  virtual void sync(const std::string& key) = 0;
  // Optional periodic work (e.g. node health checks) on its own thread, every `period`.
  void every(std::chrono::milliseconds period, std::function<void()> fn);

  // Handlers for objects (typically pods) controlled by an `ownerKind`: every event queues
  // the owner (both owners when the controller reference changed); adds and deletes are
  // counted against `expectations`.
  client::ResourceEventHandlers ownedObjectHandlers(std::string ownerKind,
                                                    Expectations& expectations);

  // Handlers that queue the object itself on add, update and delete.
  client::ResourceEventHandlers enqueueingHandlers();

  void enqueue(const boost::json::object& obj) { queue_.add(client::objectKey(obj)); }
  void enqueueKey(const std::string& key) { queue_.add(key); }
  void enqueueAfter(const std::string& key, std::chrono::milliseconds delay) {
    queue_.addAfter(key, delay);
  }

  client::RestClient& client_;
  client::SharedInformerFactory& informers_;
  const ControllerOptions& options_;
  const Clock& clock_;
  client::EventRecorder recorder_;
  client::WorkQueue queue_;

 private:
  void worker();
  // One key taken from the queue: sync, forget or re-add rate-limited.
  void process(const std::string& key);
  const std::string name_;
  const int workers_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
  struct Periodic {
    std::chrono::milliseconds period;
    std::function<void()> fn;
  };
  std::vector<Periodic> periodic_;
  std::mutex stopMu_;
  std::condition_variable stopCv_;
};

using ControllerFactory = std::function<std::unique_ptr<Controller>(ControllerContext&)>;

// Static registration: `static ControllerRegistration reg("replicaset", factory);`.
struct ControllerRegistration {
  ControllerRegistration(std::string name, ControllerFactory factory);
};
// Registered controllers by name, in name order.
const std::vector<std::pair<std::string, ControllerFactory>>& registeredControllers();
// Whether `name` is enabled by the --controllers list.
bool controllerEnabled(const std::vector<std::string>& list, const std::string& name);

}  // namespace skiff::controller
