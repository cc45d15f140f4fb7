#include "common/component_pki.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <filesystem>

namespace skiff {
namespace {

namespace fs = std::filesystem;

std::string subjectOf(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  char buf[512] = {0};
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf - 1);
  X509_free(cert);
  return buf;
}

struct ComponentPkiTest : ::testing::Test {
  fs::path dir = fs::temp_directory_path() / ("skiff-component-pki-" + std::to_string(::getpid()));
  ServerPki pki;
  void SetUp() override {
    fs::remove_all(dir);
    pki = ensureServerPki((dir / "tls").string(), {"127.0.0.1"}, {"localhost"});
  }
  void TearDown() override { fs::remove_all(dir); }
};

TEST_F(ComponentPkiTest, IdentitiesAreUpstreamsUsers) {
  auto ids = controlPlaneIdentities();
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids[0].commonName, "system:kube-scheduler");
  EXPECT_EQ(ids[1].commonName, "system:kube-controller-manager");
  EXPECT_EQ(ids[2].commonName, "system:kube-proxy");
  EXPECT_EQ(ids[3].commonName, "system:cloud-controller-manager");
  EXPECT_EQ(nodeIdentity("w1").commonName, "system:node:w1");
  EXPECT_EQ(nodeIdentity("w1").organizations, std::vector<std::string>{"system:nodes"});
  EXPECT_TRUE(kubeletClientIdentity().organizations.empty());
}

TEST_F(ComponentPkiTest, KubeconfigWithItsOwnCertificateReusedAfterwards) {
  std::string path =
      ensureComponentKubeconfig(dir.string(), pki, nodeIdentity("w1"), "https://127.0.0.1:6443");
  EXPECT_EQ(path, (dir / "kubeconfigs" / "node-w1.kubeconfig").string());
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(dir / "tls" / "node-w1.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  std::string cert = readFile((dir / "tls" / "node-w1.crt").string());
  EXPECT_EQ(subjectOf(cert), "/O=system:nodes/CN=system:node:w1");
  std::string kubeconfig = readFile(path);
  EXPECT_NE(kubeconfig.find("server: https://127.0.0.1:6443"), std::string::npos);
  EXPECT_NE(kubeconfig.find("client-certificate-data: "), std::string::npos);

  // A second start keeps the certificate and points the kubeconfig at the new address.
  ensureComponentKubeconfig(dir.string(), pki, nodeIdentity("w1"), "https://127.0.0.1:7443");
  EXPECT_EQ(readFile((dir / "tls" / "node-w1.crt").string()), cert);
  EXPECT_NE(readFile(path).find("server: https://127.0.0.1:7443"), std::string::npos);
}

}  // namespace
}  // namespace skiff
