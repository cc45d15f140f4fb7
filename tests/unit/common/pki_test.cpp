#include "common/pki.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>

namespace skiff {
namespace {

X509* parse(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return cert;
}

bool verifies(const std::string& caPem, const std::string& certPem) {
  X509* ca = parse(caPem);
  X509* cert = parse(certPem);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert, nullptr);
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(cert);
  X509_free(ca);
  return ok;
}

TEST(Pki, IssuedCertificateChainsToCaAndCarriesSans) {
  auto ca = createCa("test-ca");
  auto server =
      issueCertificate(ca, "kube-apiserver", {}, {"localhost"}, {"127.0.0.1"}, true, false);
  EXPECT_TRUE(verifies(ca.certPem, server.certPem));
  X509* cert = parse(server.certPem);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_NE(X509_check_ip_asc(cert, "10.9.9.9", 0), 1);
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  X509_free(cert);
}

TEST(Pki, CertificateFromAnotherCaDoesNotVerify) {
  auto ca = createCa("a");
  auto other = createCa("b");
  auto client = issueCertificate(other, "admin", {"system:masters"}, {}, {}, false, true);
  EXPECT_FALSE(verifies(ca.certPem, client.certPem));
}

TEST(Pki, EnsureServerPkiKeepsCaAndReissuesForNewAddress) {
  auto dir = std::filesystem::temp_directory_path() / ("skiff-pki-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto first = ensureServerPki(dir.string(), {"127.0.0.1"}, {"localhost"});
  std::string ca = readFile(first.caCert), admin = readFile(first.adminCert);
  auto second = ensureServerPki(dir.string(), {"127.0.0.1", "127.0.0.2"}, {"localhost"});
  EXPECT_EQ(readFile(second.caCert), ca);
  EXPECT_EQ(readFile(second.adminCert), admin);
  X509* cert = parse(readFile(second.serverCert));
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.2", 0), 1);
  X509_free(cert);
  EXPECT_EQ(
      std::filesystem::status(second.caKey).permissions() & std::filesystem::perms::others_read,
      std::filesystem::perms::none);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace skiff
