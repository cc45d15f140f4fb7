// The `local` cloud provider: machines on this host (network namespaces made by `skiff
// cluster create`), described by the inventory (inventory.h). It implements
//   InstancesV2/Zones  from the inventory records; providerID skiff://<cluster>/<node>;
//   LoadBalancer       addresses from --load-balancer-ip-range (ip_pool.h, persisted in
//                      DATA_DIR/cloud/loadbalancers.json), each routed (/32) to one node
//                      chosen by lb_choice.h, re-chosen every second (failover when that
//                      node's instance stops or loses its endpoints);
//   Routes             pod-CIDR routes via each node's InternalIP, in the network
//                      namespaces of --route-netns (none given: no Routes, no /32 routes).
#pragma once
#include <map>
#include <memory>
#include <mutex>

#include "cloud/cloud_provider.h"
#include "cloud/local/inventory.h"
#include "cloud/local/ip_pool.h"
#include "cloud/local/route_programmer.h"

namespace skiff::cloud::local {

inline const std::string kDefaultLoadBalancerRange = "10.44.255.200-10.44.255.250";
inline const std::string kProviderName = "local";

class LocalProvider : public CloudProvider,
                      public InstancesV2,
                      public Zones,
                      public Routes,
                      public LoadBalancer {
 public:
  LocalProvider(const ProviderConfig& config, std::shared_ptr<RouteProgrammer> programmer);

  std::string providerName() const override { return kProviderName; }
  InstancesV2* instancesV2() override { return this; }
  Zones* zones() override { return this; }
  Routes* routes() override { return config_.routeNetns.empty() ? nullptr : this; }
  LoadBalancer* loadBalancer() override { return this; }
  void periodic() override;
  void setEndpointNodes(EndpointNodesFn fn) override;

  // InstancesV2
  bool instanceExists(const boost::json::object& node) override;
  bool instanceShutdown(const boost::json::object& node) override;
  InstanceMetadata instanceMetadata(const boost::json::object& node) override;
  // Zones
  Zone zoneByNodeName(const std::string& nodeName) override;
  // Routes
  std::vector<Route> listRoutes(const std::string& clusterName) override;
  void createRoute(const std::string& clusterName, const std::string& nameHint,
                   const Route& route) override;
  void deleteRoute(const std::string& clusterName, const Route& route) override;
  // LoadBalancer
  std::optional<LoadBalancerStatus> getLoadBalancer(const std::string& clusterName,
                                                    const boost::json::object& service) override;
  std::string getLoadBalancerName(const std::string& clusterName,
                                  const boost::json::object& service) override;
  LoadBalancerStatus ensureLoadBalancer(const std::string& clusterName,
                                        const boost::json::object& service,
                                        const std::vector<boost::json::object>& nodes) override;
  void updateLoadBalancer(const std::string& clusterName, const boost::json::object& service,
                          const std::vector<boost::json::object>& nodes) override;
  void ensureLoadBalancerDeleted(const std::string& clusterName,
                                 const boost::json::object& service) override;

  std::string providerIdFor(const std::string& nodeName) const;
  // The node a load balancer's address is routed to ("" none), for tests and logs.
  std::string chosenNode(const std::string& serviceKey) const;
  const Inventory& inventory() const { return inventory_; }
  IpPool& pool() { return pool_; }

 private:
  struct Balancer {
    std::string ip;
    std::vector<std::string> hosts;  // node names from the last ensure/update
    std::string node;                // where the address is routed now
  };
  // The instance name of a Node: from spec.providerID when set (which must be ours), else
  // metadata.name.
  std::string instanceName(const boost::json::object& node) const;
  Instance requireInstance(const std::string& name) const;
  // Re-chooses the node of `key` and reprograms the /32 route when it changed. Under mu_.
  void steer(const std::string& key, Balancer& lb);
  void programEverywhere(const KernelRoute& route, const std::string& skipNetns);
  void removeEverywhere(const std::string& destination);

  ProviderConfig config_;
  Inventory inventory_;
  IpPool pool_;
  std::shared_ptr<RouteProgrammer> programmer_;
  mutable std::mutex mu_;
  std::map<std::string, Balancer> balancers_;  // "ns/name"
  EndpointNodesFn endpointNodes_;
};

}  // namespace skiff::cloud::local
