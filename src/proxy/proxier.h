// kube-proxy's role on nftables: Services, EndpointSlices and this node's Node through
// shared informers → desired state (service_model.h) → one nft transaction per sync
// (nft_rules.h), changes only after the first sync. Also serves /healthz and /metrics
// (upstream's port 10256) and flushes stale UDP conntrack entries.
//
// Threading: informer handlers only record which Services changed (a Service event names
// itself, an EndpointSlice event its kubernetes.io/service-name); one `proxy-sync` thread
// recomputes those Services' share of the table (table_model.h) and applies the
// difference, at most once per minSyncPeriod. Every syncPeriod, every Service is recomputed
// (still sent as a difference); the first sync and the one after a failure rewrite the table.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "client/informer.h"
#include "client/rest_client.h"
#include "proxy/nft_rules.h"
#include "proxy/service_model.h"
#include "proxy/sync_runner.h"
#include "proxy/table_model.h"

namespace skiff::net {
class HttpServer;
}

namespace skiff::proxy {

class HealthCheckServers;
class NftNetlink;
class PolicyController;

struct ProxyOptions {
  ProxyConfig config;
  std::chrono::milliseconds minSyncPeriod{1000};
  std::chrono::milliseconds syncPeriod{30000};
  std::string healthzBindAddress = "0.0.0.0:10256";  // empty: no health server
  // When the health server cannot bind: false throws (`skiff proxy`), true logs and goes on
  // (`skiff up`: a second cluster on the machine must not fail for a busy port).
  bool healthzOptional = false;
  // NodePorts on 127.0.0.1 need net.ipv4.conf.all.route_localnet=1, as upstream's iptables
  // mode sets it; the table then drops non-loopback traffic to 127/8 that was not DNATed.
  bool localhostNodePorts = true;
  // Put route_localnet back on stop: only when the rules go too (skiff up), since rules that
  // stay (skiff proxy, as upstream) still need it for their localhost NodePorts.
  bool restoreSysctlsOnStop = false;
  // Map elements as nf_tables netlink messages (nft_netlink.h) instead of nft text; chains
  // stay nft text. False (or no netlink socket): everything through `nft -f`.
  bool netlinkElements = true;
  // Enforce NetworkPolicies on this node (table ip skiff-policy, policy_controller.h).
  bool networkPolicy = true;
  // The identity NetworkPolicy enforcement watches Pods, Namespaces and NetworkPolicies
  // with, through informers of its own (null: the proxy's client and informers). A node's own
  // identity may not list those cluster-wide (Node authorizer), so on agent nodes the policy
  // side gets its own, as upstream's CNI policy agents run with their own RBAC.
  std::shared_ptr<client::RestClient> policyClient;
};

class Proxier {
 public:
  // `shared`: the process's informer factory (skiff up), else the proxier makes its own.
  Proxier(client::RestClient& client, ProxyOptions options,
          client::SharedInformerFactory* shared = nullptr);
  ~Proxier();
  Proxier(const Proxier&) = delete;
  Proxier& operator=(const Proxier&) = delete;

  // Installs the base table (the service-CIDR reject works from here on, before any
  // informer synced), starts the informers, the sync thread and the health server.
  void start();
  // Stops syncing (the table stays; `deleteTable()` removes it). Informers of a shared
  // factory are stopped by its owner; handlers stay harmless until then.
  void stop();

  bool healthy() const;
  std::string healthzBody() const;

 private:
  void markChanged(const std::string& serviceKey);
  // Applies a transaction (text, or text + netlink + text); "" or the error.
  std::string apply(const SplitTransaction& t);
  // One rebuild: of `changed` Services only, or of all when `all` (periodic resync); false
  // when the transaction failed (retried with a full sync).
  bool syncOnce(bool all, const std::set<std::string>& changed);
  // Service key → its ports and its share of the table, from the informers' caches.
  std::vector<ServicePort> portsOf(const std::string& serviceKey) const;

  client::RestClient& client_;
  ProxyOptions options_;
  std::unique_ptr<client::SharedInformerFactory> ownInformers_;
  client::SharedInformerFactory* informers_;
  client::SharedInformer *services_ = nullptr, *slices_ = nullptr, *node_ = nullptr;

  mutable std::mutex mu_;
  std::set<std::string> changed_;  // Service keys ("ns/name") waiting for a sync
  std::chrono::system_clock::time_point lastSynced_;
  std::unique_ptr<SyncRunner> runner_;  // the `proxy-sync` thread
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);

  // Owned by the sync thread.
  bool needFull_ = true, firstSync_ = true;
  ExistingTable existing_;
  TableModel model_;
  std::unique_ptr<NftNetlink> netlink_;                    // null: elements go as nft text
  std::map<std::string, std::vector<ServicePort>> ports_;  // by Service key, as installed

  std::unique_ptr<net::HttpServer> health_;
  std::unique_ptr<HealthCheckServers> healthChecks_;
  std::unique_ptr<client::SharedInformerFactory> policyInformers_;  // with policyClient
  std::unique_ptr<PolicyController> policy_;
  std::string previousRouteLocalnet_;
};

}  // namespace skiff::proxy
