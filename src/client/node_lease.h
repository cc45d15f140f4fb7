// The node heartbeat every kubelet (real or hollow) keeps: the Lease kube-node-lease/<node>,
// renewed with a merge patch of spec (one writer, nothing to be optimistic about) and created
// on first use, owned by the Node so deleting the Node garbage-collects it (as upstream).
#pragma once
#include <string>

#include "client/rest_client.h"

namespace skiff::client {

inline constexpr const char* kNodeLeaseNamespace = "kube-node-lease";

// Renews (or creates) the node's Lease with renewTime now. Throws ApiError/TransportError.
void renewNodeLease(RestClient& client, const std::string& nodeName, const std::string& nodeUid,
                    int leaseDurationSeconds);

}  // namespace skiff::client
