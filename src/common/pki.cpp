#include "common/pki.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "common/openssl_ptr.h"

namespace skiff {

namespace {

using ossl::BioPtr;
using ossl::CertPtr;
using ossl::KeyPtr;

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
  CertPtr cert = baseCertificate(key.get(), commonName, {}, kCaValidityDays);
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
                             bool clientAuth, long validityDays) {
  CertPtr caCert = certFromPem(ca.certPem);
  KeyPtr caKey = keyFromPem(ca.keyPem);
  KeyPtr key = newKey();
  CertPtr cert = baseCertificate(key.get(), commonName, organizations, validityDays);
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

namespace {

[[noreturn]] void failErrno(const std::string& what, const std::string& path) {
  throw std::system_error(errno, std::generic_category(), what + " " + path);
}

// Removes the temp file unless the write got to the rename.
struct TempFile {
  std::string path;
  int fd = -1;
  bool renamed = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!renamed) ::unlink(path.c_str());
  }
};

void fsyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) failErrno("cannot open directory", dir);
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) failErrno("cannot fsync directory", dir);
}

}  // namespace

void writeFileAtomic(const std::string& path, const std::string& content, unsigned mode) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    errno = ELOOP;
    failErrno("refusing to replace a symbolic link:", path);
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  unsigned char rnd[6];
  RAND_bytes(rnd, sizeof rnd);
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
                rnd[4], rnd[5]);
  TempFile tmp;
  tmp.path = path + ".tmp-" + suffix;
  // O_EXCL|O_NOFOLLOW: never write through a file or link someone else placed there.
  tmp.fd = ::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (tmp.fd < 0) failErrno("cannot create", tmp.path);
  // The mode asked for, not what the umask left of it (certificates are 0644 on purpose).
  if (::fchmod(tmp.fd, mode) != 0) failErrno("cannot chmod", tmp.path);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(tmp.fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      failErrno("cannot write", tmp.path);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(tmp.fd) != 0) failErrno("cannot fsync", tmp.path);
  int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0) failErrno("cannot close", tmp.path);
  if (::rename(tmp.path.c_str(), path.c_str()) != 0) failErrno("cannot rename onto", path);
  tmp.renamed = true;
  fsyncDirectory(dir);
}

namespace {
bool certCoversIps(const std::string& certPem, const std::vector<std::string>& ips) {
  CertPtr cert = certFromPem(certPem);
  for (const auto& ip : ips)
    if (X509_check_ip_asc(cert.get(), ip.c_str(), 0) != 1) return false;
  return true;
}
}  // namespace

namespace {

// The serving certificate's SAN and subject come from the caller; a certificate is
// re-issued when it is missing or fewer than kRenewBeforeDays remain.
bool needsRenewal(const std::string& certPath) {
  namespace fs = std::filesystem;
  if (!fs::exists(certPath)) return true;
  return secondsUntilExpiry(readFile(certPath)) < kRenewBeforeDays * 24 * 3600;
}

void restrictMode(const std::string& path, unsigned mode) {
  if (::chmod(path.c_str(), mode) != 0 && errno != ENOENT) failErrno("cannot chmod", path);
}

ServerPki pkiPaths(const std::string& dir) {
  return {dir + "/ca.crt",     dir + "/ca.key",    dir + "/server.crt",
          dir + "/server.key", dir + "/admin.crt", dir + "/admin.key"};
}

}  // namespace

long long secondsUntilExpiry(const std::string& certPem) {
  CertPtr cert = certFromPem(certPem);
  int days = 0, seconds = 0;
  // From now to notAfter (now when the first argument is null).
  if (!ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert.get())))
    fail("cannot read notAfter");
  return static_cast<long long>(days) * 24 * 3600 + seconds;
}

CertKeyPair reissueCertificate(const CertKeyPair& ca, const std::string& oldCertPem,
                               long validityDays) {
  CertPtr old = certFromPem(oldCertPem);
  CertPtr caCert = certFromPem(ca.certPem);
  KeyPtr caKey = keyFromPem(ca.keyPem);
  KeyPtr key = newKey();
  CertPtr cert = baseCertificate(key.get(), "", {}, validityDays);
  X509_set_subject_name(cert.get(), X509_get_subject_name(old.get()));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(caCert.get()));
  // Same extensions (basic constraints, usages, subjectAltNames) except the key identifiers.
  for (int i = 0; i < X509_get_ext_count(old.get()); ++i) {
    X509_EXTENSION* ext = X509_get_ext(old.get(), i);
    int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
    if (nid == NID_subject_key_identifier || nid == NID_authority_key_identifier) continue;
    X509_add_ext(cert.get(), ext, -1);
  }
  if (!X509_sign(cert.get(), caKey.get(), EVP_sha256())) fail("cannot sign certificate");
  return {toPem(cert.get()), toPem(key.get())};
}

ServerPki ensureServerPki(const std::string& dir, const std::vector<std::string>& ipAddresses,
                          const std::vector<std::string>& dnsNames) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  restrictMode(dir, 0700);
  ServerPki p = pkiPaths(dir);
  // Keys written by older versions (or copied in by hand) get their mode fixed as well.
  for (const auto* key : {&p.caKey, &p.serverKey, &p.adminKey}) restrictMode(*key, 0600);
  if (!fs::exists(p.caCert) || !fs::exists(p.caKey)) {
    auto ca = createCa("skiff-ca");
    writeFileAtomic(p.caKey, ca.keyPem, 0600);
    writeFileAtomic(p.caCert, ca.certPem, 0644);  // public: handed to every client
    fs::remove(p.serverCert);
    fs::remove(p.adminCert);
  }
  CertKeyPair ca{readFile(p.caCert), readFile(p.caKey)};
  if (!fs::exists(p.serverKey) || needsRenewal(p.serverCert) ||
      !certCoversIps(readFile(p.serverCert), ipAddresses)) {
    auto server = issueCertificate(ca, "kube-apiserver", {}, dnsNames, ipAddresses, true, false);
    writeFileAtomic(p.serverKey, server.keyPem, 0600);
    writeFileAtomic(p.serverCert, server.certPem, 0644);
  }
  if (!fs::exists(p.adminKey) || needsRenewal(p.adminCert)) {
    auto admin = issueCertificate(ca, "admin", {"system:masters"}, {}, {}, false, true);
    writeFileAtomic(p.adminKey, admin.keyPem, 0600);
    writeFileAtomic(p.adminCert, admin.certPem, 0644);
  }
  return p;
}

ServerPki rotateServerCertificates(const std::string& dir) {
  ServerPki p = pkiPaths(dir);
  CertKeyPair ca{readFile(p.caCert), readFile(p.caKey)};
  for (auto [cert, key] : {std::pair{&p.serverCert, &p.serverKey}, {&p.adminCert, &p.adminKey}}) {
    auto fresh = reissueCertificate(ca, readFile(*cert));
    writeFileAtomic(*key, fresh.keyPem, 0600);
    writeFileAtomic(*cert, fresh.certPem, 0644);
  }
  return p;
}

}  // namespace skiff
