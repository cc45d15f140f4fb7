#include "apiserver/auth/jwt.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdexcept>

#include "common/base64.h"
#include "common/openssl_ptr.h"

namespace skiff::apiserver::auth {

namespace json = boost::json;

std::string base64UrlEncode(std::string_view data) {
  std::string out = base64Encode(data);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::optional<std::string> base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string standard;
  standard.reserve(text.size() + 3);
  for (char c : text) {
    if (c == '+' || c == '/' || c == '=') return std::nullopt;  // not the URL alphabet
    standard.push_back(c == '-' ? '+' : c == '_' ? '/' : c);
  }
  while (standard.size() % 4 != 0) standard.push_back('=');
  return base64Decode(standard);
}

std::optional<Jwt> parseJwt(std::string_view token) {
  size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
    return std::nullopt;
  auto header = base64UrlDecode(token.substr(0, first));
  auto payload = base64UrlDecode(token.substr(first + 1, second - first - 1));
  auto signature = base64UrlDecode(token.substr(second + 1));
  if (!header || !payload || !signature) return std::nullopt;
  boost::system::error_code ec;
  json::value h = json::parse(*header, ec);
  if (ec || !h.is_object()) return std::nullopt;
  json::value c = json::parse(*payload, ec);
  if (ec || !c.is_object()) return std::nullopt;
  return Jwt{std::move(h.as_object()), std::move(c.as_object()),
             std::string(token.substr(0, second)), std::move(*signature)};
}

namespace {

using ossl::BioPtr;
using ossl::BnPtr;
using ossl::KeyPtr;
using ossl::MdCtxPtr;
using SigPtr = std::unique_ptr<ECDSA_SIG, ossl::Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

constexpr int kCoordinateBytes = 32;  // P-256

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("ES256 key: " + what); }

std::string coordinate(EVP_PKEY* key, const char* param) {
  BIGNUM* raw = nullptr;
  if (!EVP_PKEY_get_bn_param(key, param, &raw)) fail("cannot read the public point");
  BnPtr bn(raw);
  std::string out(kCoordinateBytes, '\0');
  BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), kCoordinateBytes);
  return out;
}

}  // namespace

struct Es256Key::Impl {
  KeyPtr key;
};

Es256Key::Es256Key(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(impl_->key.get(), &der);
  if (len <= 0) fail("cannot encode the public key");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digestLen = 0;
  bool ok = EVP_Digest(der, len, digest, &digestLen, EVP_sha256(), nullptr) == 1;
  OPENSSL_free(der);
  if (!ok) fail("cannot hash the public key");
  keyId_ = base64UrlEncode(std::string_view(reinterpret_cast<char*>(digest), digestLen));
}

Es256Key::Es256Key(Es256Key&&) noexcept = default;
Es256Key& Es256Key::operator=(Es256Key&&) noexcept = default;
Es256Key::~Es256Key() = default;

Es256Key Es256Key::generate() {
  auto impl = std::make_unique<Impl>();
  impl->key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!impl->key) fail("cannot generate");
  return Es256Key(std::move(impl));
}

Es256Key Es256Key::fromPrivatePem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  auto impl = std::make_unique<Impl>();
  impl->key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!impl->key) fail("not a PEM private key");
  char group[64] = {0};
  size_t groupLen = 0;
  if (EVP_PKEY_get_base_id(impl->key.get()) != EVP_PKEY_EC ||
      !EVP_PKEY_get_utf8_string_param(impl->key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group,
                                      sizeof group, &groupLen) ||
      std::string(group) != "prime256v1")
    fail("not an EC P-256 key");
  return Es256Key(std::move(impl));
}

std::string Es256Key::privatePem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), impl_->key.get(), nullptr, nullptr, 0, nullptr, nullptr))
    fail("cannot encode");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

json::object Es256Key::publicJwk() const {
  return json::object{
      {"use", "sig"},
      {"kty", "EC"},
      {"kid", keyId_},
      {"crv", "P-256"},
      {"alg", "ES256"},
      {"x", base64UrlEncode(coordinate(impl_->key.get(), OSSL_PKEY_PARAM_EC_PUB_X))},
      {"y", base64UrlEncode(coordinate(impl_->key.get(), OSSL_PKEY_PARAM_EC_PUB_Y))}};
}

std::string Es256Key::sign(const json::object& claims) const {
  std::string input =
      base64UrlEncode(json::serialize(json::object{{"alg", "ES256"}, {"kid", keyId_}})) + "." +
      base64UrlEncode(json::serialize(claims));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t derLen = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &derLen,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    fail("cannot sign");
  std::string der(derLen, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &derLen,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    fail("cannot sign");
  // JWS wants r||s, fixed width, where OpenSSL writes a DER ECDSA-Sig-Value.
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  SigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(derLen)));
  if (!sig) fail("cannot decode the signature");
  std::string raw(2 * kCoordinateBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, kCoordinateBytes);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + kCoordinateBytes, kCoordinateBytes);
  return input + "." + base64UrlEncode(raw);
}

bool Es256Key::verify(const Jwt& jwt) const {
  const json::value* alg = jwt.header.if_contains("alg");
  if (!alg || !alg->is_string() || alg->as_string() != "ES256") return false;
  if (const json::value* kid = jwt.header.if_contains("kid"))
    if (!kid->is_string() || kid->as_string() != keyId_) return false;
  if (jwt.signature.size() != 2 * kCoordinateBytes) return false;
  const auto* raw = reinterpret_cast<const unsigned char*>(jwt.signature.data());
  SigPtr sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(raw, kCoordinateBytes, nullptr);
  BIGNUM* s = BN_bin2bn(raw + kCoordinateBytes, kCoordinateBytes, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  unsigned char* der = nullptr;
  int derLen = i2d_ECDSA_SIG(sig.get(), &der);
  if (derLen <= 0) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok =
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->key.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(derLen),
                       reinterpret_cast<const unsigned char*>(jwt.signingInput.data()),
                       jwt.signingInput.size()) == 1;
  OPENSSL_free(der);
  return ok;
}

}  // namespace skiff::apiserver::auth
