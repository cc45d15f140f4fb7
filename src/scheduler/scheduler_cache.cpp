#include "scheduler/scheduler_cache.h"

#include <algorithm>

namespace skiff::scheduler {

SchedulerCache::SchedulerCache(std::chrono::seconds assumedTtl, Clock clock)
    : ttl_(assumedTtl), clock_(std::move(clock)) {}

void SchedulerCache::addOrUpdateNode(const NodeInfo& node) {
  std::lock_guard lock(mu_);
  auto& e = nodes_[node.name];
  auto fresh = std::make_shared<NodeInfo>(node);
  fresh->pods.clear();
  fresh->requested = {};
  fresh->nonZeroMilliCpu = fresh->nonZeroMemory = 0;
  fresh->usedPorts.clear();
  fresh->podsWithAffinity = fresh->podsWithRequiredAntiAffinity = 0;
  if (e.info) {
    for (const auto& p : e.info->pods) fresh->addPod(p);
  }
  bool known = e.info && e.hasNode;
  e.info = std::move(fresh);
  e.hasNode = true;
  // A status update of a known node (heartbeats) is an in-place swap; a new node rebuilds.
  if (known)
    markDirty(node.name);
  else
    snapshot_.reset();
}

void SchedulerCache::removeNode(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return;
  // Pods still on it will be deleted by their own events; keep them until then.
  if (it->second.info->pods.empty())
    nodes_.erase(it);
  else
    it->second.hasNode = false;
  snapshot_.reset();
}

void SchedulerCache::placePod(const PodInfoPtr& pod) {
  auto& e = nodes_[pod->nodeName];
  auto copy = e.info ? std::make_shared<NodeInfo>(*e.info) : std::make_shared<NodeInfo>();
  copy->name = pod->nodeName;
  copy->addPod(pod);
  e.info = std::move(copy);
  markDirty(pod->nodeName);
}

void SchedulerCache::unplacePod(const PodInfo& pod) {
  auto it = nodes_.find(pod.nodeName);
  if (it == nodes_.end()) return;
  auto copy = std::make_shared<NodeInfo>(*it->second.info);
  copy->removePod(pod.key());
  if (!it->second.hasNode && copy->pods.empty())
    nodes_.erase(it);
  else
    it->second.info = std::move(copy);
  markDirty(pod.nodeName);
}

void SchedulerCache::replaceOnNode(const PodInfo& old, const PodInfoPtr& pod) {
  auto& e = nodes_[pod->nodeName];
  auto copy = e.info ? std::make_shared<NodeInfo>(*e.info) : std::make_shared<NodeInfo>();
  copy->name = pod->nodeName;
  copy->removePod(old.key());
  copy->addPod(pod);
  e.info = std::move(copy);
  markDirty(pod->nodeName);
}

void SchedulerCache::markDirty(const std::string& node) {
  dirty_.insert(node);
  // The snapshot keeps each dirty node's previous NodeInfo, and with it the previous PodInfo
  // of its pods, until the next cycle swaps it. When no cycle comes (every pod scheduled,
  // the kubelets' status updates still arriving) that is a second copy of the cluster's
  // pods; past a quarter of the nodes a rebuild costs little more than the swaps would.
  if (snapshot_ && dirty_.size() > std::max<size_t>(64, nodes_.size() / 4)) {
    snapshot_.reset();
    dirty_.clear();
  }
}

void SchedulerCache::addPod(PodInfoPtr pod) {
  std::lock_guard lock(mu_);
  auto key = pod->key();
  auto it = pods_.find(key);
  if (it != pods_.end() && it->second.pod->nodeName == pod->nodeName) {
    // Confirmation of an assumed pod on the node it was assumed to (the common case): swap
    // the truth in with one copy of the node's info, not one to remove and one to add.
    replaceOnNode(*it->second.pod, pod);
  } else {
    if (it != pods_.end()) unplacePod(*it->second.pod);  // bound elsewhere than assumed
    placePod(pod);
  }
  pods_[key] = PodState{std::move(pod), false, false, {}};
}

void SchedulerCache::updatePod(PodInfoPtr pod) { addPod(std::move(pod)); }

void SchedulerCache::removePod(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = pods_.find(key);
  if (it == pods_.end()) return;
  unplacePod(*it->second.pod);
  pods_.erase(it);
}

bool SchedulerCache::assumePod(PodInfoPtr pod) {
  std::lock_guard lock(mu_);
  auto key = pod->key();
  if (pods_.contains(key)) return false;
  placePod(pod);
  pods_[key] = PodState{std::move(pod), true, false, {}};
  return true;
}

void SchedulerCache::finishBinding(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = pods_.find(key);
  if (it == pods_.end() || !it->second.assumed) return;
  it->second.bindingFinished = true;
  it->second.deadline = clock_() + ttl_;
}

void SchedulerCache::forgetPod(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = pods_.find(key);
  if (it == pods_.end() || !it->second.assumed) return;
  unplacePod(*it->second.pod);
  pods_.erase(it);
}

bool SchedulerCache::isAssumed(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = pods_.find(key);
  return it != pods_.end() && it->second.assumed;
}

void SchedulerCache::cleanupExpiredAssumedPods() {
  std::lock_guard lock(mu_);
  auto now = clock_();
  for (auto it = pods_.begin(); it != pods_.end();) {
    const auto& s = it->second;
    if (s.assumed && s.bindingFinished && now >= s.deadline) {
      unplacePod(*s.pod);
      it = pods_.erase(it);
    } else {
      ++it;
    }
  }
}

std::shared_ptr<const Snapshot> SchedulerCache::snapshot() {
  std::lock_guard lock(mu_);
  if (snapshot_ && !dirty_.empty()) {
    // A cycle still reading the last snapshot keeps it; we then update a copy.
    if (snapshot_.use_count() > 1) snapshot_ = std::make_shared<Snapshot>(*snapshot_);
    for (const auto& name : dirty_) {
      auto it = nodes_.find(name);
      if (it == nodes_.end() || !it->second.hasNode) continue;  // not in the snapshot
      if (!snapshot_->replaceNode(it->second.info)) {
        snapshot_.reset();
        break;
      }
    }
  }
  dirty_.clear();
  if (!snapshot_) {
    std::vector<NodeInfoPtr> nodes;
    nodes.reserve(nodes_.size());
    for (const auto& [name, e] : nodes_) {
      if (e.hasNode) nodes.push_back(e.info);
    }
    snapshot_ = std::make_shared<Snapshot>(std::move(nodes));
  }
  return snapshot_;
}

size_t SchedulerCache::podCount() const {
  std::lock_guard lock(mu_);
  return pods_.size();
}

}  // namespace skiff::scheduler
