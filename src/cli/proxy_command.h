// `skiff proxy` (kube-proxy on nftables) and the proxy that `skiff up` runs in its process.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "client/informer.h"
#include "client/rest_client.h"
#include "proxy/proxier.h"

namespace skiff::cli {

// The flags both share; `skiff up` takes them with a `--proxy-` prefix where upstream's name
// would be ambiguous there (--healthz-bind-address), and without --cluster-cidr (the
// controller manager's flag serves both).
struct ProxyFlags {
  std::string clusterCidr = "10.42.0.0/16";
  std::string serviceCidr = "10.43.0.0/16";
  std::string minSyncPeriod = "1s", syncPeriod = "30s";
  std::string healthzBindAddress = "0.0.0.0:10256";
  std::string nodeLocalDns = "169.254.20.10";
  bool disabled = false;         // skiff up --disable-proxy
  std::string policyKubeconfig;  // NetworkPolicy enforcement's own identity ("" = the proxy's)

  void add(CLI::App* cmd, bool forUp);
  proxy::ProxyOptions resolve(const std::string& nodeName) const;
};

// Starts the proxy inside `skiff up`; null when disabled or when it could not start (logged:
// the node runs on without Services).
std::unique_ptr<proxy::Proxier> startEmbeddedProxy(client::RestClient& client,
                                                   client::SharedInformerFactory& informers,
                                                   const ProxyFlags& flags,
                                                   const std::string& nodeName,
                                                   const std::string& clusterCidr);
// Stops it and removes its table (skiff up leaves nothing behind).
void stopEmbeddedProxy(proxy::Proxier* proxier);

}  // namespace skiff::cli
