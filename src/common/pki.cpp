#include "common/pki.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace skiff {

namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("pki: " + what); }

KeyPtr newKey() {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) fail("key generation failed");
  return key;
}

std::string toPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr))
    fail("cannot encode key");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

std::string toPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) fail("cannot encode certificate");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

KeyPtr keyFromPem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) fail("cannot parse private key");
  return key;
}

CertPtr certFromPem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail("cannot parse certificate");
  return cert;
}

void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) fail("bad extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

CertPtr baseCertificate(EVP_PKEY* key, const std::string& cn, const std::vector<std::string>& orgs,
                        long days) {
  CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const auto& o : orgs)
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return cert;
}

}  // namespace

CertKeyPair createCa(const std::string& commonName) {
  KeyPtr key = newKey();
  CertPtr cert = baseCertificate(key.get(), commonName, {}, 3650);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  addExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  addExtension(cert.get(), cert.get(), NID_key_usage,
               "critical,digitalSignature,keyCertSign,cRLSign");
  addExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  if (!X509_sign(cert.get(), key.get(), EVP_sha256())) fail("cannot sign CA");
  return {toPem(cert.get()), toPem(key.get())};
}

CertKeyPair issueCertificate(const CertKeyPair& ca, const std::string& commonName,
                             const std::vector<std::string>& organizations,
                             const std::vector<std::string>& dnsNames,
                             const std::vector<std::string>& ipAddresses, bool serverAuth,
                             bool clientAuth) {
  CertPtr caCert = certFromPem(ca.certPem);
  KeyPtr caKey = keyFromPem(ca.keyPem);
  KeyPtr key = newKey();
  CertPtr cert = baseCertificate(key.get(), commonName, organizations, 3650);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(caCert.get()));
  addExtension(cert.get(), caCert.get(), NID_basic_constraints, "critical,CA:FALSE");
  addExtension(cert.get(), caCert.get(), NID_key_usage,
               "critical,digitalSignature,keyEncipherment");
  std::string usage;
  if (serverAuth) usage = "serverAuth";
  if (clientAuth) usage += std::string(usage.empty() ? "" : ",") + "clientAuth";
  if (!usage.empty()) addExtension(cert.get(), caCert.get(), NID_ext_key_usage, usage);
  std::string san;
  for (const auto& d : dnsNames) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
  for (const auto& ip : ipAddresses) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  if (!san.empty()) addExtension(cert.get(), caCert.get(), NID_subject_alt_name, san);
  if (!X509_sign(cert.get(), caKey.get(), EVP_sha256())) fail("cannot sign certificate");
  return {toPem(cert.get()), toPem(key.get())};
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFileAtomic(const std::string& path, const std::string& content, unsigned mode) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + tmp);
    out << content;
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp);
  }
  ::chmod(tmp.c_str(), mode);
  std::filesystem::rename(tmp, path);
}

namespace {
bool certCoversIps(const std::string& certPem, const std::vector<std::string>& ips) {
  CertPtr cert = certFromPem(certPem);
  for (const auto& ip : ips)
    if (X509_check_ip_asc(cert.get(), ip.c_str(), 0) != 1) return false;
  return true;
}
}  // namespace

ServerPki ensureServerPki(const std::string& dir, const std::vector<std::string>& ipAddresses,
                          const std::vector<std::string>& dnsNames) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  ServerPki p{dir + "/ca.crt",     dir + "/ca.key",    dir + "/server.crt",
              dir + "/server.key", dir + "/admin.crt", dir + "/admin.key"};
  if (!fs::exists(p.caCert) || !fs::exists(p.caKey)) {
    auto ca = createCa("skiff-ca");
    writeFileAtomic(p.caKey, ca.keyPem, 0600);
    writeFileAtomic(p.caCert, ca.certPem, 0644);
    fs::remove(p.serverCert);
    fs::remove(p.adminCert);
  }
  CertKeyPair ca{readFile(p.caCert), readFile(p.caKey)};
  if (!fs::exists(p.serverCert) || !fs::exists(p.serverKey) ||
      !certCoversIps(readFile(p.serverCert), ipAddresses)) {
    auto server = issueCertificate(ca, "kube-apiserver", {}, dnsNames, ipAddresses, true, false);
    writeFileAtomic(p.serverKey, server.keyPem, 0600);
    writeFileAtomic(p.serverCert, server.certPem, 0644);
  }
  if (!fs::exists(p.adminCert) || !fs::exists(p.adminKey)) {
    auto admin = issueCertificate(ca, "admin", {"system:masters"}, {}, {}, false, true);
    writeFileAtomic(p.adminKey, admin.keyPem, 0600);
    writeFileAtomic(p.adminCert, admin.certPem, 0644);
  }
  return p;
}

}  // namespace skiff
