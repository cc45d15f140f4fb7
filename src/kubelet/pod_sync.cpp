// syncPod: one idempotent pass that moves the runtime toward the pod spec and reports
// status. Each pass reads the runtime afresh (inspectPods), so a pass that fails half-way is
// simply repeated; the work queue guarantees one pass per pod at a time.
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <functional>

#include "api/json_access.h"
#include "common/api_error.h"
#include "common/ids.h"
#include "common/log.h"
#include "kubelet/kubelet.h"
#include "kubelet/pod_config.h"
#include "kubelet/pod_status.h"
#include "kubelet/static_pods.h"

namespace json = boost::json;
namespace fs = std::filesystem;

namespace skiff::kubelet {
namespace {

using api::arrayAt;
using api::intAt;
using api::objectAt;
using api::stringAt;
using Clock = std::chrono::steady_clock;

// Upstream's CrashLoopBackOff and image pull back-off: 10 s doubling to 5 min.
constexpr std::chrono::seconds kBackoffInitial{10};
constexpr std::chrono::seconds kBackoffMax{300};
constexpr int64_t kMinimumGraceSeconds = 2;

// One debug line per runtime call on a pod's start path, for bench/kubelet_pods.sh TIMELINE=1
// (which of RunPodSandbox, CreateContainer, StartContainer a burst waits on).
void logTiming(const json::object& pod, const char* phase, Clock::time_point since) {
  if (!spdlog::should_log(spdlog::level::debug)) return;
  auto ms = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - since).count();
  SKIFF_LOG_DEBUG("kubelet timing pod={} phase={} ms={:.1f}", client::objectKey(pod), phase,
                  ms / 1000.0);
}

std::vector<const json::object*> containersOf(const json::object& pod, const char* field) {
  std::vector<const json::object*> out;
  if (auto* list = arrayAt(pod, {"spec", field}))
    for (auto& v : *list)
      if (auto* o = v.if_object(); o && !stringAt(*o, {"name"}).empty()) out.push_back(o);
  return out;
}

bool isTerminalPhase(const json::object& pod) {
  auto phase = stringAt(pod, {"status", "phase"});
  return phase == "Succeeded" || phase == "Failed";
}

bool shouldRestart(const std::string& policy, const RuntimeContainer& c) {
  if (policy == "Never") return false;
  if (policy == "OnFailure") return c.exitCode != 0;
  return true;
}

json::object containerRef(const json::object& pod, const std::string& container, bool init) {
  auto idx = std::string(init ? "spec.initContainers{" : "spec.containers{") + container + "}";
  return json::object{{"kind", "Pod"},
                      {"apiVersion", "v1"},
                      {"namespace", stringAt(pod, {"metadata", "namespace"})},
                      {"name", stringAt(pod, {"metadata", "name"})},
                      {"uid", stringAt(pod, {"metadata", "uid"})},
                      {"fieldPath", idx}};
}

std::string podDesc(const json::object& pod) {
  return stringAt(pod, {"metadata", "name"}) + "_" + stringAt(pod, {"metadata", "namespace"}) +
         "(" + stringAt(pod, {"metadata", "uid"}) + ")";
}

}  // namespace

Kubelet::PodRecord& Kubelet::recordFor(const std::string& key, const std::string& uid) {
  std::lock_guard lock(mu_);
  auto& rec = records_[key];
  if (rec.uid != uid) {
    rec = PodRecord{};
    rec.uid = uid;
  }
  return rec;
}

