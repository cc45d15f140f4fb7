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
  // `client` must outlive the manager. With `shared`, the controllers use that factory's
  // informers (`skiff server` shares them with the scheduler, so each pod event is decoded
  // once in the process) and its owner stops it after stop(); without, the manager has its own.
  ControllerManager(client::RestClient& client, ControllerOptions options,
                    client::SharedInformerFactory* shared = nullptr);
  ~ControllerManager();
  ControllerManager(const ControllerManager&) = delete;
  ControllerManager& operator=(const ControllerManager&) = delete;

  void start();
  void stop();
  std::vector<std::string> running() const;

 private:
  client::RestClient& client_;
  ControllerOptions options_;
  std::unique_ptr<client::SharedInformerFactory> ownInformers_;
  client::SharedInformerFactory& informers_;
  ControllerContext context_;
  std::vector<std::unique_ptr<Controller>> controllers_;
  bool started_ = false;
};

}  // namespace skiff::controller
