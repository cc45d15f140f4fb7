// Taint eviction controller (upstream's taint-eviction-controller, event source
// "taint-eviction-controller"): pods bound to a node with NoExecute taints they do not
// tolerate are deleted; a pod whose tolerations carry tolerationSeconds is deleted once that
// many seconds passed since the taint's timeAdded (so a controller restart does not restart
// the clock); tolerations without tolerationSeconds keep the pod forever.
//
// Scheduling: the pod's key is re-queued with enqueueAfter for its deadline; when it fires,
// sync decides again from the caches, so a taint removed (or a toleration added) in the
// meantime "cancels" the eviction. Before deleting, the pod gets the DisruptionTarget
// condition (reason DeletionByTaintManager), as upstream v1.32 does.
//
// Queue keys: "ns/name" for pods, the bare node name for nodes (node names have no '/').
#include <cstdint>
#include <map>
#include <mutex>
#include <set>

#include "common/api_error.h"
#include "common/log.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"
#include "controller/taint_utils.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;
using namespace taints;
using Clock = std::chrono::system_clock;

// tolerationSeconds as a number (JSON may hold it as int, uint or double), nullopt if absent.
std::optional<int64_t> tolerationSeconds(const json::object& toleration) {
  const json::value* v = toleration.if_contains("tolerationSeconds");
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(std::min<uint64_t>(v->as_uint64(), INT64_MAX));
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return std::nullopt;
}

bool noExecuteTaintsEqual(const json::object& a, const json::object& b) {
  auto ta = noExecuteTaints(a), tb = noExecuteTaints(b);
  if (ta.size() != tb.size()) return false;
  for (size_t i = 0; i < ta.size(); ++i)
    if (ta[i].key != tb[i].key || ta[i].value != tb[i].value || ta[i].timeAdded != tb[i].timeAdded)
      return false;
  return true;
}

class TaintEvictionController : public QueueController {
 public:
  explicit TaintEvictionController(ControllerContext& ctx)
      : QueueController(ctx, "taint-eviction", "taint-eviction-controller"),
        nodes_(ctx.informers.informer(client::resources::nodes)),
        pods_(ctx.informers.informer(client::resources::pods)) {
    pods_.addIndexer(client::kIndexNodeName, client::indexByNodeName);
    nodes_.addEventHandler({
        .onAdd =
            [this](const json::object& n) {
              if (!noExecuteTaints(n).empty()) enqueueKey(nameOf(n));
            },
        .onUpdate =
            [this](const json::object& o, const json::object& n) {
              if (!noExecuteTaintsEqual(o, n)) enqueueKey(nameOf(n));
            },
        .onDelete = [this](const json::object& n) { enqueueKey(nameOf(n)); },
    });
    pods_.addEventHandler({
        .onAdd =
            [this](const json::object& p) {
              if (needsDecision(p)) enqueue(p);
            },
        .onUpdate =
            [this](const json::object& o, const json::object& p) {
              // Only binding and tolerations change the decision.
              if (!needsDecision(p)) return;
              const json::value* before = valueAt(o, {"spec", "tolerations"});
              const json::value* after = valueAt(p, {"spec", "tolerations"});
              bool tolerationsChanged = (before == nullptr) != (after == nullptr) ||
                                        (before && after && *before != *after);
              if (stringAt(o, {"spec", "nodeName"}) != stringAt(p, {"spec", "nodeName"}) ||
                  tolerationsChanged)
                enqueue(p);
            },
        .onDelete =
            [this](const json::object& p) {
              std::lock_guard lock(mu_);
              scheduled_.erase(client::objectKey(p));
            },
    });
  }

 protected:
  void sync(const std::string& key) override {
    if (key.find('/') != std::string::npos) return syncPod(key);
    syncNode(key);
  }

 private:
  void syncNode(const std::string& name) {
    auto node = nodes_.get(name);
    {
      // Forget first-seen times of taints that are gone (see taintStart).
      std::lock_guard lock(mu_);
      std::set<std::string> present;
      if (node)
        for (const auto& t : noExecuteTaints(*node))
          present.insert(name + "|" + t.key + "|" + t.value);
      for (auto it = firstSeen_.lower_bound(name + "|");
           it != firstSeen_.end() && it->first.rfind(name + "|", 0) == 0;)
        it = present.count(it->first) ? std::next(it) : firstSeen_.erase(it);
    }
    for (const auto& pod : pods_.byIndex(client::kIndexNodeName, name)) enqueue(*pod);
  }

