#include "kubelet/cni_config.h"

#include <arpa/inet.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/pki.h"

namespace json = boost::json;

namespace skiff::kubelet {

bool validPodCidr(const std::string& cidr) {
  auto slash = cidr.find('/');
  if (slash == std::string::npos) return false;
  in_addr addr{};
  if (inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &addr) != 1) return false;
  auto digits = cidr.substr(slash + 1);
  if (digits.empty() || digits.size() > 2 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  int prefix = std::stoi(digits);
  return prefix >= 8 && prefix <= 30;
}

std::string renderCniConfig(const CniNetwork& n) {
  // isGateway gives the bridge the range's first address, so pods route through the host;
  // hairpinMode lets a pod reach itself via hostPort. Masquerading is one nftables rule per
  // node (ensurePodMasquerade) instead of the plugin's ipMasq, which runs iptables for every
  // sandbox (about a quarter of a sandbox's CPU cost here).
  json::object ipam{{"type", "host-local"},
                    {"ranges", json::array{json::array{json::object{{"subnet", n.podCidr}}}}},
                    {"routes", json::array{json::object{{"dst", "0.0.0.0/0"}}}}};
  if (!n.ipamDataDir.empty()) ipam["dataDir"] = n.ipamDataDir;
  json::object bridge{
      {"type", "bridge"},    {"bridge", n.bridge}, {"isGateway", true}, {"ipMasq", false},
      {"hairpinMode", true}, {"mtu", n.mtu},       {"ipam", ipam},
  };
  json::object portmap{
      {"type", "portmap"}, {"capabilities", json::object{{"portMappings", true}}}, {"snat", true}};
  json::object conf{
      {"cniVersion", "0.4.0"}, {"name", n.name}, {"plugins", json::array{bridge, portmap}}};
  return json::serialize(conf) + "\n";
}

bool deleteLink(const std::string& name) {
  if (name.empty() || name.find_first_of(" ;&|'\"$`") != std::string::npos) return false;
  if (!std::filesystem::exists("/sys/class/net/" + name)) return false;
  // iproute2 is installed with the node dependencies (scripts/install-deps).
  return std::system(("ip link delete " + name + " 2>/dev/null").c_str()) == 0;
}

namespace {
int runNft(const std::string& script) {
  FILE* p = ::popen("nft -f - 2>&1", "w");
  if (!p) return -1;
  std::fwrite(script.data(), 1, script.size(), p);
  return ::pclose(p);
}
}  // namespace

bool ensurePodMasquerade(const std::string& podCidr, const std::string& clusterCidr) {
  if (!validPodCidr(podCidr)) return false;
  if (!clusterCidr.empty() && !validPodCidr(clusterCidr)) return false;
  // Declaring then deleting the table makes the whole file one atomic replace.
  std::string script =
      "table ip skiff-node\ndelete table ip skiff-node\n"
      "table ip skiff-node {\n"
      "  chain postrouting {\n"
      "    type nat hook postrouting priority srcnat; policy accept;\n"
      "    ip saddr " +
      podCidr + " ip daddr != " + podCidr +
      (clusterCidr.empty() ? std::string() : " ip daddr != " + clusterCidr) +
      " ip daddr != 224.0.0.0/4 masquerade\n"
      "  }\n"
      "}\n";
  return runNft(script) == 0;
}

void removePodMasquerade() { runNft("table ip skiff-node\ndelete table ip skiff-node\n"); }

bool writeCniConfig(const std::string& confDir, const CniNetwork& network) {
  std::filesystem::create_directories(confDir);
  auto path = confDir + "/10-skiff.conflist";
  auto content = renderCniConfig(network);
  std::ifstream in(path);
  if (in) {
    std::stringstream current;
    current << in.rdbuf();
    if (current.str() == content) return false;
  }
  writeFileAtomic(path, content, 0644);
  return true;
}

}  // namespace skiff::kubelet
