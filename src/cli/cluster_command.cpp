// `skiff cluster create|delete|list|stop-node|start-node`: a multi-node cluster on this
// machine without containers-in-containers (what kind and k3d do with Docker). The control
// plane is a `skiff server` process listening on the cluster's bridge; each node is a
// `skiff agent` (containerd, kubelet, proxy, node-local DNS) in a network namespace of its
// own, joined to the bridge by a veth. The processes run detached; pid files and
// DATA_DIR/NAME/cluster.conf let the later subcommands find them. Host networking:
// cluster_network.h.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "cli/cluster_network.h"
#include "cli/cluster_process.h"
#include "cli/cluster_setup.h"
#include "cli/commands.h"
#include "cli/process.h"
#include "client/kubeconfig.h"
#include "client/rest_client.h"
#include "cloud/local/ip_pool.h"
#include "common/component_pki.h"
#include "common/pki.h"
#include "dns/node_dns.h"
#include "kubelet/containerd_process.h"

namespace fs = std::filesystem;
namespace json = boost::json;

namespace skiff::cli {
namespace {

using namespace std::chrono_literals;
using cluster::alive;
using cluster::processesInNetns;
using cluster::readPid;
using cluster::selfExe;
using cluster::spawnDetached;
using cluster::Subnet;
using cluster::terminate;

struct ClusterFlags {
  std::string name = "skiff";
  int nodes = 3;
  std::string dataDir = "/var/lib/skiff/clusters";
  std::string timeout = "120s";
  std::string nodeMonitorGracePeriod = "40s";
  std::string dnsResolvConf = "/etc/resolv.conf";
  std::string cloudProvider = "local";         // "none": no cloud controller manager
  std::string zones = "zone-a,zone-b,zone-c";  // node I gets zone (I-1) mod count
  std::string loadBalancerIpRange;             // default: .200-.250 of the cluster subnet
  std::string nodeName;                        // stop-node / start-node
};

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// What `create` recorded: enough for the other subcommands to find everything.
struct ClusterState {
  std::string name;
  Subnet subnet;
  int nodes = 0;
  std::string dir;  // DATA_DIR/NAME
  std::vector<std::string> zones{"zone-a", "zone-b", "zone-c"};
  bool cloud = true;  // the server runs the cloud controller manager (local provider)
  std::string zone(int i) const { return zones[(i - 1) % zones.size()]; }
  std::string nodeName(int i) const { return name + "-node-" + std::to_string(i); }
  std::string nodeDir(int i) const { return dir + "/nodes/" + nodeName(i); }
  std::string serverDir() const { return dir + "/server"; }
  std::string serverUrl() const { return "https://" + subnet.hostIp() + ":6443"; }
  std::string podRange() const { return "10." + std::to_string(subnet.octet) + ".0.0/16"; }
  std::vector<std::string> nodeNames() const {
    std::vector<std::string> names;
    for (int i = 1; i <= nodes; ++i) names.push_back(nodeName(i));
    return names;
  }
  // 1-based index of a node given by its full name or its short name ("node-2"); 0 if none.
  int nodeIndex(const std::string& n) const {
    for (int i = 1; i <= nodes; ++i)
      if (n == nodeName(i) || n == "node-" + std::to_string(i)) return i;
    return 0;
  }
};

void saveState(const ClusterState& s) {
  std::ostringstream o;
  o << "# Written by skiff cluster create.\nname=" << s.name << "\noctet=" << s.subnet.octet
    << "\nnodes=" << s.nodes << "\ncloud=" << (s.cloud ? "local" : "none") << "\nzones=";
  for (size_t z = 0; z < s.zones.size(); ++z) o << (z ? "," : "") << s.zones[z];
  o << "\n";
  writeFileAtomic(s.dir + "/cluster.conf", o.str(), 0644);
}

std::optional<ClusterState> loadState(const std::string& dataDir, const std::string& name) {
  std::ifstream in(dataDir + "/" + name + "/cluster.conf");
  if (!in) return std::nullopt;
  std::map<std::string, std::string> kv;
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  ClusterState s;
  s.name = kv["name"];
  s.dir = dataDir + "/" + name;
  try {
    s.subnet.octet = std::stoi(kv["octet"]);
    s.nodes = std::stoi(kv["nodes"]);
    s.cloud = kv["cloud"] != "none";
    if (!kv["zones"].empty()) s.zones = splitList(kv["zones"]);
  } catch (const std::exception&) {
    throw std::runtime_error(s.dir + "/cluster.conf is damaged");
  }
  return s;
}

// Names become interface, namespace and node names: DNS-1123 labels short enough for the
// bridge's 15-character limit ("sk-" + name).
bool validClusterName(const std::string& n) {
  static const std::regex re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  return n.size() <= 12 && std::regex_match(n, re);
}

// Every pod of node I lives under this cgroup parent (the kubelet's --cgroup-root).
std::string cgroupRoot(const ClusterState& s, int i) {
  return "/" + cluster::netnsName(s.nodeName(i));
}

// ---- nodes -----------------------------------------------------------------------------

// How a node gets its identity: as a machine joining over the network would, with a
// bootstrap token (`skiff agent --server URL --token T`): its CertificateSigningRequest is
// auto-approved and signed, and the agent keeps (and renews) the certificate in its data dir.
// The CA is the cluster's own file (a remote machine would pin it with --ca-cert-hash).
std::vector<std::string> nodeJoinArgs(const ClusterState& s, const std::string& token) {
  return {"--server", s.serverUrl(), "--token", token, "--ca-file", s.serverDir() + "/tls/ca.crt"};
}

// The cloud provider's view of each machine (DATA_DIR/NAME/server/cloud/instances/NODE.json,
// the format of src/cloud/local/inventory.h, read by the `local` provider of the cloud
// controller manager): written here, the one place to follow that format. An empty
// `podCidr` keeps the one recorded before.
void writeInstanceRecord(const ClusterState& s, int i, const std::string& state,
                         std::string podCidr) {
  const std::string dir = s.serverDir() + "/cloud/instances";
  const std::string path = dir + "/" + s.nodeName(i) + ".json";
  fs::create_directories(dir);
  if (podCidr.empty() && fs::exists(path)) {
    try {
      auto old = json::parse(readFile(path)).as_object();
      if (auto* c = old.if_contains("podCIDR"); c && c->is_string())
        podCidr = std::string(c->as_string());
    } catch (const std::exception&) {
      // A damaged record is replaced whole.
    }
  }
  json::object rec{{"name", s.nodeName(i)},
                   {"addresses", json::array{json::object{{"type", "InternalIP"},
                                                          {"address", s.subnet.nodeIp(i)}}}},
                   {"zone", s.zone(i)},
                   {"region", "local"},
                   {"state", state},
                   {"netns", cluster::netnsName(s.nodeName(i))}};
  if (!podCidr.empty()) rec["podCIDR"] = podCidr;
  writeFileAtomic(path, json::serialize(rec) + "\n", 0644);
}

void startNode(const ClusterState& s, const std::string& joinToken,
               const std::string& policyKubeconfig, int i, const ClusterFlags& f) {
  const std::string dir = s.nodeDir(i);
  fs::create_directories(dir);
  // In the node's network namespace, and a mount namespace of its own so containerd's and
  // the pods' mounts stay out of the host's. `ip netns exec` would also give it a sysfs of
  // the namespace (its /sys/class/net) but drops the cgroup mounts runc needs: mount that
  // sysfs and move the host's cgroup tree back onto it.
  const std::string cg = dir + "/.cgroup";
  fs::create_directories(cg);
  std::vector<std::string> argv = {
      "nsenter",
      "--net=/run/netns/" + cluster::netnsName(s.nodeName(i)),
      "--",
      "unshare",
      "--mount",
      "--propagation",
      "slave",
      "sh",
      "-c",
      "mount --rbind /sys/fs/cgroup \"$1\" && mount -t sysfs sysfs /sys && "
      "mount --move \"$1\" /sys/fs/cgroup && shift && exec \"$@\"",
      "sh",
      cg,
      selfExe(),
      "agent",
      "--node-name",
      s.nodeName(i),
      "--data-dir",
      dir,
      "--node-ip",
      s.subnet.nodeIp(i),
      "--cluster-cidr",
      s.podRange(),
      "--cluster-dns",
      dns::kDefaultServiceIp,
      "--dns-resolv-conf",
      f.dnsResolvConf,
      "--remove-pods-on-exit",
      "--cgroup-root",
      cgroupRoot(s, i),
      "--network-policy-kubeconfig",
      policyKubeconfig};
  // With the cloud controller manager the zone label comes from the provider (the record
  // above); without it the node labels itself.
  if (!s.cloud)
    for (auto a : {std::string("--node-labels"), "topology.kubernetes.io/zone=" + s.zone(i)})
      argv.push_back(a);
  // The Lease must be renewed well within the control plane's grace period, or a shortened
  // --node-monitor-grace-period sees healthy nodes as lost: as upstream's defaults (grace 40 s,
  // Lease 40 s renewed every 10 s), the Lease lasts the grace period, between 4 and 40 s.
  const auto graceSeconds = parseDuration(f.nodeMonitorGracePeriod).count() / 1000;
  argv.push_back("--node-lease-duration-seconds");
  argv.push_back(std::to_string(std::clamp<long long>(graceSeconds, 4, 40)));
  for (auto& a : nodeJoinArgs(s, joinToken)) argv.push_back(a);
  spawnDetached(argv, dir + "/agent.log", dir + "/agent.pid");
}

// Stops nodes for good: every agent gets SIGTERM at once (each removes its pods, which takes
// a few seconds), then whatever is left in a node's namespace is killed.
void stopNodes(const ClusterState& s, std::chrono::milliseconds grace) {
  std::vector<pid_t> agents;
  for (int i = 1; i <= s.nodes; ++i) {
    // A powered-off node gets its link back: removing pods talks to the API server.
    std::error_code ec;
    if (fs::exists("/run/netns/" + cluster::netnsName(s.nodeName(i)), ec))
      cluster::run({"ip", "link", "set", cluster::hostVethName(s.subnet, i), "up"});
    for (pid_t pid : processesInNetns(cluster::netnsName(s.nodeName(i)))) ::kill(pid, SIGCONT);
    cluster::freezePods(cgroupRoot(s, i), false);
    pid_t pid = readPid(s.nodeDir(i) + "/agent.pid");
    if (alive(pid)) {
      ::kill(pid, SIGTERM);
      agents.push_back(pid);
    }
  }
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline &&
         std::any_of(agents.begin(), agents.end(), alive)) {
    for (pid_t pid : agents) ::waitpid(pid, nullptr, WNOHANG);
    std::this_thread::sleep_for(50ms);
  }
  for (int i = 1; i <= s.nodes; ++i) {
    terminate(readPid(s.nodeDir(i) + "/agent.pid"), 0ms);
    cluster::killContainersOf(s.nodeDir(i) + "/containerd/containerd.sock");
    for (pid_t pid : processesInNetns(cluster::netnsName(s.nodeName(i)))) ::kill(pid, SIGKILL);
    // Pods the agent did not remove (it ran out of time): their containers are still in the
    // node's cgroup parent, whatever became of their shims.
    cluster::killCgroupProcesses(cgroupRoot(s, i), 2s);
    cluster::removeCgroups(cgroupRoot(s, i));
    std::error_code ec;
    fs::remove(s.nodeDir(i) + "/agent.pid", ec);
  }
}

// ---- API ---------------------------------------------------------------------------------

struct NodeView {
  bool ready = false;
  bool initialized = true;    // no uninitialized taint left, a providerID (cloud node controller)
  bool routeCreated = false;  // NetworkUnavailable False (the route controller's)
  std::string podCidr, internalIp;
  // What create waits for: with the cloud controller manager, also the provider's part.
  bool done(bool cloud) const {
    return ready && !podCidr.empty() && (!cloud || (initialized && routeCreated));
  }
  std::string describe() const {
    if (!ready) return "NotReady";
    if (!initialized) return "Ready, not yet initialized by the cloud controller manager";
    if (!routeCreated) return "Ready, no pod-CIDR route yet";
    return "Ready";
  }
};

std::map<std::string, NodeView> readNodes(client::RestClient& c) {
  std::map<std::string, NodeView> out;
  auto list = c.list(client::resources::nodes, "");
  for (auto& item : list["items"].as_array()) {
    auto& node = item.as_object();
    NodeView v;
    auto* spec = node.if_contains("spec");
    if (spec && spec->is_object()) {
      auto* providerId = spec->as_object().if_contains("providerID");
      if (!providerId || !providerId->is_string() || providerId->as_string().empty())
        v.initialized = false;
      if (auto* cidr = spec->as_object().if_contains("podCIDR"); cidr && cidr->is_string())
        v.podCidr = std::string(cidr->as_string());
      if (auto* taints = spec->as_object().if_contains("taints"); taints && taints->is_array())
        for (auto& t : taints->as_array())
          if (t.is_object() && t.as_object().if_contains("key") &&
              t.at("key") == cluster::kUninitializedTaint)
            v.initialized = false;
    }
    auto* status = node.if_contains("status");
    if (status && status->is_object()) {
      if (auto* conds = status->as_object().if_contains("conditions"); conds && conds->is_array())
        for (auto& cond : conds->as_array())
          if (cond.at("type") == "Ready")
            v.ready = cond.at("status") == "True";
          else if (cond.at("type") == "NetworkUnavailable")
            v.routeCreated = cond.at("status") == "False";
      if (auto* addrs = status->as_object().if_contains("addresses"); addrs && addrs->is_array())
        for (auto& a : addrs->as_array())
          if (a.at("type") == "InternalIP") v.internalIp = std::string(a.at("address").as_string());
    }
    out[std::string(node.at("metadata").at("name").as_string())] = v;
  }
  return out;
}

// Waits until every node of `which` is Ready with a pod range; returns their routes.
std::vector<cluster::NodeRoute> waitForNodes(const ClusterState& s, const std::vector<int>& which,
                                             std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string lastError;
  std::map<std::string, NodeView> nodes;
  while (true) {
    try {
      client::RestClient c(client::loadKubeconfig(s.dir + "/kubeconfig"));
      nodes = readNodes(c);
      bool all = true;
      for (int i : which) {
        auto it = nodes.find(s.nodeName(i));
        if (it == nodes.end() || !it->second.done(s.cloud)) all = false;
      }
      if (all) break;
    } catch (const std::exception& e) {
      lastError = e.what();
    }
    if (std::chrono::steady_clock::now() > deadline) {
      std::string state;
      for (int i : which) {
        auto it = nodes.find(s.nodeName(i));
        state += "\n  " + s.nodeName(i) + ": " +
                 (it == nodes.end() ? "not registered" : it->second.describe()) +
                 " (log: " + s.nodeDir(i) + "/agent.log)";
      }
      throw std::runtime_error("nodes not Ready in time (--timeout):" + state +
                               (lastError.empty() ? "" : "\n  last API error: " + lastError));
    }
    std::this_thread::sleep_for(100ms);
  }
  std::vector<cluster::NodeRoute> routes;
  for (int i = 1; i <= s.nodes; ++i) {
    auto it = nodes.find(s.nodeName(i));
    if (it != nodes.end())
      routes.push_back({s.nodeName(i), s.subnet.nodeIp(i), it->second.podCidr});
  }
  return routes;
}

// ---- subcommands -------------------------------------------------------------------------

void deleteCluster(const ClusterState& s);

int createCluster(const ClusterFlags& f) {
  auto t0 = std::chrono::steady_clock::now();
  if (!validClusterName(f.name)) {
    std::cerr << "skiff cluster create: invalid --name \"" << f.name
              << "\": lower-case letters, digits and '-', at most 12 characters\n";
    return 2;
  }
  if (f.nodes < 1 || f.nodes > 50) {
    std::cerr << "skiff cluster create: --nodes must be between 1 and 50\n";
    return 2;
  }
  if (f.cloudProvider != "local" && f.cloudProvider != "none") {
    std::cerr << "skiff cluster create: --cloud-provider must be local or none, not \""
              << f.cloudProvider << "\"\n";
    return 2;
  }
  auto zones = splitList(f.zones);
  static const std::regex labelValue("^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$");
  for (auto& z : zones)
    if (!std::regex_match(z, labelValue)) {
      std::cerr << "skiff cluster create: invalid zone \"" << z
                << "\" in --zones: it becomes a label value (letters, digits, '-', '_', '.', "
                   "at most 63 characters)\n";
      return 2;
    }
  if (!f.loadBalancerIpRange.empty()) {
    try {
      cloud::local::parseIpv4Range(f.loadBalancerIpRange);
    } catch (const std::exception& e) {
      std::cerr << "skiff cluster create: " << e.what() << "\n";
      return 2;
    }
  }
  if (zones.empty()) {
    std::cerr << "skiff cluster create: --zones needs at least one zone\n";
    return 2;
  }
  if (::geteuid() != 0) {
    std::cerr << "skiff cluster create: needs root (network namespaces, bridge, nftables)\n";
    return 1;
  }
  std::chrono::milliseconds timeout;
  try {
    timeout = parseDuration(f.timeout);
    parseDuration(f.nodeMonitorGracePeriod);
  } catch (const std::invalid_argument& e) {
    std::cerr << "skiff cluster create: " << e.what() << "\n";
    return 2;
  }
  ClusterState s;
  s.name = f.name;
  s.nodes = f.nodes;
  s.dir = fs::absolute(f.dataDir).string() + "/" + f.name;
  s.zones = zones;
  s.cloud = f.cloudProvider == "local";
  if (fs::exists(s.dir + "/cluster.conf") ||
      fs::exists("/sys/class/net/" + cluster::bridgeName(f.name))) {
    std::cerr << "skiff cluster create: cluster \"" << f.name
              << "\" already exists (skiff cluster delete --name " << f.name << ")\n";
    return 1;
  }
  try {
    s.subnet = cluster::pickSubnet(cluster::hostCidrs());
  } catch (const std::exception& e) {
    std::cerr << "skiff cluster create: " << e.what() << "\n";
    return 1;
  }
  fs::create_directories(s.dir);
  saveState(s);
  try {
    cluster::createBridge(s.name, s.subnet);
    // The server's certificates first, with the bridge address among its names; the server
    // keeps them (same addresses) when it starts.
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    auto pki =
        ensureServerPki(s.serverDir() + "/tls", {"127.0.0.1", "10.43.0.1", s.subnet.hostIp()},
                        {"localhost", host, "kubernetes", "kubernetes.default",
                         "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"});
    fs::remove(s.serverDir() + "/kubeconfig");  // only the server we start may write it
    std::vector<std::string> server = {selfExe(),
                                       "server",
                                       "--data-dir",
                                       s.serverDir(),
                                       "--listen",
                                       s.subnet.hostIp() + ":6443",
                                       "--cluster-cidr",
                                       s.podRange(),
                                       "--node-monitor-grace-period",
                                       f.nodeMonitorGracePeriod};
    if (s.cloud) {
      std::string lbRange = f.loadBalancerIpRange.empty()
                                ? s.subnet.prefix() + "200-" + s.subnet.prefix() + "250"
                                : f.loadBalancerIpRange;
      std::vector<std::string> netns;
      for (auto& n : s.nodeNames()) netns.push_back(cluster::netnsName(n));
      for (auto& a : cluster::cloudServerArgs(s.name, netns, lbRange)) server.push_back(a);
    }
    spawnDetached(server, s.dir + "/server.log", s.dir + "/server.pid");
    // Each machine's inventory record exists before its Node: the cloud node lifecycle
    // controller deletes a not-Ready Node whose instance it cannot find.
    for (int i = 1; i <= s.nodes; ++i) {
      cluster::createNodeNetwork(s.name, s.subnet, i, s.nodeName(i));
      writeInstanceRecord(s, i, "running", "");
    }
    // The admin kubeconfig appears once the server serves. Nodes start after that: an agent
    // that finds no server backs off for a second before it tries again.
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!fs::exists(s.serverDir() + "/kubeconfig")) {
      if (!alive(readPid(s.dir + "/server.pid")))
        throw std::runtime_error("the control plane exited; log: " + s.dir + "/server.log");
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("the control plane did not start in time; log: " + s.dir +
                                 "/server.log");
      std::this_thread::sleep_for(50ms);
    }
    // One join token for the cluster's nodes, valid for an hour: nodes keep their
    // certificates afterwards (renewed through their own CSRs).
    const std::string joinToken = [&] {
      client::RestClient admin(client::loadKubeconfig(s.serverDir() + "/kubeconfig"));
      return createBootstrapToken(admin, std::chrono::hours(1),
                                  "joins the nodes of skiff cluster " + s.name);
    }();
    // The nodes' NetworkPolicy enforcement watches with an identity of its own.
    const std::string policyKubeconfig =
        cluster::issuePolicyAgentKubeconfig(s.serverDir(), pki, s.serverUrl());
    {
      client::RestClient admin(client::loadKubeconfig(s.serverDir() + "/kubeconfig"));
      cluster::grantPolicyAgent(admin);
      if (s.cloud) cluster::registerNodes(admin, s.nodeNames());
    }
    for (int i = 1; i <= s.nodes; ++i) startNode(s, joinToken, policyKubeconfig, i, f);
    fs::copy_file(s.serverDir() + "/kubeconfig", s.dir + "/kubeconfig",
                  fs::copy_options::overwrite_existing);
    std::vector<int> all;
    for (int i = 1; i <= s.nodes; ++i) all.push_back(i);
    auto routes = waitForNodes(s, all,
                               std::chrono::duration_cast<std::chrono::milliseconds>(
                                   deadline - std::chrono::steady_clock::now()));
    if (!s.cloud) cluster::programPodRoutes(s.name, routes);  // else the route controller's
    // Nodes may not create Services: the cluster DNS Service is the admin's to make (as
    // kubeadm installs CoreDNS's); every node's proxy sends it to its node-local server.
    client::RestClient admin(client::loadKubeconfig(s.dir + "/kubeconfig"));
    dns::ensureDnsService(admin, dns::kDefaultServiceIp);
    for (auto& r : routes) writeInstanceRecord(s, s.nodeIndex(r.nodeName), "running", r.podCidr);
  } catch (const std::exception& e) {
    std::cerr << "skiff cluster create: " << e.what() << "\nremoving what was created\n";
    deleteCluster(s);
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "Cluster \"" << s.name << "\" created: " << s.nodes << " node(s) Ready in "
            << std::fixed << std::setprecision(1) << secs << "s (API server " << s.serverUrl()
            << ", nodes on " << s.subnet.cidr() << ", pods in " << s.podRange()
            << ")\n\nUse it with:\n  kubectl --kubeconfig " << s.dir << "/kubeconfig get nodes\n";
  return 0;
}

void deleteCluster(const ClusterState& s) {
  stopNodes(s, 20s);
  terminate(readPid(s.dir + "/server.pid"), 10s);
  for (auto& left : cluster::deleteClusterNetwork(s.name, s.nodeNames()))
    std::cerr << "skiff cluster delete: could not remove " << left << "\n";
  // The names of pod namespaces whose nodes died before removing them.
  cluster::removeDeadPodNetnsNames();
  // Whatever a killed node left mounted under its folders, then the files.
  kubelet::unmountUnder(s.dir);
  std::error_code ec;
  fs::remove_all(s.dir, ec);
  if (ec)
    std::cerr << "skiff cluster delete: could not remove " << s.dir << ": " << ec.message() << "\n";
}

ClusterState mustLoad(const ClusterFlags& f, const char* cmd) {
  auto s = loadState(fs::absolute(f.dataDir).string(), f.name);
  if (!s)
    throw std::runtime_error(std::string("skiff cluster ") + cmd + ": no cluster \"" + f.name +
                             "\" under " + f.dataDir);
  return *s;
}

int listClusters(const ClusterFlags& f) {
  std::error_code ec;
  if (!fs::is_directory(f.dataDir, ec)) {
    std::cout << "No clusters.\n";
    return 0;
  }
  std::vector<ClusterState> found;
  for (auto& e : fs::directory_iterator(f.dataDir, ec))
    if (auto s = loadState(fs::absolute(f.dataDir).string(), e.path().filename().string()))
      found.push_back(*s);
  if (found.empty()) {
    std::cout << "No clusters.\n";
    return 0;
  }
  std::printf("%-14s %-14s %-10s %-20s %s\n", "CLUSTER", "API", "", "NODE", "STATE");
  for (auto& s : found) {
    bool server = alive(readPid(s.dir + "/server.pid"));
    for (int i = 1; i <= s.nodes; ++i) {
      pid_t pid = readPid(s.nodeDir(i) + "/agent.pid");
      std::string state = !alive(pid)                     ? "stopped"
                          : cluster::stoppedBySignal(pid) ? "stopped (powered off)"
                                                          : "running";
      std::printf("%-14s %-25s %-20s %s\n", i == 1 ? s.name.c_str() : "",
                  i == 1 ? (s.subnet.hostIp() + (server ? " up" : " down")).c_str() : "",
                  s.nodeName(i).c_str(), state.c_str());
    }
  }
  return 0;
}

// stop-node: as a machine losing power — every process of the node stops (SIGSTOP: agent,
// containerd, shims), its pods freeze (cgroup freezer) and its link goes down; start-node
// thaws them and brings the link back, with all its data.
int powerNode(const ClusterFlags& f, bool on) {
  auto s = mustLoad(f, on ? "start-node" : "stop-node");
  int i = s.nodeIndex(f.nodeName);
  if (i == 0) {
    std::cerr << "skiff cluster " << (on ? "start-node" : "stop-node") << ": cluster \"" << s.name
              << "\" has no node \"" << f.nodeName << "\"\n";
    return 1;
  }
  const std::string ns = cluster::netnsName(s.nodeName(i));
  if (!on && !alive(readPid(s.nodeDir(i) + "/agent.pid"))) {
    std::cerr << "skiff cluster stop-node: " << s.nodeName(i) << " is not running\n";
    return 1;
  }
  if (!on) cluster::setNodeLink(s.subnet, i, false);
  // The node's own processes (agent, containerd, shims) stop; its pods freeze in their
  // cgroups.
  for (pid_t pid : processesInNetns(ns)) ::kill(pid, on ? SIGCONT : SIGSTOP);
  cluster::freezePods(cgroupRoot(s, i), !on);
  if (on) cluster::setNodeLink(s.subnet, i, true);
  writeInstanceRecord(s, i, on ? "running" : "stopped", "");
  std::cout << "node " << s.nodeName(i) << (on ? " started" : " stopped") << "\n";
  return 0;
}

}  // namespace

