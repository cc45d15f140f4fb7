#include "kubelet/kubelet.h"

#include <boost/json.hpp>
#include <filesystem>

#include "api/json_access.h"
#include "common/api_error.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/thread_name.h"
#include "kubelet/kubelet_server.h"
#include "kubelet/machine_info.h"
#include "kubelet/pod_config.h"
#include "kubelet/streaming/streaming_routes.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace skiff::kubelet {

using api::stringAt;

Kubelet::Kubelet(client::RestClient& client, cri::RuntimeService& runtime,
                 cri::ImageService& images, KubeletOptions options)
    : client_(client),
      runtime_(runtime),
      images_(images),
      options_(std::move(options)),
      nodeIp_(options_.nodeIp.empty() ? defaultHostIp() : options_.nodeIp),
      podInformer_(client, client::resources::pods, "",
                   client::ListOptions{.fieldSelector = "spec.nodeName=" + options_.nodeName}),
      nodeInformer_(client, client::resources::nodes, "",
                    client::ListOptions{.fieldSelector = "metadata.name=" + options_.nodeName}),
      serviceInformer_(client, client::resources::services, ""),
      queue_("kubelet-pods", client::RateLimiterOptions{.qps = 0}),
      recorder_(client, "kubelet", options_.nodeName),
      volumes_(options_.rootDir + "/pods",
               [this](const client::Resource& r, const std::string& ns, const std::string& name) {
                 return fetchObject(r, ns, name);
               }),
      probes_(
          runtime, [this](const std::string& key) { queue_.add(key); },
          [this](const std::string& key, const std::string& container, const std::string& message) {
            auto pod = podInformer_.get(key);
            if (!pod) return;
            json::object ref{{"kind", "Pod"},
                             {"apiVersion", "v1"},
                             {"namespace", stringAt(*pod, {"metadata", "namespace"})},
                             {"name", stringAt(*pod, {"metadata", "name"})},
                             {"uid", stringAt(*pod, {"metadata", "uid"})},
                             {"fieldPath", "spec.containers{" + container + "}"}};
            recorder_.event(ref, client::kEventTypeWarning, "Unhealthy", message);
          }),
      static_(options_.podManifestPath, options_.nodeName) {
  if (options_.nodeName.empty()) throw std::invalid_argument("kubelet: a node name is required");
  // Projected serviceAccountToken volumes: TokenRequests bound to the pod (the Node
  // authorizer lets this node ask for the accounts of its own pods).
  volumes_.setTokenRequester(
      [this](const TokenRequestSpec& spec) { return requestServiceAccountToken(client_, spec); });
  localPath_ = std::make_unique<LocalPathVolumes>(
      client_, recorder_, options_.nodeName, options_.rootDir,
      [this](const std::string& ns, const std::string& claim) { return claimInUse(ns, claim); });
  volumes_.setLocalPathResolver([this](const json::object& pv) { return localPath_->pathFor(pv); });
  auto enqueue = [this](const json::object& pod) { queue_.add(client::objectKey(pod)); };
  podInformer_.addEventHandler({
      .onAdd = enqueue,
      .onUpdate = [enqueue](const json::object&, const json::object& p) { enqueue(p); },
      .onDelete = enqueue,
  });
  nodeInformer_.addEventHandler({
      .onAdd = [this](const json::object& n) { onNodeChanged(n); },
      .onUpdate = [this](const json::object&, const json::object& n) { onNodeChanged(n); },
  });
}

Kubelet::~Kubelet() { stop(); }

unsigned short Kubelet::serverPort() const { return server_ ? server_->port() : 0; }

std::optional<json::object> Kubelet::fetchObject(const client::Resource& r, const std::string& ns,
                                                 const std::string& name) {
  try {
    return client_.get(r, ns, name);
  } catch (const ApiError& e) {
    if (e.code() == 404) return std::nullopt;
    throw std::runtime_error(e.what());
  }
}

bool Kubelet::claimInUse(const std::string& ns, const std::string& claim) const {
  for (auto& pod : podInformer_.list()) {
    if (stringAt(*pod, {"metadata", "namespace"}) != ns) continue;
    auto phase = stringAt(*pod, {"status", "phase"});
    if (phase == "Succeeded" || phase == "Failed") continue;
    if (auto* volumes = api::arrayAt(*pod, {"spec", "volumes"}))
      for (auto& v : *volumes) {
        if (!v.is_object()) continue;
        auto& volume = v.get_object();
        if (stringAt(volume, {"persistentVolumeClaim", "claimName"}) == claim) return true;
        // Generic ephemeral volumes: the claim is named <pod>-<volume>.
        if (volume.contains("ephemeral") &&
            stringAt(*pod, {"metadata", "name"}) + "-" + stringAt(volume, {"name"}) == claim)
          return true;
      }
  }
  return false;
}

PodRuntimeInfo Kubelet::runtimeInfo(const json::object& pod, const std::string& podIp) const {
  PodRuntimeInfo info;
  info.nodeName = options_.nodeName;
  info.hostIP = nodeIp_;
  info.podIP = podIp.empty() ? stringAt(pod, {"status", "podIP"}) : podIp;
  if (!info.podIP.empty()) info.podIPs.push_back(info.podIP);
  return info;
}

