// PodGC (upstream's pod-garbage-collector): a periodic pass over the pod and node caches
// that force-deletes (gracePeriodSeconds 0) pods nobody else will ever clean up:
// - terminated pods (Succeeded/Failed) beyond --terminated-pod-gc-threshold, evicted ones
//   first, then oldest first by creationTimestamp;
// - terminating pods on a node that is not Ready and carries the out-of-service taint (the
//   node is known to be shut down, so no kubelet will confirm the deletion);
// - orphans: pods bound to a node that does not exist, once the node has been missing for a
//   quarantine period (a node being registered may reach the cache after its first pods);
//   they get DisruptionTarget (reason DeletionByPodGC) and phase Failed first, as upstream;
// - terminating pods that were never scheduled (no kubelet will finish them).
// Non-terminal pods are moved to phase Failed before deletion so watchers (Jobs...) see a
// terminal state. Timing follows the controller options: the pass runs every
// 4 × nodeMonitorPeriod (upstream's 20 s with the default 5 s) and the quarantine is
// nodeMonitorGracePeriod (upstream's 40 s with the default 40 s), so tests can shorten both.
#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include "common/api_error.h"
#include "common/log.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"
#include "controller/taint_utils.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;
const std::string kPassKey = "podgc";

class PodGcController : public QueueController {
 public:
  explicit PodGcController(ControllerContext& ctx)
      : QueueController(ctx, "podgc", "pod-garbage-collector", 1),
        nodes_(ctx.informers.informer(client::resources::nodes)),
        pods_(ctx.informers.informer(client::resources::pods)),
        quarantine_(ctx.options.nodeMonitorGracePeriod) {
    every(std::max<std::chrono::milliseconds>(ctx.options.nodeMonitorPeriod * 4,
                                              std::chrono::milliseconds(50)),
          [this] { enqueueKey(kPassKey); });
  }

 protected:
  void sync(const std::string&) override {
    failures_ = 0;
    auto pods = pods_.list();
    gcTerminated(pods);
    gcTerminatingOutOfService(pods);
    gcOrphaned(pods);
    gcUnscheduledTerminating(pods);
    // Retry the pass with backoff; each pod was attempted independently.
    if (failures_ > 0)
      throw std::runtime_error(std::to_string(failures_) + " pod deletions failed");
  }

 private:
  void gcTerminated(const std::vector<client::ObjectPtr>& pods) {
    int threshold = options_.terminatedPodGcThreshold;
    if (threshold <= 0) return;
    std::vector<client::ObjectPtr> terminated;
    for (const auto& p : pods)
      if (isPodTerminal(*p)) terminated.push_back(p);
    int excess = static_cast<int>(terminated.size()) - threshold;
    if (excess <= 0) return;
    // Evicted pods first, then the oldest; RFC 3339 UTC strings order like their times.
    auto rank = [](const client::ObjectPtr& p) {
      return std::make_tuple(stringAt(*p, {"status", "reason"}) == "Evicted" ? 0 : 1,
                             stringAt(*p, {"metadata", "creationTimestamp"}),
                             client::objectKey(*p));
    };
    std::sort(terminated.begin(), terminated.end(),
              [&](auto& a, auto& b) { return rank(a) < rank(b); });
    SKIFF_LOG_INFO("controller=podgc garbage collecting {} terminated pods (threshold {})", excess,
                   threshold);
    for (int i = 0; i < excess; ++i) forceDelete(*terminated[i], nullptr);
  }

  void gcTerminatingOutOfService(const std::vector<client::ObjectPtr>& pods) {
    for (const auto& p : pods) {
      if (!isBeingDeleted(*p)) continue;
      std::string nodeName = stringAt(*p, {"spec", "nodeName"});
      if (nodeName.empty()) continue;
      auto node = nodes_.get(nodeName);
      if (!node || conditionTrue(*node, "Ready")) continue;
      bool outOfService = false;
      for (const auto& t : taints::nodeTaints(*node))
        outOfService |= t.key == taints::kOutOfService;
      if (outOfService) forceDelete(*p, nullptr);
    }
  }

  void gcOrphaned(const std::vector<client::ObjectPtr>& pods) {
    auto now = syncClock().monotonic();
    std::set<std::string> missing;
    for (const auto& p : pods) {
      std::string nodeName = stringAt(*p, {"spec", "nodeName"});
      if (!nodeName.empty() && !nodes_.get(nodeName)) missing.insert(nodeName);
    }
    std::set<std::string> orphanNodes;
    {
      std::lock_guard lock(mu_);
      for (auto it = missingSince_.begin(); it != missingSince_.end();)
        it = missing.count(it->first) ? std::next(it) : missingSince_.erase(it);
      for (const auto& n : missing) {
        auto since = missingSince_.try_emplace(n, now).first->second;
        if (now - since >= quarantine_) orphanNodes.insert(n);
      }
    }
    if (orphanNodes.empty()) return;
    json::object condition{{"type", "DisruptionTarget"},
                           {"status", "True"},
                           {"reason", "DeletionByPodGC"},
                           {"message", "PodGC: node no longer exists"}};
    for (const auto& p : pods) {
      std::string nodeName = stringAt(*p, {"spec", "nodeName"});
      if (!orphanNodes.count(nodeName) || nodes_.get(nodeName)) continue;
      SKIFF_LOG_INFO("controller=podgc pod={} is bound to missing node {}", client::objectKey(*p),
                     nodeName);
      forceDelete(*p, &condition);
    }
  }

  void gcUnscheduledTerminating(const std::vector<client::ObjectPtr>& pods) {
    for (const auto& p : pods)
      if (isBeingDeleted(*p) && stringAt(*p, {"spec", "nodeName"}).empty())
        forceDelete(*p, nullptr);
  }

  // Upstream's markFailedAndDeletePodWithCondition: a pod not yet terminal is patched to
  // phase Failed (with `condition` when given), then deleted with grace period 0.
  void forceDelete(const json::object& pod, const json::object* condition) {
    const std::string ns = namespaceOf(pod), name = nameOf(pod);
    try {
      if (!isPodTerminal(pod)) {
        json::object status{{"phase", "Failed"}};
        if (condition) {
          json::object c = *condition;
          c["lastTransitionTime"] = nowTime();
          status["conditions"] = json::array{std::move(c)};
        }
        client_.patch(client::resources::pods, ns, name, client::PatchType::StrategicMerge,
                      json::object{{"status", std::move(status)}}, "status");
      }
      client_.remove(client::resources::pods, ns, name,
                     json::object{{"gracePeriodSeconds", 0},
                                  {"preconditions", json::object{{"uid", uidOf(pod)}}}});
      SKIFF_LOG_INFO("controller=podgc force deleted pod={}/{}", ns, name);
    } catch (const ApiError& e) {
      if (e.code() == 404 || e.code() == 409) return;  // gone already, or a new pod by that name
      SKIFF_LOG_WARN("controller=podgc pod={}/{} delete failed error=\"{}\"", ns, name, e.what());
      ++failures_;
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("controller=podgc pod={}/{} delete failed error=\"{}\"", ns, name, e.what());
      ++failures_;
    }
  }

  client::SharedInformer& nodes_;
  client::SharedInformer& pods_;
  const std::chrono::milliseconds quarantine_;
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> missingSince_;
  int failures_ = 0;  // of the current pass (one worker, one key: never concurrent)
};

ControllerRegistration reg("podgc", [](ControllerContext& ctx) {
  return std::make_unique<PodGcController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
