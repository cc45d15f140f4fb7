// CRI over gRPC on a unix socket: the RuntimeService/ImageService seam's real implementation.
#include <grpcpp/grpcpp.h>

#include "kubelet/cri/api.grpc.pb.h"
#include "kubelet/cri/runtime_service.h"

namespace skiff::kubelet::cri {
namespace {

std::string target(const std::string& endpoint) {
  if (endpoint.rfind("unix://", 0) == 0) return "unix:" + endpoint.substr(7);
  if (endpoint.rfind("unix:", 0) == 0) return endpoint;
  return "unix:" + endpoint;
}

// Runs one unary call with a deadline; a non-OK status becomes CriError with the method name.
template <typename Call>
void invoke(const char* method, std::chrono::milliseconds timeout, Call&& call) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::Status st = call(&ctx);
  if (!st.ok())
    throw CriError(st.error_code(), std::string("CRI ") + method + ": " + st.error_message());
}

class GrpcRuntimeService final : public RuntimeService {
 public:
  GrpcRuntimeService(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout)
      : stub_(v1::RuntimeService::NewStub(channel)), timeout_(timeout) {}

  v1::VersionResponse version() override {
    v1::VersionRequest req;
    req.set_version("v1");
    v1::VersionResponse resp;
    invoke("Version", timeout_, [&](auto* c) { return stub_->Version(c, req, &resp); });
    return resp;
  }
  v1::StatusResponse status() override {
    v1::StatusRequest req;
    v1::StatusResponse resp;
    invoke("Status", timeout_, [&](auto* c) { return stub_->Status(c, req, &resp); });
    return resp;
  }
  std::string runPodSandbox(const v1::PodSandboxConfig& config,
                            const std::string& handler) override {
    v1::RunPodSandboxRequest req;
    *req.mutable_config() = config;
    req.set_runtime_handler(handler);
    v1::RunPodSandboxResponse resp;
    invoke("RunPodSandbox", timeout_, [&](auto* c) { return stub_->RunPodSandbox(c, req, &resp); });
    return resp.pod_sandbox_id();
  }
  void stopPodSandbox(const std::string& id) override {
    v1::StopPodSandboxRequest req;
    req.set_pod_sandbox_id(id);
    v1::StopPodSandboxResponse resp;
    invoke("StopPodSandbox", timeout_,
           [&](auto* c) { return stub_->StopPodSandbox(c, req, &resp); });
  }
  void removePodSandbox(const std::string& id) override {
    v1::RemovePodSandboxRequest req;
    req.set_pod_sandbox_id(id);
    v1::RemovePodSandboxResponse resp;
    invoke("RemovePodSandbox", timeout_,
           [&](auto* c) { return stub_->RemovePodSandbox(c, req, &resp); });
  }
  v1::PodSandboxStatus podSandboxStatus(const std::string& id) override {
    v1::PodSandboxStatusRequest req;
    req.set_pod_sandbox_id(id);
    v1::PodSandboxStatusResponse resp;
    invoke("PodSandboxStatus", timeout_,
           [&](auto* c) { return stub_->PodSandboxStatus(c, req, &resp); });
    return resp.status();
  }
  std::vector<v1::PodSandbox> listPodSandbox(const v1::PodSandboxFilter& filter) override {
    v1::ListPodSandboxRequest req;
    *req.mutable_filter() = filter;
    v1::ListPodSandboxResponse resp;
    invoke("ListPodSandbox", timeout_,
           [&](auto* c) { return stub_->ListPodSandbox(c, req, &resp); });
    return {resp.items().begin(), resp.items().end()};
  }
  std::string createContainer(const std::string& sandboxId, const v1::ContainerConfig& config,
                              const v1::PodSandboxConfig& sandboxConfig) override {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(sandboxId);
    *req.mutable_config() = config;
    *req.mutable_sandbox_config() = sandboxConfig;
    v1::CreateContainerResponse resp;
    invoke("CreateContainer", timeout_,
           [&](auto* c) { return stub_->CreateContainer(c, req, &resp); });
    return resp.container_id();
  }
  void startContainer(const std::string& id) override {
    v1::StartContainerRequest req;
    req.set_container_id(id);
    v1::StartContainerResponse resp;
    invoke("StartContainer", timeout_,
           [&](auto* c) { return stub_->StartContainer(c, req, &resp); });
  }
  void stopContainer(const std::string& id, int64_t timeoutSeconds) override {
    v1::StopContainerRequest req;
    req.set_container_id(id);
    req.set_timeout(timeoutSeconds);
    v1::StopContainerResponse resp;
    // The runtime waits up to the grace period before SIGKILL: give the call that much more.
    auto deadline = timeout_ + std::chrono::seconds(timeoutSeconds);
    invoke("StopContainer", deadline, [&](auto* c) { return stub_->StopContainer(c, req, &resp); });
  }
  void removeContainer(const std::string& id) override {
    v1::RemoveContainerRequest req;
    req.set_container_id(id);
    v1::RemoveContainerResponse resp;
    invoke("RemoveContainer", timeout_,
           [&](auto* c) { return stub_->RemoveContainer(c, req, &resp); });
  }
  std::vector<v1::Container> listContainers(const v1::ContainerFilter& filter) override {
    v1::ListContainersRequest req;
    *req.mutable_filter() = filter;
    v1::ListContainersResponse resp;
    invoke("ListContainers", timeout_,
           [&](auto* c) { return stub_->ListContainers(c, req, &resp); });
    return {resp.containers().begin(), resp.containers().end()};
  }
  v1::ContainerStatus containerStatus(const std::string& id) override {
    v1::ContainerStatusRequest req;
    req.set_container_id(id);
    v1::ContainerStatusResponse resp;
    invoke("ContainerStatus", timeout_,
           [&](auto* c) { return stub_->ContainerStatus(c, req, &resp); });
    return resp.status();
  }
  ExecResult execSync(const std::string& id, const std::vector<std::string>& cmd,
                      std::chrono::seconds timeout) override {
    v1::ExecSyncRequest req;
    req.set_container_id(id);
    for (auto& a : cmd) req.add_cmd(a);
    req.set_timeout(timeout.count());
    v1::ExecSyncResponse resp;
    invoke("ExecSync", timeout_ + timeout, [&](auto* c) { return stub_->ExecSync(c, req, &resp); });
    return {resp.stdout(), resp.stderr(), resp.exit_code()};
  }
  std::string exec(const v1::ExecRequest& req) override {
    v1::ExecResponse resp;
    invoke("Exec", timeout_, [&](auto* c) { return stub_->Exec(c, req, &resp); });
    return resp.url();
  }
  std::string attach(const v1::AttachRequest& req) override {
    v1::AttachResponse resp;
    invoke("Attach", timeout_, [&](auto* c) { return stub_->Attach(c, req, &resp); });
    return resp.url();
  }
  std::string portForward(const v1::PortForwardRequest& req) override {
    v1::PortForwardResponse resp;
    invoke("PortForward", timeout_, [&](auto* c) { return stub_->PortForward(c, req, &resp); });
    return resp.url();
  }
  std::vector<v1::ContainerStats> listContainerStats(
      const v1::ContainerStatsFilter& filter) override {
    v1::ListContainerStatsRequest req;
    *req.mutable_filter() = filter;
    v1::ListContainerStatsResponse resp;
    invoke("ListContainerStats", timeout_,
           [&](auto* c) { return stub_->ListContainerStats(c, req, &resp); });
    return {resp.stats().begin(), resp.stats().end()};
  }
  void reopenContainerLog(const std::string& id) override {
    v1::ReopenContainerLogRequest req;
    req.set_container_id(id);
    v1::ReopenContainerLogResponse resp;
    invoke("ReopenContainerLog", timeout_,
           [&](auto* c) { return stub_->ReopenContainerLog(c, req, &resp); });
  }

