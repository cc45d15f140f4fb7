// The cloud provider interface of `skiff cloud-controller-manager` (upstream's
// k8s.io/cloud-provider Interface): what the cloud controllers ask of the machines' owner.
// Each part is optional (a provider without routes returns nullptr from routes(), and the
// route controller then does not run, as upstream's does when Routes() is false).
//
// Nodes and Services are passed as the API objects (JSON), like upstream passes *v1.Node.
// Errors are thrown as CloudError; their text ends up in Events (SyncLoadBalancerFailed ...),
// so it is written for the user.
#pragma once
#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace skiff::cloud {

class CloudError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Upstream's cloudprovider.InstanceNotFound: the instance is gone for good.
class InstanceNotFound : public CloudError {
 public:
  using CloudError::CloudError;
};

struct NodeAddress {
  std::string type;  // InternalIP, ExternalIP, Hostname, InternalDNS, ExternalDNS
  std::string address;
  bool operator==(const NodeAddress&) const = default;
};

struct InstanceMetadata {
  std::string providerID;  // spec.providerID
  std::string instanceType;
  std::vector<NodeAddress> nodeAddresses;
  std::string zone, region;
};

// InstancesV2: instances looked up by the Node (its providerID, else its name).
class InstancesV2 {
 public:
  virtual ~InstancesV2() = default;
  virtual bool instanceExists(const boost::json::object& node) = 0;
  virtual bool instanceShutdown(const boost::json::object& node) = 0;
  // Throws InstanceNotFound when there is no such instance.
  virtual InstanceMetadata instanceMetadata(const boost::json::object& node) = 0;
};

struct Zone {
  std::string failureDomain, region;
};

class Zones {
 public:
  virtual ~Zones() = default;
  virtual Zone zoneByNodeName(const std::string& nodeName) = 0;
};

struct Route {
  std::string name;        // provider's name for it
  std::string targetNode;  // node name; "" when the target is no node we know (blackhole)
  std::string destinationCidr;
  bool blackhole = false;
  bool operator==(const Route&) const = default;
};

class Routes {
 public:
  virtual ~Routes() = default;
  virtual std::vector<Route> listRoutes(const std::string& clusterName) = 0;
  // `nameHint` is the node's uid, as upstream passes it.
  virtual void createRoute(const std::string& clusterName, const std::string& nameHint,
                           const Route& route) = 0;
  virtual void deleteRoute(const std::string& clusterName, const Route& route) = 0;
};

struct LoadBalancerIngress {
  std::string ip;
  std::string ipMode;  // "VIP" or "Proxy"; "" leaves it unset
  bool operator==(const LoadBalancerIngress&) const = default;
};
struct LoadBalancerStatus {
  std::vector<LoadBalancerIngress> ingress;
  bool operator==(const LoadBalancerStatus&) const = default;
};

// Load balancers of Services; `nodes` are the Node objects that may receive the traffic.
class LoadBalancer {
 public:
  virtual ~LoadBalancer() = default;
  // The status of an existing load balancer, nullopt when there is none.
  virtual std::optional<LoadBalancerStatus> getLoadBalancer(const std::string& clusterName,
                                                            const boost::json::object& service) = 0;
  virtual std::string getLoadBalancerName(const std::string& clusterName,
                                          const boost::json::object& service) = 0;
  virtual LoadBalancerStatus ensureLoadBalancer(const std::string& clusterName,
                                                const boost::json::object& service,
                                                const std::vector<boost::json::object>& nodes) = 0;
  virtual void updateLoadBalancer(const std::string& clusterName,
                                  const boost::json::object& service,
                                  const std::vector<boost::json::object>& nodes) = 0;
  // No error when there is nothing to delete.
  virtual void ensureLoadBalancerDeleted(const std::string& clusterName,
                                         const boost::json::object& service) = 0;
};

class CloudProvider {
 public:
  virtual ~CloudProvider() = default;
  virtual std::string providerName() const = 0;
  virtual InstancesV2* instancesV2() { return nullptr; }
  virtual Zones* zones() { return nullptr; }
  virtual Routes* routes() { return nullptr; }
  virtual LoadBalancer* loadBalancer() { return nullptr; }
  // Services with spec.loadBalancerClass are left to other implementations, as upstream's
  // service controller does, unless the provider claims the class.
  virtual bool claimsLoadBalancerClass(const std::string&) const { return false; }
  // Work the provider does on its own beat (the local provider's load-balancer failover);
  // the cloud controller manager calls it every second.
  virtual void periodic() {}
  // Nodes holding a ready endpoint of Service ns/name, for providers that steer traffic
  // to them; the cloud controller manager installs it (EndpointSlice informer).
  using EndpointNodesFn =
      std::function<std::vector<std::string>(const std::string& ns, const std::string& name)>;
  virtual void setEndpointNodes(EndpointNodesFn) {}
};

// What a provider is built from (upstream's --cloud-config, as flags).
struct ProviderConfig {
  std::string dataDir;  // the provider keeps its state below DATA_DIR/cloud
  std::string clusterName = "kubernetes";
  std::string loadBalancerIpRange;      // "A-B" or a CIDR; "" = provider default
  std::vector<std::string> routeNetns;  // network namespaces routes are programmed in
};

using ProviderFactory = std::function<std::unique_ptr<CloudProvider>(const ProviderConfig&)>;
// Static registration of a provider by name (`static ProviderRegistration reg("local", f)`).
struct ProviderRegistration {
  ProviderRegistration(std::string name, ProviderFactory factory);
};
std::vector<std::string> registeredProviders();
// Builds provider `name`; throws CloudError naming the known providers when there is none.
std::unique_ptr<CloudProvider> makeProvider(const std::string& name, const ProviderConfig& config);

// --- well-known names (k8s.io/cloud-provider/api and core/v1 labels)
inline const std::string kTaintUninitialized = "node.cloudprovider.kubernetes.io/uninitialized";
inline const std::string kTaintShutdown = "node.cloudprovider.kubernetes.io/shutdown";
inline const std::string kLabelZone = "topology.kubernetes.io/zone";
inline const std::string kLabelRegion = "topology.kubernetes.io/region";
inline const std::string kLabelZoneBeta = "failure-domain.beta.kubernetes.io/zone";
inline const std::string kLabelRegionBeta = "failure-domain.beta.kubernetes.io/region";
inline const std::string kLabelInstanceType = "node.kubernetes.io/instance-type";
inline const std::string kLabelInstanceTypeBeta = "beta.kubernetes.io/instance-type";
inline const std::string kLabelExcludeFromLb =
    "node.kubernetes.io/exclude-from-external-load-balancers";
inline const std::string kLbFinalizer = "service.kubernetes.io/load-balancer-cleanup";

}  // namespace skiff::cloud
