// skiff: every Kubernetes component in one binary. Each subcommand is one component or a
// bundle of them.
#include <CLI/CLI.hpp>
#include <iostream>
#include <tuple>

#include "apiserver/api_server.h"
#include "cli/cloud_command.h"
#include "cli/commands.h"
#include "cli/hardening_commands.h"
#include "cli/local_endpoint.h"
#include "cli/local_node.h"
#include "cli/malloc_tuning.h"
#include "cli/metrics_server.h"
#include "cli/process.h"
#include "cli/proxy_command.h"
#include "client/kubeconfig.h"
#include "client/rest_client.h"
#include "common/log.h"
#include "controller/controller_manager.h"
#include "dns/node_dns.h"
#include "scheduler/scheduler.h"

namespace {

using namespace skiff;

void addApiServerFlags(CLI::App* cmd, apiserver::ApiServerOptions& o) {
  cmd->add_option("--data-dir", o.dataDir, "Directory for the database and the kubeconfig")
      ->capture_default_str();
  cmd->add_option("--listen", o.listen, "Address to serve the Kubernetes API on (HOST:PORT)")
      ->capture_default_str();
  cmd->add_option("--storage", o.storage, "Storage backend: sqlite (durable) or memory")
      ->check(CLI::IsMember({"sqlite", "memory"}))
      ->capture_default_str();
  cmd->add_option(
         "--threads", o.threads,
         "HTTP event-loop threads, each serving its share of the connections (0: one per CPU core)")
      ->capture_default_str();
  cmd->add_option("--write-threads", o.writeThreads,
                  "Threads running creates, updates and deletes while they wait for their "
                  "commit; up to this many writes share one store transaction (0: on the "
                  "event loops, one waiting write per loop)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("!--disable-tls", o.tls,
                "Serve plain HTTP instead of HTTPS (no client certificates; for benchmarks). "
                "Requests without credentials then have full access, like upstream's old "
                "insecure port");
  cmd->add_option("--authorization-mode", o.authorizationModes,
                  "Authorizers after system:masters, in order: RBAC, Node, AlwaysAllow, "
                  "AlwaysDeny (AlwaysAllow for tests and benchmarks only)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--token-auth-file", o.tokenAuthFile,
                  "Static bearer tokens, CSV: token,user,uid,\"group1,group2\"");
  cmd->add_option("--service-account-issuer", o.serviceAccountIssuer,
                  "Issuer (iss) of ServiceAccount tokens; also the API audience")
      ->capture_default_str();
  cmd->add_option("--default-not-ready-toleration-seconds", o.defaultNotReadyTolerationSeconds,
                  "Toleration seconds for the not-ready:NoExecute taint added to pods without one")
      ->capture_default_str();
  cmd->add_option(
         "--default-unreachable-toleration-seconds", o.defaultUnreachableTolerationSeconds,
         "Toleration seconds for the unreachable:NoExecute taint added to pods without one")
      ->capture_default_str();
  for (auto [mode, level, version] :
       {std::tuple{"enforce", &o.podSecurityEnforce, &o.podSecurityEnforceVersion},
        std::tuple{"audit", &o.podSecurityAudit, &o.podSecurityAuditVersion},
        std::tuple{"warn", &o.podSecurityWarn, &o.podSecurityWarnVersion}}) {
    cmd->add_option(std::string("--pod-security-default-") + mode, *level,
                    std::string("Pod Security ") + mode +
                        " level of namespaces without the pod-security.kubernetes.io/" + mode +
                        " label: privileged (off), baseline, restricted")
        ->check(CLI::IsMember({"privileged", "baseline", "restricted"}))
        ->capture_default_str();
    cmd->add_option(std::string("--pod-security-default-") + mode + "-version", *version,
                    std::string("Its policy version: latest or v1.N"))
        ->capture_default_str();
  }
  cmd->add_option("--pod-security-exempt-namespaces", o.podSecurityExemptNamespaces,
                  "Namespaces Pod Security admission leaves alone (empty: none)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--audit-policy-file", o.auditPolicyFile,
                  "Audit policy (audit.k8s.io/v1 Policy, YAML); with --audit-log-path, "
                  "requests are audited as it says. Without it nothing is audited");
  cmd->add_option("--audit-log-path", o.auditLog.path,
                  "Audit log file, JSON lines of audit.k8s.io/v1 Events; '-' for stdout");
  cmd->add_option("--audit-log-maxsize", o.auditLog.maxSizeMb,
                  "Rotate the audit log when it would grow past this many megabytes "
                  "(0: 100)")
      ->capture_default_str();
  cmd->add_option("--audit-log-maxbackup", o.auditLog.maxBackups,
                  "Rotated audit log files to keep (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--audit-log-maxage", o.auditLog.maxAgeDays,
                  "Days to keep rotated audit log files, by the time in their names (0: no "
                  "limit)")
      ->capture_default_str();
  cmd->add_option("--disable-admission-plugins", o.disableAdmissionPlugins,
                  "Admission plugins to turn off: ServiceAccount (pods then get no account "
                  "and no API token volume), DefaultStorageClass, "
                  "StorageObjectInUseProtection, PersistentVolumeClaimResize")
      ->delimiter(',')
      ->check(CLI::IsMember({"ServiceAccount", "DefaultStorageClass",
                             "StorageObjectInUseProtection", "PersistentVolumeClaimResize"}));
  cmd->add_option("--advertise-address", o.advertiseAddress,
                  "Address of this API server in the kubernetes Service's endpoints (default: "
                  "the default-route interface's address, else the --listen host)");
  cmd->add_flag("!--disable-metrics-api", o.metricsApi,
                "Do not serve metrics.k8s.io (NodeMetrics, PodMetrics: `kubectl top`) nor "
                "scrape kubelets' /metrics/resource");
  cmd->add_option_function<std::string>(
         "--metric-resolution",
         [&o](const std::string& v) {
           std::chrono::milliseconds d;
           try {
             d = cli::parseDuration(v);
           } catch (const std::exception& e) {
             throw CLI::ValidationError("--metric-resolution", e.what());
           }
           if (d < std::chrono::seconds(1))
             throw CLI::ValidationError("--metric-resolution", "must be at least 1s");
           o.metricResolution = d;
         },
         "How often every kubelet's /metrics/resource is scraped for metrics.k8s.io "
         "(metrics-server's flag; CPU usage is the rate between the last two scrapes)")
      ->default_str("15s");
  cli::addHardeningFlags(cmd, o);  // encryption at rest, in-flight limits
}

// Controller-manager flags, with upstream's names; durations as "40s", "5m".
struct ControllerFlags {
  std::string nodeMonitorGracePeriod = "40s";
  std::string nodeStartupGracePeriod = "60s";
  std::string nodeMonitorPeriod = "5s";
  std::string resourceQuotaSyncPeriod = "5m";
  std::string pvClaimBinderSyncPeriod = "15s";
  std::string clusterSigningDuration = "8760h";
  std::string hpaSyncPeriod = "15s", hpaDownscaleStabilization = "5m",
              hpaCpuInitializationPeriod = "5m", hpaInitialReadinessDelay = "30s";
  controller::ControllerOptions options;

