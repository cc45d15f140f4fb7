// NaCl secretbox (XSalsa20-Poly1305), the cipher of upstream's "secretbox" encryption
// provider. OpenSSL has Poly1305 but no (X)Salsa20, so the stream cipher is here.
// Sealed form, as Go's x/crypto/nacl/secretbox: 24-byte nonce, then 16-byte tag, then
// ciphertext (the nonce is written by secretboxSeal and read back by secretboxOpen).
#pragma once

#include <string>
#include <string_view>

namespace skiff::storage {

// `key` is 32 bytes; a fresh random nonce is used. Returns nonce + tag + ciphertext.
std::string secretboxSeal(const std::string& key, std::string_view plain);
// Throws std::runtime_error when the data is short or fails authentication.
std::string secretboxOpen(const std::string& key, std::string_view sealed);
// The same with a given 24-byte nonce (tests).
std::string secretboxSealWithNonce(const std::string& key, std::string_view nonce,
                                   std::string_view plain);

}  // namespace skiff::storage
