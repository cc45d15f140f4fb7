// A real node on this machine: a containerd of our own (unless an endpoint is given), the
// images skiff builds imported into it, and the kubelet. Used by `skiff kubelet`,
// `skiff agent` and `skiff up`.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "cli/metrics_server.h"
#include "client/informer.h"
#include "client/rest_client.h"
#include "dns/node_dns.h"
#include "kubelet/containerd_process.h"
#include "kubelet/cri/runtime_service.h"
#include "kubelet/kubelet.h"

namespace skiff::cli {

struct NodeFlags {
  std::string nodeName;         // default: the host name
  std::string rootDir;          // kubelet state; default DATA_DIR/kubelet or /var/lib/skiff/kubelet
  std::string runtimeEndpoint;  // empty: start containerd under ROOT/../containerd
  std::string nodeIp;
  int port = 10250;
  std::string address;    // the kubelet server's bind address; empty: the node IP
  std::string imagesDir;  // OCI tarballs imported at start; default: <skiff binary dir>/images
  std::string kubeReservedCpu = "0", kubeReservedMemory = "0";
  int maxPods = 110;
  std::string clusterDns;
  std::string clusterDomain = "cluster.local";
  // The node-local DNS server (src/dns): its address ("" turns it off) and the resolv.conf
  // whose nameservers get the names outside the cluster.
  std::string dnsBindAddress = dns::kDefaultBindAddress;
  std::string dnsResolvConf = "/etc/resolv.conf";
  std::string nodeLabels;
  std::string podManifestPath;
  std::string fileCheckFrequency = "20s";
  std::string syncFrequency = "1m";
  // Set by `skiff agent` (no flags of their own): the pods' whole range, and a host-local IPAM
  // folder under the node's state dir instead of the machine-wide one.
  std::string clusterCidr;
  bool ipamUnderStateDir = false;
  std::string cgroupRoot;  // parent of every pod's cgroups; empty: containerd's default
  // OCI runtime of our own containerd (k3s's --default-runtime): runc, crun; empty: crun when
  // installed and usable with the host's cgroups, else runc.
  std::string defaultRuntime;
  // The node Lease's duration (`skiff agent --node-lease-duration-seconds`); renewed every
  // quarter of it, as upstream's kubelet.
  int leaseDurationSeconds = 40;

  void add(CLI::App* cmd, bool withRootDir);
};

class LocalNode {
 public:
  // `stateDir` holds kubelet/, containerd/ and cni/ unless flags say otherwise.
  LocalNode(NodeFlags flags, std::string stateDir);
  ~LocalNode();
  // Starts containerd (when ours), imports images, starts the kubelet against `client`;
  // `clientCaPem` is the CA whose client certificates the kubelet's server accepts.
  // `informers`: the process's shared informers when it has them (skiff up), for the DNS
  // server's Services and EndpointSlices.
  void start(client::RestClient& client, const std::string& clientCaPem,
             client::SharedInformerFactory* informers = nullptr);
  // `removePods`: stop and remove every pod sandbox first, unmount what is left (skiff up).
  void stop(bool removePods);

 private:
  NodeFlags flags_;
  std::string stateDir_;
  std::unique_ptr<kubelet::ContainerdProcess> containerd_;
  kubelet::cri::CriConnection cri_;
  std::unique_ptr<kubelet::Kubelet> kubelet_;
  // Stopped with the node but destroyed only with it: its handlers stay registered on a
  // shared factory until the process stops that.
  std::unique_ptr<dns::NodeDns> dns_;
  std::unique_ptr<MetricsServer> dnsMetrics_;  // its /metrics on the DNS address, port 9153
};

// `ctr images import` of every *.tar in `dir` into containerd's k8s.io namespace.
int importImages(const std::string& socket, const std::string& dir);
int importImageFile(const std::string& socket, const std::string& file);
// The images folder next to the running binary (build/images for build/skiff).
std::string defaultImagesDir();
std::string hostName();

}  // namespace skiff::cli
