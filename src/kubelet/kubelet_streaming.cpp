// The kubelet's answers to "which container / sandbox" for exec, attach and port-forward
// (streaming/streaming_routes.h), from the informer's pods and the runtime's view.
#include "api/json_access.h"
#include "common/api_error.h"
#include "kubelet/kubelet.h"

namespace skiff::kubelet {

using api::stringAt;

namespace {

// The runtime pod of the API pod: the one with its UID, else (static pods run under the
// manifest's UID, not the mirror's) the newest one of that name.
const RuntimePod* runtimePodFor(const std::map<std::string, RuntimePod>& pods,
                                const std::string& uid) {
  if (auto it = pods.find(uid); it != pods.end()) return &it->second;
  const RuntimePod* best = nullptr;
  for (const auto& [id, rt] : pods) {
    const RuntimeSandbox* s = rt.latestSandbox();
    if (!s) continue;
    if (!best || s->createdAt > best->latestSandbox()->createdAt) best = &rt;
  }
  return best;
}

}  // namespace

std::string Kubelet::streamingContainerId(const std::string& ns, const std::string& podName,
                                          const std::string& container) {
  auto pod = podInformer_.get(ns + "/" + podName);
  if (!pod) throw notFound("pods", podName);
  bool known = false;
  for (const char* field : {"initContainers", "containers", "ephemeralContainers"})
    if (auto* list = api::arrayAt(*pod, {"spec", field}))
      for (auto& c : *list)
        if (c.is_object() && stringAt(c.as_object(), {"name"}) == container) known = true;
  if (!known) throw badRequest("container " + container + " is not valid for pod " + podName);
  auto phase = stringAt(*pod, {"status", "phase"});
  if (phase == "Succeeded" || phase == "Failed")
    throw badRequest("cannot exec into a container in a completed pod; current phase is " + phase);
  auto pods = inspectPods(ns, podName);
  const RuntimePod* rt = runtimePodFor(pods, stringAt(*pod, {"metadata", "uid"}));
  const RuntimeContainer* c = rt ? rt->latest(container) : nullptr;
  if (!c || c->state != ContainerRunState::Running)
    throw badRequest("container not found (\"" + container + "\")");
  return c->id;
}

std::string Kubelet::streamingSandboxId(const std::string& ns, const std::string& podName) {
  auto pod = podInformer_.get(ns + "/" + podName);
  if (!pod) throw notFound("pods", podName);
  auto pods = inspectPods(ns, podName);
  const RuntimePod* rt = runtimePodFor(pods, stringAt(*pod, {"metadata", "uid"}));
  const RuntimeSandbox* s = rt ? rt->latestSandbox() : nullptr;
  if (!s || !s->ready)
    throw badRequest("pod " + podName + " does not have a running sandbox; cannot forward ports");
  return s->id;
}

}  // namespace skiff::kubelet
