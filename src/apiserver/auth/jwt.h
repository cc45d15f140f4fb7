// JSON Web Tokens signed with ES256 (ECDSA P-256, SHA-256), the form of ServiceAccount
// tokens: header.payload.signature, each part base64url without padding (RFC 7515/7519).
// OpenSSL 3 EVP; the key never leaves this file's types.
#pragma once

#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace skiff::apiserver::auth {

std::string base64UrlEncode(std::string_view data);
// nullopt for characters outside the URL-safe alphabet (padding included) or a bad length.
std::optional<std::string> base64UrlDecode(std::string_view text);

// The parts of a compact JWS, decoded but not verified.
struct Jwt {
  boost::json::object header, claims;
  std::string signingInput;  // "header.payload" as received: what the signature covers
  std::string signature;     // raw bytes
};
// nullopt when the text is not a JWT: not three parts, bad base64url, or not JSON objects.
std::optional<Jwt> parseJwt(std::string_view token);

// An ES256 key pair (private part optional: a verifier may hold only the public key).
class Es256Key {
 public:
  static Es256Key generate();
  // PEM private key (PKCS#8 or SEC1 "EC PRIVATE KEY"); throws std::runtime_error when the
  // text is not an EC P-256 key.
  static Es256Key fromPrivatePem(const std::string& pem);
  Es256Key(Es256Key&&) noexcept;
  Es256Key& operator=(Es256Key&&) noexcept;
  ~Es256Key();

  std::string privatePem() const;
  // The key id as upstream derives it: base64url(SHA-256(DER SubjectPublicKeyInfo)).
  const std::string& keyId() const { return keyId_; }
  // The public key as a JWK (RFC 7517): use, kty, kid, crv, alg, x, y.
  boost::json::object publicJwk() const;

  // A compact JWS of `claims` with header {"alg":"ES256","kid":keyId()}.
  std::string sign(const boost::json::object& claims) const;
  // True when `jwt` carries alg ES256, no other kid than ours, and a valid signature.
  bool verify(const Jwt& jwt) const;

 private:
  struct Impl;
  explicit Es256Key(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string keyId_;
};

}  // namespace skiff::apiserver::auth
