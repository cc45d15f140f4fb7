#include "apiserver/metrics_api_store.h"

#include <algorithm>
#include <cmath>

namespace skiff::apiserver {

namespace {

// The previous point of an entity given its stored points and a new one (metrics-server's
// rule): the stored newest when the new one is newer, else the stored previous when it is
// still older than the new one, else none.
template <class Point>
std::optional<Point> previousOf(const Point* last, const Point* prev, int64_t newMs) {
  if (last && last->cpuMs != 0 && newMs > last->cpuMs) return *last;
  if (prev && prev->cpuMs != 0 && prev->cpuMs < newMs) return *prev;
  return std::nullopt;
}

const ContainerPoint* containerOf(const PodPoint* pod, const std::string& name) {
  if (!pod) return nullptr;
  auto it =
      std::lower_bound(pod->containers.begin(), pod->containers.end(), name,
                       [](const ContainerPoint& c, const std::string& n) { return c.name < n; });
  return it != pod->containers.end() && it->name == name ? &*it : nullptr;
}

}  // namespace

std::optional<int64_t> cpuNanocores(int64_t prevMs, double prevSeconds, int64_t lastMs,
                                    double lastSeconds) {
  if (prevMs == 0 || lastMs <= prevMs || lastSeconds < prevSeconds) return std::nullopt;
  const double rate = (lastSeconds - prevSeconds) / (static_cast<double>(lastMs - prevMs) / 1e3);
  return static_cast<int64_t>(std::llround(rate * 1e9));
}

void MetricsStore::store(const std::string& node, ScrapeBatch batch) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end()) {
    nodes_[node].last = std::move(batch);
    return;
  }
  NodeEntry& e = it->second;
  ScrapeBatch prev;
  if (batch.node.hasCpu())
    if (auto p = previousOf(e.last.node.hasCpu() ? &e.last.node : nullptr,
                            e.prev.node.hasCpu() ? &e.prev.node : nullptr, batch.node.cpuMs))
      prev.node = *p;
  for (const auto& pod : batch.pods) {
    const PodPoint* lastPod = e.last.pod(pod.ns, pod.name);
    const PodPoint* prevPod = e.prev.pod(pod.ns, pod.name);
    PodPoint kept;
    for (const auto& c : pod.containers) {
      if (!c.hasCpu()) continue;
      const ContainerPoint* l = containerOf(lastPod, c.name);
      const ContainerPoint* p = containerOf(prevPod, c.name);
      if (auto before = previousOf(l, p, c.cpuMs)) {
        before->memMs = 0;  // only the counter and start time are needed from it
        kept.containers.push_back(std::move(*before));
      }
    }
    if (kept.containers.empty()) continue;
    kept.ns = pod.ns;
    kept.name = pod.name;
    prev.pods.push_back(std::move(kept));  // batch.pods is sorted, so prev.pods is too
  }
  prev.pods.shrink_to_fit();
  e.prev = std::move(prev);
  e.last = std::move(batch);
}

void MetricsStore::retain(const std::set<std::string>& nodes) {
  std::lock_guard lock(mu_);
  std::erase_if(nodes_, [&](const auto& kv) { return !nodes.count(kv.first); });
}

std::optional<NodeUsage> MetricsStore::nodeUsage(const std::string& node) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return std::nullopt;
  const NodePoint& last = it->second.last.node;
  const NodePoint& prev = it->second.prev.node;
  if (!last.hasCpu() || !last.hasMemory()) return std::nullopt;
  auto cpu = cpuNanocores(prev.cpuMs, prev.cpuSeconds, last.cpuMs, last.cpuSeconds);
  if (!cpu) return std::nullopt;
  NodeUsage u;
  u.timestampMs = last.cpuMs;
  u.windowMs = last.cpuMs - prev.cpuMs;
  u.usage = {*cpu, last.memBytes};
  return u;
}

std::optional<PodUsage> MetricsStore::podUsage(const std::string& node, const std::string& ns,
                                               const std::string& pod) const {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return std::nullopt;
  const PodPoint* last = it->second.last.pod(ns, pod);
  const PodPoint* prev = it->second.prev.pod(ns, pod);
  if (!last || !prev) return std::nullopt;
  PodUsage u;
  for (const auto& c : last->containers) {
    const ContainerPoint* p = containerOf(prev, c.name);
    if (!p || !c.hasCpu() || !c.hasMemory()) continue;
    if (p->startMs != c.startMs) continue;  // restarted since: one point of this life only
    auto cpu = cpuNanocores(p->cpuMs, p->cpuSeconds, c.cpuMs, c.cpuSeconds);
    if (!cpu) continue;
    if (u.containers.empty()) {
      u.timestampMs = c.cpuMs;
      u.windowMs = c.cpuMs - p->cpuMs;
    }
    u.containers.emplace_back(c.name, ResourceUsage{*cpu, c.memBytes});
  }
  if (u.containers.empty()) return std::nullopt;
  return u;
}

size_t MetricsStore::nodeCount() const {
  std::lock_guard lock(mu_);
  return nodes_.size();
}

size_t MetricsStore::bytes() const {
  std::lock_guard lock(mu_);
  // A std::map node: the key and value plus three pointers and a colour word.
  size_t n = sizeof(*this);
  for (const auto& [name, e] : nodes_)
    n += sizeof(std::pair<const std::string, NodeEntry>) + 4 * sizeof(void*) +
         (name.capacity() > 15 ? name.capacity() + 1 : 0) + e.last.bytes() + e.prev.bytes() -
         2 * sizeof(ScrapeBatch);
  return n;
}

}  // namespace skiff::apiserver
