// The pod network of one node: its spec.podCIDR (node IPAM) becomes a CNI conflist —
// bridge + host-local IPAM over the CIDR and portmap for hostPort (containerd adds loopback) —
// that containerd's CRI plugin loads from the conf dir for every sandbox.
#pragma once
#include <string>

namespace skiff::kubelet {

struct CniNetwork {
  std::string podCidr;            // "10.42.3.0/24"
  std::string bridge = "skiff0";  // host bridge shared by the node's pods
  std::string name = "skiff-pod-network";
  int mtu = 1500;
  // host-local IPAM's allocation folder; empty: the plugin's default /var/lib/cni/networks
  // (nodes sharing a machine, as `skiff cluster` makes, each need their own).
  std::string ipamDataDir;
};

// The conflist JSON (stable output: same input, same bytes).
std::string renderCniConfig(const CniNetwork& network);
// Writes `confDir`/10-skiff.conflist atomically when its content differs; true when written.
bool writeCniConfig(const std::string& confDir, const CniNetwork& network);
// Pod traffic leaving the pod range is masqueraded behind the node (nftables table
// "ip skiff-node", replaced atomically); false when nft failed. Traffic to `clusterCidr`
// (other nodes' pods, when given) keeps its pod source address, as the network model wants.
bool ensurePodMasquerade(const std::string& podCidr, const std::string& clusterCidr = "");
void removePodMasquerade();
// Removes a network interface (the pod bridge at shutdown); false when it did not exist.
bool deleteLink(const std::string& name);
// True when `cidr` is an IPv4 CIDR with a prefix the bridge plugin can use (<= /30).
bool validPodCidr(const std::string& cidr);

}  // namespace skiff::kubelet
