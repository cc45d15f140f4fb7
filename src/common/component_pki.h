// Client identities for the control-plane components and nodes, issued by the cluster CA
// (common/pki.h), so each component authenticates as itself instead of as the admin:
//   scheduler           CN system:kube-scheduler
//   controller-manager  CN system:kube-controller-manager
//   cloud-controller-manager  CN system:cloud-controller-manager
//   proxy               CN system:kube-proxy
//   node-NAME           CN system:node:NAME, O system:nodes
//   kubelet-client      CN kube-apiserver-kubelet-client (what the API server shows kubelets)
// Certificates live under DATA_DIR/tls (<name>.crt/.key), kubeconfigs under
// DATA_DIR/kubeconfigs/<name>.kubeconfig (0600). Existing files are kept.
#pragma once

#include <string>
#include <vector>

#include "common/pki.h"

namespace skiff {

struct ComponentIdentity {
  std::string name;                        // file name stem: "scheduler", "node-worker1"
  std::string commonName;                  // the user
  std::vector<std::string> organizations;  // the groups
};

// The identities the API server writes on start (not nodes: their names come later).
std::vector<ComponentIdentity> controlPlaneIdentities();
ComponentIdentity nodeIdentity(const std::string& nodeName);
ComponentIdentity kubeletClientIdentity();

struct ComponentCredentials {
  std::string certFile, keyFile;
};
// Issues `id`'s client certificate from the CA in `pki` unless DATA_DIR/tls already holds it.
ComponentCredentials ensureComponentCertificate(const std::string& dataDir, const ServerPki& pki,
                                                const ComponentIdentity& id);
// The certificate plus a kubeconfig for `server` (https://host:port); returns its path.
std::string ensureComponentKubeconfig(const std::string& dataDir, const ServerPki& pki,
                                      const ComponentIdentity& id, const std::string& server);

}  // namespace skiff
