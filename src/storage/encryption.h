// Encryption at rest, as upstream's API server does it: an EncryptionConfiguration
// (apiserver.config.k8s.io/v1, flag --encryption-provider-config) names, per resource, a list
// of providers. The first provider encrypts every value written; all of them are tried when
// reading, by the prefix the value carries:
//   aesgcm:    "k8s:enc:aesgcm:v1:<key name>:"    + 12-byte nonce + ciphertext + 16-byte tag
//   secretbox: "k8s:enc:secretbox:v1:<key name>:" + 24-byte nonce + tag + ciphertext
//   identity:  the plain value (so data written before encryption was turned on still reads).
// AES-GCM authenticates the storage key as additional data (as upstream), so a value copied
// under another key does not decrypt. The Store wrapper (encryptStore) is the one seam: the
// resource layer, the watch cache and every reader above it see plaintext only.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/store.h"

namespace skiff::storage {

struct EncryptionKey {
  std::string name;
  std::string secret;  // raw key bytes (base64 in the file)
};

struct EncryptionProvider {
  enum class Kind { AesGcm, Secretbox, Identity };
  Kind kind = Kind::Identity;
  std::vector<EncryptionKey> keys;  // the first key encrypts; all decrypt
};

struct EncryptionRule {
  // "secrets", "deployments.apps", "*.apps" (a group), "*." (the core group), "*.*" (all).
  std::vector<std::string> resources;
  std::vector<EncryptionProvider> providers;
};

struct EncryptionConfig {
  std::vector<EncryptionRule> rules;
};

// Parses an EncryptionConfiguration (YAML or JSON). Throws std::runtime_error naming what is
// wrong (unknown kind, bad key length, bad base64, no providers...).
EncryptionConfig parseEncryptionConfig(std::string_view text);
// The file form of `config` (YAML, keys in base64).
std::string renderEncryptionConfig(const EncryptionConfig& config);
// What skiff writes for a new data dir: Secrets encrypted with one new random AES-256 key
// named `keyName`, identity after it so plain data written earlier still reads.
EncryptionConfig defaultEncryptionConfig(const std::string& keyName);
// 32 random bytes.
std::string randomKey();

// Turns values into what is stored and back, by the configuration's rules.
class ValueTransformer {
 public:
  explicit ValueTransformer(EncryptionConfig config);
  // For a storage key ("/registry/core/secrets/ns/name"): the value to store.
  std::string toStorage(std::string_view key, std::string_view plain) const;
  // The plain value of a stored one. Throws std::runtime_error when no configured provider
  // can read it (unknown key name, wrong key, encrypted data without a provider).
  std::string fromStorage(std::string_view key, std::string_view stored) const;
  // True when values of `key`'s resource are written by a provider other than identity.
  bool encrypts(std::string_view key) const;
  // True when a rule of the configuration names `key`'s resource.
  bool covers(std::string_view key) const { return ruleFor(key) != nullptr; }
  // True when every rule lists identity: unprefixed values then read as they are without a
  // rule lookup (the common case, kept cheap for large lists).
  bool readsPlainEverywhere() const { return plainEverywhere_; }

 private:
  const EncryptionRule* ruleFor(std::string_view key) const;
  EncryptionConfig config_;
  bool plainEverywhere_ = true;
};

// A Store that writes through `transformer` and hands readers (get, range, watch events,
// failed preconditions' current values) plaintext.
StorePtr encryptStore(StorePtr inner, std::shared_ptr<const ValueTransformer> transformer);

// Whether a stored value carries an encryption prefix, and which ("aesgcm:v1:key1").
bool isEncryptedValue(std::string_view stored);
std::string encryptionPrefixOf(std::string_view stored);

}  // namespace skiff::storage