void Kubelet::syncPod(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return;
  auto ns = key.substr(0, slash), name = key.substr(slash + 1);
  client::ObjectPtr pod = podInformer_.get(key);
  bool isStatic = false;
  if (static_.enabled()) {
    pod = resolveStaticPod(key, pod);
    isStatic = pod && static_.get(key).has_value();
  }
  auto runtimePods = inspectPods(ns, name);
  std::string uid = pod ? stringAt(*pod, {"metadata", "uid"}) : "";

  // Runtime pods under this name that are not the API's pod: deleted (maybe while we were
  // down) or replaced by a new pod of the same name.
  for (auto& [rtUid, rt] : runtimePods)
    if (rtUid != uid) cleanupOrphan(rtUid, rt);
  if (!pod) {
    std::lock_guard lock(mu_);
    records_.erase(key);
    return;
  }
  RuntimePod empty;
  empty.uid = uid;
  empty.name = name;
  empty.ns = ns;
  auto it = runtimePods.find(uid);
  const RuntimePod& rt = it == runtimePods.end() ? empty : it->second;
  if (!isStatic && api::valueAt(*pod, {"metadata", "deletionTimestamp"}) &&
      !api::valueAt(*pod, {"metadata", "deletionTimestamp"})->is_null()) {
    terminatePod(*pod, rt);
    return;
  }
  auto& rec = recordFor(key, uid);
  syncRunningPod(*pod, rec, rt);
  // Every pod is looked at again at least once per resync period (configMap/secret volume
  // contents, missed events).
  queue_.addAfter(key, options_.resyncPeriod);
}

// The pod to run for `key` when static pods are on: the static pod itself (with the mirror's
// status, so transitions are computed against what the API shows), after making the API's
// mirror pod match it — created when missing, replaced when stale or deleted by a user.
// A mirror whose manifest is gone is deleted. Returns the API pod unchanged otherwise.
client::ObjectPtr Kubelet::resolveStaticPod(const std::string& key, client::ObjectPtr apiPod) {
  auto staticPod = static_.get(key);
  auto ns = stringAt(staticPod ? *staticPod
                     : apiPod  ? *apiPod
                               : json::object{},
                     {"metadata", "namespace"});
  auto name = stringAt(staticPod ? *staticPod
                       : apiPod  ? *apiPod
                                 : json::object{},
                       {"metadata", "name"});
  auto deleteMirror = [&](const json::object& mirror) {
    try {
      client_.remove(client::resources::pods, ns, name,
                     json::object{{"gracePeriodSeconds", 0},
                                  {"preconditions",
                                   json::object{{"uid", stringAt(mirror, {"metadata", "uid"})}}}});
    } catch (const ApiError& e) {
      if (e.code() != 404 && e.code() != 409) throw;
    }
  };
  if (!staticPod) {
    if (apiPod && isMirrorPod(*apiPod)) {
      SKIFF_LOG_INFO("kubelet static pod={} manifest removed; deleting its mirror pod", key);
      deleteMirror(*apiPod);
      return nullptr;
    }
    return apiPod;
  }
  auto hash = stringAt(*staticPod, {"metadata", "annotations", kConfigHashAnnotation});
  if (apiPod && !isMirrorPod(*apiPod)) {
    SKIFF_LOG_WARN(
        "kubelet static pod={} conflicts with an API pod of the same name; running the static pod",
        key);
  } else if (apiPod &&
             (api::valueAt(*apiPod, {"metadata", "deletionTimestamp"}) ||
              stringAt(*apiPod, {"metadata", "annotations", kConfigMirrorAnnotation}) != hash)) {
    // Deleted by a user or from an older manifest: replace it; the static pod keeps running.
    deleteMirror(*apiPod);
    queue_.addAfter(key, std::chrono::milliseconds(500));
  } else if (!apiPod) {
    std::string nodeUid;
    {
      std::lock_guard lock(mu_);
      nodeUid = nodeUid_;
    }
    try {
      client_.create(client::resources::pods, ns,
                     mirrorPodFor(*staticPod, options_.nodeName, nodeUid));
      SKIFF_LOG_INFO("kubelet static pod={} mirror pod created", key);
    } catch (const ApiError& e) {
      if (e.code() != 409)
        SKIFF_LOG_WARN("kubelet static pod={} mirror creation failed error=\"{}\"", key, e.what());
    }
  }
  auto work = std::make_shared<json::object>(*staticPod);
  if (apiPod && isMirrorPod(*apiPod))
    if (auto* st = api::objectAt(*apiPod, {"status"})) (*work)["status"] = *st;
  return work;
}

