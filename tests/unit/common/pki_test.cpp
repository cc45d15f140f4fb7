#include "common/pki.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

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

namespace skiff {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("skiff-harden-" + std::to_string(::getpid()) + "-" +
                                               std::to_string(reinterpret_cast<uintptr_t>(this)));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

unsigned modeOf(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

TEST(WriteFileAtomic, ModesAreExactWhateverTheUmask) {
  TempDir dir;
  mode_t old = ::umask(077);
  writeFileAtomic((dir.path / "cert").string(), "public", 0644);
  writeFileAtomic((dir.path / "key").string(), "private", 0600);
  ::umask(0);
  writeFileAtomic((dir.path / "key2").string(), "private", 0600);
  ::umask(old);
  EXPECT_EQ(modeOf(dir.path / "cert"), 0644u);
  EXPECT_EQ(modeOf(dir.path / "key"), 0600u);
  EXPECT_EQ(modeOf(dir.path / "key2"), 0600u);
  EXPECT_EQ(readFile((dir.path / "key").string()), "private");
  // Replacing keeps it atomic and leaves no temp file.
  writeFileAtomic((dir.path / "key").string(), "again", 0600);
  EXPECT_EQ(readFile((dir.path / "key").string()), "again");
  int files = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir.path)) ++files;
  EXPECT_EQ(files, 3);
}

TEST(WriteFileAtomic, RefusesASymlinkedTarget) {
  TempDir dir;
  writeFileAtomic((dir.path / "victim").string(), "untouched", 0600);
  fs::create_symlink(dir.path / "victim", dir.path / "link");
  EXPECT_THROW(writeFileAtomic((dir.path / "link").string(), "evil", 0600), std::system_error);
  EXPECT_EQ(readFile((dir.path / "victim").string()), "untouched");
  EXPECT_TRUE(fs::is_symlink(dir.path / "link"));
}

TEST(WriteFileAtomic, ErrorsAreReported) {
  TempDir dir;
  try {
    writeFileAtomic((dir.path / "missing-dir" / "f").string(), "x", 0600);
    FAIL() << "expected an error";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("missing-dir"), std::string::npos);
  }
  // A read-only directory (root ignores modes, so only where they apply).
  fs::create_directories(dir.path / "ro");
  ::chmod((dir.path / "ro").c_str(), 0500);
  if (::geteuid() != 0)
    EXPECT_THROW(writeFileAtomic((dir.path / "ro" / "f").string(), "x", 0600), std::system_error);
  ::chmod((dir.path / "ro").c_str(), 0700);
}

TEST(Pki, LeafCertificatesLastOneYearAndCaTen) {
  auto ca = createCa("ca");
  auto leaf = issueCertificate(ca, "x", {}, {}, {}, false, true);
  EXPECT_NEAR(secondsUntilExpiry(leaf.certPem) / 86400.0, 365, 1);
  EXPECT_NEAR(secondsUntilExpiry(ca.certPem) / 86400.0, 3650, 1);
}

TEST(Pki, RenewsLeafCertificatesNearExpiryAndKeepsCa) {
  TempDir dir;
  auto tls = (dir.path / "tls").string();
  auto p = ensureServerPki(tls, {"127.0.0.1"}, {"localhost"});
  EXPECT_EQ(modeOf(tls), 0700u);
  EXPECT_EQ(modeOf(p.serverKey), 0600u);
  EXPECT_EQ(modeOf(p.caKey), 0600u);
  std::string caPem = readFile(p.caCert);
  CertKeyPair ca{caPem, readFile(p.caKey)};
  // Short-lived certificates (30 days left) as an older skiff might have left them.
  auto server =
      issueCertificate(ca, "kube-apiserver", {}, {"localhost"}, {"127.0.0.1"}, true, false, 30);
  auto admin = issueCertificate(ca, "admin", {"system:masters"}, {}, {}, false, true, 30);
  writeFileAtomic(p.serverCert, server.certPem, 0644);
  writeFileAtomic(p.serverKey, server.keyPem, 0644);  // too open: fixed on start
  writeFileAtomic(p.adminCert, admin.certPem, 0644);
  writeFileAtomic(p.adminKey, admin.keyPem, 0600);
  auto again = ensureServerPki(tls, {"127.0.0.1"}, {"localhost"});
  EXPECT_EQ(readFile(again.caCert), caPem);
  EXPECT_GT(secondsUntilExpiry(readFile(again.serverCert)), 300LL * 86400);
  EXPECT_GT(secondsUntilExpiry(readFile(again.adminCert)), 300LL * 86400);
  EXPECT_NE(readFile(again.serverKey), server.keyPem);
  EXPECT_EQ(modeOf(again.serverKey), 0600u);
  EXPECT_TRUE(verifies(caPem, readFile(again.serverCert)));
  // 200 days left: kept.
  auto fine = issueCertificate(ca, "admin", {"system:masters"}, {}, {}, false, true, 200);
  writeFileAtomic(p.adminCert, fine.certPem, 0644);
  writeFileAtomic(p.adminKey, fine.keyPem, 0600);
  ensureServerPki(tls, {"127.0.0.1"}, {"localhost"});
  EXPECT_EQ(readFile(p.adminCert), fine.certPem);
}

TEST(Pki, RotationReissuesLeavesWithSameSubjectAndSans) {
  TempDir dir;
  auto tls = (dir.path / "tls").string();
  auto p = ensureServerPki(tls, {"127.0.0.1", "10.43.0.1"}, {"localhost"});
  std::string caPem = readFile(p.caCert), serverPem = readFile(p.serverCert),
              adminPem = readFile(p.adminCert);
  rotateServerCertificates(tls);
  EXPECT_EQ(readFile(p.caCert), caPem);
  EXPECT_NE(readFile(p.serverCert), serverPem);
  EXPECT_NE(readFile(p.adminCert), adminPem);
  X509* cert = parse(readFile(p.serverCert));
  EXPECT_EQ(X509_check_ip_asc(cert, "10.43.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  X509_free(cert);
  X509* admin = parse(readFile(p.adminCert));
  char org[64] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(admin), NID_organizationName, org, sizeof org);
  EXPECT_STREQ(org, "system:masters");
  X509_free(admin);
  EXPECT_TRUE(verifies(caPem, readFile(p.adminCert)));
}

}  // namespace
}  // namespace skiff
