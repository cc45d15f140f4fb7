// What `skiff cluster create` tells the control plane about its machines, beside starting
// them: the cloud controller manager's flags for the local provider, the Nodes registered
// with the uninitialized taint before their kubelets start, and the identity the nodes'
// NetworkPolicy enforcement watches with (its own, as upstream's CNI policy agents have).
#pragma once
#include <string>
#include <vector>

namespace skiff {
struct ServerPki;
namespace client {
class RestClient;
}
}  // namespace skiff

namespace skiff::cli::cluster {

inline constexpr const char* kUninitializedTaint = "node.cloudprovider.kubernetes.io/uninitialized";
// The user of the nodes' NetworkPolicy enforcement, and its ClusterRole and binding.
inline constexpr const char* kPolicyAgentUser = "skiff:network-policy-agent";

// `skiff server` flags: the local provider with providerIDs skiff://CLUSTER/NODE, routes on
// the host ("." = the server's own namespace) and in each of `nodeNetns`, load-balancer
// addresses from `lbRange` (FIRST-LAST or CIDR).
std::vector<std::string> cloudServerArgs(const std::string& cluster,
                                         const std::vector<std::string>& nodeNetns,
                                         const std::string& lbRange);

// Creates each Node (as the admin) with the uninitialized NoSchedule taint: the kubelet
// registers without taints and adopts an existing Node, so nothing is scheduled there before
// the cloud node controller has described it.
void registerNodes(client::RestClient& admin, const std::vector<std::string>& nodeNames);

// The NetworkPolicy identity: a client certificate for kPolicyAgentUser from the cluster CA
// and a kubeconfig for `serverUrl` (DATA_DIR/kubeconfigs/network-policy-agent.kubeconfig,
// returned), plus a ClusterRole allowing get/list/watch of Pods, Namespaces and
// NetworkPolicies bound to it (created as the admin; existing ones kept).
std::string issuePolicyAgentKubeconfig(const std::string& serverDataDir, const ServerPki& pki,
                                       const std::string& serverUrl);
void grantPolicyAgent(client::RestClient& admin);

}  // namespace skiff::cli::cluster