// Removes the pod's (stopped) containers and sandboxes from the runtime; gone ones are fine.
void Kubelet::removeRuntimePod(const RuntimePod& rt) {
  auto ignoreNotFound = [](auto&& call) {
    try {
      call();
    } catch (const cri::CriError& e) {
      if (!e.notFound()) throw;
    }
  };
  for (auto& c : rt.containers) ignoreNotFound([&] { runtime_.removeContainer(c.id); });
  for (auto& s : rt.sandboxes) ignoreNotFound([&] { runtime_.removePodSandbox(s.id); });
}

void Kubelet::cleanupOrphan(const std::string& uid, const RuntimePod& rt) {
  SKIFF_LOG_INFO("kubelet removing pod={}/{} uid={} no longer in the API", rt.ns, rt.name, uid);
  killRuntimePod(rt, kMinimumGraceSeconds, nullptr);
  removeRuntimePod(rt);
  volumes_.tearDownPod(uid);
}

// Stops what runs: preStop hooks first, then SIGTERM with the grace period, then SIGKILL
// (the runtime's StopContainer), then the sandbox (which releases the pod IP).
void Kubelet::killRuntimePod(const RuntimePod& rt, int64_t graceSeconds, const json::object* pod) {
  // Upstream never gives a container less than 2 s between SIGTERM and SIGKILL.
  graceSeconds = std::max<int64_t>(graceSeconds, kMinimumGraceSeconds);
  auto deadline = Clock::now() + std::chrono::seconds(graceSeconds);
  // What is left of the grace period, rounded up (a hook that took 0.3 s leaves 7 s of 7).
  auto remaining = [deadline] {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return std::max<int64_t>(kMinimumGraceSeconds, (left + 999) / 1000);
  };
  std::vector<std::thread> stoppers;
  for (auto& c : rt.containers) {
    if (c.state != ContainerRunState::Running && c.state != ContainerRunState::Created) continue;
    stoppers.emplace_back([this, &c, pod, graceSeconds, remaining] {
      try {
        bool hookRan = false;
        if (pod) {
          recorder_.event(containerRef(*pod, c.name, false), client::kEventTypeNormal, "Killing",
                          "Stopping container " + c.name);
          for (auto* spec : containersOf(*pod, "containers")) {
            if (stringAt(*spec, {"name"}) != c.name) continue;
            auto* hook = objectAt(*spec, {"lifecycle", "preStop", "exec"});
            auto* cmd = hook ? arrayAt(*hook, {"command"}) : nullptr;
            if (!cmd) continue;
            std::vector<std::string> argv;
            for (auto& a : *cmd)
              if (a.is_string()) argv.emplace_back(a.as_string());
            runtime_.execSync(c.id, argv, std::chrono::seconds(remaining()));
            hookRan = true;
          }
        }
        runtime_.stopContainer(c.id, hookRan ? remaining() : graceSeconds);
      } catch (const std::exception& e) {
        SKIFF_LOG_WARN("kubelet stopping container={} failed error=\"{}\"", c.id.substr(0, 12),
                       e.what());
      }
    });
  }
  for (auto& t : stoppers) t.join();
  for (auto& s : rt.sandboxes) {
    if (!s.ready) continue;
    try {
      runtime_.stopPodSandbox(s.id);
    } catch (const cri::CriError& e) {
      if (!e.notFound()) throw;
    }
  }
}

