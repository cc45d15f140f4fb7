// The kubelet's seam to a container runtime: the CRI v1 RuntimeService and ImageService, as
// upstream's internalapi. Messages are the CRI protobuf types themselves (api.proto here);
// gRPC stays in the implementation (grpc_runtime_service.cpp), so the pod logic and its
// tests (a fake runtime) never include it.
//
// Errors: every call throws CriError carrying the gRPC status code and message (NotFound is
// code 5); a call that could not reach the runtime at all is Unavailable (14).
#pragma once
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kubelet/cri/api.pb.h"

namespace skiff::kubelet::cri {

namespace v1 = ::runtime::v1;

class CriError : public std::runtime_error {
 public:
  enum Code {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    DeadlineExceeded = 4,
    NotFound = 5,
    Unavailable = 14
  };
  CriError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }
  bool notFound() const { return code_ == NotFound; }

 private:
  int code_;
};

class RuntimeService {
 public:
  virtual ~RuntimeService() = default;

  virtual v1::VersionResponse version() = 0;
  // Runtime and network readiness (RuntimeReady, NetworkReady conditions).
  virtual v1::StatusResponse status() = 0;

  // Creates and starts a sandbox (pause container, network namespace, CNI ADD); returns its id.
  virtual std::string runPodSandbox(const v1::PodSandboxConfig& config,
                                    const std::string& runtimeHandler) = 0;
  // Stops every container of the sandbox and releases its network (CNI DEL). Idempotent.
  virtual void stopPodSandbox(const std::string& sandboxId) = 0;
  virtual void removePodSandbox(const std::string& sandboxId) = 0;
  virtual v1::PodSandboxStatus podSandboxStatus(const std::string& sandboxId) = 0;
  virtual std::vector<v1::PodSandbox> listPodSandbox(const v1::PodSandboxFilter& filter = {}) = 0;

  virtual std::string createContainer(const std::string& sandboxId,
                                      const v1::ContainerConfig& config,
                                      const v1::PodSandboxConfig& sandboxConfig) = 0;
  virtual void startContainer(const std::string& containerId) = 0;
  // SIGTERM, then SIGKILL after `timeoutSeconds`; returns once the container has exited.
  virtual void stopContainer(const std::string& containerId, int64_t timeoutSeconds) = 0;
  virtual void removeContainer(const std::string& containerId) = 0;
  virtual std::vector<v1::Container> listContainers(const v1::ContainerFilter& filter = {}) = 0;
  virtual v1::ContainerStatus containerStatus(const std::string& containerId) = 0;

  struct ExecResult {
    std::string stdoutData, stderrData;
    int exitCode = 0;
  };
  // Runs a command in a running container and waits (probes, lifecycle hooks).
  virtual ExecResult execSync(const std::string& containerId, const std::vector<std::string>& cmd,
                              std::chrono::seconds timeout) = 0;
  // Streaming endpoints: the runtime answers with a URL of its own streaming server.
  virtual std::string exec(const v1::ExecRequest& request) = 0;
  virtual std::string attach(const v1::AttachRequest& request) = 0;
  virtual std::string portForward(const v1::PortForwardRequest& request) = 0;

  virtual std::vector<v1::ContainerStats> listContainerStats(
      const v1::ContainerStatsFilter& filter = {}) = 0;
  virtual void reopenContainerLog(const std::string& containerId) = 0;
};

class ImageService {
 public:
  virtual ~ImageService() = default;
  virtual std::vector<v1::Image> listImages() = 0;
  // False when the image is not present; otherwise fills `out` (when given).
  virtual bool imageStatus(const std::string& image, v1::Image* out) = 0;
  // Returns the image reference (digest) the runtime stored.
  virtual std::string pullImage(const std::string& image,
                                const v1::PodSandboxConfig& sandboxConfig) = 0;
  virtual void removeImage(const std::string& image) = 0;
};

using RuntimeServicePtr = std::unique_ptr<RuntimeService>;
using ImageServicePtr = std::unique_ptr<ImageService>;

// A CRI runtime on a unix socket ("unix:///run/containerd/containerd.sock" or a bare path).
// Calls time out after `callTimeout` (image pulls after ten times that).
struct CriConnection {
  RuntimeServicePtr runtime;
  ImageServicePtr images;
};
CriConnection connectCri(const std::string& endpoint,
                         std::chrono::milliseconds callTimeout = std::chrono::seconds(120));

}  // namespace skiff::kubelet::cri