  void add(CLI::App* cmd) {
    cmd->add_option("--node-monitor-grace-period", nodeMonitorGracePeriod,
                    "How long a node may miss heartbeats before it is marked Unknown")
        ->capture_default_str();
    cmd->add_option("--node-startup-grace-period", nodeStartupGracePeriod,
                    "The same for a node that has never been Ready")
        ->capture_default_str();
    cmd->add_option("--node-monitor-period", nodeMonitorPeriod, "How often node health is checked")
        ->capture_default_str();
    cmd->add_option("--cluster-cidr", options.clusterCidr,
                    "Pod address range; each node gets a slice")
        ->capture_default_str();
    cmd->add_option("--node-cidr-mask-size", options.nodeCidrMaskSize,
                    "Prefix length of a node's pod range")
        ->capture_default_str();
    cmd->add_option("--terminated-pod-gc-threshold", options.terminatedPodGcThreshold,
                    "Terminated pods kept before PodGC deletes the oldest")
        ->capture_default_str();
    cmd->add_option("--resource-quota-sync-period", resourceQuotaSyncPeriod,
                    "How often every ResourceQuota's usage is recomputed in full")
        ->capture_default_str();
    cmd->add_option("--concurrent-syncs", options.workers, "Worker threads per controller")
        ->capture_default_str();
    cmd->add_option("--cluster-signing-cert-file", options.clusterSigningCertFile,
                    "CA certificate (PEM) that signs approved CertificateSigningRequests of the "
                    "kubernetes.io signers (skiff server: DATA_DIR/tls/ca.crt); without it "
                    "csrsigning issues nothing");
    cmd->add_option("--cluster-signing-key-file", options.clusterSigningKeyFile,
                    "Its private key (skiff server: DATA_DIR/tls/ca.key)");
    cmd->add_option("--cluster-signing-duration", clusterSigningDuration,
                    "Longest validity of a signed certificate (a request's expirationSeconds "
                    "may ask for less)")
        ->capture_default_str();
    cmd->add_option("--horizontal-pod-autoscaler-sync-period", hpaSyncPeriod,
                    "How often each HorizontalPodAutoscaler is reconciled")
        ->capture_default_str();
    cmd->add_option("--horizontal-pod-autoscaler-tolerance", options.hpaTolerance,
                    "Smallest relative difference between current and target metric that "
                    "changes the scale")
        ->capture_default_str();
    cmd->add_option("--horizontal-pod-autoscaler-downscale-stabilization",
                    hpaDownscaleStabilization,
                    "A scale-down applies the highest recommendation of this past window")
        ->capture_default_str();
    cmd->add_option("--horizontal-pod-autoscaler-cpu-initialization-period",
                    hpaCpuInitializationPeriod,
                    "After a pod starts, CPU samples taken before it was ready for a metric "
                    "window are not used")
        ->capture_default_str();
    cmd->add_option("--horizontal-pod-autoscaler-initial-readiness-delay", hpaInitialReadinessDelay,
                    "After a pod starts, readiness changes within this delay count as its "
                    "initial readiness")
        ->capture_default_str();
    cmd->add_option("--pvclaimbinder-sync-period", pvClaimBinderSyncPeriod,
                    "How often the persistentvolume-binder re-syncs every claim and volume")
        ->capture_default_str();
    cmd->add_option("--default-storage-class", options.defaultStorageClass,
                    "Create the default StorageClass local-path (provisioner skiff.io/local-path) "
                    "at start when no class of that name exists")
        ->capture_default_str();
    cmd->add_option("--controllers", options.controllers,
                    "Controllers to run: '*' for all, 'name' to enable, '-name' to disable")
        ->delimiter(',')
        ->capture_default_str();
  }
  controller::ControllerOptions resolve() {
    options.nodeMonitorGracePeriod = cli::parseDuration(nodeMonitorGracePeriod);
    options.nodeStartupGracePeriod = cli::parseDuration(nodeStartupGracePeriod);
    options.nodeMonitorPeriod = cli::parseDuration(nodeMonitorPeriod);
    options.resourceQuotaSyncPeriod = cli::parseDuration(resourceQuotaSyncPeriod);
    options.hpaSyncPeriod = cli::parseDuration(hpaSyncPeriod);
    options.hpaDownscaleStabilization = cli::parseDuration(hpaDownscaleStabilization);
    options.hpaCpuInitializationPeriod = cli::parseDuration(hpaCpuInitializationPeriod);
    options.hpaInitialReadinessDelay = cli::parseDuration(hpaInitialReadinessDelay);
    if (options.hpaSyncPeriod.count() <= 0)
      throw std::invalid_argument("--horizontal-pod-autoscaler-sync-period must be positive");
    if (options.hpaTolerance < 0)
      throw std::invalid_argument("--horizontal-pod-autoscaler-tolerance must not be negative");
    options.pvClaimBinderSyncPeriod = cli::parseDuration(pvClaimBinderSyncPeriod);
    options.clusterSigningDuration = std::chrono::duration_cast<std::chrono::seconds>(
        cli::parseDuration(clusterSigningDuration));
    if (options.clusterSigningDuration.count() < 600)
      throw std::invalid_argument("--cluster-signing-duration must be at least 10m");
    return options;
  }
};

// The components that run against an API server through a kubeconfig; each campaigns for its
// own Lease when leader election is on, as upstream's binaries do.
struct Components {
  std::unique_ptr<client::RestClient> client;
  // In `skiff server` the scheduler and the controllers share informers: one watch per
  // resource and one decode per event in the process, instead of one each.
  std::unique_ptr<client::SharedInformerFactory> informers;
  std::unique_ptr<client::LeaderElector> schedulerElector, controllersElector;
  std::unique_ptr<scheduler::Scheduler> scheduler;
  std::unique_ptr<controller::ControllerManager> controllers;
  std::unique_ptr<client::LeaderElector> cloudElector;
  std::unique_ptr<cli::RunningCloud> cloud;  // `skiff server --cloud-provider`

