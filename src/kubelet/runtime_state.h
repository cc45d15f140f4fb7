// What the runtime holds for one pod, read from CRI into small typed structs once per sync
// (hot paths work on typed views, not on protobuf or JSON), and the labels and
// annotations that tie runtime objects to API pods — upstream's names, so tools that know
// them (crictl, containerd's ctr) show skiff's containers the same way.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace skiff::kubelet {

namespace labels {
inline constexpr const char* kPodName = "io.kubernetes.pod.name";
inline constexpr const char* kPodNamespace = "io.kubernetes.pod.namespace";
inline constexpr const char* kPodUid = "io.kubernetes.pod.uid";
inline constexpr const char* kContainerName = "io.kubernetes.container.name";
// Annotations
inline constexpr const char* kRestartCount = "io.kubernetes.container.restartCount";
inline constexpr const char* kContainerHash = "io.kubernetes.container.hash";
inline constexpr const char* kTerminationMessagePath =
    "io.kubernetes.container.terminationMessagePath";
inline constexpr const char* kGracePeriod = "io.kubernetes.pod.terminationGracePeriod";
inline constexpr const char* kInitContainer = "skiff.io/init-container";
}  // namespace labels

enum class ContainerRunState { Created, Running, Exited, Unknown };

struct RuntimeContainer {
  std::string id;
  std::string name;  // the pod spec's container name
  std::string sandboxId;
  int restartCount = 0;
  ContainerRunState state = ContainerRunState::Unknown;
  int64_t createdAt = 0, startedAt = 0, finishedAt = 0;  // unix nanoseconds
  int exitCode = 0;
  std::string reason, message;  // "Completed", "Error", "OOMKilled"
  std::string image, imageRef;
  std::string hash;  // of the spec the container was created from
  std::string logPath;
};

struct RuntimeSandbox {
  std::string id;
  bool ready = false;
  int attempt = 0;
  int64_t createdAt = 0;
  std::string ip;
  std::vector<std::string> ips;
};

struct RuntimePod {
  std::string uid, name, ns;
  std::vector<RuntimeSandbox> sandboxes;     // newest first
  std::vector<RuntimeContainer> containers;  // newest first

  const RuntimeSandbox* latestSandbox() const {
    return sandboxes.empty() ? nullptr : &sandboxes.front();
  }
  // The newest container of that name (in any sandbox when `sandboxId` is empty).
  const RuntimeContainer* latest(const std::string& name, const std::string& sandboxId = "") const;
  // The newest exited container of that name older than `than` (for lastState / --previous).
  const RuntimeContainer* previousExited(const std::string& name,
                                         const RuntimeContainer* than) const;
  int nextRestartCount(const std::string& name) const;  // 0 for a container that never ran
};

// What the pod worker decided while syncing, which the runtime cannot tell: why a container
// is waiting, which containers passed their probes.
struct ContainerSyncNote {
  std::string waitingReason, waitingMessage;  // "ContainerCreating", "CrashLoopBackOff", ...
  bool ready = false;    // readiness (true once running when there is no readiness probe)
  bool started = false;  // startup probe passed (or none)
};

struct PodSyncView {
  const RuntimePod* runtime = nullptr;
  std::string sandboxId;                           // the sandbox this sync uses ("" when none yet)
  std::map<std::string, ContainerSyncNote> notes;  // by container name (init and regular)
  std::string hostIp;
  bool sandboxReady = false;
  std::string podIp;
  std::vector<std::string> podIps;
  // The pod could not be admitted or its sandbox not created: reason/message on the pod.
  std::string podReason, podMessage;
  bool terminal = false;  // the pod already reached Succeeded/Failed: keep the phase
};

}  // namespace skiff::kubelet
