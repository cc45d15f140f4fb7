// The API server: storage + watch cache + REST handlers behind one HTTP server.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "apiserver/audit_options.h"
#include "net/http_types.h"

namespace skiff::apiserver {

struct ApiServerOptions {
  std::string dataDir = "/var/lib/skiff";
  std::string listen = "127.0.0.1:6443";
  std::string storage = "sqlite";  // sqlite | memory
  // HTTP event loops, one thread each; 0 = one per CPU core but one (at least one).
  int threads = 0;
  // Threads that run creates, updates and deletes off the event loops while they wait for
  // their commit (net::HttpServerOptions::waitsForCommit): how many can share a group commit.
  // 0 runs them on the event loops (one waiting write per loop: the old behaviour).
  int writeThreads = 16;
  // HTTPS with a CA created under DATA_DIR/tls on first start; false serves plain HTTP.
  bool tls = true;
  // DefaultTolerationSeconds admission: pods without them get NoExecute tolerations of the
  // not-ready and unreachable taints for this long (--default-*-toleration-seconds).
  int64_t defaultNotReadyTolerationSeconds = 300;
  int64_t defaultUnreachableTolerationSeconds = 300;
  // Encryption at rest (apiserver/hardening.h): an EncryptionConfiguration file; empty:
  // DATA_DIR/encryption-config.yaml, generated on first start (Secrets, AES-GCM).
  std::string encryptionProviderConfig;
  // Upstream's max-in-flight limits (apiserver/inflight_limiter.h); 0 turns one off.
  int maxRequestsInflight = 400;
  int maxMutatingRequestsInflight = 200;
  // Authorizers after system:masters, in order (--authorization-mode): Node (upstream's
  // node authorizer), RBAC, AlwaysAllow, AlwaysDeny.
  std::vector<std::string> authorizationModes = {"Node", "RBAC"};
  // Static bearer tokens, upstream's CSV (--token-auth-file); empty: none.
  std::string tokenAuthFile;
  // The iss of ServiceAccount tokens, and the API audience (--service-account-issuer).
  std::string serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local";
  // Pod Security admission defaults for namespaces without the labels (level and version per
  // mode; privileged = off, as upstream) and the namespaces it leaves alone
  // (--pod-security-*). kube-system is exempt by default, as in k3s's configuration.
  std::string podSecurityEnforce = "privileged", podSecurityEnforceVersion = "latest";
  std::string podSecurityAudit = "privileged", podSecurityAuditVersion = "latest";
  std::string podSecurityWarn = "privileged", podSecurityWarnVersion = "latest";
  std::vector<std::string> podSecurityExemptNamespaces = {"kube-system"};
  // Audit logging (apiserver/audit.h): an audit.k8s.io/v1 Policy (--audit-policy-file) and
  // the log file (--audit-log-path, "-" for stdout, --audit-log-max*); both or no audit.
  std::string auditPolicyFile;
  // The node this process runs itself (`skiff up`): it may register a loopback address, which
  // the kubelet proxy's destination guard refuses for other nodes (apiserver/kubelet_proxy.h).
  std::string localNodeName;
  AuditLogOptions auditLog;
  // Admission plugins turned off (--disable-admission-plugins): "ServiceAccount" (test
  // servers without a controller manager create pods with no accounts) and the storage
  // plugins DefaultStorageClass, StorageObjectInUseProtection, PersistentVolumeClaimResize.
  std::vector<std::string> disableAdmissionPlugins;
  // The address the `kubernetes` Service's endpoints name (--advertise-address); empty: the
  // address of the default-route interface, else the listen address when it is not a wildcard.
  std::string advertiseAddress;
  // metrics.k8s.io served here (apiserver/metrics_api.h; --disable-metrics-api turns it off)
  // and how often kubelets' /metrics/resource is scraped (--metric-resolution).
  bool metricsApi = true;
  std::chrono::milliseconds metricResolution{15000};
};

class ApiServer {
 public:
  explicit ApiServer(ApiServerOptions options);
  ~ApiServer();
  // Opens storage, creates the built-in namespaces, starts serving, writes the kubeconfig.
  void start();
  void stop();
  unsigned short port() const;
  std::string kubeconfigPath() const;
  // A kubeconfig for node NAME as system:node:NAME in system:nodes (certificate and
  // DATA_DIR/kubeconfigs/node-NAME.kubeconfig); empty when TLS is off. After start().
  std::string writeNodeKubeconfig(const std::string& nodeName);
  // A legacy ServiceAccount token for the tokens controller (ControllerOptions::
  // signLegacyToken), signed with this server's ServiceAccount key. After start().
  std::string signLegacyServiceAccountToken(const std::string& ns, const std::string& account,
                                            const std::string& accountUid,
                                            const std::string& secretName) const;
  // The cluster CA (PEM); empty when TLS is off. After start().
  std::string caPem() const;
  // For tests: handle one request without the network.
  HttpResponse handle(HttpRequest& req);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::apiserver