  // `bindWorkers` 0: the scheduler's default (16, for binds that cross the network).
  void startScheduler(bool leaderElect, const std::string& name, int bindWorkers = 0) {
    if (!cli::campaign(*client, leaderElect, "kube-scheduler", schedulerElector)) return;
    scheduler::SchedulerOptions options{name};
    if (bindWorkers > 0) options.bindWorkers = bindWorkers;
    scheduler = std::make_unique<scheduler::Scheduler>(*client, options, informers.get());
    scheduler->start();
  }
  void startControllers(bool leaderElect, const controller::ControllerOptions& options) {
    if (!cli::campaign(*client, leaderElect, "kube-controller-manager", controllersElector)) return;
    controllers =
        std::make_unique<controller::ControllerManager>(*client, options, informers.get());
    controllers->start();
  }
  void startCloud(bool leaderElect, const cli::CloudFlags& flags, const std::string& dataDir,
                  const controller::ControllerOptions& options) {
    if (!cli::campaign(*client, leaderElect, "cloud-controller-manager", cloudElector)) return;
    cloud = cli::startCloudControllers(*client, informers.get(), flags, dataDir,
                                       options.clusterCidr, options.nodeMonitorPeriod);
  }
  void stop() {
    if (controllers) controllers->stop();
    if (cloud && cloud->manager) cloud->manager->stop();
    if (scheduler) scheduler->stop();
    if (informers) informers->stop();  // no handler of either runs after this
    cloud.reset();
    if (cloudElector) cloudElector->stop();
    if (controllersElector) controllersElector->stop();
    if (schedulerElector) schedulerElector->stop();
  }
};

// `bundle`: `skiff server`; the components call the API server in the process
// (cli/local_endpoint.h): the same requests and watches as when they run alone with the admin
// kubeconfig, without TLS and sockets.
// `node`: `skiff up` also runs a real node (containerd + kubelet) and, on the way out,
// removes every pod it ran so nothing is left behind.
int runApiServer(const apiserver::ApiServerOptions& options, bool bundle, bool leaderElect,
                 const controller::ControllerOptions& controllerOptions,
                 cli::NodeFlags* node = nullptr, const cli::ProxyFlags* proxyFlags = nullptr,
                 const cli::CloudFlags* cloudFlags = nullptr) {
  cli::installSignalHandlers();
  apiserver::ApiServer server(options);
  server.start();
  Components components;
  if (bundle) {
    auto config = client::loadKubeconfig(server.kubeconfigPath());
    config.local = cli::makeLocalEndpoint(server, "skiff-server");
    components.client = std::make_unique<client::RestClient>(std::move(config));
    components.informers = std::make_unique<client::SharedInformerFactory>(*components.client);
    // The root CA publisher and the tokens controller get the CA and the signing key here.
    controller::ControllerOptions withKeys = controllerOptions;
    withKeys.rootCaPem = server.caPem();
    withKeys.signLegacyToken = [&server](const std::string& ns, const std::string& account,
                                         const std::string& uid, const std::string& secret) {
      return server.signLegacyServiceAccountToken(ns, account, uid, secret);
    };
    // Both campaigns run in parallel so a standby server waits on both Leases.
    // Binds are calls into the API server in this process. Over the memory store a bind
    // returns at once: two binders keep up and 16 only added wake-ups (scheduler_perf:
    // 4,400 vs 3,700-4,100 pods/s). Over sqlite each bind waits for its group commit, so two
    // binders bound a 5,000-node ramp at ~150 pods/s while the algorithm ran ahead: binds
    // need as many in flight as upstream's per-pod binding goroutines allow commits to share.
    const int bindWorkers = options.storage == "memory" ? 2 : 16;
    std::thread sched(
        [&] { components.startScheduler(leaderElect, "default-scheduler", bindWorkers); });
    components.startControllers(leaderElect, withKeys);
    sched.join();
    if (cloudFlags && !cloudFlags->provider.empty()) {
      try {
        components.startCloud(leaderElect, *cloudFlags, options.dataDir, controllerOptions);
      } catch (const std::exception& e) {
        SKIFF_LOG_ERROR("cloud controller manager failed to start error=\"{}\"", e.what());
        components.stop();
        server.stop();
        return 1;
      }
    }
  }
  std::unique_ptr<cli::LocalNode> localNode;
  // The Service proxy shares the components' informers (Services and EndpointSlices are
  // then watched once in the process). Started before the node: its service-CIDR reject is
  // in place before the first pod runs.
  std::unique_ptr<proxy::Proxier> proxier;
  auto stopAll = [&] {
    cli::stopEmbeddedProxy(proxier.get());
    if (localNode) localNode->stop(true);
    components.stop();
    proxier.reset();  // after the informers stopped: no handler can reach it any more
    server.stop();
  };
  if (node) {
    // The node's own identity, for a kubelet run apart from this process (`skiff up`'s
    // in-process kubelet keeps the loopback client).
    server.writeNodeKubeconfig(node->nodeName.empty() ? cli::hostName() : node->nodeName);
    localNode = std::make_unique<cli::LocalNode>(*node, options.dataDir);
    try {
      if (proxyFlags)
        proxier = cli::startEmbeddedProxy(*components.client, *components.informers, *proxyFlags,
                                          node->nodeName.empty() ? cli::hostName() : node->nodeName,
                                          controllerOptions.clusterCidr);
      localNode->start(*components.client, components.client->config().caPem,
                       components.informers.get());
    } catch (const std::exception& e) {
      SKIFF_LOG_ERROR("node failed to start error=\"{}\"", e.what());
      stopAll();
      return 1;
    }
  }
  cli::waitForSignal();
  stopAll();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"skiff: Kubernetes in one small binary"};
  app.require_subcommand(1);
  std::string logLevel = "info";
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error")->capture_default_str();

