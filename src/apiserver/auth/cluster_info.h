// kubeadm's cluster-info: the ConfigMap kube-public/cluster-info holds a kubeconfig with the
// cluster's CA and server URL (no credentials), readable by anonymous users through the Role
// and RoleBinding kube-public/skiff:bootstrap-signer-clusterinfo (get, that ConfigMap only).
// A joining node (`skiff agent --server URL --token T --ca-cert-hash sha256:...`) reads it
// before it has any credential and trusts the CA only when its public-key hash matches the
// pin. Published (and kept current) on every server start.
#pragma once

#include <string>

namespace skiff::api {
class ResourceRegistry;
}

namespace skiff::apiserver {

class ResourceStore;

namespace rbac {

// The cluster-info kubeconfig text for `caPem` and `serverUrl`.
std::string clusterInfoKubeconfig(const std::string& caPem, const std::string& serverUrl);
// Creates or updates the ConfigMap and creates the Role and RoleBinding when missing.
void publishClusterInfo(ResourceStore& store, const api::ResourceRegistry& registry,
                        const std::string& caPem, const std::string& serverUrl);

}  // namespace rbac
}  // namespace skiff::apiserver
