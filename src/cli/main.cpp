// skiff: every Kubernetes component in one binary. Each subcommand is one component or a
// bundle of them (DESIGN.md §1).
#include <CLI/CLI.hpp>
#include <malloc.h>

#include <csignal>
#include <iostream>
#include <thread>
#include <unistd.h>

#include "apiserver/api_server.h"
#include "client/kubeconfig.h"
#include "client/leader_election.h"
#include "common/ids.h"
#include "client/rest_client.h"
#include "common/log.h"
#include "scheduler/scheduler.h"

namespace {

volatile std::sig_atomic_t stopRequested = 0;
void onSignal(int) { stopRequested = 1; }

void addApiServerFlags(CLI::App* cmd, skiff::apiserver::ApiServerOptions& o) {
  cmd->add_option("--data-dir", o.dataDir, "Directory for the database and the kubeconfig")
      ->capture_default_str();
  cmd->add_option("--listen", o.listen, "Address to serve the Kubernetes API on (HOST:PORT)")
      ->capture_default_str();
  cmd->add_option("--storage", o.storage, "Storage backend: sqlite (durable) or memory")
      ->check(CLI::IsMember({"sqlite", "memory"}))
      ->capture_default_str();
  cmd->add_option("--threads", o.threads, "HTTP worker threads")->capture_default_str();
  cmd->add_flag("!--disable-tls", o.tls,
                "Serve plain HTTP instead of HTTPS (no client certificates; for benchmarks)");
}

// The handlers are installed by each run function before it starts anything.
void waitForSignal() {
  while (!stopRequested) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  SKIFF_LOG_INFO("shutting down");
}

// Runs `start` once this process holds the Lease kube-system/`leaseName` (or at once without
// --leader-elect); like upstream, losing the Lease ends the process.
bool campaign(skiff::client::RestClient& client, bool leaderElect, const std::string& leaseName,
              std::unique_ptr<skiff::client::LeaderElector>& elector) {
  if (!leaderElect) return true;
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  skiff::client::LeaderElectionConfig config;
  config.leaseName = leaseName;
  config.identity = std::string(host) + "_" + skiff::newUid();
  auto leading = std::make_shared<std::atomic<bool>>(false);
  config.onStartedLeading = [leading] { *leading = true; };
  config.onStoppedLeading = [] {
    SKIFF_LOG_ERROR("leader election lost; exiting");
    stopRequested = 1;
  };
  elector = std::make_unique<skiff::client::LeaderElector>(client, config);
  elector->start();
  SKIFF_LOG_INFO("waiting to lead lease=kube-system/{} identity={}", leaseName, config.identity);
  while (!*leading && !stopRequested) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return *leading;
}

// `withScheduler`: the `server` bundle; components still talk to the API server over
// HTTPS with the admin kubeconfig, exactly as when they run alone.
int runApiServer(const skiff::apiserver::ApiServerOptions& options, bool withScheduler,
                 bool leaderElect) {
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  skiff::apiserver::ApiServer server(options);
  server.start();
  std::unique_ptr<skiff::client::RestClient> client;
  std::unique_ptr<skiff::client::LeaderElector> elector;
  std::unique_ptr<skiff::scheduler::Scheduler> scheduler;
  if (withScheduler) {
    client = std::make_unique<skiff::client::RestClient>(
        skiff::client::loadKubeconfig(server.kubeconfigPath()));
    if (campaign(*client, leaderElect, "kube-scheduler", elector)) {
      scheduler = std::make_unique<skiff::scheduler::Scheduler>(*client);
      scheduler->start();
    }
  }
  waitForSignal();
  if (scheduler) scheduler->stop();
  if (elector) elector->stop();
  server.stop();
  return 0;
}

int runScheduler(const std::string& kubeconfig, const std::string& name, bool leaderElect) {
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  skiff::client::RestClient client(skiff::client::loadKubeconfig(kubeconfig));
  std::unique_ptr<skiff::client::LeaderElector> elector;
  std::unique_ptr<skiff::scheduler::Scheduler> scheduler;
  if (campaign(client, leaderElect, "kube-scheduler", elector)) {
    scheduler = std::make_unique<skiff::scheduler::Scheduler>(client, skiff::scheduler::SchedulerOptions{name});
    scheduler->start();
  }
  waitForSignal();
  if (scheduler) scheduler->stop();
  if (elector) elector->stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"skiff: Kubernetes in one small binary"};
  app.require_subcommand(1);
  std::string logLevel = "info";
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error")->capture_default_str();

  skiff::apiserver::ApiServerOptions apiOptions;
  apiOptions.dataDir = "/var/lib/skiff";
  auto* apiserverCmd = app.add_subcommand("apiserver", "Run the Kubernetes API server");
  addApiServerFlags(apiserverCmd, apiOptions);
  auto* serverCmd = app.add_subcommand(
      "server", "Run the control plane in one process (API server and scheduler for now)");
  addApiServerFlags(serverCmd, apiOptions);
  std::string kubeconfig, schedulerName = "default-scheduler";
  bool leaderElect = false;
  serverCmd->add_flag("--leader-elect", leaderElect,
                      "Control-plane components run only while holding their kube-system Lease");
  auto* schedulerCmd = app.add_subcommand("scheduler", "Run the scheduler against an API server");
  schedulerCmd->add_option("--kubeconfig", kubeconfig, "Kubeconfig of the API server")->required();
  schedulerCmd->add_option("--scheduler-name", schedulerName,
                           "Schedule pods whose spec.schedulerName is this")
      ->capture_default_str();
  schedulerCmd->add_flag("--leader-elect", leaderElect,
                         "Schedule only while holding the Lease kube-system/kube-scheduler");
  auto* versionCmd = app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);
  // Few malloc arenas: the server's threads allocate large transient buffers (list
  // responses); per-thread arenas would keep that memory resident long after.
  mallopt(M_ARENA_MAX, 2);
  skiff::initLogging(logLevel);
  try {
    if (*versionCmd) {
      std::cout << "skiff v0.1.0 (Kubernetes API v1.32)\n";
      return 0;
    }
    if (*schedulerCmd) return runScheduler(kubeconfig, schedulerName, leaderElect);
    return runApiServer(apiOptions, serverCmd->parsed(), leaderElect);
  } catch (const std::exception& e) {
    SKIFF_LOG_ERROR("fatal error=\"{}\"", e.what());
    return 1;
  }
}
