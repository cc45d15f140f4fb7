#include "controller/controller_manager.h"

#include "common/log.h"
#include "controller/discovery.h"

namespace skiff::controller {

ControllerManager::ControllerManager(client::RestClient& client, ControllerOptions options,
                                     client::SharedInformerFactory* shared)
    : client_(client),
      options_(std::move(options)),
      ownInformers_(shared ? nullptr : std::make_unique<client::SharedInformerFactory>(client)),
      informers_(shared ? *shared : *ownInformers_),
      // One discovery cache for the controllers that follow the served resources.
      context_{client_, informers_, options_, realClock(),
               std::make_shared<ServerDiscovery>(client_)} {}

ControllerManager::~ControllerManager() { stop(); }

void ControllerManager::start() {
  if (started_) return;
  started_ = true;
  for (const auto& [name, factory] : registeredControllers()) {
    if (!controllerEnabled(options_.controllers, name)) {
      SKIFF_LOG_INFO("controller disabled name={}", name);
      continue;
    }
    controllers_.push_back(factory(context_));
  }
  informers_.start();
  if (!informers_.waitForCacheSync(std::chrono::seconds(60)))
    SKIFF_LOG_WARN("controller manager: informers not synced after 60s; starting anyway");
  for (auto& c : controllers_) {
    c->run();
    SKIFF_LOG_INFO("controller started name={}", c->name());
  }
}

void ControllerManager::stop() {
  if (!started_) return;
  started_ = false;
  for (auto& c : controllers_) c->stop();
  // The controllers' informer handlers point at them: they are destroyed only once no
  // informer thread can call them. A shared factory is stopped by its owner after this
  // (cli Components::stop) and before the manager is destroyed, which then frees them.
  if (ownInformers_) {
    ownInformers_->stop();
    controllers_.clear();
  }
}

std::vector<std::string> ControllerManager::running() const {
  std::vector<std::string> names;
  for (const auto& c : controllers_) names.push_back(c->name());
  return names;
}

}  // namespace skiff::controller
