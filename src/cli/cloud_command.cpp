#include "cli/cloud_command.h"

#include "cli/metrics_server.h"
#include "cli/process.h"
#include "client/kubeconfig.h"
#include "common/log.h"

namespace skiff::cli {

void CloudFlags::add(CLI::App* cmd, bool standalone) {
  auto* p = cmd->add_option("--cloud-provider", provider,
                            standalone ? "Cloud provider: local (machines on this host, "
                                         "DATA_DIR/cloud/instances)"
                                       : "Run the cloud controller manager in this process with "
                                         "this provider: local (off when empty)");
  if (standalone) p->required();
  cmd->add_option("--cluster-name", clusterName,
                  "Cluster name: providerIDs are skiff://CLUSTER/NODE")
      ->capture_default_str();
  cmd->add_option("--load-balancer-ip-range", loadBalancerIpRange,
                  "local provider: addresses of LoadBalancer Services, FIRST-LAST or a CIDR "
                  "(default 10.44.255.200-10.44.255.250)");
  cmd->add_option("--route-netns", routeNetns,
                  "local provider: network namespaces where pod-CIDR and load-balancer routes "
                  "are programmed; '.' is this process's own (none: no routes; the route "
                  "controller does not run)")
      ->delimiter(',');
  cmd->add_flag("--configure-cloud-routes,!--no-configure-cloud-routes", configureCloudRoutes,
                "Run the route controller when the provider supports routes")
      ->capture_default_str();
  cmd->add_option("--route-reconciliation-period", routeReconciliationPeriod,
                  "How often routes are compared with the nodes' pod ranges")
      ->capture_default_str();
  cmd->add_option("--node-status-update-frequency", nodeStatusUpdateFrequency,
                  "How often initialized nodes get their addresses from the provider")
      ->capture_default_str();
  if (!standalone) return;
  cmd->add_option("--cluster-cidr", clusterCidr,
                  "Pod address range: routes inside it that match no node are removed")
      ->capture_default_str();
  cmd->add_option("--node-monitor-period", nodeMonitorPeriod,
                  "How often not-Ready nodes are checked with the provider")
      ->capture_default_str();
  cmd->add_option("--concurrent-service-syncs", workers, "Service controller workers")
      ->capture_default_str();
  cmd->add_option("--controllers", controllers,
                  "Cloud controllers to run: '*' for all (cloud-node, cloud-node-lifecycle, "
                  "service, route), 'name' to enable, '-name' to disable")
      ->delimiter(',')
      ->capture_default_str();
}

RunningCloud::~RunningCloud() {
  if (manager) manager->stop();
  manager.reset();  // before the provider it points at
}

std::unique_ptr<RunningCloud> startCloudControllers(client::RestClient& client,
                                                    client::SharedInformerFactory* shared,
                                                    const CloudFlags& flags,
                                                    const std::string& dataDir,
                                                    const std::string& clusterCidr,
                                                    std::chrono::milliseconds nodeMonitorPeriod) {
  cloud::ProviderConfig config;
  config.dataDir = dataDir;
  config.clusterName = flags.clusterName;
  config.loadBalancerIpRange = flags.loadBalancerIpRange;
  config.routeNetns = flags.routeNetns;
  cloud::CloudOptions options;
  options.clusterName = flags.clusterName;
  options.clusterCidr = clusterCidr;
  options.configureCloudRoutes = flags.configureCloudRoutes;
  options.nodeMonitorPeriod = nodeMonitorPeriod;
  options.routeReconciliationPeriod = parseDuration(flags.routeReconciliationPeriod);
  options.nodeStatusUpdateFrequency = parseDuration(flags.nodeStatusUpdateFrequency);
  options.workers = flags.workers;
  options.controllers = flags.controllers;
  auto running = std::make_unique<RunningCloud>();
  running->provider = cloud::makeProvider(flags.provider, config);
  running->manager =
      std::make_unique<cloud::CloudControllerManager>(client, *running->provider, options, shared);
  running->manager->start();
  return running;
}

namespace {

struct StandaloneFlags {
  CloudFlags cloud;
  std::string kubeconfig, dataDir = "/var/lib/skiff", metricsAddress;
  bool leaderElect = false;
};

int runCloudControllerManager(const StandaloneFlags& f) {
  installSignalHandlers();
  client::RestClient client(client::loadKubeconfig(f.kubeconfig));
  MetricsServer metrics(f.metricsAddress);
  std::unique_ptr<client::LeaderElector> elector;
  std::unique_ptr<RunningCloud> cloud;
  // Upstream's Lease: kube-system/cloud-controller-manager.
  if (campaign(client, f.leaderElect, "cloud-controller-manager", elector))
    cloud = startCloudControllers(client, nullptr, f.cloud, f.dataDir, f.cloud.clusterCidr,
                                  parseDuration(f.cloud.nodeMonitorPeriod));
  waitForSignal();
  cloud.reset();
  if (elector) elector->stop();
  return 0;
}

}  // namespace

Subcommand addCloudControllerManagerCommand(CLI::App& app) {
  auto f = std::make_shared<StandaloneFlags>();
  auto* cmd = app.add_subcommand(
      "cloud-controller-manager",
      "Run the cloud controllers (node initialization and lifecycle, LoadBalancer Services, "
      "pod-CIDR routes) with a cloud provider against an API server");
  cmd->add_option("--kubeconfig", f->kubeconfig,
                  "Kubeconfig of the API server (the server writes "
                  "DATA_DIR/kubeconfigs/cloud-controller-manager.kubeconfig)")
      ->required();
  cmd->add_option("--data-dir", f->dataDir,
                  "local provider: its state lives in DATA_DIR/cloud (instances/, "
                  "loadbalancers.json)")
      ->capture_default_str();
  f->cloud.add(cmd, true);
  cmd->add_flag("--leader-elect", f->leaderElect,
                "Reconcile only while holding the Lease kube-system/cloud-controller-manager");
  cmd->add_option("--metrics-bind-address", f->metricsAddress,
                  "Serve /metrics and /healthz over plain HTTP at host:port; off when empty");
  return {cmd, [f] {
            try {
              return runCloudControllerManager(*f);
            } catch (const std::exception& e) {
              SKIFF_LOG_ERROR("cloud-controller-manager: {}", e.what());
              return 1;
            }
          }};
}

}  // namespace skiff::cli
