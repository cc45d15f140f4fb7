#include "cli/cluster_network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "cli/cluster_process.h"

namespace fs = std::filesystem;

namespace skiff::cli::cluster {

int run(const std::vector<std::string>& argv, std::string* out) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return -1;
  }
  if (pid == 0) execChild(argv, fds[1]);
  ::close(fds[1]);
  std::string buf;
  char chunk[4096];
  for (ssize_t n; (n = ::read(fds[0], chunk, sizeof chunk)) > 0;) buf.append(chunk, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (out) *out = std::move(buf);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void runOrThrow(const std::vector<std::string>& argv) {
  std::string out;
  if (run(argv, &out) == 0) return;
  std::string cmd;
  for (auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  throw std::runtime_error("`" + cmd + "` failed: " + out);
}

namespace {

// "a.b.c.d/n" → network address and prefix length; false when not IPv4 CIDR (or a bare
// address, taken as /32).
bool parseCidr(const std::string& text, uint32_t& net, int& bits) {
  auto slash = text.find('/');
  std::string ip = text.substr(0, slash);
  bits = 32;
  if (slash != std::string::npos) {
    try {
      size_t used = 0;
      bits = std::stoi(text.substr(slash + 1), &used);
      if (used != text.size() - slash - 1) return false;
    } catch (const std::exception&) {
      return false;
    }
  }
  if (bits < 0 || bits > 32) return false;
  in_addr a{};
  if (::inet_pton(AF_INET, ip.c_str(), &a) != 1) return false;
  uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  net = ntohl(a.s_addr) & mask;
  return true;
}

}  // namespace

bool cidrsOverlap(const std::string& a, const std::string& b) {
  uint32_t na, nb;
  int ba, bb;
  if (!parseCidr(a, na, ba) || !parseCidr(b, nb, bb)) return false;
  int bits = std::min(ba, bb);
  uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return (na & mask) == (nb & mask);
}

std::vector<std::string> hostCidrs() {
  std::vector<std::string> cidrs;
  std::string out;
  // The default route (0.0.0.0/0) overlaps everything and says nothing about collisions.
  if (run({"ip", "-4", "-o", "route", "show", "table", "all"}, &out) == 0) {
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
      std::istringstream f(line);
      std::string first;
      f >> first;
      if (first == "broadcast" || first == "local" || first == "unreachable" ||
          first == "blackhole" || first == "prohibit" || first == "multicast")
        f >> first;
      if (first == "default" || first.empty()) continue;
      if (first.find('.') != std::string::npos) cidrs.push_back(first);
    }
  }
  if (run({"ip", "-4", "-o", "addr", "show"}, &out) == 0) {
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
      auto pos = line.find(" inet ");
      if (pos == std::string::npos) continue;
      std::istringstream f(line.substr(pos + 6));
      std::string cidr;
      f >> cidr;
      cidrs.push_back(cidr);
    }
  }
  return cidrs;
}

Subnet pickSubnet(const std::vector<std::string>& taken) {
  for (int octet = 100; octet < 250; ++octet) {
    Subnet s{octet};
    // The node subnet and the cluster's pod range (10.OCTET.0.0/16) must both be free.
    std::string pods = "10." + std::to_string(octet) + ".0.0/16";
    bool free = true;
    for (auto& t : taken)
      if (cidrsOverlap(t, s.cidr()) || cidrsOverlap(t, pods)) {
        free = false;
        break;
      }
    if (free) return s;
  }
  throw std::runtime_error(
      "no free cluster subnet: every 172.31.X.0/24 (X 100-249) or its pod range 10.X.0.0/16 "
      "overlaps a host route or another skiff cluster");
}

std::string bridgeName(const std::string& cluster) { return "sk-" + cluster; }
std::string hostVethName(const Subnet& s, int node) {
  return "skv" + std::to_string(s.octet) + "n" + std::to_string(node);
}
std::string netnsName(const std::string& nodeName) { return "skiff-" + nodeName; }
std::string nftTableName(const std::string& cluster) { return "skiff-cluster-" + cluster; }

