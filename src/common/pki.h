// A small PKI like k3s's: on first start the server creates a CA, a serving certificate for
// its addresses and an admin client certificate; later starts reuse them. OpenSSL 3.
#pragma once

#include <string>
#include <vector>

namespace skiff {

struct CertKeyPair {
  std::string certPem, keyPem;
};

// Validity as k3s: the CA ten years, leaf certificates one year, re-issued by
// ensureServerPki when fewer than kRenewBeforeDays remain (or by `skiff certificate rotate`).
constexpr long kCaValidityDays = 3650;
constexpr long kLeafValidityDays = 365;
constexpr long kRenewBeforeDays = 90;

// A new self-signed CA (EC P-256, kCaValidityDays).
CertKeyPair createCa(const std::string& commonName);
// A certificate signed by `ca`, valid for `validityDays`. `dnsNames`/`ipAddresses` become
// subjectAltNames; `organizations` the subject O= entries (Kubernetes groups for client certs).
CertKeyPair issueCertificate(const CertKeyPair& ca, const std::string& commonName,
                             const std::vector<std::string>& organizations,
                             const std::vector<std::string>& dnsNames,
                             const std::vector<std::string>& ipAddresses, bool serverAuth,
                             bool clientAuth, long validityDays = kLeafValidityDays);
// A new key and certificate with the subject, subjectAltNames and usages of `oldCertPem`,
// signed by `ca` (certificate rotation keeps what a certificate was for).
CertKeyPair reissueCertificate(const CertKeyPair& ca, const std::string& oldCertPem,
                               long validityDays = kLeafValidityDays);
// Seconds until the certificate's notAfter (negative once expired).
long long secondsUntilExpiry(const std::string& certPem);

// Paths of the files the server keeps under DATA_DIR/tls.
struct ServerPki {
  std::string caCert, caKey, serverCert, serverKey, adminCert, adminKey;
};
// Creates whatever is missing under `dir` (mode 0700; keys 0600, certificates 0644, modes of
// existing files are corrected). Existing files are kept, but a serving certificate is
// re-issued when it lacks one of `ipAddresses`, and a leaf certificate when fewer than
// kRenewBeforeDays remain; the CA stays.
ServerPki ensureServerPki(const std::string& dir, const std::vector<std::string>& ipAddresses,
                          const std::vector<std::string>& dnsNames);
// `skiff certificate rotate`: new keys and certificates for the server and the admin user,
// signed by the existing CA. Returns the paths.
ServerPki rotateServerCertificates(const std::string& dir);

std::string readFile(const std::string& path);
// Writes `content` to `path` so that a reader sees the old or the new file, never a part:
// a fresh temp file beside it (O_CREAT|O_EXCL|O_NOFOLLOW, exactly `mode` whatever the umask),
// every write checked, fsync of the file, rename over `path`, fsync of the directory.
// Refuses to replace a symlink. Throws std::system_error (with the path) on any failure and
// leaves no temp file behind.
void writeFileAtomic(const std::string& path, const std::string& content, unsigned mode);

}  // namespace skiff
