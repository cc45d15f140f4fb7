#include "unit/kubelet/fake_runtime.h"

#include <algorithm>
#include <cstdio>

namespace skiff::kubelet::testing {
namespace {

template <class Map>
bool labelsMatch(const Map& have, const google::protobuf::Map<std::string, std::string>& selector) {
  for (auto& [k, v] : selector) {
    auto it = have.find(k);
    if (it == have.end() || it->second != v) return false;
  }
  return true;
}

std::string numbered(const char* prefix, int n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%06d", prefix, n);
  return buf;
}

std::string mapValue(const google::protobuf::Map<std::string, std::string>& m,
                     const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

}  // namespace

std::string FakeRuntimeService::Container::label(const std::string& key) const {
  return mapValue(config.labels(), key);
}

std::string FakeRuntimeService::Container::annotation(const std::string& key) const {
  return mapValue(config.annotations(), key);
}

void FakeRuntimeService::setImages(FakeImageService* images) {
  std::lock_guard lock(mu_);
  images_ = images;
}

void FakeRuntimeService::failNext(const std::string& method, int times, int code,
                                  const std::string& message) {
  std::lock_guard lock(mu_);
  failures_[method] = Failure{times, code, message};
}

void FakeRuntimeService::clearFailures(const std::string& method) {
  std::lock_guard lock(mu_);
  failures_.erase(method);
}

void FakeRuntimeService::exitOnStart(const std::string& containerName, int exitCode) {
  std::lock_guard lock(mu_);
  exitOnStart_[containerName] = exitCode;
}

void FakeRuntimeService::clearExitOnStart(const std::string& containerName) {
  std::lock_guard lock(mu_);
  exitOnStart_.erase(containerName);
}

bool FakeRuntimeService::exitContainer(const std::string& containerId, int exitCode,
                                       const std::string& reason) {
  std::lock_guard lock(mu_);
  auto it = containers_.find(containerId);
  if (it == containers_.end() || it->second.state != v1::CONTAINER_RUNNING) return false;
  finish(it->second, exitCode, reason);
  return true;
}

void FakeRuntimeService::scriptExec(const std::vector<std::string>& cmd, ExecResult result) {
  std::lock_guard lock(mu_);
  execScripts_[cmd] = std::move(result);
}

void FakeRuntimeService::setRuntimeReady(bool ready) {
  std::lock_guard lock(mu_);
  runtimeReady_ = ready;
}

std::string FakeRuntimeService::addSandbox(const v1::PodSandboxConfig& config,
                                           v1::PodSandboxState state) {
  std::lock_guard lock(mu_);
  return newSandboxLocked(config, "", state);
}

std::string FakeRuntimeService::addContainer(const std::string& sandboxId,
                                             const v1::ContainerConfig& config,
                                             v1::ContainerState state) {
  std::lock_guard lock(mu_);
  sandboxOrThrow(sandboxId);
  auto id = newContainerLocked(sandboxId, config);
  auto& c = containers_.at(id);
  if (state == v1::CONTAINER_RUNNING || state == v1::CONTAINER_EXITED) {
    c.state = v1::CONTAINER_RUNNING;
    c.startedAt = nextTimestamp();
  }
  if (state == v1::CONTAINER_EXITED) finish(c, 0, "");
  return id;
}

int FakeRuntimeService::calls(const std::string& method) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

int FakeRuntimeService::starts(const std::string& containerName) const {
  std::lock_guard lock(mu_);
  auto it = starts_.find(containerName);
  return it == starts_.end() ? 0 : it->second;
}

std::vector<FakeRuntimeService::StopCall> FakeRuntimeService::stopCalls() const {
  std::lock_guard lock(mu_);
  return stopCalls_;
}

std::vector<std::vector<std::string>> FakeRuntimeService::execCalls() const {
  std::lock_guard lock(mu_);
  return execCalls_;
}

std::vector<FakeRuntimeService::Sandbox> FakeRuntimeService::sandboxes() const {
  std::lock_guard lock(mu_);
  std::vector<Sandbox> out;
  for (auto& [id, s] : sandboxes_) out.push_back(s);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.createdAt < b.createdAt; });
  return out;
}

std::vector<FakeRuntimeService::Container> FakeRuntimeService::containers() const {
  std::lock_guard lock(mu_);
  std::vector<Container> out;
  for (auto& [id, c] : containers_) out.push_back(c);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.createdAt < b.createdAt; });
  return out;
}