void createBridge(const std::string& cluster, const Subnet& s) {
  const std::string br = bridgeName(cluster);
  runOrThrow({"ip", "link", "add", br, "type", "bridge"});
  runOrThrow({"ip", "addr", "add", s.hostIp() + "/24", "dev", br});
  runOrThrow({"ip", "link", "set", br, "up"});
  // Nodes and pods talk to each other over the bridge and to the host's own addresses; the
  // host never routes their traffic anywhere else, nor anything else onto the bridge. A drop
  // in any base chain is final, whatever other tables accept.
  const std::string table = nftTableName(cluster);
  std::string script = "table inet " + table + "\ndelete table inet " + table + "\ntable inet " +
                       table +
                       " {\n"
                       "  chain forward {\n"
                       "    type filter hook forward priority filter - 10; policy accept;\n"
                       "    iifname \"" +
                       br + "\" oifname != \"" + br +
                       "\" counter drop\n"
                       "    oifname \"" +
                       br + "\" iifname != \"" + br +
                       "\" counter drop\n"
                       "  }\n"
                       "}\n";
  char path[] = "/tmp/skiff-cluster-nft.XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) throw std::runtime_error("nft: cannot create a temporary file");
  bool ok = ::write(fd, script.data(), script.size()) == static_cast<ssize_t>(script.size());
  ::close(fd);
  std::string out;
  int rc = ok ? run({"nft", "-f", path}, &out) : -1;
  ::unlink(path);
  if (rc != 0) throw std::runtime_error("nft: loading table inet " + table + " failed: " + out);
}

void createNodeNetwork(const std::string& cluster, const Subnet& s, int node,
                       const std::string& nodeName) {
  const std::string ns = netnsName(nodeName), veth = hostVethName(s, node);
  runOrThrow({"ip", "netns", "add", ns});
  runOrThrow({"ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns});
  runOrThrow({"ip", "link", "set", veth, "master", bridgeName(cluster), "up"});
  runOrThrow({"ip", "-n", ns, "addr", "add", s.nodeIp(node) + "/24", "dev", "eth0"});
  runOrThrow({"ip", "-n", ns, "link", "set", "lo", "up"});
  runOrThrow({"ip", "-n", ns, "link", "set", "eth0", "up"});
  runOrThrow({"ip", "-n", ns, "route", "add", "default", "via", s.hostIp()});
  // Pods reach other nodes' pods through this namespace.
  runOrThrow({"ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"});
}

void setNodeLink(const Subnet& s, int node, bool up) {
  runOrThrow({"ip", "link", "set", hostVethName(s, node), up ? "up" : "down"});
}

void programPodRoutes(const std::string& cluster, const std::vector<NodeRoute>& routes) {
  for (auto& r : routes) {
    if (r.podCidr.empty() || r.nodeIp.empty()) continue;
    runOrThrow({"ip", "route", "replace", r.podCidr, "via", r.nodeIp, "dev", bridgeName(cluster)});
    for (auto& peer : routes) {
      if (peer.nodeName == r.nodeName) continue;
      runOrThrow({"ip", "-n", netnsName(peer.nodeName), "route", "replace", r.podCidr, "via",
                  r.nodeIp, "dev", "eth0"});
    }
  }
}

std::vector<std::string> deleteClusterNetwork(const std::string& cluster,
                                              const std::vector<std::string>& nodeNames) {
  std::vector<std::string> left;
  for (auto& n : nodeNames) {
    const std::string ns = netnsName(n);
    if (!fs::exists("/run/netns/" + ns)) continue;
    std::string out;
    if (run({"ip", "netns", "delete", ns}, &out) != 0) left.push_back("netns " + ns + ": " + out);
  }
  const std::string br = bridgeName(cluster);
  if (fs::exists("/sys/class/net/" + br)) {
    std::string out;
    if (run({"ip", "link", "delete", br}, &out) != 0) left.push_back("bridge " + br + ": " + out);
  }
  std::string out;
  if (run({"nft", "list", "table", "inet", nftTableName(cluster)}, &out) == 0 &&
      run({"nft", "delete", "table", "inet", nftTableName(cluster)}, &out) != 0)
    left.push_back("nft table inet " + nftTableName(cluster) + ": " + out);
  return left;
}

}  // namespace skiff::cli::cluster
