// `skiff proxy`: kube-proxy's role on nftables, against an API server through a kubeconfig.
#include "cli/proxy_command.h"

#include <iostream>

#include "cli/commands.h"
#include "cli/local_node.h"
#include "cli/process.h"
#include "client/kubeconfig.h"
#include "common/log.h"
#include "proxy/policy_controller.h"
#include "proxy/system.h"

namespace skiff::cli {

void ProxyFlags::add(CLI::App* cmd, bool forUp) {
  if (forUp) {
    cmd->add_flag("--disable-proxy", disabled,
                  "Do not run the Service proxy (nftables table ip skiff) in this process, nor "
                  "NetworkPolicy enforcement (table ip skiff-policy)");
    cmd->add_option("--proxy-healthz-bind-address", healthzBindAddress,
                    "The proxy's /healthz and /metrics (host:port; empty: off)")
        ->capture_default_str();
  } else {
    cmd->add_option("--cluster-cidr", clusterCidr,
                    "Pod address range: Service traffic from outside it is masqueraded")
        ->capture_default_str();
    cmd->add_option("--healthz-bind-address", healthzBindAddress,
                    "Serve /healthz (200/503 with upstream's JSON) and /metrics here; empty: off")
        ->capture_default_str();
  }
  cmd->add_option("--network-policy-kubeconfig", policyKubeconfig,
                  "NetworkPolicy enforcement watches Pods, Namespaces and NetworkPolicies with "
                  "this kubeconfig's identity (it needs list/watch on them cluster-wide); empty: "
                  "the proxy's own");
  cmd->add_option("--service-cidr", serviceCidr,
                  "Service address range: packets to an address no Service has are rejected")
      ->capture_default_str();
  // In `skiff up` the sync periods are prefixed: the kubelet's flags sit beside them.
  std::string prefix = forUp ? "--proxy-" : "--";
  cmd->add_option(prefix + "min-sync-period", minSyncPeriod,
                  "Changes are applied at most this often (they are batched meanwhile)")
      ->capture_default_str();
  cmd->add_option(prefix + "sync-period", syncPeriod,
                  "Rules are checked (and rebuilt if someone removed them) at least this often")
      ->capture_default_str();
  cmd->add_option("--node-local-dns", nodeLocalDns,
                  "kube-system/kube-dns is sent to this node-local address (same ports) on "
                  "every node; empty: use its endpoints like any Service")
      ->capture_default_str();
}

proxy::ProxyOptions ProxyFlags::resolve(const std::string& nodeName) const {
  proxy::ProxyOptions o;
  o.config.nodeName = nodeName;
  o.config.clusterCidr = clusterCidr;
  o.config.serviceCidr = serviceCidr;
  o.config.nodeLocalDns = nodeLocalDns;
  o.minSyncPeriod = parseDuration(minSyncPeriod);
  o.syncPeriod = parseDuration(syncPeriod);
  if (o.syncPeriod.count() <= 0) throw std::invalid_argument("--sync-period must be positive");
  o.healthzBindAddress = healthzBindAddress;
  if (!policyKubeconfig.empty())
    o.policyClient = std::make_shared<client::RestClient>(client::loadKubeconfig(policyKubeconfig));
  return o;
}

std::unique_ptr<proxy::Proxier> startEmbeddedProxy(client::RestClient& client,
                                                   client::SharedInformerFactory& informers,
                                                   const ProxyFlags& flags,
                                                   const std::string& nodeName,
                                                   const std::string& clusterCidr) {
  if (flags.disabled) return nullptr;
  auto options = flags.resolve(nodeName);
  options.config.clusterCidr = clusterCidr;
  options.healthzOptional = true;
  options.restoreSysctlsOnStop = true;  // stopEmbeddedProxy removes the table too
  auto proxier = std::make_unique<proxy::Proxier>(client, options, &informers);
  try {
    proxier->start();
  } catch (const std::exception& e) {
    // The node still runs pods without Services (as with a crash-looping kube-proxy).
    SKIFF_LOG_ERROR("proxy: not started, Services are not reachable on this node error=\"{}\"",
                    e.what());
    proxier->stop();
    return nullptr;
  }
  return proxier;
}

void stopEmbeddedProxy(proxy::Proxier* proxier) {
  if (!proxier) return;
  proxier->stop();
  if (proxy::deleteTable()) SKIFF_LOG_INFO("proxy: table ip skiff removed");
  if (proxy::deletePolicyTable()) SKIFF_LOG_INFO("proxy: table ip skiff-policy removed");
}

Subcommand addProxyCommand(CLI::App& app) {
  struct Flags {
    std::string kubeconfig, hostnameOverride;
    bool cleanup = false;
    ProxyFlags proxy;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand(
      "proxy",
      "Run the Service proxy (kube-proxy, nftables mode): ClusterIP, NodePort, externalIPs and "
      "load-balancer IPs of Services to their ready endpoints, in the nftables table ip skiff");
  cmd->footer(
      "Rules: one `nft -f` transaction per sync; after the first, only changed chains and map "
      "elements.\nA packet to an address of --service-cidr that no Service has is rejected. "
      "IPv4 only.\nNeeds root (nftables, sysctls) and the conntrack tool for UDP endpoint "
      "changes.\nNetworkPolicies of this node's pods are enforced in table ip skiff-policy.\n"
      "--cleanup removes both tables and exits.");
  cmd->add_option("--kubeconfig", f->kubeconfig, "Kubeconfig of the API server");
  cmd->add_option("--hostname-override", f->hostnameOverride,
                  "This node's name (its local endpoints; default: the host name)");
  cmd->add_flag("--cleanup", f->cleanup, "Remove the proxy's nftables table and exit");
  f->proxy.add(cmd, false);
  return {cmd, [f]() -> int {
            if (f->cleanup) {
              bool ok = proxy::deleteTable() && proxy::deletePolicyTable();
              if (!ok) std::cerr << "skiff proxy: nft could not remove table ip skiff\n";
              return ok ? 0 : 1;
            }
            if (f->kubeconfig.empty()) {
              std::cerr << "skiff proxy: --kubeconfig is required\n";
              return 2;
            }
            proxy::ProxyOptions options;
            try {
              options =
                  f->proxy.resolve(f->hostnameOverride.empty() ? hostName() : f->hostnameOverride);
            } catch (const std::exception& e) {
              std::cerr << "skiff proxy: " << e.what() << "\n";
              return 2;
            }
            installSignalHandlers();
            client::RestClient client(client::loadKubeconfig(f->kubeconfig));
            proxy::Proxier proxier(client, options);
            try {
              proxier.start();
            } catch (const std::exception& e) {
              SKIFF_LOG_ERROR("proxy failed to start error=\"{}\"", e.what());
              return 1;
            }
            waitForSignal();
            // Like upstream's kube-proxy, the rules stay when it stops: Services keep
            // working while it restarts (--cleanup removes them).
            proxier.stop();
            return 0;
          }};
}

}  // namespace skiff::cli