void Kubelet::start() {
  if (started_) return;
  started_ = true;
  auto v = runtime_.version();
  runtimeVersion_ = v.runtime_name() + "://" + v.runtime_version();
  startTime_ = formatTime(std::chrono::system_clock::now());
  SKIFF_LOG_INFO("kubelet starting node={} runtime={} api={} nodeIP={}", options_.nodeName,
                 runtimeVersion_, v.runtime_api_version(), nodeIp_);
  fs::create_directories(podsDir());
  fs::create_directories(podLogsDir());

  KubeletServerOptions so;
  std::string address = options_.serverAddress.empty() ? nodeIp_ : options_.serverAddress;
  if (address.find(':') != std::string::npos && address.front() != '[')
    address = "[" + address + "]";
  so.listen = address + ":" + std::to_string(options_.port);
  // Every caller but /healthz is authenticated (certificate or TokenReview) and authorized
  // (SubjectAccessReview on nodes/<subresource>) through this kubelet's own API client.
  so.auth = std::make_shared<KubeletAuth>(options_.nodeName, apiTokenReviewer(client_),
                                          apiAccessReviewer(client_));
  so.certDir = options_.rootDir + "/pki";
  so.clientCaFile = options_.clientCaFile;
  so.nodeName = options_.nodeName;
  so.nodeIps = {nodeIp_};
  server_ = std::make_unique<KubeletServer>(
      so,
      [this](const std::string& ns, const std::string& pod, const std::string& container,
             bool previous, std::string& error,
             int& code) { return locateLog(ns, pod, container, previous, error, code); },
      [this] {
        json::array items;
        for (auto& p : podInformer_.list()) items.push_back(*p);
        return items;
      });
  registerStreamingRoutes(
      *server_, {&runtime_,
                 [this](const std::string& ns, const std::string& pod, const std::string& c) {
                   return streamingContainerId(ns, pod, c);
                 },
                 [this](const std::string& ns, const std::string& pod) {
                   return streamingSandboxId(ns, pod);
                 }});
  server_->addRoute("/stats/summary", [this](net::HttpRequest& req) {
    net::HttpResponse res;
    if (req.method != "GET") {
      res.status = 405;
      res.body =
          R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"MethodNotAllowed","code":405})";
      return res;
    }
    res.body = json::serialize(statsSummary());
    return res;
  });
  addMetricsRoutes();
  server_->start();

  nodeInformer_.start();
  serviceInformer_.start();
  podInformer_.start();
  threads_.emplace_back(namedThread("kubelet-node", [this] { nodeLoop(); }));
  if (!podInformer_.waitForSync(std::chrono::seconds(60)))
    SKIFF_LOG_WARN("kubelet node={} pod informer not synced after 60s; continuing",
                   options_.nodeName);
  // Containers started before the Services are known would miss their service variables.
  if (!serviceInformer_.waitForSync(std::chrono::seconds(30)))
    SKIFF_LOG_WARN("kubelet node={} service informer not synced after 30s; continuing",
                   options_.nodeName);
  // Before the pod workers: a restarted kubelet mounts the images its pods are waiting for.
  localPath_->start();
  probes_.start();
  for (int i = 0; i < options_.workers; ++i)
    threads_.emplace_back(namedThread("pod-worker", [this] { podWorker(); }));
  threads_.emplace_back(namedThread("pleg", [this] { relistLoop(); }));
}

void Kubelet::stop() {
  if (stopping_.exchange(true)) return;
  // Taking the lock once orders the flag before a waiter's predicate check (no lost wake-up).
  { std::lock_guard lock(stopMu_); }
  stopCv_.notify_all();
  {
    std::lock_guard lock(nodeMu_);
    nodeWake_ = true;
  }
  nodeCv_.notify_all();
  queue_.shutDown();
  for (auto& t : threads_) t.join();
  threads_.clear();
  probes_.stop();
  localPath_->stop();
  podInformer_.stop();
  nodeInformer_.stop();
  serviceInformer_.stop();
  if (server_) server_->stop();
  recorder_.flush(std::chrono::seconds(2));
  if (started_)
    SKIFF_LOG_INFO("kubelet stopped node={} (containers keep running)", options_.nodeName);
}

void Kubelet::podWorker() {
  while (auto key = queue_.get()) {
    if (!stopping_) {
      try {
        syncPod(*key);
      } catch (const std::exception& e) {
        SKIFF_LOG_WARN("kubelet pod={} sync failed error=\"{}\"", *key, e.what());
        queue_.addAfter(*key, std::chrono::seconds(2));
      }
    }
    queue_.done(*key);
  }
}

