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
      syncPeriod_(syncPeriod),
      // Bursts (a Deployment's pods getting IPs) are coalesced; a failure is retried after
      // one second (the table is rendered whole, so a retry is all there is to do).
      runner_(
          SyncRunnerOptions{"policy-sync", minSyncPeriod, syncPeriod,
                            std::chrono::milliseconds(1000)},
          [this] {
            return policies_->hasSynced() && pods_->hasSynced() && namespaces_->hasSynced();
          },
          [this](bool periodic) { return syncOnce(periodic); }) {}

PolicyController::~PolicyController() { stop(); }

void PolicyController::start() {
  auto alive = alive_;
  client::ResourceEventHandlers h{
      [this, alive](const boost::json::object&) {
        if (*alive) runner_.markDirty();
      },
      [this, alive](const boost::json::object&, const boost::json::object&) {
        if (*alive) runner_.markDirty();
      },
      [this, alive](const boost::json::object&) {
        if (*alive) runner_.markDirty();
      }};
  // Every pod, not only this node's: peer selectors may name pods anywhere.
  policies_ = &informers_.informer(kNetworkPolicies);
  pods_ = &informers_.informer(client::resources::pods);
  namespaces_ = &informers_.informer(client::resources::namespaces);
  policies_->addEventHandler(h);
  pods_->addEventHandler(h);
  namespaces_->addEventHandler(h);
  runner_.start();
}

void PolicyController::stop() {
  *alive_ = false;
  runner_.stop();
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
