#include "kubelet/pod_status.h"

#include <boost/json.hpp>
#include <chrono>
#include <set>

#include "api/json_access.h"
#include "api/quantity.h"
#include "common/ids.h"

namespace json = boost::json;

namespace skiff::kubelet {
namespace {

using api::arrayAt;
using api::objectAt;
using api::stringAt;

const std::set<std::string> kKubeletConditions = {"PodReadyToStartContainers", "Initialized",
                                                  "ContainersReady", "Ready"};

json::object terminatedState(const RuntimeContainer& c) {
  json::object t{
      {"exitCode", c.exitCode},
      {"reason", c.reason.empty() ? (c.exitCode == 0 ? "Completed" : "Error") : c.reason},
      {"startedAt", c.startedAt ? json::value(timeFromNanos(c.startedAt)) : json::value(nullptr)},
      {"finishedAt",
       c.finishedAt ? json::value(timeFromNanos(c.finishedAt)) : json::value(nullptr)},
      {"containerID", "containerd://" + c.id}};
  if (!c.message.empty()) t["message"] = c.message;
  return t;
}

struct Counts {
  int running = 0, waiting = 0, stopped = 0, succeeded = 0;
};

// One containerStatuses entry; `counts` gathers what getPhase needs.
// `initializing`: the pod still has init containers to finish; its waiting containers say
// PodInitializing, as upstream.
json::object containerStatus(const json::object& spec, const PodSyncView& view, bool init,
                             bool initializing, Counts& counts) {
  auto name = stringAt(spec, {"name"});
  json::object st{{"name", name}, {"image", stringAt(spec, {"image"})}, {"imageID", ""}};
  const RuntimeContainer* c = view.runtime ? view.runtime->latest(name) : nullptr;
  auto noteIt = view.notes.find(name);
  const ContainerSyncNote* note = noteIt == view.notes.end() ? nullptr : &noteIt->second;
  bool ready = false, started = false;
  int restarts = c ? c->restartCount : 0;
  json::object state, lastState;
  const RuntimeContainer* previous = nullptr;

  bool waitingOverride = note && !note->waitingReason.empty();
  if (c && c->state == ContainerRunState::Running && !waitingOverride) {
    state["running"] =
        json::object{{"startedAt", timeFromNanos(c->startedAt ? c->startedAt : c->createdAt)}};
    ready = note ? note->ready : false;
    started = note ? note->started : true;
    counts.running++;
    previous = view.runtime->previousExited(name, c);
  } else if (c && c->state == ContainerRunState::Exited && !waitingOverride) {
    state["terminated"] = terminatedState(*c);
    counts.stopped++;
    if (c->exitCode == 0) counts.succeeded++;
    previous = view.runtime->previousExited(name, c);
  } else {
    // Waiting: not created yet, created but not started, or an exited container that will be
    // restarted (CrashLoopBackOff) — then it counts as stopped and shows the exit as lastState.
    std::string reason = note && !note->waitingReason.empty() ? note->waitingReason
                         : (init || initializing)             ? "PodInitializing"
                                                              : "ContainerCreating";
    json::object w{{"reason", reason}};
    if (note && !note->waitingMessage.empty()) w["message"] = note->waitingMessage;
    state["waiting"] = std::move(w);
    if (c && c->state == ContainerRunState::Exited) {
      previous = c;
      counts.stopped++;
      if (c->exitCode == 0) counts.succeeded++;
    } else {
      counts.waiting++;
      if (c) previous = view.runtime->previousExited(name, c);
    }
  }
  if (c) {
    st["containerID"] = "containerd://" + c->id;
    if (!c->imageRef.empty()) st["imageID"] = c->imageRef;
  }
  if (previous) lastState["terminated"] = terminatedState(*previous);
  st["state"] = std::move(state);
  st["lastState"] = std::move(lastState);
  st["ready"] = ready;
  st["restartCount"] = restarts;
  if (!init)
    st["started"] = started;
  else
    st["started"] = c && c->state == ContainerRunState::Running;
  return st;
}

json::object makeCondition(const json::object& pod, const std::string& type, bool status,
                           const std::string& reason, const std::string& message,
                           const std::string& now) {
  std::string value = status ? "True" : "False";
  std::string transition = now;
  if (auto* conds = arrayAt(pod, {"status", "conditions"})) {
    for (auto& cv : *conds) {
      auto* co = cv.if_object();
      if (co && stringAt(*co, {"type"}) == type && stringAt(*co, {"status"}) == value) {
        auto t = stringAt(*co, {"lastTransitionTime"});
        if (!t.empty()) transition = t;
      }
    }
  }
  json::object c{{"type", type},
                 {"status", value},
                 {"lastProbeTime", nullptr},
                 {"lastTransitionTime", transition}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  return c;
}

std::string joinNames(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? " " : "") + names[i];
  return out + "]";
}

bool sameQuantity(const json::object* a, const json::object* b, const char* key) {
  auto* va = a ? a->if_contains(key) : nullptr;
  auto* vb = b ? b->if_contains(key) : nullptr;
  if (!va || !vb || !va->is_string() || !vb->is_string()) return false;
  auto qa = api::Quantity::parse(std::string(va->as_string()));
  auto qb = api::Quantity::parse(std::string(vb->as_string()));
  return qa && qb && qa->milliValue() == qb->milliValue();
}

bool nonZero(const json::object* list, const char* key) {
  auto* v = list ? list->if_contains(key) : nullptr;
  if (!v || !v->is_string()) return false;
  auto q = api::Quantity::parse(std::string(v->as_string()));
  return q && q->milliValue() != 0;
}

}  // namespace

std::string timeFromNanos(int64_t nanos) {
  return formatTime(std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(nanos))));
}