// Upstream's PLEG: relist the runtime, fingerprint each pod's sandboxes and containers, and
// re-queue the pods whose fingerprint changed (a container exited, a sandbox died), plus pods
// the runtime holds that the API no longer has (deleted while we were away).
void Kubelet::relistLoop() {
  auto nextManifestScan = std::chrono::steady_clock::now();
  while (!stopping_) {
    if (static_.enabled() && std::chrono::steady_clock::now() >= nextManifestScan) {
      for (auto& key : static_.rescan()) queue_.add(key);
      nextManifestScan = std::chrono::steady_clock::now() + options_.fileCheckFrequency;
    }
    try {
      auto relistStart = std::chrono::steady_clock::now();
      auto pods = inspectAllPods();
      noteRelist(
          pods,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - relistStart).count());
      std::map<std::string, std::string> now;
      std::vector<std::string> running;
      for (auto& [uid, rt] : pods)
        for (auto& c : rt.containers)
          if (c.state == ContainerRunState::Running) running.push_back(c.id);
      probes_.retainOnly(running);
      for (auto& [uid, rt] : pods) {
        std::string fp;
        for (auto& s : rt.sandboxes) fp += s.id + (s.ready ? "R" : "N") + ";";
        for (auto& c : rt.containers) fp += c.id + std::to_string(static_cast<int>(c.state)) + ";";
        now[uid] = fp;
        auto it = lastRelist_.find(uid);
        if (it == lastRelist_.end() || it->second != fp) queue_.add(rt.ns + "/" + rt.name);
      }
      lastRelist_ = std::move(now);
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("kubelet runtime relist failed error=\"{}\"", e.what());
    }
    std::unique_lock lock(stopMu_);
    stopCv_.wait_for(lock, options_.relistPeriod, [this] { return stopping_.load(); });
  }
}

std::optional<LogTarget> Kubelet::locateLog(const std::string& ns, const std::string& podName,
                                            const std::string& container, bool previous,
                                            std::string& error, int& code) {
  auto pod = podInformer_.get(ns + "/" + podName);
  if (!pod) {
    code = 404;
    error = "pod \"" + podName + "\" not found";
    return std::nullopt;
  }
  bool known = false;
  for (const char* field : {"initContainers", "containers"})
    if (auto* list = api::arrayAt(*pod, {"spec", field}))
      for (auto& c : *list)
        if (c.is_object() && stringAt(c.as_object(), {"name"}) == container) known = true;
  if (!known) {
    code = 404;
    error = "container \"" + container + "\" not found in pod \"" + podName + "\"";
    return std::nullopt;
  }
  auto uid = stringAt(*pod, {"metadata", "uid"});
  auto pods = inspectPods(ns, podName);
  auto it = pods.find(uid);
  const RuntimeContainer* current = it == pods.end() ? nullptr : it->second.latest(container);
  const RuntimeContainer* target = current;
  if (previous) target = current ? it->second.previousExited(container, current) : nullptr;
  if (!target) {
    code = 400;
    if (previous) {
      error = "previous terminated container \"" + container + "\" in pod \"" + podName +
              "\" not found";
    } else {
      std::string reason = "ContainerCreating";
      for (const char* field : {"initContainerStatuses", "containerStatuses"})
        if (auto* list = api::arrayAt(*pod, {"status", field}))
          for (auto& c : *list)
            if (c.is_object() && stringAt(c.as_object(), {"name"}) == container) {
              auto r = stringAt(c.as_object(), {"state", "waiting", "reason"});
              if (!r.empty()) reason = r;
            }
      error = "container \"" + container + "\" in pod \"" + podName +
              "\" is waiting to start: " + reason;
    }
    return std::nullopt;
  }
  LogTarget t;
  t.path = target->logPath.empty() ? podLogDirectory(podLogsDir(), *pod) + "/" + container + "/" +
                                         std::to_string(target->restartCount) + ".log"
                                   : target->logPath;
  t.running = target->state == ContainerRunState::Running;
  return t;
}

void Kubelet::removeAllPods(int64_t graceSeconds) {
  // A few passes: a sandbox whose stop or removal failed once (a CNI DEL racing a container
  // exit, a slow runtime) gets another try, so nothing is left behind.
  size_t removed = 0;
  for (int pass = 0; pass < 3; ++pass) {
    std::map<std::string, RuntimePod> pods;
    try {
      pods = inspectAllPods();
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("kubelet cleanup: runtime relist failed error=\"{}\"", e.what());
      continue;
    }
    if (pods.empty()) break;
    for (auto& [uid, rt] : pods) {
      try {
        killRuntimePod(rt, pass == 0 ? graceSeconds : 0, nullptr);
        for (auto& c : rt.containers) runtime_.removeContainer(c.id);
        for (auto& s : rt.sandboxes) {
          if (pass > 0) runtime_.stopPodSandbox(s.id);  // again, in case the first stop failed
          runtime_.removePodSandbox(s.id);
        }
        volumes_.tearDownPod(uid);
        ++removed;
      } catch (const std::exception& e) {
        SKIFF_LOG_WARN("kubelet cleanup pod={}/{} pass={} failed error=\"{}\"", rt.ns, rt.name,
                       pass, e.what());
      }
    }
  }
  for (auto& uid : volumes_.podsOnDisk()) volumes_.tearDownPod(uid);
  localPath_->unmountAll();  // the images stay: the next run mounts them again
  SKIFF_LOG_INFO("kubelet removed every pod sandbox of node={} count={}", options_.nodeName,
                 removed);
}

}  // namespace skiff::kubelet