  // Pods on untainted nodes need nothing unless an eviction is pending (every bound pod
  // would otherwise wake a worker). When a NoExecute taint appears, the node's sync queues
  // every pod on it.
  bool needsDecision(const json::object& pod) {
    std::string nodeName = stringAt(pod, {"spec", "nodeName"});
    if (nodeName.empty()) return false;
    if (auto node = nodes_.get(nodeName); node && !noExecuteTaints(*node).empty()) return true;
    std::lock_guard lock(mu_);
    return scheduled_.count(client::objectKey(pod)) > 0;
  }

  // When the taint's clock started: its timeAdded, else when this controller first saw it.
  Clock::time_point taintStart(const std::string& nodeName, const Taint& t) {
    if (t.timeAdded) return *t.timeAdded;
    std::lock_guard lock(mu_);
    return firstSeen_.try_emplace(nodeName + "|" + t.key + "|" + t.value, syncClock().now())
        .first->second;
  }

  void cancel(const std::string& key, const json::object& pod) {
    bool had;
    {
      std::lock_guard lock(mu_);
      had = scheduled_.erase(key) > 0;
    }
    if (had)
      recorder_.event(podRef(pod), client::kEventTypeNormal, "TaintManagerEviction",
                      "Cancelling deletion of Pod " + key);
  }

  static json::object podRef(const json::object& pod) {
    return json::object{{"kind", "Pod"},
                        {"apiVersion", "v1"},
                        {"namespace", namespaceOf(pod)},
                        {"name", nameOf(pod)},
                        {"uid", uidOf(pod)}};
  }

  void syncPod(const std::string& key) {
    auto cached = pods_.get(key);
    if (!cached) {
      std::lock_guard lock(mu_);
      scheduled_.erase(key);
      return;
    }
    const json::object& pod = *cached;
    // Already on its way out: deleting again would change nothing.
    if (isBeingDeleted(pod)) return;
    std::string nodeName = stringAt(pod, {"spec", "nodeName"});
    auto node = nodeName.empty() ? nullptr : nodes_.get(nodeName);
    std::vector<Taint> noExecute = node ? noExecuteTaints(*node) : std::vector<Taint>{};
    if (noExecute.empty()) return cancel(key, pod);

    // The earliest deadline over the taints; any taint not tolerated at all means now.
    auto now = syncClock().now();
    std::optional<Clock::time_point> deadline;
    for (const auto& taint : noExecute) {
      const json::object* tol = matchingToleration(pod, taint);
      std::optional<Clock::time_point> due;
      if (!tol) {
        due = now;
      } else if (auto seconds = tolerationSeconds(*tol)) {
        due = *seconds <= 0 ? now : taintStart(nodeName, taint) + std::chrono::seconds(*seconds);
      }
      if (due && (!deadline || *due < *deadline)) deadline = due;
    }
    if (!deadline) return cancel(key, pod);  // tolerated forever
    if (*deadline > now) {
      {
        std::lock_guard lock(mu_);
        scheduled_[key] = *deadline;
      }
      auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now);
      enqueueAfter(key, delay + std::chrono::milliseconds(1));
      return;
    }
    evict(key, pod);
  }

  void evict(const std::string& key, const json::object& pod) {
    const std::string ns = namespaceOf(pod), name = nameOf(pod);
    SKIFF_LOG_INFO("controller=taint-eviction deleting pod={} node={}", key,
                   stringAt(pod, {"spec", "nodeName"}));
    recorder_.event(podRef(pod), client::kEventTypeNormal, "TaintManagerEviction",
                    "Marking for deletion Pod " + key);
    try {
      json::object patch{
          {"status",
           json::object{
               {"conditions", json::array{json::object{
                                  {"type", "DisruptionTarget"},
                                  {"status", "True"},
                                  {"reason", "DeletionByTaintManager"},
                                  {"message", "Taint manager: deleting due to NoExecute taint"},
                                  {"lastTransitionTime", nowTime()}}}}}}};
      client_.patch(client::resources::pods, ns, name, client::PatchType::StrategicMerge, patch,
                    "status");
      // The pod's own grace period applies, as upstream's plain Delete; the UID
      // precondition keeps a recreated pod of the same name safe.
      client_.remove(client::resources::pods, ns, name,
                     json::object{{"preconditions", json::object{{"uid", uidOf(pod)}}}});
    } catch (const ApiError& e) {
      if (e.code() != 404 && e.code() != 409) throw;  // gone, or replaced by another pod
    }
    std::lock_guard lock(mu_);
    scheduled_.erase(key);
  }

  client::SharedInformer& nodes_;
  client::SharedInformer& pods_;
  std::mutex mu_;
  std::map<std::string, Clock::time_point> scheduled_;  // pod key → eviction deadline
  std::map<std::string, Clock::time_point> firstSeen_;  // "node|key|value" → first seen
};

ControllerRegistration reg("taint-eviction", [](ControllerContext& ctx) {
  return std::make_unique<TaintEvictionController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
