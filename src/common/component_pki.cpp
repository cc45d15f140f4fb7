#include "common/component_pki.h"

#include <filesystem>

#include "common/base64.h"

namespace skiff {

namespace fs = std::filesystem;

std::vector<ComponentIdentity> controlPlaneIdentities() {
  return {{"scheduler", "system:kube-scheduler", {}},
          {"controller-manager", "system:kube-controller-manager", {}},
          {"proxy", "system:kube-proxy", {}},
          {"cloud-controller-manager", "system:cloud-controller-manager", {}}};
}

ComponentIdentity nodeIdentity(const std::string& nodeName) {
  return {"node-" + nodeName, "system:node:" + nodeName, {"system:nodes"}};
}

// No group: RBAC grants it the kubelet API (upstream's system:kubelet-api-admin binding), so a
// kubelet that captures it holds no more than that.
ComponentIdentity kubeletClientIdentity() {
  return {"kube-apiserver-kubelet-client", "kube-apiserver-kubelet-client", {}};
}

ComponentCredentials ensureComponentCertificate(const std::string& dataDir, const ServerPki& pki,
                                                const ComponentIdentity& id) {
  const fs::path tls = fs::path(dataDir) / "tls";
  ComponentCredentials files{(tls / (id.name + ".crt")).string(),
                             (tls / (id.name + ".key")).string()};
  if (fs::exists(files.certFile) && fs::exists(files.keyFile)) return files;
  CertKeyPair ca{readFile(pki.caCert), readFile(pki.caKey)};
  CertKeyPair issued =
      issueCertificate(ca, id.commonName, id.organizations, {}, {}, /*serverAuth=*/false,
                       /*clientAuth=*/true);
  writeFileAtomic(files.keyFile, issued.keyPem, 0600);
  writeFileAtomic(files.certFile, issued.certPem, 0644);
  return files;
}

std::string ensureComponentKubeconfig(const std::string& dataDir, const ServerPki& pki,
                                      const ComponentIdentity& id, const std::string& server) {
  ComponentCredentials files = ensureComponentCertificate(dataDir, pki, id);
  const fs::path dir = fs::path(dataDir) / "kubeconfigs";
  fs::create_directories(dir);
  const std::string path = (dir / (id.name + ".kubeconfig")).string();
  std::string kubeconfig =
      "apiVersion: v1\nkind: Config\nclusters:\n- name: skiff\n  cluster:\n"
      "    certificate-authority-data: " +
      base64Encode(readFile(pki.caCert)) + "\n    server: " + server +
      "\ncontexts:\n- name: skiff\n  context:\n    cluster: skiff\n    user: " + id.name +
      "\ncurrent-context: skiff\nusers:\n- name: " + id.name +
      "\n  user:\n    client-certificate-data: " + base64Encode(readFile(files.certFile)) +
      "\n    client-key-data: " + base64Encode(readFile(files.keyFile)) + "\n";
  // Rewritten on every start: the server address may have changed.
  writeFileAtomic(path, kubeconfig, 0600);
  return path;
}

}  // namespace skiff
