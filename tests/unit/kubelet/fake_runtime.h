// In-memory CRI runtime and image service for the kubelet's unit tests: the pod logic runs
// against these instead of containerd. Thread-safe (the kubelet calls from its pod workers,
// the relist and the prober at once).
//
// Sandboxes get increasing ids, created_at and an IP from 10.88.0.0/16. Containers go
// created → running (StartContainer) → exited: by a script (exitOnStart), by the test
// (exitContainer, "a crash"), by StopContainer (exit 143, the timeout recorded) or by
// StopPodSandbox (exit 137). Any method can be made to fail the next N times (failNext).
// Every call is counted, so tests can assert "started once", "no restart".
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kubelet/cri/runtime_service.h"

namespace skiff::kubelet::testing {

namespace v1 = cri::v1;

class FakeImageService;

class FakeRuntimeService : public cri::RuntimeService {
 public:
  struct Sandbox {
    std::string id;
    v1::PodSandboxConfig config;
    std::string runtimeHandler;
    v1::PodSandboxState state = v1::SANDBOX_READY;
    int64_t createdAt = 0;
    std::string ip;  // reported by PodSandboxStatus unless the sandbox uses the node's network
  };
  struct Container {
    std::string id, sandboxId;
    v1::ContainerConfig config;
    v1::ContainerState state = v1::CONTAINER_CREATED;
    int64_t createdAt = 0, startedAt = 0, finishedAt = 0;
    int exitCode = 0;
    std::string reason, message;
    std::string logPath;  // sandbox log_directory + config.log_path
    std::string name() const { return config.metadata().name(); }
    std::string label(const std::string& key) const;
    std::string annotation(const std::string& key) const;
  };
  struct StopCall {
    std::string containerId;
    int64_t timeoutSeconds;
  };

  FakeRuntimeService() = default;
  // When set, CreateContainer fails for an image the image service does not hold.
  void setImages(FakeImageService* images);

  // --- scripting (from the test)
  // The next `times` calls of `method` ("RunPodSandbox", "CreateContainer", ... the CRI
  // method name) throw CriError{code, message}.
  void failNext(const std::string& method, int times, int code = cri::CriError::Unknown,
                const std::string& message = "injected failure");
  void clearFailures(const std::string& method);
  // Containers of that name exit with `exitCode` as soon as they are started.
  void exitOnStart(const std::string& containerName, int exitCode);
  void clearExitOnStart(const std::string& containerName);
  // A running container exits ("crashes") now; false when it is not running.
  bool exitContainer(const std::string& containerId, int exitCode, const std::string& reason = "");
  // ExecSync of exactly `cmd` answers `result` (unscripted commands exit 0 with no output).
  void scriptExec(const std::vector<std::string>& cmd, ExecResult result);
  void setRuntimeReady(bool ready);
  // Plants runtime objects directly, as if left by an earlier kubelet (no call counted).
  std::string addSandbox(const v1::PodSandboxConfig& config,
                         v1::PodSandboxState state = v1::SANDBOX_READY);
  std::string addContainer(const std::string& sandboxId, const v1::ContainerConfig& config,
                           v1::ContainerState state = v1::CONTAINER_RUNNING);

  // --- inspection
  int calls(const std::string& method) const;
  // StartContainer calls for containers of that name (by CRI metadata name).
  int starts(const std::string& containerName) const;
  std::vector<StopCall> stopCalls() const;
  std::vector<std::vector<std::string>> execCalls() const;
  std::vector<Sandbox> sandboxes() const;                                 // oldest first
  std::vector<Container> containers() const;                              // oldest first
  std::vector<Container> containersNamed(const std::string& name) const;  // oldest first
  std::optional<Container> latestContainer(const std::string& name) const;
  std::optional<Sandbox> sandboxOfPod(const std::string& podUid) const;  // the newest one

