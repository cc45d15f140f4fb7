// NetworkPolicy (networking.k8s.io/v1) on the node, as nftables text: the pure part.
// NetworkPolicies + Pods + Namespaces (JSON) → one script that replaces the table
// `ip skiff-policy` in a single transaction (layout in docs/architecture.md, "NetworkPolicy").
//
// Only this node's pods get chains (their ingress arrives here, their egress leaves from
// here); every pod's IP may appear in a peer set. Nothing here runs nft.
#pragma once
#include <string>

#include "proxy/service_model.h"

namespace skiff::proxy {

inline constexpr const char* kPolicyTable = "skiff-policy";  // family ip, like the proxy's

struct PolicyInput {
  ObjectList policies, pods, namespaces;
  std::string nodeName;
};

// The whole table: `add table` + `delete table` + the new contents, so the script always
// applies, whatever was there, and the kernel swaps old for new atomically.
std::string renderPolicyTable(const PolicyInput& in);

// Removes the table (`skiff up` on stop, `skiff proxy --cleanup`).
std::string renderDeletePolicyTable();

}  // namespace skiff::proxy