  apiserver::ApiServerOptions apiOptions;
  apiOptions.dataDir = "/var/lib/skiff";
  ControllerFlags controllerFlags;
  std::string kubeconfig, schedulerName = "default-scheduler";
  bool leaderElect = false;
  std::string metricsAddress;  // standalone scheduler / controller manager: plain-HTTP /metrics

  auto* apiserverCmd = app.add_subcommand("apiserver", "Run the Kubernetes API server");
  addApiServerFlags(apiserverCmd, apiOptions);

  auto* serverCmd = app.add_subcommand(
      "server", "Run the control plane in one process: API server, scheduler, controller manager");
  addApiServerFlags(serverCmd, apiOptions);
  controllerFlags.add(serverCmd);
  serverCmd->add_flag("--leader-elect", leaderElect,
                      "Control-plane components run only while holding their kube-system Lease");
  cli::CloudFlags cloudFlags;
  cloudFlags.add(serverCmd, false);

  auto* schedulerCmd = app.add_subcommand("scheduler", "Run the scheduler against an API server");
  schedulerCmd->add_option("--kubeconfig", kubeconfig, "Kubeconfig of the API server")->required();
  schedulerCmd
      ->add_option("--scheduler-name", schedulerName,
                   "Schedule pods whose spec.schedulerName is this")
      ->capture_default_str();
  schedulerCmd->add_flag("--leader-elect", leaderElect,
                         "Schedule only while holding the Lease kube-system/kube-scheduler");
  schedulerCmd->add_option("--metrics-bind-address", metricsAddress,
                           "Serve /metrics and /healthz over plain HTTP at host:port "
                           "(docs/monitoring.md); off when empty");

