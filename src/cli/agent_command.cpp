// `skiff agent`: node-side components. Without --hollow: the real kubelet on containerd
// (as `skiff kubelet`); `skiff agent --hollow --nodes N --kubeconfig F` runs N simulated nodes.
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>

#include "agent/control_handler.h"
#include "agent/hollow_agent.h"
#include "cli/commands.h"
#include "cli/local_node.h"
#include "cli/process.h"
#include "cli/proxy_command.h"
#include "client/kubeconfig.h"
#include "client/tls_bootstrap.h"
#include "common/log.h"
#include "net/http_server.h"

namespace skiff::cli {
namespace {

struct AgentFlags {
  bool hollow = false;
  std::string kubeconfig;
  int nodes = 1;
  int heartbeatWorkers = 0;
  int podWorkers = 0;
  std::string prefix = "hollow";
  std::string cpu = "4", memory = "16Gi";
  int maxPods = 110;
  std::string labels, taints;
  std::string readinessDelay = "0s", jobDuration = "5s", terminationDelay = "0s";
  std::string statusReportFrequency = "5m";
  int leaseDurationSeconds = 40;
  std::string controlListen;
  bool kubeletEndpoints = true;
  std::string syntheticPodCpu = "0", syntheticPodMemory = "0";
  std::string nodeName, dataDir = "/var/lib/skiff";  // real node only
  std::string address;                               // real node only: kubelet bind address
  ProxyFlags proxy;                                  // real node only
  // Joining with a bootstrap token (client/tls_bootstrap.h) instead of --kubeconfig.
  std::string server, token, caCertHash, caFile;
  // Real node, set by `skiff cluster create` for its nodes in network namespaces.
  std::string nodeIp, clusterDns, dnsResolvConf = "/etc/resolv.conf", cgroupRoot;
  std::string defaultRuntime;  // real node: runc or crun (empty: crun when usable)
  bool removePodsOnExit = false;
};

// With --server/--token: the node's credentials from the TLS bootstrap (reused when still
// valid) and a rotator that renews them; returns the kubeconfig to run with.
std::string joinCluster(const AgentFlags& f, const std::string& nodeName) {
  client::TlsBootstrapOptions o;
  o.server = f.server;
  o.token = f.token;
  o.caCertHash = f.caCertHash;
  o.caFile = f.caFile;
  o.nodeName = nodeName;
  o.pkiDir = f.dataDir + "/kubelet/pki";
  o.kubeconfig = f.dataDir + "/kubelet/kubeconfig";
  return client::bootstrapNodeCredentials(o);
}

// Renewal of the client certificate before it expires; the client switches in place.
std::unique_ptr<client::CertificateRotator> startRotation(
    client::RestClient& client, const std::string& nodeName,
    const client::NodeCredentialFiles& files) {
  auto rotator = std::make_unique<client::CertificateRotator>(
      client, nodeName, files, [&client](const std::string& cert, const std::string& key) {
        client.transport().setClientCertificate(cert, key);
      });
  rotator->start();
  return rotator;
}

int runAgent(AgentFlags f) {
  std::unique_ptr<client::CertificateRotator> rotator;
  std::optional<client::NodeCredentialFiles> files;
  std::string joinedNode;
  if (!f.server.empty() || !f.token.empty()) {
    if (!f.kubeconfig.empty()) {
      std::cerr << "skiff agent: give either --kubeconfig or --server with --token\n";
      return 2;
    }
    if (f.server.empty() || f.token.empty()) {
      std::cerr << "skiff agent: --server and --token go together\n";
      return 2;
    }
    if (f.hollow && f.nodes != 1) {
      std::cerr << "skiff agent: joining with a token gives one node identity: use --nodes 1\n";
      return 2;
    }
    joinedNode = f.hollow ? f.prefix + "-0" : (f.nodeName.empty() ? hostName() : f.nodeName);
    try {
      f.kubeconfig = joinCluster(f, joinedNode);
      files.emplace(f.dataDir + "/kubelet/pki");
    } catch (const std::invalid_argument& e) {
      std::cerr << "skiff agent: " << e.what() << "\n";
      return 2;
    } catch (const std::exception& e) {
      std::cerr << "skiff agent: joining the cluster failed: " << e.what() << "\n";
      return 1;
    }
  } else if (f.kubeconfig.empty()) {
    std::cerr << "skiff agent: --kubeconfig, or --server with --token, is required\n";
    return 2;
  }
  if (!f.hollow) {
    // A real node: the kubelet on containerd and the Service proxy.
    NodeFlags node;
    node.nodeLabels = f.labels;
    node.maxPods = f.maxPods;
    node.nodeName = f.nodeName;
    node.address = f.address;
    node.nodeIp = f.nodeIp;
    node.clusterDns = f.clusterDns;
    node.dnsResolvConf = f.dnsResolvConf;
    node.clusterCidr = f.proxy.clusterCidr;
    node.ipamUnderStateDir = true;
    node.cgroupRoot = f.cgroupRoot;
    node.defaultRuntime = f.defaultRuntime;
    if (f.leaseDurationSeconds <= 0) {
      std::cerr << "skiff agent: --node-lease-duration-seconds must be positive\n";
      return 2;
    }
    node.leaseDurationSeconds = f.leaseDurationSeconds;
    return runRealNode(f.kubeconfig, node, f.dataDir, &f.proxy, f.removePodsOnExit,
                       [&](client::RestClient& client) {
                         if (files) rotator = startRotation(client, joinedNode, *files);
                       });
  }
  if (f.nodes < 1) {
    std::cerr << "skiff agent: --nodes must be at least 1\n";
    return 2;
  }
  agent::HollowOptions o;
  try {
    o.namePrefix = f.prefix;
    o.ownNodeOnly = !f.server.empty();
    o.nodes = f.nodes;
    if (f.heartbeatWorkers < 0) throw std::invalid_argument("--heartbeat-workers must be >= 0");
    o.heartbeatWorkers = f.heartbeatWorkers;
    if (f.podWorkers < 0) throw std::invalid_argument("--pod-workers must be >= 0");
    o.podWorkers = f.podWorkers;
    o.cpu = f.cpu;
    o.memory = f.memory;
    o.maxPods = f.maxPods;
    o.labels = agent::parseNodeLabels(f.labels);
    o.taints = agent::parseTaints(f.taints);
    o.readinessDelay = parseDuration(f.readinessDelay);
    o.jobDuration = parseDuration(f.jobDuration);
    o.terminationDelay = parseDuration(f.terminationDelay);
    o.statusReportInterval = parseDuration(f.statusReportFrequency);
    if (o.statusReportInterval.count() <= 0)
      throw std::invalid_argument("--node-status-report-frequency must be positive");
    if (f.leaseDurationSeconds <= 0)
      throw std::invalid_argument("--node-lease-duration-seconds must be positive");
    // As upstream's kubelet: the Lease is renewed every quarter of its duration.
    o.leaseDurationSeconds = f.leaseDurationSeconds;
    o.leaseRenewInterval = std::chrono::milliseconds(f.leaseDurationSeconds * 250);
    o.serveKubelet = f.kubeletEndpoints;
    auto cpu = agent::parseCpuNanoCores(f.syntheticPodCpu);
    if (!cpu)
      throw std::invalid_argument("--synthetic-pod-cpu: invalid quantity \"" + f.syntheticPodCpu +
                                  "\"");
    auto mem = agent::parseMemoryBytes(f.syntheticPodMemory);
    if (!mem)
      throw std::invalid_argument("--synthetic-pod-memory: invalid quantity \"" +
                                  f.syntheticPodMemory + "\"");
    o.defaultPodUsage = {*cpu, *mem};
  } catch (const std::invalid_argument& e) {
    std::cerr << "skiff agent: " << e.what() << "\n";
    return 2;
  }
  installSignalHandlers();
  auto config = client::loadKubeconfig(f.kubeconfig);
  // Every heartbeat and pod worker may hold a connection: keep them all alive, or each
  // request past the pool pays a TLS handshake.
  config.maxIdleConnections =
      std::max(config.maxIdleConnections, o.heartbeatThreads() + o.podThreads() + 8);
  client::RestClient client(std::move(config));
  if (files) rotator = startRotation(client, joinedNode, *files);
  // The kubelet endpoints accept client certificates of the cluster's CA, as kubelets do.
  o.clientCaPem = client.config().caPem;
  agent::HollowAgent hollow(client, o);
  hollow.start();
  std::unique_ptr<net::HttpServer> control;
  if (!f.controlListen.empty()) {
    net::HttpServerOptions so;
    so.listen = f.controlListen;
    so.threads = 1;
    so.maxBodyBytes = 64 * 1024;
    control = std::make_unique<net::HttpServer>(
        so, [&hollow](net::HttpRequest& r) { return agent::handleControlRequest(hollow, r); });
    control->start();
    SKIFF_LOG_INFO("hollow-agent control endpoint on {} (GET /nodes, POST /nodes/NAME/stop|start)",
                   f.controlListen);
  }
  waitForSignal();
  // Nothing is deleted: the nodes just stop heartbeating, as machines that lost power.
  if (control) control->stop();
  hollow.stop();
  if (rotator) rotator->stop();
  return 0;
}

}  // namespace

Subcommand addAgentCommand(CLI::App& app) {
  auto f = std::make_shared<AgentFlags>();
  auto* cmd = app.add_subcommand("agent",
                                 "Run node agents: the real kubelet on containerd, or with "
                                 "--hollow HOLLOW (simulated) kubelets for "
                                 "scale tests, like kubemark/kwok — nodes register, heartbeat and "
                                 "report pods Running, but no container runs");
  cmd->add_flag("--hollow", f->hollow, "Run hollow (simulated) nodes instead of a real kubelet");
  cmd->add_option("--node-name", f->nodeName, "Real node: its name (default: the host name)");
  cmd->add_option("--data-dir", f->dataDir, "Real node: state folder (kubelet/, containerd/, cni/)")
      ->capture_default_str();
  cmd->add_option("--kubeconfig", f->kubeconfig, "Kubeconfig of the API server");
  cmd->add_option("--server", f->server,
                  "Join the cluster at this API server (https://HOST:PORT) with --token instead "
                  "of a kubeconfig: the node's certificate comes from a CertificateSigningRequest "
                  "and is kept in DATA_DIR/kubelet/pki, renewed before it expires");
  cmd->add_option("--token", f->token, "Bootstrap token (`skiff token create`) for --server");
  cmd->add_option("--ca-cert-hash", f->caCertHash,
                  "sha256:HEX pin of the cluster CA's public key; the CA is read from "
                  "kube-public/cluster-info and trusted only if it matches");
  cmd->add_option("--ca-file", f->caFile, "The cluster CA certificate, instead of --ca-cert-hash");
  cmd->add_option("--address", f->address,
                  "Real node: IP address the kubelet's HTTPS server listens on (default: the "
                  "node IP only; 0.0.0.0 or :: for every interface)");
  cmd->add_option("--node-ip", f->nodeIp,
                  "Real node: its InternalIP (default: the default route's address)");
  cmd->add_option("--cluster-dns", f->clusterDns,
                  "Real node: nameservers of dnsPolicy ClusterFirst pods (comma list, e.g. the "
                  "kube-dns Service 10.43.0.10; empty: the node's resolv.conf)");
  cmd->add_option("--dns-resolv-conf", f->dnsResolvConf,
                  "Real node: the node-local DNS server forwards names outside the cluster to "
                  "this file's nameservers")
      ->capture_default_str();
  cmd->add_option("--cgroup-root", f->cgroupRoot,
                  "Real node: cgroup parent of every pod (cgroupfs path, e.g. /skiff-node-1); "
                  "empty: containerd's default");
  cmd->add_option("--default-runtime", f->defaultRuntime,
                  "Real node: OCI runtime of its containerd, runc or crun (default: crun when "
                  "installed and usable, else runc)")
      ->check(CLI::IsMember({"runc", "crun"}));
  cmd->add_flag("--remove-pods-on-exit", f->removePodsOnExit,
                "Real node: on SIGTERM stop and remove every pod and unmount their volumes "
                "(a node going away for good, as `skiff cluster delete` does)");
  f->proxy.add(cmd, true);
  cmd->add_option("--cluster-cidr", f->proxy.clusterCidr,
                  "Real node: pod address range (the proxy masquerades Service traffic from "
                  "outside it)")
      ->capture_default_str();
  cmd->add_option("--nodes", f->nodes, "Number of hollow nodes in this process")
      ->capture_default_str();
  cmd->add_option("--heartbeat-workers", f->heartbeatWorkers,
                  "Threads renewing the hollow nodes' Leases and posting their status (0: one "
                  "per 100 nodes, 2 to 64)")
      ->capture_default_str();
  cmd->add_option("--pod-workers", f->podWorkers,
                  "Threads acting on the hollow nodes' pods (status writes, deletions; 0: one "
                  "per 100 nodes, 4 to 64)")
      ->capture_default_str();
  cmd->add_option("--node-name-prefix", f->prefix,
                  "Hollow nodes are named PREFIX-0 ... PREFIX-(N-1)")
      ->capture_default_str();
  cmd->add_option("--cpu", f->cpu, "CPU capacity of each hollow node")->capture_default_str();
  cmd->add_option("--memory", f->memory, "Memory capacity of each hollow node")
      ->capture_default_str();
  cmd->add_option("--max-pods", f->maxPods, "Pod capacity of each hollow node")
      ->capture_default_str();
  cmd->add_option("--node-labels", f->labels, "Extra node labels: key=value,...");
  cmd->add_option("--register-with-taints", f->taints,
                  "Taints at registration: key=value:Effect,...");
  cmd->add_option("--readiness-delay", f->readinessDelay,
                  "How long a started pod takes to become Ready")
      ->capture_default_str();
  cmd->add_option("--job-duration", f->jobDuration,
                  "How long pods with restartPolicy Never/OnFailure run before they succeed")
      ->capture_default_str();
  cmd->add_option(
         "--termination-delay", f->terminationDelay,
         "How long simulated containers take to stop after deletion (capped by the grace period)")
      ->capture_default_str();
  cmd->add_option("--node-status-report-frequency", f->statusReportFrequency,
                  "How often a hollow node re-posts its status when nothing changed (upstream "
                  "kubelet's nodeStatusReportFrequency); liveness is its Lease")
      ->capture_default_str();
  cmd->add_option(
         "--node-lease-duration-seconds", f->leaseDurationSeconds,
         "Duration of the node's Lease (each hollow node's with --hollow); it is renewed every "
         "quarter of it (upstream kubelet's nodeLeaseDurationSeconds)")
      ->capture_default_str();
  cmd->add_flag("--kubelet-endpoints,!--no-kubelet-endpoints", f->kubeletEndpoints,
                "Each hollow node serves kubelet HTTPS endpoints (/healthz, /metrics/resource, "
                "/stats/summary) at its own loopback InternalIP in 127.64.0.0/10 and an "
                "ephemeral port (status.daemonEndpoints); client certificates of the cluster CA "
                "only. --no-kubelet-endpoints: fake 100.64.0.0/10 addresses, nothing served")
      ->capture_default_str();
  cmd->add_option("--synthetic-pod-cpu", f->syntheticPodCpu,
                  "CPU a hollow pod reports using when it has no skiff.io/synthetic-cpu "
                  "annotation (a quantity: 250m, 0.5); split evenly over its containers")
      ->capture_default_str();
  cmd->add_option("--synthetic-pod-memory", f->syntheticPodMemory,
                  "Working set a hollow pod reports when it has no skiff.io/synthetic-memory "
                  "annotation (a quantity: 64Mi)")
      ->capture_default_str();
  cmd->add_option(
      "--control-listen", f->controlListen,
      "Loopback HTTP control endpoint (HOST:PORT): GET /nodes, POST /nodes/NAME/stop|start");
  return {cmd, [f] { return runAgent(*f); }};
}

}  // namespace skiff::cli
