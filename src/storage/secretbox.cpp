#include "storage/secretbox.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace skiff::storage {

namespace {

constexpr size_t kNonce = 24, kTag = 16;

uint32_t load32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
void store32(unsigned char* p, uint32_t v) {
  p[0] = static_cast<unsigned char>(v);
  p[1] = static_cast<unsigned char>(v >> 8);
  p[2] = static_cast<unsigned char>(v >> 16);
  p[3] = static_cast<unsigned char>(v >> 24);
}
uint32_t rotl(uint32_t v, int c) { return (v << c) | (v >> (32 - c)); }

// The Salsa20 state for `key` (32 bytes) and 16 input bytes (nonce and counter, or HSalsa20's
// 16-byte nonce part).
std::array<uint32_t, 16> initialState(const unsigned char* key, const unsigned char* in16) {
  std::array<uint32_t, 16> s{};
  s[0] = 0x61707865;  // "expand 32-byte k"
  s[5] = 0x3320646e;
  s[10] = 0x79622d32;
  s[15] = 0x6b206574;
  for (int i = 0; i < 4; ++i) {
    s[1 + i] = load32(key + 4 * i);
    s[11 + i] = load32(key + 16 + 4 * i);
    s[6 + i] = load32(in16 + 4 * i);
  }
  return s;
}

void doubleRounds(std::array<uint32_t, 16>& x) {
  auto quarter = [&x](int a, int b, int c, int d) {
    x[b] ^= rotl(x[a] + x[d], 7);
    x[c] ^= rotl(x[b] + x[a], 9);
    x[d] ^= rotl(x[c] + x[b], 13);
    x[a] ^= rotl(x[d] + x[c], 18);
  };
  for (int i = 0; i < 10; ++i) {
    quarter(0, 4, 8, 12);  // columns
    quarter(5, 9, 13, 1);
    quarter(10, 14, 2, 6);
    quarter(15, 3, 7, 11);
    quarter(0, 1, 2, 3);  // rows
    quarter(5, 6, 7, 4);
    quarter(10, 11, 8, 9);
    quarter(15, 12, 13, 14);
  }
}

// HSalsa20: the XSalsa20 subkey from the key and the nonce's first 16 bytes.
std::array<unsigned char, 32> hsalsa20(const unsigned char* key, const unsigned char* nonce16) {
  auto x = initialState(key, nonce16);
  doubleRounds(x);
  std::array<unsigned char, 32> out{};
  const int picks[8] = {0, 5, 10, 15, 6, 7, 8, 9};
  for (int i = 0; i < 8; ++i) store32(out.data() + 4 * i, x[picks[i]]);
  return out;
}

// XORs `n` bytes of the Salsa20 key stream (subkey, 8-byte nonce), starting at stream byte
// `offset`, into `data`.
void salsa20Xor(const unsigned char* subkey, const unsigned char* nonce8, uint64_t offset,
                unsigned char* data, size_t n) {
  unsigned char in16[16];
  std::memcpy(in16, nonce8, 8);
  size_t done = 0;
  while (done < n) {
    uint64_t block = (offset + done) / 64;
    size_t within = (offset + done) % 64;
    for (int i = 0; i < 8; ++i) in16[8 + i] = static_cast<unsigned char>(block >> (8 * i));
    auto s = initialState(subkey, in16);
    auto x = s;
    doubleRounds(x);
    unsigned char stream[64];
    for (int i = 0; i < 16; ++i) store32(stream + 4 * i, x[i] + s[i]);
    for (; within < 64 && done < n; ++within, ++done) data[done] ^= stream[within];
  }
}

std::array<unsigned char, kTag> poly1305(const unsigned char* key32, const unsigned char* data,
                                         size_t n) {
  std::array<unsigned char, kTag> tag{};
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "POLY1305", nullptr);
  EVP_MAC_CTX* ctx = mac ? EVP_MAC_CTX_new(mac) : nullptr;
  size_t len = 0;
  bool ok = ctx && EVP_MAC_init(ctx, key32, 32, nullptr) == 1 &&
            EVP_MAC_update(ctx, data, n) == 1 && EVP_MAC_final(ctx, tag.data(), &len, kTag) == 1;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  if (!ok || len != kTag) throw std::runtime_error("secretbox: poly1305 unavailable");
  return tag;
}

}  // namespace

std::string secretboxSealWithNonce(const std::string& key, std::string_view nonce,
                                   std::string_view plain) {
  if (key.size() != 32 || nonce.size() != kNonce)
    throw std::runtime_error("secretbox: bad key or nonce length");
  const auto* k = reinterpret_cast<const unsigned char*>(key.data());
  const auto* nb = reinterpret_cast<const unsigned char*>(nonce.data());
  auto subkey = hsalsa20(k, nb);
  unsigned char polyKey[32] = {0};
  salsa20Xor(subkey.data(), nb + 16, 0, polyKey, 32);  // the stream's first 32 bytes
  std::string out(kNonce + kTag + plain.size(), '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  std::memcpy(o, nb, kNonce);
  std::memcpy(o + kNonce + kTag, plain.data(), plain.size());
  salsa20Xor(subkey.data(), nb + 16, 32, o + kNonce + kTag, plain.size());
  auto tag = poly1305(polyKey, o + kNonce + kTag, plain.size());
  std::memcpy(o + kNonce, tag.data(), kTag);
  OPENSSL_cleanse(polyKey, sizeof polyKey);
  return out;
}

std::string secretboxSeal(const std::string& key, std::string_view plain) {
  unsigned char nonce[kNonce];
  if (RAND_bytes(nonce, kNonce) != 1) throw std::runtime_error("secretbox: no randomness");
  return secretboxSealWithNonce(key, std::string_view(reinterpret_cast<char*>(nonce), kNonce),
                                plain);
}

std::string secretboxOpen(const std::string& key, std::string_view sealed) {
  if (key.size() != 32) throw std::runtime_error("secretbox: bad key length");
  if (sealed.size() < kNonce + kTag) throw std::runtime_error("secretbox: data too short");
  const auto* k = reinterpret_cast<const unsigned char*>(key.data());
  const auto* s = reinterpret_cast<const unsigned char*>(sealed.data());
  auto subkey = hsalsa20(k, s);
  unsigned char polyKey[32] = {0};
  salsa20Xor(subkey.data(), s + 16, 0, polyKey, 32);
  const size_t n = sealed.size() - kNonce - kTag;
  auto tag = poly1305(polyKey, s + kNonce + kTag, n);
  OPENSSL_cleanse(polyKey, sizeof polyKey);
  if (CRYPTO_memcmp(tag.data(), s + kNonce, kTag) != 0)
    throw std::runtime_error("secretbox: message authentication failed");
  std::string plain(reinterpret_cast<const char*>(s + kNonce + kTag), n);
  salsa20Xor(subkey.data(), s + 16, 32, reinterpret_cast<unsigned char*>(plain.data()), n);
  return plain;
}

}  // namespace skiff::storage