Subcommand addClusterCommand(CLI::App& app) {
  auto f = std::make_shared<ClusterFlags>();
  auto* cmd = app.add_subcommand(
      "cluster",
      "Multi-node clusters on this machine: a control plane plus nodes, each in a network "
      "namespace of its own with its own containerd, kubelet, proxy and DNS (like kind or k3d, "
      "without Docker)");
  cmd->require_subcommand(1);
  auto addCommon = [&](CLI::App* c) {
    c->add_option("--name", f->name, "Cluster name (bridge sk-NAME, nodes NAME-node-I)")
        ->capture_default_str();
    c->add_option("--data-dir", f->dataDir, "Where clusters keep their state (DATA_DIR/NAME)")
        ->capture_default_str();
  };
  auto* create = cmd->add_subcommand(
      "create", "Create a cluster; returns when every node is Ready and prints how to use it");
  addCommon(create);
  create->add_option("--nodes", f->nodes, "Worker nodes")->capture_default_str();
  create->add_option("--timeout", f->timeout, "How long to wait for every node to be Ready")
      ->capture_default_str();
  create
      ->add_option("--node-monitor-grace-period", f->nodeMonitorGracePeriod,
                   "The control plane's: how long a silent node stays Ready")
      ->capture_default_str();
  create
      ->add_option("--dns-resolv-conf", f->dnsResolvConf,
                   "The nodes' DNS servers forward names outside the cluster to this file's "
                   "nameservers")
      ->capture_default_str();
  create
      ->add_option("--cloud-provider", f->cloudProvider,
                   "local: the control plane runs the cloud controller manager with the local "
                   "provider (node initialization and zones, pod-CIDR routes, LoadBalancer "
                   "addresses routed to a node with an endpoint); none: nodes label their own "
                   "zone and create programs the routes once")
      ->check(CLI::IsMember({"local", "none"}))
      ->capture_default_str();
  create
      ->add_option("--zones", f->zones,
                   "Zones (topology.kubernetes.io/zone) given to the nodes in turn: node I gets "
                   "zone (I-1) mod count")
      ->capture_default_str();
  create->add_option("--load-balancer-ip-range", f->loadBalancerIpRange,
                     "Addresses of LoadBalancer Services, FIRST-LAST or a CIDR (default: .200 "
                     "to .250 of the cluster subnet)");
  auto* del = cmd->add_subcommand(
      "delete",
      "Delete a cluster: its processes, pods, namespaces, links, routes, nft table, files");
  addCommon(del);
  auto* list = cmd->add_subcommand("list", "List clusters and the state of their nodes");
  list->add_option("--data-dir", f->dataDir, "Where clusters keep their state")
      ->capture_default_str();
  auto* stop = cmd->add_subcommand("stop-node",
                                   "Power a node off: freeze its processes and take its link down");
  addCommon(stop);
  stop->add_option("node", f->nodeName, "Node name (NAME-node-I or node-I)")->required();
  auto* start = cmd->add_subcommand("start-node", "Power a stopped node back on, with its data");
  addCommon(start);
  start->add_option("node", f->nodeName, "Node name (NAME-node-I or node-I)")->required();
  return {cmd, [=] {
            try {
              if (*create) return createCluster(*f);
              if (*list) return listClusters(*f);
              if (*stop) return powerNode(*f, false);
              if (*start) return powerNode(*f, true);
              if (*del) {
                auto s = mustLoad(*f, "delete");
                deleteCluster(s);
                std::cout << "Cluster \"" << s.name << "\" deleted\n";
                return 0;
              }
            } catch (const std::exception& e) {
              std::cerr << e.what() << "\n";
              return 1;
            }
            return 2;
          }};
}

}  // namespace skiff::cli
