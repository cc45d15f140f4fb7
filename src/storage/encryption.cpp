#include "storage/encryption.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <boost/json.hpp>
#include <stdexcept>

#include "api/yaml_json.h"
#include "common/api_error.h"
#include "common/base64.h"
#include "storage/metered_store.h"
#include "storage/secretbox.h"

namespace skiff::storage {

namespace json = boost::json;

namespace {

constexpr std::string_view kEncPrefix = "k8s:enc:";
constexpr size_t kGcmNonce = 12, kGcmTag = 16;

[[noreturn]] void configError(const std::string& what) {
  throw std::runtime_error("encryption provider configuration: " + what);
}

const char* kindName(EncryptionProvider::Kind k) {
  switch (k) {
    case EncryptionProvider::Kind::AesGcm:
      return "aesgcm";
    case EncryptionProvider::Kind::Secretbox:
      return "secretbox";
    case EncryptionProvider::Kind::Identity:
      return "identity";
  }
  return "identity";
}

std::string valuePrefix(EncryptionProvider::Kind kind, const std::string& keyName) {
  return std::string(kEncPrefix) + kindName(kind) + ":v1:" + keyName + ":";
}

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const EVP_CIPHER* gcmFor(size_t keyBytes) {
  switch (keyBytes) {
    case 16:
      return EVP_aes_128_gcm();
    case 24:
      return EVP_aes_192_gcm();
    case 32:
      return EVP_aes_256_gcm();
  }
  throw std::runtime_error("aes-gcm: bad key length");
}

std::string gcmSeal(const std::string& key, std::string_view aad, std::string_view plain) {
  std::string out(kGcmNonce + plain.size() + kGcmTag, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(bytes, kGcmNonce) != 1) throw std::runtime_error("aes-gcm: no randomness");
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  bool ok = ctx &&
            EVP_EncryptInit_ex(ctx.get(), gcmFor(key.size()), nullptr,
                               reinterpret_cast<const unsigned char*>(key.data()), bytes) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), bytes + kGcmNonce, &len,
                              reinterpret_cast<const unsigned char*>(plain.data()),
                              static_cast<int>(plain.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), bytes + kGcmNonce + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTag,
                                bytes + kGcmNonce + plain.size()) == 1;
  if (!ok) throw std::runtime_error("aes-gcm: encryption failed");
  return out;
}

std::string gcmOpen(const std::string& key, std::string_view aad, std::string_view sealed) {
  if (sealed.size() < kGcmNonce + kGcmTag) throw std::runtime_error("aes-gcm: data too short");
  const auto* bytes = reinterpret_cast<const unsigned char*>(sealed.data());
  const size_t ctLen = sealed.size() - kGcmNonce - kGcmTag;
  std::string plain(ctLen, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  unsigned char tag[kGcmTag];
  std::copy(bytes + kGcmNonce + ctLen, bytes + sealed.size(), tag);
  bool ok = ctx &&
            EVP_DecryptInit_ex(ctx.get(), gcmFor(key.size()), nullptr,
                               reinterpret_cast<const unsigned char*>(key.data()), bytes) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len,
                              bytes + kGcmNonce, static_cast<int>(ctLen)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTag, tag) == 1;
  if (!ok) throw std::runtime_error("aes-gcm: decryption failed");
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &len) !=
      1)
    throw std::runtime_error("cipher: message authentication failed");
  return plain;
}

// "*.*", "*.", "*.apps", "secrets", "deployments.apps" against the key's resource
// ("secrets", "deployments.apps").
bool resourceMatches(const std::string& pattern, const std::string& resource) {
  if (pattern == "*.*") return true;
  auto dot = resource.find('.');
  std::string group = dot == std::string::npos ? "" : resource.substr(dot + 1);
  if (pattern.starts_with("*.")) return pattern.substr(2) == group;
  return pattern == resource;
}

const json::value& member(const json::object& o, const char* name) {
  static const json::value null;
  auto* v = o.if_contains(name);
  return v ? *v : null;
}

