// ControllerManager: builds every enabled registered controller over one shared informer
// factory, starts the informers, waits for their caches, then runs the controllers
// (kube-controller-manager's Run). Runs inside `skiff server` and as
// `skiff controller-manager --kubeconfig F`.
#pragma once
#include <memory>
#include <vector>

#include "controller/controller.h"

namespace skiff::controller {

class ControllerManager {
 public:
  // `client` must outlive the manager.
  ControllerManager(client::RestClient& client, ControllerOptions options);
  ~ControllerManager();
  ControllerManager(const ControllerManager&) = delete;
  ControllerManager& operator=(const ControllerManager&) = delete;

  void start();
  void stop();
  std::vector<std::string> running() const;

 private:
  client::RestClient& client_;
  ControllerOptions options_;
  client::SharedInformerFactory informers_;
  ControllerContext context_;
  std::vector<std::unique_ptr<Controller>> controllers_;
  bool started_ = false;
};

}  // namespace skiff::controller
