// The host side of `skiff cluster`: one Linux bridge per cluster (sk-NAME, its own /24 in
// 172.31.0.0/16), one network namespace per node joined to it by a veth pair, the routes to
// each node's pod range, and an nftables table of the cluster's own that keeps node and pod
// traffic on the bridge (nothing the nodes send is forwarded out of another interface).
// Everything here shells out to iproute2 and nft, as the CNI and proxy code do.
#pragma once
#include <string>
#include <vector>

namespace skiff::cli::cluster {

// Runs argv (no shell); stdout (and stderr) in `out` when given. Returns the exit status.
int run(const std::vector<std::string>& argv, std::string* out = nullptr);
// The same, throwing std::runtime_error with the command and its output on failure.
void runOrThrow(const std::vector<std::string>& argv);

// The addresses of cluster subnet 172.31.OCTET.0/24.
struct Subnet {
  int octet = 0;
  std::string prefix() const { return "172.31." + std::to_string(octet) + "."; }
  std::string cidr() const { return prefix() + "0/24"; }
  std::string hostIp() const { return prefix() + "1"; }                          // the bridge
  std::string nodeIp(int i) const { return prefix() + std::to_string(10 + i); }  // node i >= 1
};

// True when IPv4 CIDRs `a` and `b` share an address.
bool cidrsOverlap(const std::string& a, const std::string& b);
// Every IPv4 destination and address CIDR of the host (`ip -4 route` of all tables and
// `ip -4 addr`), for the collision check.
std::vector<std::string> hostCidrs();
// The first octet in [100, 250) whose /24 overlaps none of `taken` (host routes and the
// subnets of other skiff clusters); throws when none is free.
Subnet pickSubnet(const std::vector<std::string>& taken);

// Interface and namespace names (IFNAMSIZ: at most 15 characters).
std::string bridgeName(const std::string& cluster);
std::string hostVethName(const Subnet& s, int node);
std::string netnsName(const std::string& nodeName);
std::string nftTableName(const std::string& cluster);

// Bridge up with the host address, and the nft table that drops forwarding from it to any
// other interface (and to it from any other).
void createBridge(const std::string& cluster, const Subnet& s);
// Namespace, veth (eth0 inside with node address, default route via the bridge), lo up,
// IPv4 forwarding inside.
void createNodeNetwork(const std::string& cluster, const Subnet& s, int node,
                       const std::string& nodeName);
// Powers a node's link on or off (stop-node/start-node): the host end of its veth.
void setNodeLink(const Subnet& s, int node, bool up);

// The route to each node's pod range via the node (the step a route controller owns once
// the cloud controller manager runs it): on the host, and in every other node's namespace
// directly via the peer so node-to-node pod traffic stays bridged.
struct NodeRoute {
  std::string nodeName, nodeIp, podCidr;
};
void programPodRoutes(const std::string& cluster, const std::vector<NodeRoute>& routes);

// Removes namespaces, the bridge (its routes and veths go with it) and the nft table;
// missing pieces are skipped. Returns what could not be removed (empty: all gone).
std::vector<std::string> deleteClusterNetwork(const std::string& cluster,
                                              const std::vector<std::string>& nodeNames);

}  // namespace skiff::cli::cluster