void Kubelet::terminatePod(const json::object& pod, const RuntimePod& rt) {
  auto key = client::objectKey(pod);
  int64_t grace = gracePeriodSeconds(pod);
  killRuntimePod(rt, grace, &pod);
  removeRuntimePod(rt);
  auto uid = stringAt(pod, {"metadata", "uid"});
  volumes_.tearDownPod(uid);
  // Everything is stopped and cleaned up: finish the graceful deletion (upstream's status
  // manager deletes with grace 0 and a UID precondition, so a same-named new pod is safe).
  try {
    client_.remove(
        client::resources::pods, stringAt(pod, {"metadata", "namespace"}),
        stringAt(pod, {"metadata", "name"}),
        json::object{{"gracePeriodSeconds", 0}, {"preconditions", json::object{{"uid", uid}}}});
  } catch (const ApiError& e) {
    if (e.code() != 404 && e.code() != 409) throw;
  }
  std::lock_guard lock(mu_);
  records_.erase(key);
  SKIFF_LOG_INFO("kubelet pod={} terminated and deleted", key);
}

// Upstream's restart back-off: the first restart is immediate; after that a container that
// exited less than the current back-off ago waits (10 s, doubling to 5 min). An entry not
// used for twice the maximum starts over.
bool Kubelet::backoffAllows(const json::object& pod, const std::string& name, PodRecord& rec,
                            const RuntimeContainer& last) {
  auto now = std::chrono::system_clock::now();
  auto finished = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(last.finishedAt)));
  auto& b = rec.backoff[name];
  if (b.duration.count() > 0 && now - finished < b.duration) {
    auto& note = rec.notes[name];
    note.waitingReason = "CrashLoopBackOff";
    note.waitingMessage = "back-off " + std::to_string(b.duration.count()) +
                          "s restarting failed container=" + name + " pod=" + podDesc(pod);
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(finished + b.duration - now);
    queue_.addAfter(client::objectKey(pod), wait + std::chrono::milliseconds(50));
    return false;
  }
  if (b.duration.count() == 0 || now - b.lastUpdate > 2 * kBackoffMax)
    b.duration = kBackoffInitial;
  else
    b.duration = std::min(b.duration * 2, kBackoffMax);
  b.lastUpdate = finished;
  return true;
}

bool Kubelet::ensureImage(const json::object& pod, const json::object& container, bool init,
                          PodRecord& rec, std::string& imageRef) {
  auto name = stringAt(container, {"name"});
  auto image = stringAt(container, {"image"});
  auto policy = stringAt(container, {"imagePullPolicy"}, "IfNotPresent");
  auto& note = rec.notes[name];
  auto ref = containerRef(pod, name, init);
  cri::v1::Image present;
  bool have = images_.imageStatus(image, &present);
  if (have && policy != "Always") {
    imageRef = present.id();
    return true;
  }
  if (policy == "Never") {
    note.waitingReason = "ErrImageNeverPull";
    note.waitingMessage =
        "Container image \"" + image + "\" is not present with pull policy of Never";
    recorder_.event(ref, client::kEventTypeWarning, "ErrImageNeverPull", note.waitingMessage);
    return false;
  }
  auto& pb = rec.pullBackoff[name];
  if (pb.duration.count() > 0 && std::chrono::system_clock::now() < pb.lastUpdate + pb.duration) {
    note.waitingReason = "ImagePullBackOff";
    note.waitingMessage = "Back-off pulling image \"" + image + "\"";
    return false;
  }
  recorder_.event(ref, client::kEventTypeNormal, "Pulling", "Pulling image \"" + image + "\"");
  auto started = Clock::now();
  try {
    imageRef = images_.pullImage(image, cri::v1::PodSandboxConfig{});
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    recorder_.event(ref, client::kEventTypeNormal, "Pulled",
                    "Successfully pulled image \"" + image + "\" in " + std::to_string(ms) + "ms");
    rec.pullBackoff.erase(name);
    return true;
  } catch (const cri::CriError& e) {
    // Always with the image present locally: a failed pull still fails, as upstream (the
    // registry decides); the message says why.
    pb.duration =
        pb.duration.count() == 0 ? kBackoffInitial : std::min(pb.duration * 2, kBackoffMax);
    pb.lastUpdate = std::chrono::system_clock::now();
    note.waitingReason = "ErrImagePull";
    note.waitingMessage = e.what();
    recorder_.event(ref, client::kEventTypeWarning, "Failed",
                    "Failed to pull image \"" + image + "\": " + std::string(e.what()));
    return false;
  }
}

