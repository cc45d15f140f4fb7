// TTL-after-finished controller (upstream's ttl-after-finished-controller): a Job that is
// Complete or Failed and has spec.ttlSecondsAfterFinished is deleted that many seconds after
// it finished (the Complete/Failed condition's lastTransitionTime, or completionTime). The
// wait is a delayed requeue, never a poll. Before deleting, the Job is read fresh from the
// API server (the TTL may have been changed) and the delete carries a UID precondition.
// Deletion uses propagationPolicy Background so the garbage collector removes the pods
// (upstream uses Foreground; Background needs nothing from the GC beyond owner cleanup).
#include "common/api_error.h"
#include "common/ids.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;
using Clock = std::chrono::system_clock;

// When the job finished, if it did and has a TTL.
std::optional<Clock::time_point> finishTime(const json::object& job) {
  for (const char* type : {"Complete", "Failed"}) {
    auto* c = findCondition(job, type);
    if (!c || stringAt(*c, {"status"}) != "True") continue;
    Clock::time_point t;
    if (parseTime(stringAt(*c, {"lastTransitionTime"}), t)) return t;
    if (parseTime(stringAt(job, {"status", "completionTime"}), t)) return t;
    return syncClock().now();  // finished without a time: count from now, like a fresh finish
  }
  return std::nullopt;
}

bool hasTtl(const json::object& job) {
  auto* v = valueAt(job, {"spec", "ttlSecondsAfterFinished"});
  return v && (v->is_int64() || v->is_uint64());
}

class TtlAfterFinishedController : public QueueController {
 public:
  explicit TtlAfterFinishedController(ControllerContext& ctx)
      : QueueController(ctx, "ttl-after-finished", "ttl-after-finished-controller"),
        jobs_(ctx.informers.informer(client::resources::jobs)) {
    auto maybeEnqueue = [this](const json::object& j) {
      if (hasTtl(j) && !isBeingDeleted(j) && finishTime(j)) enqueue(j);
    };
    jobs_.addEventHandler({
        .onAdd = maybeEnqueue,
        .onUpdate = [maybeEnqueue](const json::object&, const json::object& j) { maybeEnqueue(j); },
    });
  }

 protected:
  void sync(const std::string& key) override {
    auto cached = jobs_.get(key);
    if (!cached || !due(*cached)) return;
    auto [ns, name] = splitKey(key);
    json::object fresh;
    try {
      fresh = client_.get(client::resources::jobs, ns, name);
    } catch (const ApiError& e) {
      if (e.code() == 404) return;
      throw;
    }
    if (!due(fresh)) return;
    json::object options{{"apiVersion", "v1"},
                         {"kind", "DeleteOptions"},
                         {"propagationPolicy", "Background"},
                         {"preconditions", json::object{{"uid", uidOf(fresh)}}}};
    try {
      client_.remove(client::resources::jobs, ns, name, options);
    } catch (const ApiError& e) {
      if (e.code() != 404 && e.code() != 409) throw;
    }
  }

 private:
  // True when the TTL has passed; otherwise schedules the next look at the expiry time.
  bool due(const json::object& job) {
    if (!hasTtl(job) || isBeingDeleted(job)) return false;
    auto finished = finishTime(job);
    if (!finished) return false;
    auto expireAt =
        *finished + std::chrono::seconds(intAt(job, {"spec", "ttlSecondsAfterFinished"}));
    auto now = syncClock().now();
    if (expireAt <= now) return true;
    enqueueAfter(client::objectKey(job),
                 std::chrono::duration_cast<std::chrono::milliseconds>(expireAt - now) +
                     std::chrono::milliseconds(1));
    return false;
  }

  client::SharedInformer& jobs_;
};

ControllerRegistration reg("ttl-after-finished", [](ControllerContext& ctx) {
  return std::make_unique<TtlAfterFinishedController>(ctx);
});

}  // namespace
}  // namespace skiff::controller
