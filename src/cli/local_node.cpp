#include "cli/local_node.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <sstream>

#include "agent/hollow_agent.h"
#include "cli/process.h"
#include "common/log.h"
#include "common/pki.h"
#include "kubelet/cni_config.h"

namespace fs = std::filesystem;

namespace skiff::cli {

void NodeFlags::add(CLI::App* cmd, bool withRootDir) {
  cmd->add_option("--node-name", nodeName, "Name of this node (default: the host name)");
  if (withRootDir)
    cmd->add_option("--root-dir", rootDir, "Kubelet state folder")->capture_default_str();
  cmd->add_option("--container-runtime-endpoint", runtimeEndpoint,
                  "CRI socket (unix:///path); empty: run a containerd of our own");
  cmd->add_option("--node-ip", nodeIp,
                  "InternalIP of the node (default: the default route's address)");
  cmd->add_option("--kubelet-port", port, "Port of the kubelet's HTTPS server")
      ->capture_default_str();
  cmd->add_option("--address", address,
                  "IP address the kubelet's HTTPS server listens on (default: the node IP only; "
                  "0.0.0.0 or :: for every interface)");
  cmd->add_option("--default-runtime", defaultRuntime,
                  "OCI runtime of the containerd skiff runs: runc or crun (default: crun when "
                  "installed and usable with this host's cgroups, else runc); the other one "
                  "stays available as a CRI runtime handler")
      ->check(CLI::IsMember({"runc", "crun"}));
  cmd->add_option("--images-dir", imagesDir,
                  "OCI image tarballs to import at start (default: BINARY_DIR/images)");
  cmd->add_option("--kube-reserved-cpu", kubeReservedCpu, "CPU kept back from pods")
      ->capture_default_str();
  cmd->add_option("--kube-reserved-memory", kubeReservedMemory, "Memory kept back from pods")
      ->capture_default_str();
  cmd->add_option("--max-pods", maxPods, "Pods this node accepts")->capture_default_str();
  cmd->add_option("--cluster-dns", clusterDns,
                  "Nameservers for dnsPolicy ClusterFirst pods (comma list; skiff up: the "
                  "kube-dns Service, 10.43.0.10)");
  cmd->add_option("--cluster-domain", clusterDomain,
                  "DNS domain of the cluster: pods' search path and the zone the node's DNS "
                  "server answers")
      ->capture_default_str();
  cmd->add_option("--dns-bind-address", dnsBindAddress,
                  "Address of the node-local DNS server (UDP and TCP port 53; put on the dummy "
                  "interface skiff-dns); empty: no DNS server on this node")
      ->capture_default_str();
  cmd->add_option("--dns-resolv-conf", dnsResolvConf,
                  "Names outside the cluster domain are forwarded to this file's nameservers")
      ->capture_default_str();
  cmd->add_option("--node-labels", nodeLabels, "Extra node labels: key=value,...");
  cmd->add_option(
      "--pod-manifest-path", podManifestPath,
      "Folder of static pod manifests the kubelet runs itself (mirror pods show them in the API)");
  cmd->add_option("--file-check-frequency", fileCheckFrequency,
                  "How often the manifest folder is read again")
      ->capture_default_str();
  cmd->add_option(
         "--sync-frequency", syncFrequency,
         "Every pod is synced at least this often (configMap/secret volume contents follow then)")
      ->capture_default_str();
}

std::string hostName() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  std::string h = host;
  for (auto& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return h.empty() ? "skiff-node" : h;
}

std::string defaultImagesDir() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "images";
  return (exe.parent_path() / "images").string();
}

int importImageFile(const std::string& socket, const std::string& file) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::execlp("ctr", "ctr", "--address", socket.c_str(), "--namespace", "k8s.io", "images", "import",
             file.c_str(), nullptr);
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int importImages(const std::string& socket, const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    SKIFF_LOG_WARN("images folder {} not found; no images imported (build them with `make build`)",
                   dir);
    return 0;
  }
  int failures = 0;
  for (auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".tar") continue;
    int rc = importImageFile(socket, entry.path().string());
    if (rc != 0) {
      ++failures;
      SKIFF_LOG_WARN("image import failed file={} rc={}", entry.path().string(), rc);
    } else {
      SKIFF_LOG_INFO("image imported file={}", entry.path().string());
    }
  }
  return failures;
}

LocalNode::LocalNode(NodeFlags flags, std::string stateDir)
    : flags_(std::move(flags)), stateDir_(std::move(stateDir)) {
  if (flags_.nodeName.empty()) flags_.nodeName = hostName();
  if (flags_.rootDir.empty()) flags_.rootDir = stateDir_ + "/kubelet";
  if (flags_.imagesDir.empty()) flags_.imagesDir = defaultImagesDir();
}

LocalNode::~LocalNode() { stop(false); }

