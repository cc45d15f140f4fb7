#include "common/csr.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <memory>
#include <stdexcept>

#include "common/openssl_ptr.h"

namespace skiff {

namespace {

using ossl::BioPtr;
using ossl::CertPtr;
using ossl::Deleter;
using ossl::KeyPtr;
using ossl::ReqPtr;

void extStackFree(STACK_OF(X509_EXTENSION) * s) {
  sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}
using ExtsPtr =
    std::unique_ptr<STACK_OF(X509_EXTENSION), Deleter<STACK_OF(X509_EXTENSION), extStackFree>>;
void namesFree(GENERAL_NAMES* n) { GENERAL_NAMES_free(n); }
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, namesFree>>;

BioPtr memBio(const std::string& s) {
  return BioPtr(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

std::string bioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

KeyPtr keyFromPem(const std::string& pem) {
  BioPtr bio = memBio(pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) throw std::invalid_argument("cannot parse private key");
  return key;
}

CertPtr certFromPem(const std::string& pem) {
  BioPtr bio = memBio(pem);
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) throw std::invalid_argument("must contain at least one CERTIFICATE PEM block");
  return cert;
}

// The first PEM block's label ("" when there is no block), so a wrong type gets upstream's
// message rather than OpenSSL's.
std::string firstPemLabel(const std::string& pem) {
  const std::string begin = "-----BEGIN ";
  size_t at = pem.find(begin);
  if (at == std::string::npos) return "";
  size_t end = pem.find("-----", at + begin.size());
  if (end == std::string::npos) return "";
  return pem.substr(at + begin.size(), end - at - begin.size());
}

std::string asn1String(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

void readName(X509_NAME* name, std::string& cn, std::vector<std::string>& orgs) {
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    std::string value = asn1String(X509_NAME_ENTRY_get_data(e));
    if (nid == NID_commonName) cn = value;
    if (nid == NID_organizationName) orgs.push_back(value);
  }
}

std::string ipString(const ASN1_OCTET_STRING* ip) {
  const unsigned char* b = ASN1_STRING_get0_data(ip);
  int n = ASN1_STRING_length(ip);
  char buf[64];
  if (n == 4) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    return buf;
  }
  if (n == 16) {
    std::string out;
    for (int i = 0; i < 16; i += 2) {
      std::snprintf(buf, sizeof buf, "%x", (b[i] << 8) | b[i + 1]);
      out += (i ? ":" : "") + std::string(buf);
    }
    return out;  // uncompressed form; enough to compare with what we put in
  }
  return "";
}

void readSans(const GENERAL_NAMES* names, CsrSubject& out) {
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    switch (n->type) {
      case GEN_DNS:
        out.dnsNames.push_back(asn1String(n->d.dNSName));
        break;
      case GEN_IPADD:
        out.ipAddresses.push_back(ipString(n->d.iPAddress));
        break;
      case GEN_EMAIL:
        out.emailAddresses.push_back(asn1String(n->d.rfc822Name));
        break;
      case GEN_URI:
        out.uris.push_back(asn1String(n->d.uniformResourceIdentifier));
        break;
      default:
        break;
    }
  }
}

void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) throw std::runtime_error("csr: bad extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

}  // namespace

CsrSubject parseCsr(const std::string& pem) {
  if (firstPemLabel(pem) != "CERTIFICATE REQUEST")
    throw std::invalid_argument("PEM block type must be CERTIFICATE REQUEST");
  BioPtr bio = memBio(pem);
  ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) throw std::invalid_argument("x509: malformed certificate request");
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (!key || X509_REQ_verify(req.get(), key) != 1)
    throw std::invalid_argument("x509: certificate request signature verification failure");
  CsrSubject out;
  readName(X509_REQ_get_subject_name(req.get()), out.commonName, out.organizations);
  ExtsPtr exts(X509_REQ_get_extensions(req.get()));
  if (exts) {
    NamesPtr names(static_cast<GENERAL_NAMES*>(
        X509V3_get_d2i(exts.get(), NID_subject_alt_name, nullptr, nullptr)));
    if (names) readSans(names.get(), out);
  }
  return out;
}

std::string newPrivateKeyPem() {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) throw std::runtime_error("csr: key generation failed");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr))
    throw std::runtime_error("csr: cannot encode key");
  return bioString(bio.get());
}

std::string createCsr(const std::string& keyPem, const std::string& commonName,
                      const std::vector<std::string>& organizations,
                      const std::vector<std::string>& dnsNames,
                      const std::vector<std::string>& ipAddresses) {
  KeyPtr key = keyFromPem(keyPem);
  ReqPtr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  for (const auto& o : organizations)
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(commonName.c_str()), -1, -1, 0);
  std::string san;
  for (const auto& d : dnsNames) san += (san.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& ip : ipAddresses) san += (san.empty() ? "IP:" : ",IP:") + ip;
  if (!san.empty()) {
    ExtsPtr exts(sk_X509_EXTENSION_new_null());
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
    if (!ext) throw std::invalid_argument("csr: bad subject alternative names " + san);
    sk_X509_EXTENSION_push(exts.get(), ext);
    X509_REQ_add_extensions(req.get(), exts.get());
  }
  X509_REQ_set_pubkey(req.get(), key.get());
  if (!X509_REQ_sign(req.get(), key.get(), EVP_sha256()))
    throw std::runtime_error("csr: cannot sign request");
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  return bioString(bio.get());
}