bool Kubelet::startContainer(const json::object& pod, const json::object& container, bool init,
                             const std::string& sandboxId, const RuntimePod& rt, PodRecord& rec,
                             const std::map<std::string, std::string>& volumePaths,
                             const std::string& podIp) {
  auto name = stringAt(container, {"name"});
  auto& note = rec.notes[name];
  auto ref = containerRef(pod, name, init);
  std::string imageRef;
  if (!ensureImage(pod, container, init, rec, imageRef)) return false;
  ContainerInputs in;
  in.restartCount = rt.nextRestartCount(name);
  in.imageRef = imageRef;
  try {
    // Service links: the master `kubernetes` Service always (in-cluster clients find the API
    // server by KUBERNETES_SERVICE_HOST/PORT), the namespace's Services unless
    // enableServiceLinks is false.
    std::vector<json::object> services;
    for (const auto& s : serviceInformer_.list()) services.push_back(*s);
    const json::value* links = api::valueAt(pod, {"spec", "enableServiceLinks"});
    in.env = containerEnv(
        pod, container, runtimeInfo(pod, podIp),
        [this](auto& r, auto& n, auto& o) { return fetchObject(r, n, o); }, {},
        serviceEnvironment(services, stringAt(pod, {"metadata", "namespace"}),
                           !(links && links->is_bool() && !links->as_bool())));
    std::map<std::string, std::string> envMap(in.env.begin(), in.env.end());
    in.mounts = volumes_.containerMounts(pod, container, volumePaths, envMap);
  } catch (const ContainerConfigError& e) {
    note.waitingReason = e.reason;
    note.waitingMessage = e.what();
    recorder_.event(ref, client::kEventTypeWarning, "Failed", std::string("Error: ") + e.what());
    return false;
  } catch (const VolumeError& e) {
    note.waitingReason = "CreateContainerConfigError";
    note.waitingMessage = e.what();
    recorder_.event(ref, client::kEventTypeWarning, "Failed", std::string("Error: ") + e.what());
    return false;
  }
  // The termination message file: a fresh, empty file per container instance.
  auto termDir = podsDir() + "/" + rec.uid + "/containers/" + name;
  fs::create_directories(termDir);
  in.terminationLogHostPath = termDir + "/" + std::to_string(in.restartCount) + ".termination-log";
  std::ofstream(in.terminationLogHostPath, std::ios::trunc).close();
  // Writable by the container's user whatever skiff's umask (upstream chmods it 0666 too).
  std::error_code permEc;
  fs::permissions(in.terminationLogHostPath, fs::perms(0666), permEc);

  SandboxSettings settings{.podLogsDir = podLogsDir(),
                           .clusterDns = options_.clusterDns,
                           .clusterDomain = options_.clusterDomain,
                           .cgroupParent = options_.cgroupRoot};
  auto sandboxConfig =
      makeSandboxConfig(pod, rt.latestSandbox() ? rt.latestSandbox()->attempt : 0, settings);
  auto config = makeContainerConfig(pod, container, init, in);
  std::string id;
  try {
    auto t0 = Clock::now();
    id = runtime_.createContainer(sandboxId, config, sandboxConfig);
    logTiming(pod, "create", t0);
    recorder_.event(ref, client::kEventTypeNormal, "Created", "Created container " + name);
    t0 = Clock::now();
    runtime_.startContainer(id);
    logTiming(pod, "start", t0);
    recorder_.event(ref, client::kEventTypeNormal, "Started", "Started container " + name);
  } catch (const cri::CriError& e) {
    note.waitingReason = id.empty() ? "CreateContainerError" : "RunContainerError";
    note.waitingMessage = e.what();
    recorder_.event(ref, client::kEventTypeWarning, "Failed", std::string("Error: ") + e.what());
    if (!id.empty()) {
      try {
        runtime_.removeContainer(id);
      } catch (const std::exception&) {
      }
    }
    return false;
  }
  note.waitingReason.clear();
  note.waitingMessage.clear();
  // postStart: runs right after start; a failing hook kills the container (restart policy applies).
  if (auto* hook = objectAt(container, {"lifecycle", "postStart", "exec"})) {
    std::vector<std::string> argv;
    if (auto* cmd = arrayAt(*hook, {"command"}))
      for (auto& a : *cmd)
        if (a.is_string()) argv.emplace_back(a.as_string());
    try {
      auto r = runtime_.execSync(id, argv, std::chrono::seconds(30));
      if (r.exitCode != 0)
        throw std::runtime_error("exit code " + std::to_string(r.exitCode) + ": " + r.stderrData);
    } catch (const std::exception& e) {
      recorder_.event(ref, client::kEventTypeWarning, "FailedPostStartHook",
                      std::string("PostStartHook failed: ") + e.what());
      runtime_.stopContainer(id, gracePeriodSeconds(pod));
    }
  }
  // Keep the newest exited instance (kubectl logs --previous), remove older ones.
  bool keptOne = false;
  for (auto& c : rt.containers) {
    if (c.name != name || c.state != ContainerRunState::Exited) continue;
    if (!keptOne) {
      keptOne = true;
      continue;
    }
    try {
      runtime_.removeContainer(c.id);
    } catch (const std::exception&) {
    }
  }
  return true;
}

