#include "common/csr.h"

#include <gtest/gtest.h>

#include <ctime>

namespace skiff {
namespace {

TEST(Csr, CreateParseRoundTrip) {
  std::string key = newPrivateKeyPem();
  std::string pem =
      createCsr(key, "system:node:n1", {"system:nodes"}, {"n1.example"}, {"10.0.0.7"});
  CsrSubject s = parseCsr(pem);
  EXPECT_EQ(s.commonName, "system:node:n1");
  EXPECT_EQ(s.organizations, std::vector<std::string>{"system:nodes"});
  EXPECT_EQ(s.dnsNames, std::vector<std::string>{"n1.example"});
  EXPECT_EQ(s.ipAddresses, std::vector<std::string>{"10.0.0.7"});
}

TEST(Csr, RejectsOtherBlocksAndGarbage) {
  CertKeyPair ca = createCa("test-ca");
  try {
    parseCsr(ca.certPem);
    FAIL() << "a certificate is no request";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "PEM block type must be CERTIFICATE REQUEST");
  }
  EXPECT_THROW(parseCsr(""), std::invalid_argument);
  EXPECT_THROW(
      parseCsr("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"),
      std::invalid_argument);
}

TEST(Csr, TamperedSignatureRejected) {
  std::string pem = createCsr(newPrivateKeyPem(), "alice", {});
  // Flip one base64 character in the middle of the body.
  size_t at = pem.find('\n') + 40;
  pem[at] = pem[at] == 'A' ? 'B' : 'A';
  EXPECT_THROW(parseCsr(pem), std::invalid_argument);
}

TEST(Csr, SignHonoursDurationUsagesAndSubject) {
  CertKeyPair ca = createCa("test-ca");
  std::string key = newPrivateKeyPem();
  std::string cert =
      signCsr(ca, createCsr(key, "alice", {"devs"}), {"digital signature", "client auth"}, 3600);
  CertificateInfo info = certificateInfo(cert);
  EXPECT_EQ(info.commonName, "alice");
  EXPECT_EQ(info.organizations, std::vector<std::string>{"devs"});
  const int64_t now = std::time(nullptr);
  EXPECT_NEAR(info.notAfter - now, 3600, 5);
  EXPECT_NEAR(now - info.notBefore, 300, 5);  // backdated five minutes
  EXPECT_TRUE(issuedBy(cert, ca.certPem));
  EXPECT_FALSE(issuedBy(cert, createCa("other").certPem));
  EXPECT_TRUE(certificateMatchesKey(cert, key));
  EXPECT_FALSE(certificateMatchesKey(cert, newPrivateKeyPem()));
}

TEST(Csr, SignNeverOutlivesTheCa) {
  CertKeyPair ca = createCa("test-ca");  // ten years
  std::string cert = signCsr(ca, createCsr(newPrivateKeyPem(), "x", {}), {"client auth"},
                             int64_t(100) * 365 * 24 * 3600);
  EXPECT_LE(certificateInfo(cert).notAfter, certificateInfo(ca.certPem).notAfter);
}

TEST(Csr, CaCertHashIsStableAndKeyBased) {
  CertKeyPair ca = createCa("test-ca");
  std::string h = caCertHash(ca.certPem);
  EXPECT_EQ(h.rfind("sha256:", 0), 0u);
  EXPECT_EQ(h.size(), 7u + 64u);
  EXPECT_EQ(h, caCertHash(ca.certPem));
  EXPECT_NE(h, caCertHash(createCa("test-ca").certPem));
}

}  // namespace
}  // namespace skiff
