// A small PKI like k3s's: on first start the server creates a CA, a serving certificate for
// its addresses and an admin client certificate; later starts reuse them. OpenSSL 3.
#pragma once

#include <string>
#include <vector>

namespace skiff {

struct CertKeyPair {
  std::string certPem, keyPem;
};

// A new self-signed CA (EC P-256, 10 years).
CertKeyPair createCa(const std::string& commonName);
// A certificate signed by `ca`. `dnsNames`/`ipAddresses` become subjectAltNames;
// `organizations` the subject O= entries (Kubernetes groups for client certs).
CertKeyPair issueCertificate(const CertKeyPair& ca, const std::string& commonName,
                             const std::vector<std::string>& organizations,
                             const std::vector<std::string>& dnsNames,
                             const std::vector<std::string>& ipAddresses, bool serverAuth,
                             bool clientAuth);

// Paths of the files the server keeps under DATA_DIR/tls.
struct ServerPki {
  std::string caCert, caKey, serverCert, serverKey, adminCert, adminKey;
};
// Creates whatever is missing under `dir` (existing files are kept; a serving certificate
// is re-issued when it lacks one of `ipAddresses`).
ServerPki ensureServerPki(const std::string& dir, const std::vector<std::string>& ipAddresses,
                          const std::vector<std::string>& dnsNames);

std::string readFile(const std::string& path);
// Writes atomically (temp file + rename) with the given mode.
void writeFileAtomic(const std::string& path, const std::string& content, unsigned mode);

}  // namespace skiff