// One live pod driven one step forward, as named steps: a finished pod releases its
// sandbox; otherwise wait for the pod network, mount volumes, make sure a sandbox runs, run
// the init containers in order, then start, restart or keep the app containers; the status
// is posted in every case.
void Kubelet::syncRunningPod(const json::object& pod, PodRecord& rec, const RuntimePod& rt) {
  PodSyncView view;
  view.runtime = &rt;
  view.hostIp = nodeIp_;

  if (isTerminalPhase(pod)) {
    // A finished pod keeps its containers for logs but releases its sandbox (and IP).
    for (auto& s : rt.sandboxes)
      if (s.ready) runtime_.stopPodSandbox(s.id);
    view.terminal = true;
    postStatus(pod, rec, view);
    return;
  }
  for (auto& [n, note] : rec.notes) note.waitingReason.clear(), note.waitingMessage.clear();

  if (!podNetworkReady(pod)) {
    view.podReason.clear();
    postStatus(pod, rec, view);
    return;  // re-queued when the podCIDR arrives (onNodeChanged)
  }
  std::map<std::string, std::string> volumePaths;
  if (!mountVolumes(pod, rec, view, volumePaths)) return;

  RunningSandbox sandbox;
  if (!ensureSandbox(pod, rec, rt, view, sandbox)) return;
  view.sandboxId = sandbox.id;
  view.sandboxReady = !sandbox.id.empty();
  view.podIp = sandbox.ip;
  view.podIps = sandbox.ips;
  if (sandbox.id.empty()) {
    postStatus(pod, rec, view);
    return;
  }
  if (runInitContainers(pod, rec, rt, sandbox, volumePaths))
    syncAppContainers(pod, rec, rt, sandbox, volumePaths);
  postStatus(pod, rec, view);
}

bool Kubelet::podNetworkReady(const json::object& pod) {
  if (api::boolAt(pod, {"spec", "hostNetwork"})) return true;
  std::lock_guard lock(mu_);
  return networkReady_;
}

bool Kubelet::mountVolumes(const json::object& pod, PodRecord& rec, const PodSyncView& view,
                           std::map<std::string, std::string>& volumePaths) {
  try {
    volumePaths = volumes_.setUpPod(pod, runtimeInfo(pod, ""));
    return true;
  } catch (const VolumeError& e) {
    recorder_.event(pod, client::kEventTypeWarning, "FailedMount", e.what());
    postStatus(pod, rec, view);
    queue_.addAfter(client::objectKey(pod), std::chrono::seconds(2));
    return false;
  }
}

