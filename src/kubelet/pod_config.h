// Pod spec → CRI configs: the sandbox (hostname, DNS, ports, namespaces, log dir, labels)
// and each container (image, command/args, env, mounts, resources, security context,
// log path, restart bookkeeping annotations). Pure functions over the JSON pod.
#pragma once
#include <boost/json/object.hpp>
#include <map>
#include <string>
#include <vector>

#include "kubelet/cri/runtime_service.h"
#include "kubelet/volumes.h"

namespace skiff::kubelet {

struct SandboxSettings {
  std::string podLogsDir;               // the kubelet's logs/ folder
  std::vector<std::string> clusterDns;  // empty: pods use the host's resolvers
  std::string clusterDomain = "cluster.local";
  std::string hostResolvConf = "/etc/resolv.conf";
  // Every pod's cgroups go under this parent (cgroupfs path, e.g. "/skiff-c1-node-1"), so a
  // node sharing the machine with others has its own; empty: the runtime's default.
  std::string cgroupParent;
};

// <podLogsDir>/<namespace>_<name>_<uid>, upstream's layout.
std::string podLogDirectory(const std::string& podLogsDir, const boost::json::object& pod);

cri::v1::PodSandboxConfig makeSandboxConfig(const boost::json::object& pod, int attempt,
                                            const SandboxSettings& settings);

struct ContainerInputs {
  int restartCount = 0;
  std::string imageRef;  // what the runtime resolved the image to
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<HostMount> mounts;
  std::string terminationLogHostPath;  // mounted at terminationMessagePath
};

cri::v1::ContainerConfig makeContainerConfig(const boost::json::object& pod,
                                             const boost::json::object& container, bool init,
                                             const ContainerInputs& inputs);

// Hash of the container spec: a running container whose hash differs was created from an
// older spec (e.g. the image changed) and is restarted.
std::string containerHash(const boost::json::object& container);

// spec.terminationGracePeriodSeconds (30 by default) or the deletion's grace period.
int64_t gracePeriodSeconds(const boost::json::object& pod);

}  // namespace skiff::kubelet