  auto* cmCmd = app.add_subcommand(
      "controller-manager",
      "Run the controllers (workloads, GC, namespaces, nodes, ...) against an API server");
  cmCmd->add_option("--kubeconfig", kubeconfig, "Kubeconfig of the API server")->required();
  controllerFlags.add(cmCmd);
  cmCmd->add_flag("--leader-elect", leaderElect,
                  "Reconcile only while holding the Lease kube-system/kube-controller-manager");
  cmCmd->add_option("--metrics-bind-address", metricsAddress,
                    "Serve /metrics and /healthz over plain HTTP at host:port "
                    "(docs/monitoring.md); off when empty");

  auto* upCmd = app.add_subcommand(
      "up", "Run the control plane and one real node on this machine (containerd + kubelet)");
  addApiServerFlags(upCmd, apiOptions);
  controllerFlags.add(upCmd);
  cli::NodeFlags nodeFlags;
  // Pods resolve through the kube-dns Service, which the node proxy sends to the node-local
  // DNS server of each node (docs/architecture.md, Cluster DNS).
  nodeFlags.clusterDns = dns::kDefaultServiceIp;
  nodeFlags.add(upCmd, false);
  cli::ProxyFlags proxyFlags;
  proxyFlags.add(upCmd, true);

  auto agent = cli::addAgentCommand(app);
  auto kubeletCmd = cli::addKubeletCommand(app);
  auto images = cli::addImagesCommand(app);
  auto dnsCmd = cli::addDnsCommand(app);
  auto proxyCmd = cli::addProxyCommand(app);
  auto cloudCmd = cli::addCloudControllerManagerCommand(app);
  auto tokenCmd = cli::addTokenCommand(app);
  auto clusterCmd = cli::addClusterCommand(app);
  auto* versionCmd = app.add_subcommand("version", "Print the version");
  auto certificateCmd = cli::addCertificateCommand(app);
  auto secretsEncryptCmd = cli::addSecretsEncryptCommand(app);

