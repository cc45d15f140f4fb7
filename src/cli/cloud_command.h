// `skiff cloud-controller-manager` and the `--cloud-provider` flags of `skiff server`: the
// cloud controllers (src/cloud) over a provider built from the flags.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cloud/cloud_controller_manager.h"

namespace skiff::cli {

struct CloudFlags {
  std::string provider;  // --cloud-provider; "" = no cloud controllers
  std::string clusterName = "kubernetes";
  std::string loadBalancerIpRange;
  std::vector<std::string> routeNetns;
  bool configureCloudRoutes = true;
  std::string routeReconciliationPeriod = "10s";
  std::string nodeStatusUpdateFrequency = "5m";
  // Standalone only (`skiff server` has its own --cluster-cidr and --node-monitor-period).
  std::string clusterCidr = "10.42.0.0/16";
  std::string nodeMonitorPeriod = "5s";
  int workers = 1;
  std::vector<std::string> controllers = {"*"};

  // `standalone`: the flags `skiff server` already has for its controller manager too.
  void add(CLI::App* cmd, bool standalone);
};

// A provider and the cloud controllers over it, started.
struct RunningCloud {
  std::unique_ptr<cloud::CloudProvider> provider;
  std::unique_ptr<cloud::CloudControllerManager> manager;
  ~RunningCloud();
};
// Throws std::invalid_argument / cloud::CloudError for bad flags (unknown provider, bad range).
std::unique_ptr<RunningCloud> startCloudControllers(client::RestClient& client,
                                                    client::SharedInformerFactory* shared,
                                                    const CloudFlags& flags,
                                                    const std::string& dataDir,
                                                    const std::string& clusterCidr,
                                                    std::chrono::milliseconds nodeMonitorPeriod);

Subcommand addCloudControllerManagerCommand(CLI::App& app);

}  // namespace skiff::cli