std::vector<FakeRuntimeService::Container> FakeRuntimeService::containersNamed(
    const std::string& name) const {
  auto all = containers();
  std::erase_if(all, [&](const Container& c) { return c.name() != name; });
  return all;
}

std::optional<FakeRuntimeService::Container> FakeRuntimeService::latestContainer(
    const std::string& name) const {
  auto all = containersNamed(name);
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::optional<FakeRuntimeService::Sandbox> FakeRuntimeService::sandboxOfPod(
    const std::string& podUid) const {
  std::optional<Sandbox> newest;
  for (auto& s : sandboxes())
    if (s.config.metadata().uid() == podUid) newest = s;
  return newest;
}

// ---------------------------------------------------------------- internals

void FakeRuntimeService::enter(const std::string& method) {
  calls_[method]++;
  auto it = failures_.find(method);
  if (it == failures_.end() || it->second.times <= 0) return;
  auto f = it->second;
  if (--it->second.times == 0) failures_.erase(it);
  throw cri::CriError(f.code, f.message);
}

int64_t FakeRuntimeService::nextTimestamp() {
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  lastTimestamp_ = std::max(now, lastTimestamp_ + 1);
  return lastTimestamp_;
}

void FakeRuntimeService::finish(Container& c, int exitCode, const std::string& reason) {
  c.state = v1::CONTAINER_EXITED;
  c.finishedAt = nextTimestamp();
  c.exitCode = exitCode;
  // containerd's reasons: "Completed" for exit 0, "Error" otherwise (or what the test says).
  c.reason = !reason.empty() ? reason : exitCode == 0 ? "Completed" : "Error";
}

FakeRuntimeService::Container& FakeRuntimeService::containerOrThrow(const std::string& id) {
  auto it = containers_.find(id);
  if (it == containers_.end())
    throw cri::CriError(cri::CriError::NotFound, "container \"" + id + "\" not found");
  return it->second;
}

FakeRuntimeService::Sandbox& FakeRuntimeService::sandboxOrThrow(const std::string& id) {
  auto it = sandboxes_.find(id);
  if (it == sandboxes_.end())
    throw cri::CriError(cri::CriError::NotFound, "sandbox \"" + id + "\" not found");
  return it->second;
}

std::string FakeRuntimeService::newSandboxLocked(const v1::PodSandboxConfig& config,
                                                 const std::string& handler,
                                                 v1::PodSandboxState state) {
  Sandbox s;
  s.id = numbered("sandbox-", nextId_++);
  s.config = config;
  s.runtimeHandler = handler;
  s.state = state;
  s.createdAt = nextTimestamp();
  int n = nextIp_++;
  s.ip = "10.88." + std::to_string((n / 256) % 256) + "." + std::to_string(n % 256);
  sandboxes_[s.id] = s;
  return s.id;
}

std::string FakeRuntimeService::newContainerLocked(const std::string& sandboxId,
                                                   const v1::ContainerConfig& config) {
  Container c;
  c.id = numbered("container-", nextId_++);
  c.sandboxId = sandboxId;
  c.config = config;
  c.createdAt = nextTimestamp();
  auto& sb = sandboxes_.at(sandboxId);
  if (!config.log_path().empty()) c.logPath = sb.config.log_directory() + "/" + config.log_path();
  containers_[c.id] = c;
  return c.id;
}

// ---------------------------------------------------------------- cri::RuntimeService

v1::VersionResponse FakeRuntimeService::version() {
  std::lock_guard lock(mu_);
  enter("Version");
  v1::VersionResponse r;
  r.set_version("0.1.0");
  r.set_runtime_name("fake");
  r.set_runtime_version("1.2.3");
  r.set_runtime_api_version("v1");
  return r;
}

v1::StatusResponse FakeRuntimeService::status() {
  std::lock_guard lock(mu_);
  enter("Status");
  v1::StatusResponse r;
  auto* rt = r.mutable_status()->add_conditions();
  rt->set_type("RuntimeReady");
  rt->set_status(runtimeReady_);
  if (!runtimeReady_) rt->set_reason("FakeDown");
  auto* net = r.mutable_status()->add_conditions();
  net->set_type("NetworkReady");
  net->set_status(true);
  return r;
}

std::string FakeRuntimeService::runPodSandbox(const v1::PodSandboxConfig& config,
                                              const std::string& runtimeHandler) {
  std::lock_guard lock(mu_);
  enter("RunPodSandbox");
  if (config.metadata().name().empty() || config.metadata().uid().empty())
    throw cri::CriError(cri::CriError::Unknown, "sandbox config metadata needs a name and uid");
  return newSandboxLocked(config, runtimeHandler, v1::SANDBOX_READY);
}

void FakeRuntimeService::stopPodSandbox(const std::string& sandboxId) {
  std::lock_guard lock(mu_);
  enter("StopPodSandbox");
  auto& s = sandboxOrThrow(sandboxId);
  for (auto& [id, c] : containers_)
    if (c.sandboxId == sandboxId && c.state != v1::CONTAINER_EXITED) {
      if (c.state == v1::CONTAINER_CREATED) c.startedAt = 0;
      finish(c, 137, "Error");  // SIGKILL
    }
  s.state = v1::SANDBOX_NOTREADY;
}

void FakeRuntimeService::removePodSandbox(const std::string& sandboxId) {
  std::lock_guard lock(mu_);
  enter("RemovePodSandbox");
  // Idempotent (CRI: removing a removed sandbox is not an error); takes its containers along.
  std::erase_if(containers_, [&](auto& kv) { return kv.second.sandboxId == sandboxId; });
  sandboxes_.erase(sandboxId);
}

v1::PodSandboxStatus FakeRuntimeService::podSandboxStatus(const std::string& sandboxId) {
  std::lock_guard lock(mu_);
  enter("PodSandboxStatus");
  auto& s = sandboxOrThrow(sandboxId);
  v1::PodSandboxStatus st;
  st.set_id(s.id);
  *st.mutable_metadata() = s.config.metadata();
  st.set_state(s.state);
  st.set_created_at(s.createdAt);
  // Host-network sandboxes have no IP of their own (no CNI ADD), as with containerd.
  bool hostNetwork = s.config.linux().security_context().namespace_options().network() == v1::NODE;
  if (s.state == v1::SANDBOX_READY && !hostNetwork) st.mutable_network()->set_ip(s.ip);
  *st.mutable_linux()->mutable_namespaces()->mutable_options() =
      s.config.linux().security_context().namespace_options();
  *st.mutable_labels() = s.config.labels();
  *st.mutable_annotations() = s.config.annotations();
  st.set_runtime_handler(s.runtimeHandler);
  return st;
}

std::vector<v1::PodSandbox> FakeRuntimeService::listPodSandbox(const v1::PodSandboxFilter& filter) {
  std::lock_guard lock(mu_);
  enter("ListPodSandbox");
  std::vector<v1::PodSandbox> out;
  for (auto& [id, s] : sandboxes_) {
    if (!filter.id().empty() && filter.id() != id) continue;
    if (filter.has_state() && filter.state().state() != s.state) continue;
    if (!labelsMatch(s.config.labels(), filter.label_selector())) continue;
    v1::PodSandbox p;
    p.set_id(id);
    *p.mutable_metadata() = s.config.metadata();
    p.set_state(s.state);
    p.set_created_at(s.createdAt);
    *p.mutable_labels() = s.config.labels();
    *p.mutable_annotations() = s.config.annotations();
    p.set_runtime_handler(s.runtimeHandler);
    out.push_back(std::move(p));
  }
  return out;
}

std::string FakeRuntimeService::createContainer(const std::string& sandboxId,
                                                const v1::ContainerConfig& config,
                                                const v1::PodSandboxConfig&) {
  std::lock_guard lock(mu_);
  enter("CreateContainer");
  auto& sb = sandboxOrThrow(sandboxId);
  if (sb.state != v1::SANDBOX_READY)
    throw cri::CriError(cri::CriError::Unknown, "sandbox \"" + sandboxId + "\" is not running");
  if (config.metadata().name().empty())
    throw cri::CriError(cri::CriError::Unknown, "container config metadata needs a name");
  if (images_ && !images_->has(config.image().image()))
    throw cri::CriError(cri::CriError::NotFound,
                        "image \"" + config.image().image() + "\" not found");
  return newContainerLocked(sandboxId, config);
}

void FakeRuntimeService::startContainer(const std::string& containerId) {
  std::lock_guard lock(mu_);
  enter("StartContainer");
  auto& c = containerOrThrow(containerId);
  if (c.state != v1::CONTAINER_CREATED)
    throw cri::CriError(cri::CriError::Unknown,
                        "container \"" + containerId + "\" is not in created state");
  c.state = v1::CONTAINER_RUNNING;
  c.startedAt = nextTimestamp();
  starts_[c.name()]++;
  if (auto it = exitOnStart_.find(c.name()); it != exitOnStart_.end()) finish(c, it->second, "");
}

void FakeRuntimeService::stopContainer(const std::string& containerId, int64_t timeoutSeconds) {
  std::lock_guard lock(mu_);
  enter("StopContainer");
  stopCalls_.push_back({containerId, timeoutSeconds});
  auto& c = containerOrThrow(containerId);
  if (c.state == v1::CONTAINER_RUNNING)
    finish(c, 143, "Error");  // SIGTERM honoured
  else if (c.state == v1::CONTAINER_CREATED)
    finish(c, 0, "");
}

void FakeRuntimeService::removeContainer(const std::string& containerId) {
  std::lock_guard lock(mu_);
  enter("RemoveContainer");
  containers_.erase(containerId);  // idempotent, as CRI asks
}

std::vector<v1::Container> FakeRuntimeService::listContainers(const v1::ContainerFilter& filter) {
  std::lock_guard lock(mu_);
  enter("ListContainers");
  std::vector<v1::Container> out;
  for (auto& [id, c] : containers_) {
    if (!filter.id().empty() && filter.id() != id) continue;
    if (filter.has_state() && filter.state().state() != c.state) continue;
    if (!filter.pod_sandbox_id().empty() && filter.pod_sandbox_id() != c.sandboxId) continue;
    if (!labelsMatch(c.config.labels(), filter.label_selector())) continue;
    v1::Container e;
    e.set_id(id);
    e.set_pod_sandbox_id(c.sandboxId);
    *e.mutable_metadata() = c.config.metadata();
    *e.mutable_image() = c.config.image();
    e.set_image_ref(c.config.image().image());
    e.set_state(c.state);
    e.set_created_at(c.createdAt);
    *e.mutable_labels() = c.config.labels();
    *e.mutable_annotations() = c.config.annotations();
    out.push_back(std::move(e));
  }
  return out;
}

v1::ContainerStatus FakeRuntimeService::containerStatus(const std::string& containerId) {
  std::lock_guard lock(mu_);
  enter("ContainerStatus");
  auto& c = containerOrThrow(containerId);
  v1::ContainerStatus st;
  st.set_id(c.id);
  *st.mutable_metadata() = c.config.metadata();
  st.set_state(c.state);
  st.set_created_at(c.createdAt);
  st.set_started_at(c.startedAt);
  st.set_finished_at(c.finishedAt);
  st.set_exit_code(c.exitCode);
  *st.mutable_image() = c.config.image();
  st.set_image_ref(c.config.image().image());
  st.set_reason(c.reason);
  st.set_message(c.message);
  *st.mutable_labels() = c.config.labels();
  *st.mutable_annotations() = c.config.annotations();
  *st.mutable_mounts() = c.config.mounts();
  st.set_log_path(c.logPath);
  return st;
}

cri::RuntimeService::ExecResult FakeRuntimeService::execSync(const std::string& containerId,
                                                             const std::vector<std::string>& cmd,
                                                             std::chrono::seconds) {
  std::lock_guard lock(mu_);
  enter("ExecSync");
  auto& c = containerOrThrow(containerId);
  if (c.state != v1::CONTAINER_RUNNING)
    throw cri::CriError(cri::CriError::Unknown, "container \"" + containerId + "\" is not running");
  execCalls_.push_back(cmd);
  auto it = execScripts_.find(cmd);
  return it == execScripts_.end() ? ExecResult{} : it->second;
}

std::string FakeRuntimeService::exec(const v1::ExecRequest& request) {
  std::lock_guard lock(mu_);
  enter("Exec");
  containerOrThrow(request.container_id());
  return "http://127.0.0.1:0/exec/" + request.container_id();
}

std::string FakeRuntimeService::attach(const v1::AttachRequest& request) {
  std::lock_guard lock(mu_);
  enter("Attach");
  containerOrThrow(request.container_id());
  return "http://127.0.0.1:0/attach/" + request.container_id();
}

std::string FakeRuntimeService::portForward(const v1::PortForwardRequest& request) {
  std::lock_guard lock(mu_);
  enter("PortForward");
  sandboxOrThrow(request.pod_sandbox_id());
  return "http://127.0.0.1:0/portforward/" + request.pod_sandbox_id();
}

std::vector<v1::ContainerStats> FakeRuntimeService::listContainerStats(
    const v1::ContainerStatsFilter& filter) {
  std::lock_guard lock(mu_);
  enter("ListContainerStats");
  std::vector<v1::ContainerStats> out;
  for (auto& [id, c] : containers_) {
    if (!filter.id().empty() && filter.id() != id) continue;
    if (!filter.pod_sandbox_id().empty() && filter.pod_sandbox_id() != c.sandboxId) continue;
    if (!labelsMatch(c.config.labels(), filter.label_selector())) continue;
    v1::ContainerStats s;
    s.mutable_attributes()->set_id(id);
    *s.mutable_attributes()->mutable_metadata() = c.config.metadata();
    *s.mutable_attributes()->mutable_labels() = c.config.labels();
    *s.mutable_attributes()->mutable_annotations() = c.config.annotations();
    out.push_back(std::move(s));
  }
  return out;
}

void FakeRuntimeService::reopenContainerLog(const std::string& containerId) {
  std::lock_guard lock(mu_);
  enter("ReopenContainerLog");
  if (containerOrThrow(containerId).state != v1::CONTAINER_RUNNING)
    throw cri::CriError(cri::CriError::Unknown, "container \"" + containerId + "\" is not running");
}

// ---------------------------------------------------------------- FakeImageService

std::string FakeImageService::addImage(const std::string& name, uint64_t size,
                                       const std::string& id) {
  std::lock_guard lock(mu_);
  std::string imageId = id;
  if (imageId.empty()) {
    char buf[80];
    std::snprintf(buf, sizeof buf, "sha256:%064zx", std::hash<std::string>{}(name));
    imageId = buf;
  }
  std::erase_if(images_, [&](const v1::Image& i) { return i.id() == imageId; });
  v1::Image img;
  img.set_id(imageId);
  img.add_repo_tags(name);
  auto repo = name.substr(0, name.rfind(':') == std::string::npos ? name.size() : name.rfind(':'));
  img.add_repo_digests(repo + "@" + imageId);
  img.set_size(size);
  images_.push_back(std::move(img));
  return imageId;
}

void FakeImageService::failPull(const std::string& name, const std::string& message) {
  std::lock_guard lock(mu_);
  pullFailures_[name] = message;
}

void FakeImageService::clearPullFailure(const std::string& name) {
  std::lock_guard lock(mu_);
  pullFailures_.erase(name);
}

const v1::Image* FakeImageService::findLocked(const std::string& nameOrId) const {
  for (auto& img : images_) {
    if (img.id() == nameOrId) return &img;
    for (auto& t : img.repo_tags())
      if (t == nameOrId) return &img;
    for (auto& d : img.repo_digests())
      if (d == nameOrId) return &img;
  }
  return nullptr;
}

bool FakeImageService::has(const std::string& nameOrId) const {
  std::lock_guard lock(mu_);
  return findLocked(nameOrId) != nullptr;
}

int FakeImageService::pulls(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = pulls_.find(name);
  return it == pulls_.end() ? 0 : it->second;
}

int FakeImageService::calls(const std::string& method) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

std::vector<v1::Image> FakeImageService::listImages() {
  std::lock_guard lock(mu_);
  calls_["ListImages"]++;
  return images_;
}

bool FakeImageService::imageStatus(const std::string& image, v1::Image* out) {
  std::lock_guard lock(mu_);
  calls_["ImageStatus"]++;
  auto* img = findLocked(image);
  if (img && out) *out = *img;
  return img != nullptr;
}

std::string FakeImageService::pullImage(const std::string& image, const v1::PodSandboxConfig&) {
  std::string message;
  {
    std::lock_guard lock(mu_);
    calls_["PullImage"]++;
    pulls_[image]++;
    auto it = pullFailures_.find(image);
    if (it != pullFailures_.end())
      message = it->second;
    else if (auto* img = findLocked(image))
      return img->id();
  }
  if (!message.empty()) throw cri::CriError(cri::CriError::Unknown, message);
  return addImage(image);
}

void FakeImageService::removeImage(const std::string& image) {
  std::lock_guard lock(mu_);
  calls_["RemoveImage"]++;
  std::erase_if(images_, [&](const v1::Image& i) {
    if (i.id() == image) return true;
    for (auto& t : i.repo_tags())
      if (t == image) return true;
    return false;
  });
}

}  // namespace skiff::kubelet::testing