std::string qosClassOf(const json::object& pod) {
  bool any = false, guaranteed = true;
  auto visit = [&](const json::array* list) {
    if (!list) return;
    for (auto& cv : *list) {
      auto* c = cv.if_object();
      if (!c) continue;
      auto* req = objectAt(*c, {"resources", "requests"});
      auto* lim = objectAt(*c, {"resources", "limits"});
      // Only non-zero cpu and memory decide the class (ephemeral-storage etc. do not).
      for (const char* r : {"cpu", "memory"})
        if (nonZero(req, r) || nonZero(lim, r)) any = true;
      for (const char* r : {"cpu", "memory"}) {
        // A limit alone implies an equal request (API defaulting); both must be set and equal.
        if (!lim || !lim->contains(r))
          guaranteed = false;
        else if (req && req->contains(r) && !sameQuantity(req, lim, r))
          guaranteed = false;
      }
    }
  };
  visit(arrayAt(pod, {"spec", "initContainers"}));
  visit(arrayAt(pod, {"spec", "containers"}));
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

json::object computePodStatus(const json::object& pod, const PodSyncView& view,
                              const std::string& now) {
  json::object status;
  const json::object* old = objectAt(pod, {"status"});
  auto restartPolicy = stringAt(pod, {"spec", "restartPolicy"}, "Always");

  // Init containers: in order; the pod is initialized when each has exited 0.
  Counts initCounts;
  json::array initStatuses;
  std::vector<std::string> pendingInit;
  bool initFailed = false;
  if (auto* inits = arrayAt(pod, {"spec", "initContainers"})) {
    for (auto& cv : *inits) {
      auto* c = cv.if_object();
      if (!c) continue;
      auto st = containerStatus(*c, view, true, true, initCounts);
      auto* term = objectAt(st, {"state", "terminated"});
      bool done = term && api::intAt(*term, {"exitCode"}, -1) == 0;
      if (done) st["ready"] = true;  // a completed init container counts as ready (upstream)
      if (!done) pendingInit.push_back(stringAt(*c, {"name"}));
      if (term && !done) initFailed = true;
      if (objectAt(st, {"state", "waiting"}) && objectAt(st, {"lastState", "terminated"}))
        initFailed = initFailed || restartPolicy == "Never";
      initStatuses.push_back(std::move(st));
    }
  }
  bool initialized = pendingInit.empty();

  Counts counts;
  json::array statuses;
  std::vector<std::string> unready;
  if (auto* containers = arrayAt(pod, {"spec", "containers"})) {
    for (auto& cv : *containers) {
      auto* c = cv.if_object();
      if (!c) continue;
      auto st = containerStatus(*c, view, false, !initialized, counts);
      if (!st.at("ready").as_bool()) unready.push_back(stringAt(*c, {"name"}));
      statuses.push_back(std::move(st));
    }
  }

  // Phase, as upstream's getPhase.
  std::string phase;
  if (view.terminal && old) {
    phase = stringAt(*old, {"phase"});
  } else if (initFailed && restartPolicy == "Never") {
    phase = "Failed";
  } else if (!initialized) {
    phase = "Pending";
  } else if (counts.waiting > 0) {
    phase = "Pending";
  } else if (counts.running > 0) {
    phase = "Running";
  } else if (counts.stopped > 0) {
    if (restartPolicy == "Always")
      phase = "Running";
    else if (counts.stopped == counts.succeeded)
      phase = "Succeeded";
    else
      phase = restartPolicy == "OnFailure" ? "Running" : "Failed";
  } else {
    phase = "Pending";
  }
  bool completed = phase == "Succeeded" || phase == "Failed";

  json::array conditions;
  if (old)
    if (auto* oldConds = arrayAt(*old, {"conditions"}))
      for (auto& cv : *oldConds)
        if (auto* co = cv.if_object(); co && !kKubeletConditions.count(stringAt(*co, {"type"})))
          conditions.push_back(*co);
  conditions.push_back(
      makeCondition(pod, "PodReadyToStartContainers", view.sandboxReady, "", "", now));
  if (initialized) {
    conditions.push_back(makeCondition(pod, "Initialized", true,
                                       completed && phase == "Succeeded" ? "PodCompleted" : "", "",
                                       now));
  } else {
    conditions.push_back(
        makeCondition(pod, "Initialized", false, "ContainersNotInitialized",
                      "containers with incomplete status: " + joinNames(pendingInit), now));
  }
  bool allReady = unready.empty() && initialized && !completed;
  std::string notReadyReason = completed ? "PodCompleted" : "ContainersNotReady";
  std::string notReadyMessage =
      completed ? "" : "containers with unready status: " + joinNames(unready);
  conditions.push_back(makeCondition(pod, "ContainersReady", allReady,
                                     allReady ? "" : notReadyReason,
                                     allReady ? "" : notReadyMessage, now));
  conditions.push_back(makeCondition(pod, "Ready", allReady, allReady ? "" : notReadyReason,
                                     allReady ? "" : notReadyMessage, now));

  status["phase"] = phase;
  status["conditions"] = std::move(conditions);
  if (!view.podReason.empty()) status["reason"] = view.podReason;
  if (!view.podMessage.empty()) status["message"] = view.podMessage;
  if (!view.hostIp.empty()) {
    status["hostIP"] = view.hostIp;
    status["hostIPs"] = json::array{json::object{{"ip", view.hostIp}}};
  }
  std::string podIp = view.podIp;
  std::vector<std::string> podIps = view.podIps;
  if (podIp.empty() && api::boolAt(pod, {"spec", "hostNetwork"}))
    podIp = view.hostIp;  // the node's own network
  if (podIp.empty() && old)
    podIp = stringAt(*old, {"podIP"});  // a stopped sandbox keeps the last IP shown
  if (!podIp.empty()) {
    if (podIps.empty()) podIps.push_back(podIp);
    status["podIP"] = podIp;
    json::array ips;
    for (auto& ip : podIps) ips.push_back(json::object{{"ip", ip}});
    status["podIPs"] = std::move(ips);
  }
  auto startTime = old ? stringAt(*old, {"startTime"}) : "";
  status["startTime"] = startTime.empty() ? now : startTime;
  if (!initStatuses.empty()) status["initContainerStatuses"] = std::move(initStatuses);
  status["containerStatuses"] = std::move(statuses);
  auto qos = old ? stringAt(*old, {"qosClass"}) : "";
  status["qosClass"] = qos.empty() ? qosClassOf(pod) : qos;
  return status;
}

}  // namespace skiff::kubelet
