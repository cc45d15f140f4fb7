// Encryption at rest: the providers' formats, reading with every configured key, identity
// for plain data, and the Store wrapper (readers and watchers see plaintext only).
#include "storage/encryption.h"

#include <gtest/gtest.h>

#include <boost/algorithm/hex.hpp>
#include <chrono>
#include <mutex>
#include <thread>

#include "common/base64.h"
#include "storage/secretbox.h"

namespace skiff::storage {
namespace {

const std::string kSecretKey = "/registry/core/secrets/default/db";
const std::string kConfigMapKey = "/registry/core/configmaps/default/cm";

std::string configYaml(const std::string& providers, const std::string& resources = "secrets") {
  return "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
         "  - resources: [" +
         resources + "]\n    providers:\n" + providers;
}

std::string aesProvider(const std::vector<std::pair<std::string, std::string>>& keys) {
  std::string out = "      - aesgcm:\n          keys:\n";
  for (const auto& [name, secret] : keys)
    out += "            - name: " + name + "\n              secret: " + base64Encode(secret) + "\n";
  return out;
}

const std::string kKey1(32, 'a'), kKey2(32, 'b');

TEST(Encryption, AesGcmRoundTripWithUpstreamPrefix) {
  ValueTransformer t(
      parseEncryptionConfig(configYaml(aesProvider({{"key1", kKey1}}) + "      - identity: {}\n")));
  const std::string plain = R"({"data":{"password":"aHVudGVyMg=="}})";
  std::string stored = t.toStorage(kSecretKey, plain);
  ASSERT_TRUE(stored.starts_with("k8s:enc:aesgcm:v1:key1:"));
  // prefix + 12-byte nonce + ciphertext + 16-byte tag
  EXPECT_EQ(stored.size(), std::string("k8s:enc:aesgcm:v1:key1:").size() + 12 + plain.size() + 16);
  EXPECT_EQ(stored.find("aHVudGVyMg"), std::string::npos);
  EXPECT_EQ(t.fromStorage(kSecretKey, stored), R"({"data":{"password":"aHVudGVyMg=="}})");
  // Same plaintext twice: different nonces.
  EXPECT_NE(t.toStorage(kSecretKey, "x"), t.toStorage(kSecretKey, "x"));
  EXPECT_EQ(encryptionPrefixOf(stored), "aesgcm:v1:key1");
}

TEST(Encryption, OtherResourcesStayPlain) {
  ValueTransformer t(parseEncryptionConfig(configYaml(aesProvider({{"key1", kKey1}}))));
  EXPECT_EQ(t.toStorage(kConfigMapKey, "{}"), "{}");
  EXPECT_TRUE(t.encrypts(kSecretKey));
  EXPECT_FALSE(t.encrypts(kConfigMapKey));
}

TEST(Encryption, WrongKeyIsRefused) {
  ValueTransformer writer(parseEncryptionConfig(configYaml(aesProvider({{"key1", kKey1}}))));
  ValueTransformer reader(parseEncryptionConfig(configYaml(aesProvider({{"key1", kKey2}}))));
  std::string stored = writer.toStorage(kSecretKey, "secret");
  EXPECT_THROW(reader.fromStorage(kSecretKey, stored), std::runtime_error);
  // The storage key is authenticated: a value copied under another name does not decrypt.
  EXPECT_THROW(writer.fromStorage("/registry/core/secrets/default/other", stored),
               std::runtime_error);
  // Unknown key name.
  ValueTransformer other(parseEncryptionConfig(configYaml(aesProvider({{"key9", kKey1}}))));
  EXPECT_THROW(other.fromStorage(kSecretKey, stored), std::runtime_error);
}

TEST(Encryption, IdentityReadsPlainDataButNotCiphertext) {
  ValueTransformer t(
      parseEncryptionConfig(configYaml(aesProvider({{"key1", kKey1}}) + "      - identity: {}\n")));
  EXPECT_EQ(t.fromStorage(kSecretKey, R"({"plain":true})"), R"({"plain":true})");
  ValueTransformer noIdentity(parseEncryptionConfig(configYaml(aesProvider({{"key1", kKey1}}))));
  EXPECT_THROW(noIdentity.fromStorage(kSecretKey, R"({"plain":true})"), std::runtime_error);
  // identity first: writes plain, still reads what aesgcm wrote.
  ValueTransformer identityFirst(
      parseEncryptionConfig(configYaml("      - identity: {}\n" + aesProvider({{"key1", kKey1}}))));
  EXPECT_EQ(identityFirst.toStorage(kSecretKey, "p"), "p");
  EXPECT_EQ(identityFirst.fromStorage(kSecretKey, t.toStorage(kSecretKey, "enc")), "enc");
}

TEST(Encryption, RotationReadsOldKeyWritesNew) {
  ValueTransformer old(parseEncryptionConfig(configYaml(aesProvider({{"key1", kKey1}}))));
  std::string before = old.toStorage(kSecretKey, "v1");
  ValueTransformer both(
      parseEncryptionConfig(configYaml(aesProvider({{"key2", kKey2}, {"key1", kKey1}}))));
  EXPECT_EQ(both.fromStorage(kSecretKey, before), "v1");
  std::string after = both.toStorage(kSecretKey, "v1");
  EXPECT_TRUE(after.starts_with("k8s:enc:aesgcm:v1:key2:"));
  ValueTransformer onlyNew(parseEncryptionConfig(configYaml(aesProvider({{"key2", kKey2}}))));
  EXPECT_EQ(onlyNew.fromStorage(kSecretKey, after), "v1");
  EXPECT_THROW(onlyNew.fromStorage(kSecretKey, before), std::runtime_error);
}

TEST(Encryption, SecretboxMatchesNaCl) {
  // Reference: libsodium's crypto_secretbox_easy (MAC || ciphertext) for this key and nonce.
  std::string key, nonce;
  for (int i = 0; i < 32; ++i) key.push_back(static_cast<char>(i));
  for (int i = 100; i < 124; ++i) nonce.push_back(static_cast<char>(i));
  std::string msg =
      "hello secretbox, a message longer than one block of sixty-four bytes ..........!";
  std::string expectedHex =
      "d826357c7ec829b09ca210c6452af3326adcf5a55596bd8cd38f46e055ebdb341ecb18ca81d5387ac16962f865e"
      "5aeedda4f80702e59bb8b9b7337006c7cbe0ee1ffc83861ef412b7acc356baec0be063aff291ee81266a497a13"
      "1dc6eedc3b2";
  std::string sealed = secretboxSealWithNonce(key, nonce, msg);
  EXPECT_EQ(boost::algorithm::hex_lower(sealed.substr(24)), expectedHex);
  EXPECT_EQ(secretboxOpen(key, sealed), msg);
  sealed.back() ^= 1;
  EXPECT_THROW(secretboxOpen(key, sealed), std::runtime_error);
}

TEST(Encryption, SecretboxProvider) {
  ValueTransformer t(parseEncryptionConfig(configYaml(
      "      - secretbox:\n          keys:\n            - name: sb\n              secret: " +
      base64Encode(kKey1) + "\n")));
  std::string stored = t.toStorage(kSecretKey, "boxed");
  EXPECT_TRUE(stored.starts_with("k8s:enc:secretbox:v1:sb:"));
  EXPECT_EQ(t.fromStorage(kSecretKey, stored), "boxed");
}

TEST(Encryption, ConfigErrorsAreNamed) {
  auto msg = [](const std::string& text) {
    try {
      parseEncryptionConfig(text);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg("kind: Other\n").find("kind must be EncryptionConfiguration"), std::string::npos);
  EXPECT_NE(msg(configYaml(aesProvider({{"k", "short"}}))).find("aesgcm needs 16, 24 or 32"),
            std::string::npos);
  EXPECT_NE(msg(configYaml("      - kms: {}\n")).find("unsupported provider"), std::string::npos);
  EXPECT_NE(msg(configYaml("      - aesgcm:\n          keys: []\n")).find("keys: Required value"),
            std::string::npos);
}

TEST(Encryption, WildcardsAndGroups) {
  ValueTransformer t(parseEncryptionConfig(configYaml(aesProvider({{"k", kKey1}}), "'*.apps'")));
  EXPECT_TRUE(t.encrypts("/registry/apps/deployments/ns/d"));
  EXPECT_FALSE(t.encrypts(kSecretKey));
  ValueTransformer all(parseEncryptionConfig(configYaml(aesProvider({{"k", kKey1}}), "'*.*'")));
  EXPECT_TRUE(all.encrypts(kConfigMapKey));
}

TEST(Encryption, RenderedConfigParsesBack) {
  auto config = defaultEncryptionConfig("key-1");
  auto again = parseEncryptionConfig(renderEncryptionConfig(config));
  ASSERT_EQ(again.rules.size(), 1u);
  EXPECT_EQ(again.rules[0].resources, std::vector<std::string>{"secrets"});
  ASSERT_EQ(again.rules[0].providers.size(), 2u);
  EXPECT_EQ(again.rules[0].providers[0].keys[0].secret,
            config.rules[0].providers[0].keys[0].secret);
  EXPECT_EQ(again.rules[0].providers[1].kind, EncryptionProvider::Kind::Identity);
}

TEST(EncryptedStore, StoresCiphertextAndHandsOutPlaintext) {
  auto t = std::make_shared<ValueTransformer>(
      parseEncryptionConfig(configYaml(aesProvider({{"key1", kKey1}}) + "      - identity: {}\n")));
  auto memory = openMemoryStore({std::chrono::milliseconds(0)});
  Store* raw = memory.get();
  auto store = encryptStore(std::move(memory), t);

  std::mutex mu;
  std::vector<Event> seen;
  auto watch =
      store->watch("/registry/", prefixEnd("/registry/"), 0, [&](const std::vector<Event>& events) {
        std::lock_guard<std::mutex> l(mu);
        seen.insert(seen.end(), events.begin(), events.end());
      });
  auto created = store->create(kSecretKey, "s3cret");
  ASSERT_TRUE(created.succeeded);
  EXPECT_EQ(created.kv->value, "s3cret");
  store->create(kConfigMapKey, "cm");
  EXPECT_TRUE(raw->get(kSecretKey)->value.starts_with("k8s:enc:aesgcm:v1:key1:"));
  EXPECT_EQ(raw->get(kConfigMapKey)->value, "cm");
  EXPECT_EQ(store->get(kSecretKey)->value, "s3cret");
  auto listed = store->range("/registry/", prefixEnd("/registry/"));
  ASSERT_EQ(listed.kvs.size(), 2u);
  for (const auto& kv : listed.kvs) EXPECT_FALSE(isEncryptedValue(kv.value));
  // A failed precondition shows the current value in plaintext.
  auto conflict = store->update(kSecretKey, "new", 999);
  EXPECT_FALSE(conflict.succeeded);
  EXPECT_EQ(conflict.kv->value, "s3cret");
  ASSERT_TRUE(store->update(kSecretKey, "v2", created.kv->modRevision).succeeded);
  // Plain data written before encryption still reads.
  raw->create("/registry/core/secrets/default/old", "plain-old");
  EXPECT_EQ(store->get("/registry/core/secrets/default/old")->value, "plain-old");

  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard<std::mutex> l(mu);
      if (seen.size() >= 4) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::lock_guard<std::mutex> l(mu);
  ASSERT_GE(seen.size(), 3u);
  EXPECT_EQ(seen[0].kv.value, "s3cret");
  EXPECT_EQ(seen[2].kv.value, "v2");
  ASSERT_TRUE(seen[2].prev);
  EXPECT_EQ(seen[2].prev->value, "s3cret");
}

}  // namespace
}  // namespace skiff::storage