  // --- cri::RuntimeService
  v1::VersionResponse version() override;
  v1::StatusResponse status() override;
  std::string runPodSandbox(const v1::PodSandboxConfig& config,
                            const std::string& runtimeHandler) override;
  void stopPodSandbox(const std::string& sandboxId) override;
  void removePodSandbox(const std::string& sandboxId) override;
  v1::PodSandboxStatus podSandboxStatus(const std::string& sandboxId) override;
  std::vector<v1::PodSandbox> listPodSandbox(const v1::PodSandboxFilter& filter = {}) override;
  std::string createContainer(const std::string& sandboxId, const v1::ContainerConfig& config,
                              const v1::PodSandboxConfig& sandboxConfig) override;
  void startContainer(const std::string& containerId) override;
  void stopContainer(const std::string& containerId, int64_t timeoutSeconds) override;
  void removeContainer(const std::string& containerId) override;
  std::vector<v1::Container> listContainers(const v1::ContainerFilter& filter = {}) override;
  v1::ContainerStatus containerStatus(const std::string& containerId) override;
  ExecResult execSync(const std::string& containerId, const std::vector<std::string>& cmd,
                      std::chrono::seconds timeout) override;
  std::string exec(const v1::ExecRequest& request) override;
  std::string attach(const v1::AttachRequest& request) override;
  std::string portForward(const v1::PortForwardRequest& request) override;
  std::vector<v1::ContainerStats> listContainerStats(
      const v1::ContainerStatsFilter& filter = {}) override;
  void reopenContainerLog(const std::string& containerId) override;

 private:
  // Counts the call and throws an injected failure. Caller holds mu_.
  void enter(const std::string& method);
  int64_t nextTimestamp();  // unix nanoseconds, strictly increasing
  void finish(Container& c, int exitCode, const std::string& reason);
  Container& containerOrThrow(const std::string& id);
  Sandbox& sandboxOrThrow(const std::string& id);
  std::string newSandboxLocked(const v1::PodSandboxConfig& config, const std::string& handler,
                               v1::PodSandboxState state);
  std::string newContainerLocked(const std::string& sandboxId, const v1::ContainerConfig& config);

  mutable std::mutex mu_;
  FakeImageService* images_ = nullptr;
  std::map<std::string, Sandbox> sandboxes_;
  std::map<std::string, Container> containers_;
  std::map<std::string, int> calls_;
  std::map<std::string, int> starts_;
  struct Failure {
    int times, code;
    std::string message;
  };
  std::map<std::string, Failure> failures_;
  std::map<std::string, int> exitOnStart_;
  std::map<std::vector<std::string>, ExecResult> execScripts_;
  std::vector<StopCall> stopCalls_;
  std::vector<std::vector<std::string>> execCalls_;
  bool runtimeReady_ = true;
  int64_t lastTimestamp_ = 0;
  int nextId_ = 1;
  int nextIp_ = 2;  // 10.88.0.2 first; .1 is the bridge
};

class FakeImageService : public cri::ImageService {
 public:
  // An image present on the node under `name` (a tag like "busybox:1.36"); id defaults to a
  // digest derived from the name. Returns the id.
  std::string addImage(const std::string& name, uint64_t size = 1 << 20,
                       const std::string& id = "");
  // Pulls of `name` fail with `message` until cleared.
  void failPull(const std::string& name, const std::string& message);
  void clearPullFailure(const std::string& name);
  bool has(const std::string& nameOrId) const;
  int pulls(const std::string& name) const;
  int calls(const std::string& method) const;

  std::vector<v1::Image> listImages() override;
  bool imageStatus(const std::string& image, v1::Image* out) override;
  std::string pullImage(const std::string& image,
                        const v1::PodSandboxConfig& sandboxConfig) override;
  void removeImage(const std::string& image) override;

 private:
  const v1::Image* findLocked(const std::string& nameOrId) const;

  mutable std::mutex mu_;
  std::vector<v1::Image> images_;
  std::map<std::string, std::string> pullFailures_;
  std::map<std::string, int> pulls_;
  std::map<std::string, int> calls_;
};

}  // namespace skiff::kubelet::testing
