// PKCS#10 certificate signing requests and what the certificates.k8s.io signers do with
// them (OpenSSL 3): parse and verify a request, create one for a new key, sign one with the
// cluster CA for a list of Kubernetes key usages, read a certificate's subject and validity,
// and kubeadm's CA public-key pin ("sha256:<hex of the SubjectPublicKeyInfo digest>").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/pki.h"

namespace skiff {

struct CsrSubject {
  std::string commonName;
  std::vector<std::string> organizations;
  std::vector<std::string> dnsNames, ipAddresses, emailAddresses, uris;
};

// Parses a PEM "CERTIFICATE REQUEST" and checks its self-signature. Throws
// std::invalid_argument with upstream's wording ("PEM block type must be CERTIFICATE
// REQUEST") when the block is missing or of another type, or when the request is malformed
// or its signature does not verify.
CsrSubject parseCsr(const std::string& pem);

// A new private key (EC P-256) in PEM.
std::string newPrivateKeyPem();
// A CSR for `keyPem` with subject CN=commonName, O=organizations and the given SANs.
std::string createCsr(const std::string& keyPem, const std::string& commonName,
                      const std::vector<std::string>& organizations,
                      const std::vector<std::string>& dnsNames = {},
                      const std::vector<std::string>& ipAddresses = {});

// Signs the request with `ca`: subject and SANs copied from the request, key usages and
// extended key usages from the Kubernetes usage names ("digital signature", "key
// encipherment", "client auth", "server auth", ...), valid from 5 minutes ago (clock skew,
// as upstream's signer backdates) for `seconds`, never past the CA's own notAfter.
std::string signCsr(const CertKeyPair& ca, const std::string& csrPem,
                    const std::vector<std::string>& usages, int64_t seconds);

struct CertificateInfo {
  std::string commonName;
  std::vector<std::string> organizations;
  int64_t notBefore = 0, notAfter = 0;  // Unix seconds
};
// The first certificate of a PEM bundle; throws std::invalid_argument when there is none.
CertificateInfo certificateInfo(const std::string& pem);
// True when `certPem` was signed by the CA certificate `caPem`.
bool issuedBy(const std::string& certPem, const std::string& caPem);
// True when the certificate's public key is the key of `keyPem`.
bool certificateMatchesKey(const std::string& certPem, const std::string& keyPem);

// kubeadm's --discovery-token-ca-cert-hash of a CA certificate: "sha256:" and the hex
// SHA-256 of its DER SubjectPublicKeyInfo.
std::string caCertHash(const std::string& caPem);

}  // namespace skiff