std::string signCsr(const CertKeyPair& ca, const std::string& csrPem,
                    const std::vector<std::string>& usages, int64_t seconds) {
  parseCsr(csrPem);  // type and signature checked
  BioPtr bio = memBio(csrPem);
  ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  CertPtr caCert = certFromPem(ca.certPem);
  KeyPtr caKey = keyFromPem(ca.keyPem);

  CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  time_t now = std::time(nullptr);
  constexpr int64_t kBackdate = 5 * 60;
  X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -kBackdate, &now);
  // Never past the CA's own end (upstream's signer caps the same way).
  int days = 0, secs = 0;
  ASN1_TIME* nowAsn = ASN1_TIME_set(nullptr, now);
  ASN1_TIME_diff(&days, &secs, nowAsn, X509_get0_notAfter(caCert.get()));
  ASN1_TIME_free(nowAsn);
  const int64_t caLeft = int64_t(days) * 86400 + secs;
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, static_cast<long>(std::min(seconds, caLeft)),
                   &now);
  X509_set_subject_name(cert.get(), X509_REQ_get_subject_name(req.get()));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(caCert.get()));
  X509_set_pubkey(cert.get(), X509_REQ_get0_pubkey(req.get()));

  static const std::map<std::string, std::string> keyUsages = {
      {"signing", "digitalSignature"},
      {"digital signature", "digitalSignature"},
      {"content commitment", "nonRepudiation"},
      {"key encipherment", "keyEncipherment"},
      {"key agreement", "keyAgreement"},
      {"data encipherment", "dataEncipherment"},
      {"cert sign", "keyCertSign"},
      {"crl sign", "cRLSign"},
      {"encipher only", "encipherOnly"},
      {"decipher only", "decipherOnly"}};
  static const std::map<std::string, std::string> extUsages = {
      {"any", "anyExtendedKeyUsage"},
      {"server auth", "serverAuth"},
      {"client auth", "clientAuth"},
      {"code signing", "codeSigning"},
      {"email protection", "emailProtection"},
      {"s/mime", "emailProtection"},
      {"ipsec end system", "ipsecEndSystem"},
      {"ipsec tunnel", "ipsecTunnel"},
      {"ipsec user", "ipsecUser"},
      {"timestamping", "timeStamping"},
      {"ocsp signing", "OCSPSigning"},
      {"microsoft sgc", "msSGC"},
      {"netscape sgc", "nsSGC"}};
  std::string ku, eku;
  for (const auto& u : usages) {
    if (auto it = keyUsages.find(u); it != keyUsages.end()) {
      if (ku.find(it->second) == std::string::npos) ku += (ku.empty() ? "" : ",") + it->second;
    } else if (auto e = extUsages.find(u); e != extUsages.end()) {
      if (eku.find(e->second) == std::string::npos) eku += (eku.empty() ? "" : ",") + e->second;
    }
  }
  addExtension(cert.get(), caCert.get(), NID_basic_constraints, "critical,CA:FALSE");
  if (!ku.empty()) addExtension(cert.get(), caCert.get(), NID_key_usage, "critical," + ku);
  if (!eku.empty()) addExtension(cert.get(), caCert.get(), NID_ext_key_usage, eku);
  addExtension(cert.get(), caCert.get(), NID_authority_key_identifier, "keyid:always");
  ExtsPtr exts(X509_REQ_get_extensions(req.get()));
  if (exts)
    for (int i = 0; i < sk_X509_EXTENSION_num(exts.get()); ++i) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
      if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_subject_alt_name)
        X509_add_ext(cert.get(), ext, -1);
    }
  if (!X509_sign(cert.get(), caKey.get(), EVP_sha256()))
    throw std::runtime_error("csr: cannot sign certificate");
  BioPtr out(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(out.get(), cert.get());
  return bioString(out.get());
}

CertificateInfo certificateInfo(const std::string& pem) {
  CertPtr cert = certFromPem(pem);
  CertificateInfo info;
  readName(X509_get_subject_name(cert.get()), info.commonName, info.organizations);
  auto toUnix = [](const ASN1_TIME* t) {
    struct tm tm {};
    ASN1_TIME_to_tm(t, &tm);
    return static_cast<int64_t>(timegm(&tm));
  };
  info.notBefore = toUnix(X509_get0_notBefore(cert.get()));
  info.notAfter = toUnix(X509_get0_notAfter(cert.get()));
  return info;
}

bool issuedBy(const std::string& certPem, const std::string& caPem) {
  try {
    CertPtr cert = certFromPem(certPem), ca = certFromPem(caPem);
    EVP_PKEY* key = X509_get0_pubkey(ca.get());
    return key && X509_verify(cert.get(), key) == 1;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

bool certificateMatchesKey(const std::string& certPem, const std::string& keyPem) {
  try {
    CertPtr cert = certFromPem(certPem);
    KeyPtr key = keyFromPem(keyPem);
    return X509_check_private_key(cert.get(), key.get()) == 1;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

std::string caCertHash(const std::string& caPem) {
  CertPtr cert = certFromPem(caPem);
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(X509_get0_pubkey(cert.get()), &der);
  if (n <= 0) throw std::invalid_argument("cannot encode the CA's public key");
  unsigned char digest[32];
  unsigned int len = 0;
  EVP_Digest(der, static_cast<size_t>(n), digest, &len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

}  // namespace skiff