// The sandbox: reuse the newest ready one; a dead sandbox means a new one (with a higher
// attempt) and every container started again, as upstream does on "SandboxChanged".
bool Kubelet::ensureSandbox(const json::object& pod, PodRecord& rec, const RuntimePod& rt,
                            const PodSyncView& view, RunningSandbox& out) {
  const RuntimeSandbox* sandbox = rt.latestSandbox();
  if (sandbox && sandbox->ready) {
    out = RunningSandbox{sandbox->id, sandbox->ip, sandbox->ips};
    return true;
  }
  // Nothing is left to run (Never/OnFailure pods that finished) → no new sandbox.
  auto restartPolicy = stringAt(pod, {"spec", "restartPolicy"}, "Always");
  bool anyToRun = rt.containers.empty();
  for (auto* c : containersOf(pod, "containers")) {
    auto* last = rt.latest(stringAt(*c, {"name"}));
    if (!last || shouldRestart(restartPolicy, *last)) anyToRun = true;
  }
  if (!anyToRun) return true;
  if (sandbox) {
    recorder_.event(pod, client::kEventTypeNormal, "SandboxChanged",
                    "Pod sandbox changed, it will be killed and re-created.");
    killRuntimePod(rt, 0, nullptr);
  }
  SandboxSettings settings{.podLogsDir = podLogsDir(),
                           .clusterDns = options_.clusterDns,
                           .clusterDomain = options_.clusterDomain,
                           .cgroupParent = options_.cgroupRoot};
  int attempt = sandbox ? sandbox->attempt + 1 : 0;
  try {
    fs::create_directories(podLogDirectory(podLogsDir(), pod));
    auto t0 = Clock::now();
    out.id =
        runtime_.runPodSandbox(makeSandboxConfig(pod, attempt, settings), options_.runtimeHandler);
    logTiming(pod, "sandbox", t0);
    auto st = runtime_.podSandboxStatus(out.id);
    out.ip = st.network().ip();
    if (!out.ip.empty()) out.ips.push_back(out.ip);
    for (auto& extra : st.network().additional_ips()) out.ips.push_back(extra.ip());
  } catch (const cri::CriError& e) {
    recorder_.event(pod, client::kEventTypeWarning, "FailedCreatePodSandBox",
                    std::string("Failed to create pod sandbox: ") + e.what());
    postStatus(pod, rec, view);
    queue_.addAfter(client::objectKey(pod), std::chrono::seconds(5));
    return false;
  }
  // Sync again over the runtime's new view: the new sandbox is the latest, and the
  // containers of the dead one belong to the past.
  auto fresh =
      inspectPods(stringAt(pod, {"metadata", "namespace"}), stringAt(pod, {"metadata", "name"}));
  auto it = fresh.find(rec.uid);
  if (it == fresh.end()) return true;
  syncRunningPod(pod, rec, it->second);
  return false;
}

// Init containers, one at a time in order; each must exit 0 before the next starts. True
// when all have.
bool Kubelet::runInitContainers(const json::object& pod, PodRecord& rec, const RuntimePod& rt,
                                const RunningSandbox& sandbox,
                                const std::map<std::string, std::string>& volumePaths) {
  auto restartPolicy = stringAt(pod, {"spec", "restartPolicy"}, "Always");
  for (auto* c : containersOf(pod, "initContainers")) {
    auto name = stringAt(*c, {"name"});
    auto* last = rt.latest(name, sandbox.id);
    if (last && last->state == ContainerRunState::Exited && last->exitCode == 0) continue;
    if (last &&
        (last->state == ContainerRunState::Running || last->state == ContainerRunState::Created))
      return false;
    if (last && last->state == ContainerRunState::Exited) {
      if (restartPolicy == "Never") return false;  // the pod fails (computePodStatus)
      if (!backoffAllows(pod, name, rec, *last)) return false;
    }
    if (!startContainer(pod, *c, true, sandbox.id, rt, rec, volumePaths, sandbox.ip))
      queue_.addAfter(client::objectKey(pod), std::chrono::seconds(2));
    return false;
  }
  return true;
}

