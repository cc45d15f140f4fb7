// `skiff dns`: the node-local cluster DNS server alone against an API server (what `skiff up`,
// `skiff kubelet` and `skiff agent` run inside the node agent).
#include <memory>

#include "cli/commands.h"
#include "cli/metrics_server.h"
#include "cli/process.h"
#include "client/kubeconfig.h"
#include "common/log.h"
#include "dns/node_dns.h"

namespace skiff::cli {

Subcommand addDnsCommand(CLI::App& app) {
  struct Flags {
    std::string kubeconfig;
    dns::NodeDnsOptions options;
    int port = 53;
    int metricsPort = 9153;
  };
  auto f = std::make_shared<Flags>();
  f->options.server.bindAddress = dns::kDefaultBindAddress;
  auto* cmd = app.add_subcommand(
      "dns",
      "Run the node-local cluster DNS server: Services, endpoints and pods of the cluster zone "
      "answered from informers, other names forwarded to the host's resolvers");
  cmd->add_option("--kubeconfig", f->kubeconfig, "Kubeconfig of the API server")->required();
  cmd->add_option("--cluster-domain", f->options.clusterDomain, "DNS domain of the cluster")
      ->capture_default_str();
  cmd->add_option("--dns-bind-address", f->options.server.bindAddress,
                  "Address to serve on (a non-loopback one is put on the dummy interface "
                  "skiff-dns)")
      ->capture_default_str();
  cmd->add_option("--port", f->port, "UDP and TCP port")->capture_default_str();
  cmd->add_option("--metrics-port", f->metricsPort,
                  "Port of /metrics (CoreDNS's coredns_* families) on the same address")
      ->capture_default_str();
  cmd->add_option("--dns-resolv-conf", f->options.server.resolvConf,
                  "Names outside the cluster domain are forwarded to this file's nameservers")
      ->capture_default_str();
  cmd->add_option("--service-ip", f->options.serviceIp,
                  "Cluster IP of the kube-system/kube-dns Service created when absent (empty: "
                  "none)")
      ->capture_default_str();
  return {cmd, [f] {
            installSignalHandlers();
            client::RestClient client(client::loadKubeconfig(f->kubeconfig));
            f->options.server.port = static_cast<uint16_t>(f->port);
            dns::NodeDns server(client, f->options);
            std::unique_ptr<MetricsServer> metrics;
            try {
              server.start();
              metrics = std::make_unique<MetricsServer>(
                  f->options.server.bindAddress + ":" + std::to_string(f->metricsPort),
                  &server.metrics());
            } catch (const std::exception& e) {
              SKIFF_LOG_ERROR("dns failed to start error=\"{}\"", e.what());
              return 1;
            }
            waitForSignal();
            metrics.reset();
            server.stop();
            return 0;
          }};
}

}  // namespace skiff::cli
