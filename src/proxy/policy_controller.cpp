#include "proxy/policy_controller.h"

#include "common/log.h"
#include "common/thread_name.h"
#include "proxy/network_policy.h"
#include "proxy/system.h"

namespace skiff::proxy {

namespace {
const client::Resource kNetworkPolicies{"networking.k8s.io", "v1", "networkpolicies"};
}  // namespace

PolicyController::PolicyController(client::SharedInformerFactory& informers, std::string nodeName,
                                   std::chrono::milliseconds minSyncPeriod,
                                   std::chrono::milliseconds syncPeriod)
    : informers_(informers),
      nodeName_(std::move(nodeName)),
      minSyncPeriod_(minSyncPeriod),
      syncPeriod_(syncPeriod) {}

PolicyController::~PolicyController() { stop(); }

void PolicyController::start() {
  auto alive = alive_;
  client::ResourceEventHandlers h{
      [this, alive](const boost::json::object&) {
        if (*alive) markDirty();
      },
      [this, alive](const boost::json::object&, const boost::json::object&) {
        if (*alive) markDirty();
      },
      [this, alive](const boost::json::object&) {
        if (*alive) markDirty();
      }};
  // Every pod, not only this node's: peer selectors may name pods anywhere.
  policies_ = &informers_.informer(kNetworkPolicies);
  pods_ = &informers_.informer(client::resources::pods);
  namespaces_ = &informers_.informer(client::resources::namespaces);
  policies_->addEventHandler(h);
  pods_->addEventHandler(h);
  namespaces_->addEventHandler(h);
  thread_ = std::thread([this] { syncLoop(); });
}

void PolicyController::stop() {
  *alive_ = false;
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PolicyController::markDirty() {
  {
    std::lock_guard lk(mu_);
    dirty_ = true;
  }
  cv_.notify_all();
}

void PolicyController::syncLoop() {
  setThreadName("policy-sync");
  auto lastSync = std::chrono::steady_clock::now() - minSyncPeriod_;
  bool failed = false;
  std::unique_lock lk(mu_);
  while (!stopping_) {
    auto now = std::chrono::steady_clock::now();
    bool synced = policies_->hasSynced() && pods_->hasSynced() && namespaces_->hasSynced();
    // Bursts (a Deployment's pods getting IPs) are coalesced: at most one transaction per
    // minSyncPeriod, one second after a failure.
    auto gap = failed ? std::max(minSyncPeriod_, std::chrono::milliseconds(1000)) : minSyncPeriod_;
    bool due = now - lastSync >= syncPeriod_;
    if (!synced || (!due && (!dirty_ || now - lastSync < gap))) {
      auto wake = dirty_ ? lastSync + gap : lastSync + syncPeriod_;
      if (!synced) wake = now + std::chrono::milliseconds(50);
      cv_.wait_until(lk, wake);
      continue;
    }
    bool periodic = !dirty_;
    dirty_ = false;
    lk.unlock();
    bool ok = false;
    try {
      ok = syncOnce(periodic);
    } catch (const std::exception& e) {
      SKIFF_LOG_ERROR("network policy: sync failed error=\"{}\"", e.what());
    }
    failed = !ok;
    lastSync = std::chrono::steady_clock::now();
    lk.lock();
    if (!ok) dirty_ = true;
  }
}

bool PolicyController::syncOnce(bool periodic) {
  // A flushed ruleset must be rebuilt even though nothing changed in the API.
  if (periodic && !applied_.empty() &&
      runNft(std::string("list chain ip ") + kPolicyTable + " forward\n").exitCode != 0)
    applied_.clear();
  PolicyInput in{policies_->list(), pods_->list(), namespaces_->list(), nodeName_};
  auto script = renderPolicyTable(in);
  if (script == applied_) return true;
  auto r = runNft(script);
  if (r.exitCode != 0) {
    // Atomic: the previous rules are still in place.
    SKIFF_LOG_ERROR("network policy: nft transaction failed, previous rules kept error=\"{}\"",
                    r.output.substr(0, 2000));
    return false;
  }
  SKIFF_LOG_INFO("network policy: rules synced policies={} bytes={}", in.policies.size(),
                 script.size());
  applied_ = std::move(script);
  return true;
}

bool deletePolicyTable() { return runNft(renderDeletePolicyTable()).exitCode == 0; }

}  // namespace skiff::proxy