// The app containers: a running one is restarted when its spec changed or a probe says so,
// otherwise its readiness comes from the probes; an exited one is restarted as the restart
// policy and the back-off allow; a missing one is started.
void Kubelet::syncAppContainers(const json::object& pod, PodRecord& rec, const RuntimePod& rt,
                                const RunningSandbox& sandbox,
                                const std::map<std::string, std::string>& volumePaths) {
  auto key = client::objectKey(pod);
  auto restartPolicy = stringAt(pod, {"spec", "restartPolicy"}, "Always");
  for (auto* c : containersOf(pod, "containers")) {
    auto name = stringAt(*c, {"name"});
    auto* last = rt.latest(name, sandbox.id);
    auto& note = rec.notes[name];
    if (last && last->state == ContainerRunState::Running) {
      if (!last->hash.empty() && last->hash != containerHash(*c)) {
        // The spec changed under a running container (e.g. a new image): restart it.
        recorder_.event(containerRef(pod, name, false), client::kEventTypeNormal, "Killing",
                        "Container " + name + " definition changed, will be restarted");
        runtime_.stopContainer(last->id, gracePeriodSeconds(pod));
        queue_.add(key);
        continue;
      }
      probes_.ensure(key, *c, last->id, sandbox.ip);
      if (auto reason = probes_.takeRestartReason(last->id)) {
        recorder_.event(containerRef(pod, name, false), client::kEventTypeNormal, "Killing",
                        *reason);
        runtime_.stopContainer(last->id, gracePeriodSeconds(pod));
        note.ready = false;
        queue_.add(key);
        continue;
      }
      note.ready = probes_.ready(last->id);
      note.started = probes_.started(last->id);
      continue;
    }
    note.ready = false;
    if (last && last->state == ContainerRunState::Created) continue;
    if (last && last->state == ContainerRunState::Exited) {
      if (!shouldRestart(restartPolicy, *last)) continue;
      if (!backoffAllows(pod, name, rec, *last)) {
        recorder_.event(containerRef(pod, name, false), client::kEventTypeWarning, "BackOff",
                        "Back-off restarting failed container " + name + " in pod " + podDesc(pod));
        continue;
      }
    }
    if (!startContainer(pod, *c, false, sandbox.id, rt, rec, volumePaths, sandbox.ip))
      queue_.addAfter(key, std::chrono::seconds(2));
    else
      queue_.add(key);  // report Running promptly (the relist would too, within a second)
  }
}

void Kubelet::postStatus(const json::object& pod, PodRecord& rec, const PodSyncView& viewIn) {
  PodSyncView view = viewIn;
  {
    std::lock_guard lock(mu_);
    view.notes = rec.notes;
  }
  auto status = computePodStatus(pod, view, formatTime(std::chrono::system_clock::now()));
  notePodStatus(rec, status);
  // Compare without timestamps that only move: write only real changes.
  auto fingerprint = json::serialize(status);
  uint64_t hash = std::hash<std::string>{}(fingerprint);
  auto* current = objectAt(pod, {"status"});
  if (hash == rec.lastStatusHash && current) {
    // Unchanged since our last write. Someone else may have overwritten the status: restore
    // it, but at most once per resync period (normalisation differences must not loop).
    bool drifted = json::serialize(*current) != fingerprint;
    if (!drifted || Clock::now() - rec.lastStatusPost < options_.resyncPeriod) return;
  }
  try {
    client_.patchNoResult(client::resources::pods, stringAt(pod, {"metadata", "namespace"}),
                          stringAt(pod, {"metadata", "name"}), client::PatchType::Merge,
                          json::object{{"status", std::move(status)}}, "status");
    rec.lastStatusHash = hash;
    rec.lastStatusPost = Clock::now();
  } catch (const ApiError& e) {
    if (e.code() != 404) throw;
  }
}

}  // namespace skiff::kubelet