  CLI11_PARSE(app, argc, argv);
  // Control-plane and hollow-node processes get the larger malloc cache; a real node's
  // kubelet keeps glibc's default, as its footprint is what counts there (+1.4 MB RSS).
  if (*apiserverCmd || *serverCmd || *schedulerCmd || *cmCmd || *upCmd ||
      agent.cmd->count("--hollow"))
    cli::tuneMallocByReexec(argv);
  cli::limitMallocArenas();
  // skiff's own files (keys, kubeconfigs, the database) private by default.
  if (*apiserverCmd || *serverCmd || *upCmd || *agent.cmd || *certificateCmd.cmd ||
      *secretsEncryptCmd.cmd)
    cli::restrictFileCreationMask();
  initLogging(logLevel);
  try {
    if (*versionCmd) {
      std::cout << "skiff v0.1.0 (Kubernetes API v1.32)\n";
      return 0;
    }
    if (*certificateCmd.cmd) return certificateCmd.run();
    if (*secretsEncryptCmd.cmd) return secretsEncryptCmd.run();
    if (*agent.cmd) return agent.run();
    if (*kubeletCmd.cmd) return kubeletCmd.run();
    if (*images.cmd) return images.run();
    if (*dnsCmd.cmd) return dnsCmd.run();
    if (*proxyCmd.cmd) return proxyCmd.run();
    if (*cloudCmd.cmd) return cloudCmd.run();
    if (*tokenCmd.cmd) return tokenCmd.run();
    if (*clusterCmd.cmd) return clusterCmd.run();
    if (*upCmd) {
      // A one-machine cluster on loopback keeps its node on loopback too: the API server
      // reaches the kubelet at 127.0.0.1 and nothing leaves the machine.
      if (nodeFlags.nodeIp.empty() && apiOptions.listen.rfind("127.", 0) == 0)
        nodeFlags.nodeIp = "127.0.0.1";
      // The kubelet proxy's destination guard lets this node, and only it, be on loopback.
      apiOptions.localNodeName = nodeFlags.nodeName.empty() ? cli::hostName() : nodeFlags.nodeName;
      auto upControllers = controllerFlags.resolve();
      if (apiOptions.tls && upControllers.clusterSigningCertFile.empty()) {
        upControllers.clusterSigningCertFile = apiOptions.dataDir + "/tls/ca.crt";
        upControllers.clusterSigningKeyFile = apiOptions.dataDir + "/tls/ca.key";
      }
      return runApiServer(apiOptions, true, false, upControllers, &nodeFlags, &proxyFlags);
    }
    auto controllerOptions = controllerFlags.resolve();
    // The bundled controller manager signs with the server's own CA (csrsigning).
    if (serverCmd->parsed() && apiOptions.tls && controllerOptions.clusterSigningCertFile.empty()) {
      controllerOptions.clusterSigningCertFile = apiOptions.dataDir + "/tls/ca.crt";
      controllerOptions.clusterSigningKeyFile = apiOptions.dataDir + "/tls/ca.key";
    }
    if (*schedulerCmd || *cmCmd) {
      cli::installSignalHandlers();
      Components components;
      components.client = std::make_unique<client::RestClient>(client::loadKubeconfig(kubeconfig));
      cli::MetricsServer metricsServer(metricsAddress);
      if (*schedulerCmd)
        components.startScheduler(leaderElect, schedulerName);
      else {
        // The CA for kube-root-ca.crt comes from the kubeconfig; legacy tokens need the API
        // server's key, so their Secrets are only cleaned up here.
        controllerOptions.rootCaPem = components.client->config().caPem;
        components.startControllers(leaderElect, controllerOptions);
      }
      cli::waitForSignal();
      components.stop();
      return 0;
    }
    return runApiServer(apiOptions, serverCmd->parsed(), leaderElect, controllerOptions, nullptr,
                        nullptr, &cloudFlags);
  } catch (const std::exception& e) {
    SKIFF_LOG_ERROR("fatal error=\"{}\"", e.what());
    return 1;
  }
}
