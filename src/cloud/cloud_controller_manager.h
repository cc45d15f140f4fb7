// CloudControllerManager (upstream's cloud-controller-manager): the cloud controllers over
// one provider, on the shared controller framework (controller/controller.h) and informers:
//   cloud-node            initializes Nodes registered with the uninitialized taint
//   cloud-node-lifecycle  deletes Nodes whose instance is gone, taints stopped ones
//   service               load balancers for type=LoadBalancer Services
//   route                 pod-CIDR routes to the nodes (only when the provider has Routes)
// Runs inside `skiff server --cloud-provider NAME` and as `skiff cloud-controller-manager`.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cloud/cloud_provider.h"
#include "controller/controller.h"

namespace skiff::cloud {

struct CloudOptions {
  std::string clusterName = "kubernetes";    // --cluster-name
  std::string clusterCidr = "10.42.0.0/16";  // --cluster-cidr: routes outside it are not ours
  bool configureCloudRoutes = true;          // --configure-cloud-routes
  std::chrono::milliseconds nodeMonitorPeriod{std::chrono::seconds(5)};          // lifecycle checks
  std::chrono::milliseconds nodeStatusUpdateFrequency{std::chrono::minutes(5)};  // addresses
  std::chrono::milliseconds routeReconciliationPeriod{std::chrono::seconds(10)};
  std::chrono::milliseconds providerPeriod{std::chrono::seconds(1)};  // CloudProvider::periodic
  int workers = 1;                                                    // --concurrent-service-syncs
  std::vector<std::string> controllers = {"*"};                       // --controllers
};

// What each cloud controller is built from.
struct CloudContext {
  controller::ControllerContext& base;
  CloudProvider& provider;
  const CloudOptions& options;
};

using CloudControllerFactory =
    std::function<std::unique_ptr<controller::Controller>(CloudContext&)>;
// The cloud controllers by name, in name order (each .cpp registers itself).
struct CloudControllerRegistration {
  CloudControllerRegistration(std::string name, CloudControllerFactory factory);
};
const std::vector<std::pair<std::string, CloudControllerFactory>>& cloudControllers();

class CloudControllerManager {
 public:
  // `client` and `provider` must outlive the manager. `shared`: informers of the process
  // (`skiff server`); their owner stops them after stop().
  CloudControllerManager(client::RestClient& client, CloudProvider& provider, CloudOptions options,
                         client::SharedInformerFactory* shared = nullptr);
  ~CloudControllerManager();
  void start();
  void stop();
  std::vector<std::string> running() const;

 private:
  client::RestClient& client_;
  CloudProvider& provider_;
  CloudOptions options_;
  controller::ControllerOptions controllerOptions_;
  std::unique_ptr<client::SharedInformerFactory> ownInformers_;
  client::SharedInformerFactory& informers_;
  controller::ControllerContext base_;
  CloudContext context_;
  std::vector<std::unique_ptr<controller::Controller>> controllers_;
  std::thread providerThread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false, stopping_ = false;
};

// Nodes holding a ready endpoint of Service ns/name, from an EndpointSlice informer.
std::vector<std::string> endpointNodesOf(client::SharedInformer& slices, const std::string& ns,
                                         const std::string& name);

}  // namespace skiff::cloud
