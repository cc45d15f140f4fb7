// CRI → RuntimePod: the runtime's sandboxes and containers of pods, grouped by pod UID from
// the labels the kubelet put on them, newest first.
#include <algorithm>

#include "common/log.h"
#include "kubelet/kubelet.h"

namespace skiff::kubelet {
namespace {

std::string label(const google::protobuf::Map<std::string, std::string>& m, const char* key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : it->second;
}

ContainerRunState runState(cri::v1::ContainerState s) {
  switch (s) {
    case cri::v1::CONTAINER_CREATED:
      return ContainerRunState::Created;
    case cri::v1::CONTAINER_RUNNING:
      return ContainerRunState::Running;
    case cri::v1::CONTAINER_EXITED:
      return ContainerRunState::Exited;
    default:
      return ContainerRunState::Unknown;
  }
}

void sortNewestFirst(RuntimePod& p) {
  std::stable_sort(p.sandboxes.begin(), p.sandboxes.end(),
                   [](auto& a, auto& b) { return a.createdAt > b.createdAt; });
  std::stable_sort(p.containers.begin(), p.containers.end(),
                   [](auto& a, auto& b) { return a.createdAt > b.createdAt; });
}

// Sandboxes and containers of the listing, with full status read for each (exit codes,
// timestamps and IPs are only in the status calls).
std::map<std::string, RuntimePod> collect(cri::RuntimeService& runtime,
                                          const std::vector<cri::v1::PodSandbox>& sandboxes,
                                          const std::vector<cri::v1::Container>& containers,
                                          bool detailed) {
  std::map<std::string, RuntimePod> pods;
  for (auto& s : sandboxes) {
    auto uid = label(s.labels(), labels::kPodUid);
    if (uid.empty()) continue;  // not ours
    auto& p = pods[uid];
    p.uid = uid;
    p.name = label(s.labels(), labels::kPodName);
    p.ns = label(s.labels(), labels::kPodNamespace);
    RuntimeSandbox rs;
    rs.id = s.id();
    rs.ready = s.state() == cri::v1::SANDBOX_READY;
    rs.attempt = static_cast<int>(s.metadata().attempt());
    rs.createdAt = s.created_at();
    if (detailed && rs.ready) {
      try {
        auto st = runtime.podSandboxStatus(s.id());
        rs.ip = st.network().ip();
        if (!rs.ip.empty()) rs.ips.push_back(rs.ip);
        for (auto& extra : st.network().additional_ips()) rs.ips.push_back(extra.ip());
      } catch (const cri::CriError& e) {
        if (!e.notFound()) throw;
      }
    }
    p.sandboxes.push_back(std::move(rs));
  }
  for (auto& c : containers) {
    auto uid = label(c.labels(), labels::kPodUid);
    if (uid.empty()) continue;
    auto& p = pods[uid];
    p.uid = uid;
    if (p.name.empty()) {
      p.name = label(c.labels(), labels::kPodName);
      p.ns = label(c.labels(), labels::kPodNamespace);
    }
    RuntimeContainer rc;
    rc.id = c.id();
    rc.name = label(c.labels(), labels::kContainerName);
    rc.sandboxId = c.pod_sandbox_id();
    rc.state = runState(c.state());
    rc.createdAt = c.created_at();
    rc.image = c.image().image();
    rc.imageRef = c.image_ref();
    rc.hash = label(c.annotations(), labels::kContainerHash);
    try {
      rc.restartCount = std::stoi(label(c.annotations(), labels::kRestartCount));
    } catch (const std::exception&) {
      rc.restartCount = static_cast<int>(c.metadata().attempt());
    }
    if (detailed) {
      try {
        auto st = runtime.containerStatus(c.id());
        rc.state = runState(st.state());
        rc.startedAt = st.started_at();
        rc.finishedAt = st.finished_at();
        rc.exitCode = st.exit_code();
        rc.reason = st.reason();
        rc.message = st.message();
        rc.logPath = st.log_path();
        if (!st.image_ref().empty()) rc.imageRef = st.image_ref();
      } catch (const cri::CriError& e) {
        if (!e.notFound()) throw;
        continue;  // removed meanwhile
      }
    }
    p.containers.push_back(std::move(rc));
  }
  for (auto& [uid, p] : pods) sortNewestFirst(p);
  return pods;
}

}  // namespace

std::map<std::string, RuntimePod> Kubelet::inspectPods(const std::string& ns,
                                                       const std::string& name) {
  cri::v1::PodSandboxFilter sf;
  (*sf.mutable_label_selector())[labels::kPodNamespace] = ns;
  (*sf.mutable_label_selector())[labels::kPodName] = name;
  cri::v1::ContainerFilter cf;
  (*cf.mutable_label_selector())[labels::kPodNamespace] = ns;
  (*cf.mutable_label_selector())[labels::kPodName] = name;
  return collect(runtime_, runtime_.listPodSandbox(sf), runtime_.listContainers(cf), true);
}

std::map<std::string, RuntimePod> Kubelet::inspectAllPods() {
  return collect(runtime_, runtime_.listPodSandbox(), runtime_.listContainers(), false);
}

}  // namespace skiff::kubelet
