// skiff: every Kubernetes component in one binary. Each subcommand is one component or a
// bundle of them (DESIGN.md §1).
#include <CLI/CLI.hpp>
#include <malloc.h>

#include <csignal>
#include <iostream>
#include <thread>

#include "apiserver/api_server.h"
#include "client/kubeconfig.h"
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

void waitForSignal() {
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  while (!stopRequested) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  SKIFF_LOG_INFO("shutting down");
}

// `withScheduler`: the `server` bundle; components still talk to the API server over
// HTTPS with the admin kubeconfig, exactly as when they run alone.
int runApiServer(const skiff::apiserver::ApiServerOptions& options, bool withScheduler) {
  skiff::apiserver::ApiServer server(options);
  server.start();
  std::unique_ptr<skiff::client::RestClient> client;
  std::unique_ptr<skiff::scheduler::Scheduler> scheduler;
  if (withScheduler) {
    client = std::make_unique<skiff::client::RestClient>(
        skiff::client::loadKubeconfig(server.kubeconfigPath()));
    scheduler = std::make_unique<skiff::scheduler::Scheduler>(*client);
    scheduler->start();
  }
  waitForSignal();
  if (scheduler) scheduler->stop();
  server.stop();
  return 0;
}

int runScheduler(const std::string& kubeconfig, const std::string& name) {
  skiff::client::RestClient client(skiff::client::loadKubeconfig(kubeconfig));
  skiff::scheduler::Scheduler scheduler(client, {name});
  scheduler.start();
  waitForSignal();
  scheduler.stop();
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
  auto* schedulerCmd = app.add_subcommand("scheduler", "Run the scheduler against an API server");
  schedulerCmd->add_option("--kubeconfig", kubeconfig, "Kubeconfig of the API server")->required();
  schedulerCmd->add_option("--scheduler-name", schedulerName,
                           "Schedule pods whose spec.schedulerName is this")
      ->capture_default_str();
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
    if (*schedulerCmd) return runScheduler(kubeconfig, schedulerName);
    return runApiServer(apiOptions, serverCmd->parsed());
  } catch (const std::exception& e) {
    SKIFF_LOG_ERROR("fatal error=\"{}\"", e.what());
    return 1;
  }
}
