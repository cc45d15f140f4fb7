#include "cloud/cloud_controller_manager.h"

#include <algorithm>

#include "common/log.h"
#include "common/thread_name.h"

namespace skiff::cloud {

namespace {
std::vector<std::pair<std::string, CloudControllerFactory>>& registry() {
  static std::vector<std::pair<std::string, CloudControllerFactory>> r;
  return r;
}
}  // namespace

CloudControllerRegistration::CloudControllerRegistration(std::string name,
                                                         CloudControllerFactory factory) {
  auto& r = registry();
  r.emplace_back(std::move(name), std::move(factory));
  std::sort(r.begin(), r.end(), [](auto& a, auto& b) { return a.first < b.first; });
}

const std::vector<std::pair<std::string, CloudControllerFactory>>& cloudControllers() {
  return registry();
}

std::vector<std::string> endpointNodesOf(client::SharedInformer& slices, const std::string& ns,
                                         const std::string& name) {
  std::vector<std::string> nodes;
  for (const auto& slice : slices.list()) {
    if (api::stringAt(*slice, {"metadata", "namespace"}) != ns ||
        api::stringAt(*slice, {"metadata", "labels", "kubernetes.io/service-name"}) != name)
      continue;
    const auto* eps = api::arrayAt(*slice, {"endpoints"});
    if (!eps) continue;
    for (const auto& ep : *eps) {
      const auto* o = ep.if_object();
      if (!o) continue;
      // An absent ready condition means ready (EndpointSlice API).
      const auto* ready = api::valueAt(*o, {"conditions", "ready"});
      if (ready && ready->is_bool() && !ready->as_bool()) continue;
      auto node = api::stringAt(*o, {"nodeName"});
      if (!node.empty() && std::find(nodes.begin(), nodes.end(), node) == nodes.end())
        nodes.push_back(node);
    }
  }
  return nodes;
}

CloudControllerManager::CloudControllerManager(client::RestClient& client, CloudProvider& provider,
                                               CloudOptions options,
                                               client::SharedInformerFactory* shared)
    : client_(client),
      provider_(provider),
      options_(std::move(options)),
      ownInformers_(shared ? nullptr : std::make_unique<client::SharedInformerFactory>(client)),
      informers_(shared ? *shared : *ownInformers_),
      base_{client_, informers_, controllerOptions_},
      context_{base_, provider_, options_} {
  controllerOptions_.workers = std::max(1, options_.workers);
  controllerOptions_.clusterCidr = options_.clusterCidr;
  controllerOptions_.nodeMonitorPeriod = options_.nodeMonitorPeriod;
}

CloudControllerManager::~CloudControllerManager() { stop(); }

void CloudControllerManager::start() {
  if (started_) return;
  started_ = true;
  auto& slices = informers_.informer(client::resources::endpointSlices);
  provider_.setEndpointNodes([&slices](const std::string& ns, const std::string& name) {
    return endpointNodesOf(slices, ns, name);
  });
  for (const auto& [name, factory] : cloudControllers()) {
    if (!controller::controllerEnabled(options_.controllers, name)) continue;
    if (name == "route" && (!options_.configureCloudRoutes || !provider_.routes())) {
      // Upstream logs the same and runs without the route controller.
      SKIFF_LOG_INFO(
          "cloud provider {} has no routes (or --configure-cloud-routes=false): "
          "the route controller does not run",
          provider_.providerName());
      continue;
    }
    if (name == "service" && !provider_.loadBalancer()) {
      SKIFF_LOG_WARN(
          "cloud provider {} does not support load balancers: the service controller "
          "does not run",
          provider_.providerName());
      continue;
    }
    controllers_.push_back(factory(context_));
  }
  informers_.start();
  if (!informers_.waitForCacheSync(std::chrono::seconds(60)))
    SKIFF_LOG_WARN("cloud controller manager: informers not synced after 60s; starting anyway");
  for (auto& c : controllers_) {
    c->run();
    SKIFF_LOG_INFO("cloud controller started name={} provider={}", c->name(),
                   provider_.providerName());
  }
  providerThread_ = namedThread("cloud-provider", [this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      try {
        provider_.periodic();
      } catch (const std::exception& e) {
        SKIFF_LOG_WARN("cloud provider periodic work failed error=\"{}\"", e.what());
      }
      lock.lock();
      cv_.wait_for(lock, options_.providerPeriod, [this] { return stopping_; });
    }
  });
}

void CloudControllerManager::stop() {
  if (!started_) return;
  started_ = false;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (providerThread_.joinable()) providerThread_.join();
  for (auto& c : controllers_) c->stop();
  provider_.setEndpointNodes(nullptr);
  if (ownInformers_) {
    ownInformers_->stop();
    controllers_.clear();
  }
}

std::vector<std::string> CloudControllerManager::running() const {
  std::vector<std::string> names;
  for (const auto& c : controllers_) names.push_back(c->name());
  return names;
}

}  // namespace skiff::cloud
