// Kubelet TLS bootstrap (upstream's kubelet --bootstrap-kubeconfig and kubeadm's token
// discovery): a node that has only a bootstrap token and the API server's address
//   1. pins the cluster CA: --ca-file, or the CA in the anonymously readable ConfigMap
//      kube-public/cluster-info, accepted only when its public-key hash equals --ca-cert-hash
//      (kubeadm's sha256:<hex> of the SubjectPublicKeyInfo);
//   2. generates a key and creates a CertificateSigningRequest for CN system:node:NAME,
//      O system:nodes, signer kubernetes.io/kube-apiserver-client-kubelet, authenticated by
//      the token (the csrapproving controller approves it, csrsigning issues it);
//   3. waits for status.certificate and writes DIR/kubelet-client.crt/.key (0600), DIR/ca.crt
//      and a kubeconfig using them. A later start reuses a certificate that is still valid.
// Renewal: CertificateRotator asks for a new certificate with the current one between 70 %
// and 90 % of its lifetime (upstream's jittered deadline), auto-approved through
// certificatesigningrequests/selfnodeclient, writes the files and hands the new pair to a
// callback (the REST client switches to it without a restart).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "client/rest_client.h"

namespace skiff::client {

struct TlsBootstrapOptions {
  std::string server;  // https://host:port
  std::string token;   // abcdef.0123456789abcdef
  std::string caCertHash, caFile;
  std::string nodeName;
  std::string pkiDir;      // DATA_DIR/kubelet/pki
  std::string kubeconfig;  // DATA_DIR/kubelet/kubeconfig
  std::chrono::seconds timeout{300};
};

// Paths of the node's credential files under pkiDir.
struct NodeCredentialFiles {
  std::string cert, key, ca;
  explicit NodeCredentialFiles(const std::string& pkiDir)
      : cert(pkiDir + "/kubelet-client.crt"),
        key(pkiDir + "/kubelet-client.key"),
        ca(pkiDir + "/ca.crt") {}
};

// Checks the options (throws std::invalid_argument with a message for the user).
void validateBootstrapOptions(const TlsBootstrapOptions& o);
// The CA to trust: --ca-file, or cluster-info checked against the pin. Throws
// std::runtime_error when the pin does not match.
std::string discoverClusterCa(const TlsBootstrapOptions& o);
// True when the files hold a certificate for system:node:NAME from `caPem`, matching its key,
// valid for at least another minute.
bool usableCredentials(const NodeCredentialFiles& files, const std::string& caPem,
                       const std::string& nodeName);
// Writes the kubeconfig naming the credential files.
void writeNodeKubeconfig(const std::string& path, const std::string& server,
                         const NodeCredentialFiles& files);

// Creates a CSR for `keyPem` (CN system:node:NAME, O system:nodes) through `client` and waits
// until it is issued; returns the certificate PEM. Throws when it is denied, fails or the
// wait times out.
std::string requestNodeClientCertificate(RestClient& client, const std::string& nodeName,
                                         const std::string& keyPem, std::chrono::seconds timeout);

// The whole bootstrap; returns the kubeconfig path. Reuses valid credentials.
std::string bootstrapNodeCredentials(const TlsBootstrapOptions& o);

// When to renew a certificate valid [notBefore, notAfter): a point between 70 % and 90 % of
// its lifetime (`jitter` in [0,1) picks it).
int64_t renewalDeadline(int64_t notBefore, int64_t notAfter, double jitter);

class CertificateRotator {
 public:
  using OnRotate = std::function<void(const std::string& certPem, const std::string& keyPem)>;
  CertificateRotator(RestClient& client, std::string nodeName, NodeCredentialFiles files,
                     OnRotate onRotate);
  ~CertificateRotator();
  void start();
  void stop();
  // One renewal now (tests, and the thread when the deadline passed).
  void rotate();

 private:
  void loop();
  RestClient& client_;
  const std::string nodeName_;
  const NodeCredentialFiles files_;
  OnRotate onRotate_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace skiff::client