void LocalNode::start(client::RestClient& client, const std::string& clientCaPem,
                      client::SharedInformerFactory* informers) {
  if (!flags_.dnsBindAddress.empty()) {
    dns::NodeDnsOptions o;
    o.clusterDomain = flags_.clusterDomain;
    o.server.bindAddress = flags_.dnsBindAddress;
    o.server.resolvConf = flags_.dnsResolvConf;
    dns_ = std::make_unique<dns::NodeDns>(client, o, informers);
    try {
      dns_->start();
      dnsMetrics_ =
          std::make_unique<MetricsServer>(flags_.dnsBindAddress + ":9153", &dns_->metrics());
    } catch (const std::exception& e) {
      // Pods still run without it (the node is more useful than no node).
      SKIFF_LOG_ERROR("dns: node-local DNS server not started error=\"{}\"", e.what());
      dns_->stop();
    }
  }
  fs::create_directories(flags_.rootDir);
  std::string cniConfDir = stateDir_ + "/cni/net.d";
  std::string endpoint = flags_.runtimeEndpoint;
  if (!endpoint.empty() && !flags_.defaultRuntime.empty())
    SKIFF_LOG_WARN("--default-runtime only applies to the containerd skiff runs; {} keeps its own",
                   endpoint);
  if (endpoint.empty()) {
    kubelet::ContainerdOptions co;
    co.dataDir = stateDir_ + "/containerd";
    co.cniConfDir = cniConfDir;
    co.crunBinary = kubelet::findExecutable("crun");
    std::string warning;
    co.defaultRuntime = kubelet::chooseDefaultRuntime(
        flags_.defaultRuntime, co.crunBinary, kubelet::hybridUnifiedControllers(), &warning);
    if (!warning.empty()) SKIFF_LOG_WARN("containerd {}", warning);
    SKIFF_LOG_INFO("containerd OCI runtime={} crun={}", co.defaultRuntime,
                   co.crunBinary.empty() ? "not installed" : co.crunBinary);
    containerd_ = std::make_unique<kubelet::ContainerdProcess>(co);
    containerd_->start();
    endpoint = containerd_->endpoint();
    importImages(containerd_->socketPath(), flags_.imagesDir);
  }
  cri_ = kubelet::cri::connectCri(endpoint);
  auto caPath = flags_.rootDir + "/pki/client-ca.crt";
  fs::create_directories(flags_.rootDir + "/pki");
  writeFileAtomic(caPath, clientCaPem, 0644);

  kubelet::KubeletOptions ko;
  ko.nodeName = flags_.nodeName;
  ko.rootDir = flags_.rootDir;
  ko.cniConfDir = cniConfDir;
  if (flags_.ipamUnderStateDir) ko.cniIpamDataDir = stateDir_ + "/cni/networks";
  ko.clusterCidr = flags_.clusterCidr;
  ko.cgroupRoot = flags_.cgroupRoot;
  ko.nodeIp = flags_.nodeIp;
  ko.port = flags_.port;
  ko.serverAddress = flags_.address;
  ko.clientCaFile = caPath;
  ko.kubeReservedCpu = flags_.kubeReservedCpu;
  ko.kubeReservedMemory = flags_.kubeReservedMemory;
  ko.maxPods = flags_.maxPods;
  ko.podManifestPath = flags_.podManifestPath;
  ko.fileCheckFrequency = parseDuration(flags_.fileCheckFrequency);
  ko.resyncPeriod = parseDuration(flags_.syncFrequency);
  ko.leaseDurationSeconds = flags_.leaseDurationSeconds;
  ko.leaseRenewInterval = std::chrono::milliseconds(flags_.leaseDurationSeconds * 250);
  ko.nodeLabels = agent::parseNodeLabels(flags_.nodeLabels);
  ko.clusterDomain = flags_.clusterDomain;
  if (!flags_.clusterDns.empty()) {
    std::stringstream ss(flags_.clusterDns);
    for (std::string s; std::getline(ss, s, ',');)
      if (!s.empty()) ko.clusterDns.push_back(s);
  }
  kubelet_ = std::make_unique<kubelet::Kubelet>(client, *cri_.runtime, *cri_.images, ko);
  kubelet_->start();
}

void LocalNode::stop(bool removePods) {
  dnsMetrics_.reset();
  if (dns_) dns_->stop();
  if (kubelet_) {
    kubelet_->stop();
    if (removePods) kubelet_->removeAllPods(5);
    kubelet_.reset();
  }
  cri_ = {};
  if (containerd_) {
    containerd_->stop();
    containerd_.reset();
    if (removePods) {
      // What containerd and the pods mounted (overlay rootfs, shm, tmpfs volumes) goes with them.
      int n =
          kubelet::unmountUnder(stateDir_ + "/containerd") + kubelet::unmountUnder(flags_.rootDir);
      if (n) SKIFF_LOG_INFO("unmounted leftovers count={}", n);
      // The pod bridge the CNI config created; the next start creates it again.
      kubelet::deleteLink(kubelet::CniNetwork{}.bridge);
      kubelet::removePodMasquerade();
    }
  }
}

}  // namespace skiff::cli