EncryptionProvider parseProvider(const json::object& p, size_t ruleIndex) {
  if (p.size() != 1)
    configError("resources[" + std::to_string(ruleIndex) +
                "].providers: each provider must name exactly one of aesgcm, secretbox, identity");
  const auto& [name, body] = *p.begin();
  EncryptionProvider out;
  if (name == "identity") return out;
  if (name == "aesgcm") {
    out.kind = EncryptionProvider::Kind::AesGcm;
  } else if (name == "secretbox") {
    out.kind = EncryptionProvider::Kind::Secretbox;
  } else {
    configError("unsupported provider \"" + std::string(name) +
                "\" (supported: aesgcm, secretbox, identity)");
  }
  const auto* keys = body.is_object() ? body.as_object().if_contains("keys") : nullptr;
  if (!keys || !keys->is_array() || keys->as_array().empty())
    configError(std::string(name) + ": keys: Required value");
  for (const auto& k : keys->as_array()) {
    if (!k.is_object()) configError(std::string(name) + ": keys must be objects");
    const auto& kname = member(k.as_object(), "name");
    const auto& secret = member(k.as_object(), "secret");
    if (!kname.is_string() || kname.as_string().empty())
      configError(std::string(name) + ": key name: Required value");
    if (std::string_view(kname.as_string()).find(':') != std::string_view::npos)
      configError(std::string(name) + ": key name must not contain \":\"");
    if (!secret.is_string()) configError(std::string(name) + ": key secret: Required value");
    auto raw = base64Decode(std::string_view(secret.as_string()));
    if (!raw)
      configError(std::string(name) + ": key \"" + std::string(kname.as_string()) +
                  "\": secret is not valid base64");
    bool sizeOk = out.kind == EncryptionProvider::Kind::AesGcm
                      ? (raw->size() == 16 || raw->size() == 24 || raw->size() == 32)
                      : raw->size() == 32;
    if (!sizeOk)
      configError(std::string(name) + ": key \"" + std::string(kname.as_string()) +
                  "\": secret is " + std::to_string(raw->size()) + " bytes; " +
                  (out.kind == EncryptionProvider::Kind::AesGcm ? "aesgcm needs 16, 24 or 32"
                                                                : "secretbox needs 32"));
    out.keys.push_back({std::string(kname.as_string()), std::move(*raw)});
  }
  return out;
}

}  // namespace

std::string randomKey() {
  std::string key(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), 32) != 1)
    throw std::runtime_error("no randomness for an encryption key");
  return key;
}

EncryptionConfig parseEncryptionConfig(std::string_view text) {
  json::value doc;
  try {
    doc = api::yamlToJson(text);
  } catch (const ApiError& e) {
    configError(e.what());
  }
  if (!doc.is_object()) configError("not an object");
  const auto& o = doc.as_object();
  const auto& kind = member(o, "kind");
  const auto& apiVersion = member(o, "apiVersion");
  if (!kind.is_string() || kind.as_string() != "EncryptionConfiguration")
    configError("kind must be EncryptionConfiguration");
  if (!apiVersion.is_string() || (apiVersion.as_string() != "apiserver.config.k8s.io/v1" &&
                                  apiVersion.as_string() != "apiserver.config.k8s.io/v1beta1"))
    configError("apiVersion must be apiserver.config.k8s.io/v1");
  const auto& resources = member(o, "resources");
  if (!resources.is_array()) configError("resources: Required value");
  EncryptionConfig config;
  size_t i = 0;
  for (const auto& r : resources.as_array()) {
    if (!r.is_object()) configError("resources[" + std::to_string(i) + "] must be an object");
    EncryptionRule rule;
    const auto& names = member(r.as_object(), "resources");
    const auto& providers = member(r.as_object(), "providers");
    if (!names.is_array() || names.as_array().empty())
      configError("resources[" + std::to_string(i) + "].resources: Required value");
    for (const auto& n : names.as_array()) {
      if (!n.is_string()) configError("resources[" + std::to_string(i) + "]: names are strings");
      rule.resources.emplace_back(n.as_string());
    }
    if (!providers.is_array() || providers.as_array().empty())
      configError("resources[" + std::to_string(i) + "].providers: Required value");
    for (const auto& p : providers.as_array()) {
      if (!p.is_object()) configError("resources[" + std::to_string(i) + "]: bad provider");
      rule.providers.push_back(parseProvider(p.as_object(), i));
    }
    config.rules.push_back(std::move(rule));
    ++i;
  }
  return config;
}

