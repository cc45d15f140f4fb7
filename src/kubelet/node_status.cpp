// The kubelet's node side: register the Node, renew its Lease in kube-node-lease, post node
// status (capacity, allocatable, conditions, addresses, nodeInfo, images) when it changes and
// at least every nodeStatusReportInterval, and turn spec.podCIDR into the CNI config.
#include <boost/json.hpp>
#include <functional>

#include "api/json_access.h"
#include "api/quantity.h"
#include "client/node_lease.h"
#include "common/api_error.h"
#include "common/ids.h"
#include "common/log.h"
#include "kubelet/cni_config.h"
#include "kubelet/kubelet.h"
#include "kubelet/machine_info.h"

namespace json = boost::json;

namespace skiff::kubelet {
namespace {

using api::arrayAt;
using api::stringAt;
using SysClock = std::chrono::system_clock;

constexpr const char* kKubeletVersion = "v1.32.0-skiff";

int64_t quantityBytes(const std::string& text) {
  auto q = api::Quantity::parse(text);
  return q ? q->value() : 0;
}

std::string kibibytes(int64_t bytes) {
  return std::to_string(std::max<int64_t>(0, bytes) / 1024) + "Ki";
}

const json::object* findCondition(const json::object* node, const std::string& type) {
  auto* conds = node ? arrayAt(*node, {"status", "conditions"}) : nullptr;
  if (!conds) return nullptr;
  for (auto& c : *conds)
    if (c.is_object() && stringAt(c.as_object(), {"type"}) == type) return &c.as_object();
  return nullptr;
}

}  // namespace

void Kubelet::nodeLoop() {
  auto nextLease = std::chrono::steady_clock::now();
  auto nextStatus = nextLease;
  while (!stopping_) {
    if (!registered_ && !registerNode()) {
      std::unique_lock lock(nodeMu_);
      nodeCv_.wait_for(lock, std::chrono::seconds(2), [this] { return nodeWake_; });
      nodeWake_ = false;
      continue;
    }
    auto now = std::chrono::steady_clock::now();
    bool woken = false;
    {
      std::lock_guard lock(nodeMu_);
      woken = nodeWake_;
      nodeWake_ = false;
    }
    if (now >= nextLease) {
      renewLease();
      nextLease = now + options_.leaseRenewInterval;
    }
    if (woken || now >= nextStatus) {
      postNodeStatus(false);
      nextStatus = now + options_.nodeStatusUpdateInterval;
    }
    std::unique_lock lock(nodeMu_);
    nodeCv_.wait_until(lock, std::min(nextLease, nextStatus),
                       [this] { return nodeWake_ || stopping_.load(); });
  }
}

bool Kubelet::registerNode() {
  json::object labels{{"kubernetes.io/hostname", options_.nodeName},
                      {"kubernetes.io/os", "linux"},
                      {"kubernetes.io/arch", "amd64"},
                      {"beta.kubernetes.io/os", "linux"},
                      {"beta.kubernetes.io/arch", "amd64"}};
  for (auto& [k, v] : options_.nodeLabels) labels[k] = v;
  json::object node{{"apiVersion", "v1"},
                    {"kind", "Node"},
                    {"metadata", json::object{{"name", options_.nodeName}, {"labels", labels}}},
                    {"spec", json::object{}}};
  try {
    try {
      auto created = client_.create(client::resources::nodes, "", node);
      std::lock_guard lock(mu_);
      nodeUid_ = stringAt(created, {"metadata", "uid"});
      SKIFF_LOG_INFO("kubelet registered node={} uid={}", options_.nodeName, nodeUid_);
    } catch (const ApiError& e) {
      if (e.code() != 409) throw;
      // Already registered (a restart): adopt it and make sure our labels are on it.
      auto existing =
          client_.patch(client::resources::nodes, "", options_.nodeName, client::PatchType::Merge,
                        json::object{{"metadata", json::object{{"labels", labels}}}});
      std::lock_guard lock(mu_);
      nodeUid_ = stringAt(existing, {"metadata", "uid"});
      SKIFF_LOG_INFO("kubelet adopted existing node={} uid={}", options_.nodeName, nodeUid_);
    }
    registered_ = true;
    postNodeStatus(true);
    renewLease();
    return true;
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("kubelet node={} registration failed, retrying error=\"{}\"", options_.nodeName,
                   e.what());
    return false;
  }
}

void Kubelet::renewLease() {
  std::string nodeUid;
  {
    std::lock_guard lock(mu_);
    nodeUid = nodeUid_;
  }
  try {
    client::renewNodeLease(client_, options_.nodeName, nodeUid, options_.leaseDurationSeconds);
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("kubelet node={} lease renewal failed error=\"{}\"", options_.nodeName,
                   e.what());
  }
}

json::object Kubelet::nodeStatus(const json::object* current) {
  auto info = readMachineInfo(options_.rootDir);
  auto now = formatTime(SysClock::now());
  int64_t reservedMemory =
      quantityBytes(options_.kubeReservedMemory) + quantityBytes(options_.evictionHardMemory);
  auto reservedCpu = api::Quantity::parse(options_.kubeReservedCpu);
  int64_t cpuMilli =
      static_cast<int64_t>(info.cpus) * 1000 - (reservedCpu ? reservedCpu->milliValue() : 0);
  json::object capacity{{"cpu", std::to_string(info.cpus)},
                        {"memory", kibibytes(info.memoryBytes)},
                        {"ephemeral-storage", kibibytes(info.diskBytes)},
                        {"hugepages-1Gi", "0"},
                        {"hugepages-2Mi", "0"},
                        {"pods", std::to_string(options_.maxPods)}};
  json::object allocatable = capacity;
  allocatable["cpu"] =
      cpuMilli % 1000 == 0 ? std::to_string(cpuMilli / 1000) : std::to_string(cpuMilli) + "m";
  allocatable["memory"] = kibibytes(info.memoryBytes - reservedMemory);

  bool runtimeReady = true;
  std::string runtimeMessage;
  try {
    auto st = runtime_.status();
    for (auto& c : st.status().conditions())
      if (c.type() == "RuntimeReady" && !c.status()) {
        runtimeReady = false;
        runtimeMessage = "container runtime not ready: " + c.reason() + " " + c.message();
      }
  } catch (const std::exception& e) {
    runtimeReady = false;
    runtimeMessage = std::string("container runtime is down: ") + e.what();
  }
  bool networkReady;
  {
    std::lock_guard lock(mu_);
    networkReady = networkReady_;
  }
  json::array conditions;
  auto add = [&](const char* type, bool status, const std::string& reason,
                 const std::string& message) {
    std::string value = status ? "True" : "False";
    std::string transition = now;
    if (auto* cur = findCondition(current, type); cur && stringAt(*cur, {"status"}) == value) {
      auto t = stringAt(*cur, {"lastTransitionTime"});
      if (!t.empty()) transition = t;
    }
    conditions.push_back(json::object{{"type", type},
                                      {"status", value},
                                      {"lastHeartbeatTime", now},
                                      {"lastTransitionTime", transition},
                                      {"reason", reason},
                                      {"message", message}});
  };
  add("MemoryPressure", false, "KubeletHasSufficientMemory",
      "kubelet has sufficient memory available");
  add("DiskPressure", false, "KubeletHasNoDiskPressure", "kubelet has no disk pressure");
  add("PIDPressure", false, "KubeletHasSufficientPID", "kubelet has sufficient PID available");
  if (!runtimeReady)
    add("Ready", false, "KubeletNotReady", runtimeMessage);
  else if (!networkReady)
    add("Ready", false, "KubeletNotReady",
        "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
        "message:Network plugin returns error: cni plugin not initialized (waiting for "
        "spec.podCIDR)");
  else
    add("Ready", true, "KubeletReady", "kubelet is posting ready status");

  json::array images;
  try {
    auto list = images_.listImages();
    std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
    for (auto& img : list) {
      if (images.size() >= 50) break;  // upstream's nodeStatusMaxImages
      json::array names;
      for (auto& d : img.repo_digests()) names.push_back(json::string(d));
      for (auto& t : img.repo_tags()) names.push_back(json::string(t));
      if (names.empty()) continue;
      images.push_back(json::object{{"names", std::move(names)}, {"sizeBytes", img.size()}});
    }
  } catch (const std::exception& e) {
    SKIFF_LOG_DEBUG("kubelet image list failed error=\"{}\"", e.what());
  }

  return json::object{
      {"capacity", capacity},
      {"allocatable", allocatable},
      {"conditions", std::move(conditions)},
      {"addresses",
       json::array{json::object{{"type", "InternalIP"}, {"address", nodeIp_}},
                   json::object{{"type", "Hostname"}, {"address", options_.nodeName}}}},
      {"daemonEndpoints", json::object{{"kubeletEndpoint", json::object{{"Port", serverPort()}}}}},
      {"nodeInfo", json::object{{"machineID", info.machineId},
                                {"systemUUID", info.systemUuid},
                                {"bootID", info.bootId},
                                {"kernelVersion", info.kernelVersion},
                                {"osImage", info.osImage},
                                {"containerRuntimeVersion", runtimeVersion_},
                                {"kubeletVersion", kKubeletVersion},
                                {"kubeProxyVersion", kKubeletVersion},
                                {"operatingSystem", "linux"},
                                {"architecture", "amd64"}}},
      {"images", std::move(images)},
  };
}

void Kubelet::postNodeStatus(bool force) {
  auto current = nodeInformer_.get(options_.nodeName);
  auto status = nodeStatus(current.get());
  // Fingerprint without heartbeat times: unchanged status is re-posted only every
  // nodeStatusReportInterval; the Lease carries liveness in between (as upstream).
  json::object stable = status;
  for (auto& c : stable["conditions"].as_array()) c.as_object().erase("lastHeartbeatTime");
  uint64_t hash = std::hash<std::string>{}(json::serialize(stable));
  auto now = std::chrono::steady_clock::now();
  if (!force && hash == lastNodeStatusHash_ &&
      now - lastNodeStatusPost_ < options_.nodeStatusReportInterval)
    return;
  try {
    client_.patchNoResult(client::resources::nodes, "", options_.nodeName, client::PatchType::Merge,
                          json::object{{"status", std::move(status)}}, "status");
    lastNodeStatusHash_ = hash;
    lastNodeStatusPost_ = now;
  } catch (const ApiError& e) {
    if (e.code() == 404) {
      // The Node was deleted: register it again, like upstream's kubelet after a restart.
      SKIFF_LOG_WARN("kubelet node={} not found; registering again", options_.nodeName);
      registered_ = false;
      return;
    }
    SKIFF_LOG_WARN("kubelet node={} status post failed error=\"{}\"", options_.nodeName, e.what());
  } catch (const std::exception& e) {
    SKIFF_LOG_WARN("kubelet node={} status post failed error=\"{}\"", options_.nodeName, e.what());
  }
}

void Kubelet::onNodeChanged(const json::object& node) {
  auto cidr = stringAt(node, {"spec", "podCIDR"});
  bool becameReady = false;
  if (!cidr.empty()) {
    std::lock_guard lock(mu_);
    if (cidr != podCidr_) {
      if (!validPodCidr(cidr)) {
        SKIFF_LOG_WARN("kubelet node={} unusable podCIDR={}", options_.nodeName, cidr);
      } else {
        try {
          writeCniConfig(options_.cniConfDir,
                         CniNetwork{.podCidr = cidr, .ipamDataDir = options_.cniIpamDataDir});
          if (options_.podMasquerade && !ensurePodMasquerade(cidr, options_.clusterCidr))
            SKIFF_LOG_WARN(
                "kubelet could not install the pod masquerade rule (nft); pods reach only the "
                "node");
          SKIFF_LOG_INFO("kubelet node={} podCIDR={} pod network config written to {}",
                         options_.nodeName, cidr, options_.cniConfDir);
          podCidr_ = cidr;
          becameReady = !networkReady_;
          networkReady_ = true;
        } catch (const std::exception& e) {
          SKIFF_LOG_WARN("kubelet writing CNI config failed error=\"{}\"", e.what());
        }
      }
    }
  }
  if (becameReady) {
    {
      std::lock_guard lock(nodeMu_);
      nodeWake_ = true;
    }
    nodeCv_.notify_all();
    for (auto& p : podInformer_.list()) queue_.add(client::objectKey(*p));
  }
}

}  // namespace skiff::kubelet