 private:
  std::unique_ptr<v1::RuntimeService::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

class GrpcImageService final : public ImageService {
 public:
  GrpcImageService(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout)
      : stub_(v1::ImageService::NewStub(channel)), timeout_(timeout) {}

  std::vector<v1::Image> listImages() override {
    v1::ListImagesRequest req;
    v1::ListImagesResponse resp;
    invoke("ListImages", timeout_, [&](auto* c) { return stub_->ListImages(c, req, &resp); });
    return {resp.images().begin(), resp.images().end()};
  }
  bool imageStatus(const std::string& image, v1::Image* out) override {
    v1::ImageStatusRequest req;
    req.mutable_image()->set_image(image);
    v1::ImageStatusResponse resp;
    invoke("ImageStatus", timeout_, [&](auto* c) { return stub_->ImageStatus(c, req, &resp); });
    // An absent image is an OK answer without an image (or with an empty id).
    if (!resp.has_image() || resp.image().id().empty()) return false;
    if (out) *out = resp.image();
    return true;
  }
  std::string pullImage(const std::string& image,
                        const v1::PodSandboxConfig& sandboxConfig) override {
    v1::PullImageRequest req;
    req.mutable_image()->set_image(image);
    *req.mutable_sandbox_config() = sandboxConfig;
    v1::PullImageResponse resp;
    invoke("PullImage", timeout_ * 10, [&](auto* c) { return stub_->PullImage(c, req, &resp); });
    return resp.image_ref();
  }
  void removeImage(const std::string& image) override {
    v1::RemoveImageRequest req;
    req.mutable_image()->set_image(image);
    v1::RemoveImageResponse resp;
    invoke("RemoveImage", timeout_, [&](auto* c) { return stub_->RemoveImage(c, req, &resp); });
  }

 private:
  std::unique_ptr<v1::ImageService::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

CriConnection connectCri(const std::string& endpoint, std::chrono::milliseconds callTimeout) {
  grpc::ChannelArguments args;
  // Container lists and stats of a full node can exceed gRPC's 4 MiB default, as upstream notes.
  args.SetMaxReceiveMessageSize(16 * 1024 * 1024);
  auto channel =
      grpc::CreateCustomChannel(target(endpoint), grpc::InsecureChannelCredentials(), args);
  return {std::make_unique<GrpcRuntimeService>(channel, callTimeout),
          std::make_unique<GrpcImageService>(channel, callTimeout)};
}

}  // namespace skiff::kubelet::cri
