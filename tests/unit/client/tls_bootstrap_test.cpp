#include "client/tls_bootstrap.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/csr.h"
#include "common/pki.h"

namespace skiff::client {
namespace {

TlsBootstrapOptions valid() {
  TlsBootstrapOptions o;
  o.server = "https://10.0.0.1:6443";
  o.token = "abcdef.0123456789abcdef";
  o.caCertHash = "sha256:" + std::string(64, 'a');
  o.nodeName = "n1";
  return o;
}

TEST(TlsBootstrap, ValidatesOptions) {
  EXPECT_NO_THROW(validateBootstrapOptions(valid()));
  auto o = valid();
  o.server = "http://10.0.0.1:6443";
  EXPECT_THROW(validateBootstrapOptions(o), std::invalid_argument);
  o = valid();
  o.token = "ABCDEF.0123456789abcdef";
  EXPECT_THROW(validateBootstrapOptions(o), std::invalid_argument);
  o = valid();
  o.caCertHash.clear();
  EXPECT_THROW(validateBootstrapOptions(o), std::invalid_argument);
  o.caFile = "/etc/ca.crt";
  EXPECT_NO_THROW(validateBootstrapOptions(o));
  o = valid();
  o.caCertHash = "sha1:abc";
  EXPECT_THROW(validateBootstrapOptions(o), std::invalid_argument);
}

TEST(TlsBootstrap, RenewalDeadlineBetween70And90Percent) {
  EXPECT_EQ(renewalDeadline(0, 1000, 0.0), 700);
  EXPECT_EQ(renewalDeadline(0, 1000, 0.5), 800);
  EXPECT_LE(renewalDeadline(0, 1000, 0.999), 900);
  EXPECT_GE(renewalDeadline(100, 1100, 0.0), 800);  // measured from notBefore
}

TEST(TlsBootstrap, UsableCredentialsChecksNameCaKeyAndFiles) {
  auto dir = std::filesystem::temp_directory_path() / ("tls-bootstrap-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  NodeCredentialFiles files(dir.string());
  CertKeyPair ca = createCa("ca");
  EXPECT_FALSE(usableCredentials(files, ca.certPem, "n1"));  // nothing there yet
  std::string key = newPrivateKeyPem();
  std::string cert = signCsr(ca, createCsr(key, "system:node:n1", {"system:nodes"}),
                             {"digital signature", "client auth"}, 3600);
  writeFileAtomic(files.key, key, 0600);
  writeFileAtomic(files.cert, cert, 0600);
  EXPECT_TRUE(usableCredentials(files, ca.certPem, "n1"));
  EXPECT_FALSE(usableCredentials(files, ca.certPem, "n2"));                 // another node
  EXPECT_FALSE(usableCredentials(files, createCa("other").certPem, "n1"));  // another CA
  writeFileAtomic(files.key, newPrivateKeyPem(), 0600);                     // key mismatch
  EXPECT_FALSE(usableCredentials(files, ca.certPem, "n1"));

  writeNodeKubeconfig((dir / "kubeconfig").string(), "https://10.0.0.1:6443", files);
  struct stat st {};
  ASSERT_EQ(stat((dir / "kubeconfig").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace skiff::client
