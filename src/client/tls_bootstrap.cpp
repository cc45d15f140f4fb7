#include "client/tls_bootstrap.h"

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <cmath>
#include <filesystem>
#include <random>
#include <stdexcept>

#include "api/json_access.h"
#include "common/api_error.h"
#include "common/base64.h"
#include "common/csr.h"
#include "common/log.h"
#include "common/pki.h"

namespace skiff::client {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kSigner = "kubernetes.io/kube-apiserver-client-kubelet";

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool validToken(const std::string& t) {
  const size_t dot = t.find('.');
  if (dot != 6 || t.size() != 23) return false;
  for (size_t i = 0; i < t.size(); ++i)
    if (i != 6 && !((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9'))) return false;
  return true;
}

void writeCredentials(const NodeCredentialFiles& files, const std::string& cert,
                      const std::string& key) {
  // Key first: a crash in between leaves a certificate that does not match, which the next
  // start rejects and requests again.
  writeFileAtomic(files.key, key, 0600);
  writeFileAtomic(files.cert, cert, 0600);
}

}  // namespace

void validateBootstrapOptions(const TlsBootstrapOptions& o) {
  if (o.server.rfind("https://", 0) != 0)
    throw std::invalid_argument("--server must be an https:// URL of the API server");
  if (!validToken(o.token))
    throw std::invalid_argument(
        "--token must be a bootstrap token of the form \"[a-z0-9]{6}.[a-z0-9]{16}\"");
  if (o.caCertHash.empty() && o.caFile.empty())
    throw std::invalid_argument(
        "give --ca-cert-hash sha256:<hex> (printed by `skiff token create "
        "--print-join-command`) or --ca-file to trust the API server");
  if (!o.caCertHash.empty() &&
      (o.caCertHash.rfind("sha256:", 0) != 0 || o.caCertHash.size() != 7 + 64))
    throw std::invalid_argument("--ca-cert-hash must be sha256: followed by 64 hex digits");
  if (o.nodeName.empty()) throw std::invalid_argument("the node name is empty");
}

std::string discoverClusterCa(const TlsBootstrapOptions& o) {
  if (!o.caFile.empty()) return readFile(o.caFile);
  // Nothing is trusted yet: read cluster-info without verifying the server, then trust the
  // CA it names only if it is the pinned one (TLS to the server is then verified with it).
  ClientConfig anonymous;
  anonymous.server = o.server;
  anonymous.insecureSkipTlsVerify = true;
  anonymous.userAgent = "skiff-agent/tls-bootstrap";
  RestClient discovery(anonymous);
  json::object cm = discovery.get(resources::configMaps, "kube-public", "cluster-info");
  YAML::Node kubeconfig = YAML::Load(api::stringAt(cm, {"data", "kubeconfig"}));
  std::string caData;
  for (const auto& c : kubeconfig["clusters"])
    if (c["cluster"] && c["cluster"]["certificate-authority-data"])
      caData = c["cluster"]["certificate-authority-data"].as<std::string>();
  const std::string caPem = base64Decode(caData).value_or("");
  if (caPem.empty())
    throw std::runtime_error("the cluster-info ConfigMap names no certificate-authority-data");
  const std::string hash = caCertHash(caPem);
  if (hash != o.caCertHash)
    throw std::runtime_error(
        "cluster CA found in cluster-info ConfigMap is invalid: none of the "
        "public keys \"" +
        hash + "\" are pinned");
  return caPem;
}

bool usableCredentials(const NodeCredentialFiles& files, const std::string& caPem,
                       const std::string& nodeName) {
  std::error_code ec;
  if (!fs::exists(files.cert, ec) || !fs::exists(files.key, ec)) return false;
  try {
    const std::string cert = readFile(files.cert), key = readFile(files.key);
    CertificateInfo info = certificateInfo(cert);
    return info.commonName == "system:node:" + nodeName && issuedBy(cert, caPem) &&
           certificateMatchesKey(cert, key) && info.notAfter > nowSeconds() + 60;
  } catch (const std::exception&) {
    return false;
  }
}

void writeNodeKubeconfig(const std::string& path, const std::string& server,
                         const NodeCredentialFiles& files) {
  writeFileAtomic(path,
                  "apiVersion: v1\nkind: Config\nclusters:\n- name: default-cluster\n  cluster:\n"
                  "    certificate-authority: " +
                      files.ca + "\n    server: " + server +
                      "\ncontexts:\n- name: default-context\n  context:\n    cluster: "
                      "default-cluster\n    user: default-auth\ncurrent-context: "
                      "default-context\nusers:\n- name: default-auth\n  user:\n"
                      "    client-certificate: " +
                      files.cert + "\n    client-key: " + files.key + "\n",
                  0600);
}

std::string requestNodeClientCertificate(RestClient& client, const std::string& nodeName,
                                         const std::string& keyPem, std::chrono::seconds timeout) {
  const std::string request = createCsr(keyPem, "system:node:" + nodeName, {"system:nodes"});
  json::object csr{{"apiVersion", "certificates.k8s.io/v1"},
                   {"kind", "CertificateSigningRequest"},
                   {"metadata", {{"generateName", "node-csr-"}}},
                   {"spec",
                    {{"request", base64Encode(request)},
                     {"signerName", kSigner},
                     {"usages", json::array{"digital signature", "client auth"}}}}};
  const std::string path = "/apis/certificates.k8s.io/v1/certificatesigningrequests";
  json::object created = client.request("POST", path, json::serialize(csr));
  const std::string name = api::stringAt(created, {"metadata", "name"});
  SKIFF_LOG_INFO("tls-bootstrap: created CertificateSigningRequest {} for system:node:{}", name,
                 nodeName);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    json::object current = client.request("GET", path + "/" + name);
    for (const auto& c : api::arrayOrEmpty(current, {"status", "conditions"})) {
      const std::string type = api::stringAt(c.as_object(), {"type"});
      if (type == "Denied" || type == "Failed")
        throw std::runtime_error("certificate signing request " + name + " was " +
                                 (type == "Denied" ? "denied" : "failed") + ": " +
                                 api::stringAt(c.as_object(), {"message"}));
    }
    if (auto cert = base64Decode(api::stringAt(current, {"status", "certificate"}));
        cert && !cert->empty())
      return *cert;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  throw std::runtime_error("timed out waiting for certificate signing request " + name +
                           " to be approved and issued (kubectl certificate approve " + name + ")");
}

std::string bootstrapNodeCredentials(const TlsBootstrapOptions& o) {
  validateBootstrapOptions(o);
  fs::create_directories(o.pkiDir);
  fs::permissions(o.pkiDir, fs::perms::owner_all, fs::perm_options::replace);
  NodeCredentialFiles files(o.pkiDir);
  std::string caPem;
  std::error_code ec;
  // A node that joined before trusts the CA it pinned then.
  if (o.caFile.empty() && fs::exists(files.ca, ec))
    caPem = readFile(files.ca);
  else
    caPem = discoverClusterCa(o);
  if (usableCredentials(files, caPem, o.nodeName)) {
    SKIFF_LOG_INFO("tls-bootstrap: reusing the client certificate in {}", files.cert);
  } else {
    ClientConfig bootstrap;
    bootstrap.server = o.server;
    bootstrap.caPem = caPem;
    bootstrap.token = o.token;
    bootstrap.userAgent = "skiff-agent/tls-bootstrap";
    RestClient client(bootstrap);
    const std::string key = newPrivateKeyPem();
    const std::string cert = requestNodeClientCertificate(client, o.nodeName, key, o.timeout);
    writeFileAtomic(files.ca, caPem, 0600);
    writeCredentials(files, cert, key);
    SKIFF_LOG_INFO("tls-bootstrap: node client certificate for system:node:{} written to {}",
                   o.nodeName, files.cert);
  }
  if (!fs::exists(files.ca, ec)) writeFileAtomic(files.ca, caPem, 0600);
  writeNodeKubeconfig(o.kubeconfig, o.server, files);
  return o.kubeconfig;
}

int64_t renewalDeadline(int64_t notBefore, int64_t notAfter, double jitter) {
  const double lifetime = static_cast<double>(notAfter - notBefore);
  return notBefore + std::llround(lifetime * (0.7 + 0.2 * jitter));
}

CertificateRotator::CertificateRotator(RestClient& client, std::string nodeName,
                                       NodeCredentialFiles files, OnRotate onRotate)
    : client_(client),
      nodeName_(std::move(nodeName)),
      files_(std::move(files)),
      onRotate_(std::move(onRotate)) {}

CertificateRotator::~CertificateRotator() { stop(); }

void CertificateRotator::start() {
  thread_ = std::thread([this] { loop(); });
}

void CertificateRotator::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CertificateRotator::rotate() {
  const std::string key = newPrivateKeyPem();
  // Authenticated by the current certificate: the request's user is system:node:NAME, which
  // csrapproving approves through certificatesigningrequests/selfnodeclient.
  const std::string cert =
      requestNodeClientCertificate(client_, nodeName_, key, std::chrono::seconds(300));
  writeCredentials(files_, cert, key);
  if (onRotate_) onRotate_(cert, key);
  SKIFF_LOG_INFO("tls-bootstrap: client certificate of system:node:{} renewed", nodeName_);
}

void CertificateRotator::loop() {
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  while (true) {
    int64_t deadline = 0;
    try {
      CertificateInfo info = certificateInfo(readFile(files_.cert));
      deadline = renewalDeadline(info.notBefore, info.notAfter, jitter(rng));
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("tls-bootstrap: cannot read {}: {}", files_.cert, e.what());
    }
    const int64_t wait = std::max<int64_t>(deadline - nowSeconds(), 0);
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, std::chrono::seconds(wait), [this] { return stopping_; })) return;
    }
    try {
      rotate();
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("tls-bootstrap: renewal failed, retrying in 30s: {}", e.what());
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, std::chrono::seconds(30), [this] { return stopping_; })) return;
    }
  }
}

}  // namespace skiff::client