std::string renderEncryptionConfig(const EncryptionConfig& config) {
  std::string out =
      "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n";
  for (const auto& rule : config.rules) {
    out += "  - resources:\n";
    for (const auto& r : rule.resources) out += "      - " + r + "\n";
    out += "    providers:\n";
    for (const auto& p : rule.providers) {
      if (p.kind == EncryptionProvider::Kind::Identity) {
        out += "      - identity: {}\n";
        continue;
      }
      out += std::string("      - ") + kindName(p.kind) + ":\n          keys:\n";
      for (const auto& k : p.keys)
        out += "            - name: " + k.name +
               "\n              secret: " + base64Encode(k.secret) + "\n";
    }
  }
  return out;
}

EncryptionConfig defaultEncryptionConfig(const std::string& keyName) {
  EncryptionProvider aes;
  aes.kind = EncryptionProvider::Kind::AesGcm;
  aes.keys.push_back({keyName, randomKey()});
  EncryptionRule rule;
  rule.resources = {"secrets"};
  rule.providers = {aes, EncryptionProvider{}};
  return {{rule}};
}

bool isEncryptedValue(std::string_view stored) { return stored.starts_with(kEncPrefix); }

std::string encryptionPrefixOf(std::string_view stored) {
  if (!isEncryptedValue(stored)) return "";
  // k8s:enc:<kind>:v1:<name>:
  std::string_view rest = stored.substr(kEncPrefix.size());
  size_t colons = 0, end = 0;
  for (; end < rest.size() && colons < 3; ++end)
    if (rest[end] == ':') ++colons;
  return std::string(rest.substr(0, colons == 3 ? end - 1 : end));
}

ValueTransformer::ValueTransformer(EncryptionConfig config) : config_(std::move(config)) {
  for (const auto& rule : config_.rules) {
    bool identity = false;
    for (const auto& p : rule.providers) identity |= p.kind == EncryptionProvider::Kind::Identity;
    plainEverywhere_ &= identity;
  }
}

const EncryptionRule* ValueTransformer::ruleFor(std::string_view key) const {
  std::string resource = resourceOfKey(key);
  if (resource.empty()) return nullptr;
  for (const auto& rule : config_.rules)
    for (const auto& pattern : rule.resources)
      if (resourceMatches(pattern, resource)) return &rule;
  return nullptr;
}

bool ValueTransformer::encrypts(std::string_view key) const {
  const auto* rule = ruleFor(key);
  return rule && rule->providers.front().kind != EncryptionProvider::Kind::Identity;
}

std::string ValueTransformer::toStorage(std::string_view key, std::string_view plain) const {
  const auto* rule = ruleFor(key);
  if (!rule) return std::string(plain);
  const auto& writer = rule->providers.front();
  if (writer.kind == EncryptionProvider::Kind::Identity) return std::string(plain);
  const auto& k = writer.keys.front();
  std::string out = valuePrefix(writer.kind, k.name);
  out += writer.kind == EncryptionProvider::Kind::AesGcm ? gcmSeal(k.secret, key, plain)
                                                         : secretboxSeal(k.secret, plain);
  return out;
}

std::string ValueTransformer::fromStorage(std::string_view key, std::string_view stored) const {
  const auto* rule = ruleFor(key);
  const bool encrypted = isEncryptedValue(stored);
  if (!rule) {
    if (encrypted)
      throw std::runtime_error("no encryption provider is configured for " + resourceOfKey(key) +
                               " to read data encrypted with " + encryptionPrefixOf(stored));
    return std::string(stored);
  }
  for (const auto& p : rule->providers) {
    if (p.kind == EncryptionProvider::Kind::Identity) {
      // As upstream: identity never hands out encrypted bytes as if they were plain.
      if (!encrypted) return std::string(stored);
      continue;
    }
    for (const auto& k : p.keys) {
      std::string prefix = valuePrefix(p.kind, k.name);
      if (!stored.starts_with(prefix)) continue;
      std::string_view sealed = stored.substr(prefix.size());
      return p.kind == EncryptionProvider::Kind::AesGcm ? gcmOpen(k.secret, key, sealed)
                                                        : secretboxOpen(k.secret, sealed);
    }
  }
  if (encrypted)
    throw std::runtime_error("no matching prefix found: data is encrypted with " +
                             encryptionPrefixOf(stored) + ", which no configured key reads");
  throw std::runtime_error("identity transformer not configured: plain data of " +
                           resourceOfKey(key) +
                           " cannot be read by the configured encryption providers");
}

}  // namespace skiff::storage
