// Enforces NetworkPolicies on this node: NetworkPolicy, Pod and Namespace informers mark the
// state dirty; the `policy-sync` thread renders the whole `ip skiff-policy` table
// (network_policy.h) and applies it as one `nft -f` transaction when it changed. Runs
// inside the Service proxy (Proxier), so wherever the proxy runs.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "client/informer.h"
#include "proxy/sync_runner.h"

namespace skiff::proxy {

class PolicyController {
 public:
  PolicyController(client::SharedInformerFactory& informers, std::string nodeName,
                   std::chrono::milliseconds minSyncPeriod, std::chrono::milliseconds syncPeriod);
  ~PolicyController();
  PolicyController(const PolicyController&) = delete;
  PolicyController& operator=(const PolicyController&) = delete;

  // Registers the informers (the factory's owner starts them) and the sync thread.
  void start();
  // Stops syncing; the table stays (deletePolicyTable() removes it).
  void stop();

 private:
  bool syncOnce(bool periodic);

  client::SharedInformerFactory& informers_;
  std::string nodeName_;
  std::chrono::milliseconds minSyncPeriod_, syncPeriod_;
  client::SharedInformer *policies_ = nullptr, *pods_ = nullptr, *namespaces_ = nullptr;

  SyncRunner runner_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  std::string applied_;  // the last script the kernel accepted (sync thread only)
};

// Removes the table (no error when it does not exist).
bool deletePolicyTable();

}  // namespace skiff::proxy
