#include "cli/hardening_commands.h"

#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "apiserver/hardening.h"
#include "common/base64.h"
#include "common/pki.h"
#include "storage/encryption.h"

namespace skiff::cli {

namespace fs = std::filesystem;

void restrictFileCreationMask() { ::umask(077); }

void addHardeningFlags(CLI::App* cmd, apiserver::ApiServerOptions& o) {
  cmd->add_option("--encryption-provider-config", o.encryptionProviderConfig,
                  "EncryptionConfiguration file (apiserver.config.k8s.io/v1) for encryption at "
                  "rest; default: DATA_DIR/encryption-config.yaml, created on first start with "
                  "an AES-GCM key for Secrets");
  cmd->add_option("--max-requests-inflight", o.maxRequestsInflight,
                  "Read-only requests handled at once; more get 429 (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--max-mutating-requests-inflight", o.maxMutatingRequestsInflight,
                  "Mutating requests handled at once; more get 429 (0: no limit)")
      ->capture_default_str();
}

namespace {

// The admin kubeconfig with its client certificate and key replaced (the rest is kept).
std::string withAdminCredentials(const std::string& kubeconfig, const std::string& certPem,
                                 const std::string& keyPem) {
  std::istringstream in(kubeconfig);
  std::string line, out;
  while (std::getline(in, line)) {
    auto indent = line.find_first_not_of(' ');
    std::string body = indent == std::string::npos ? "" : line.substr(indent);
    std::string pad = line.substr(0, indent == std::string::npos ? 0 : indent);
    if (body.starts_with("client-certificate-data:"))
      line = pad + "client-certificate-data: " + base64Encode(certPem);
    else if (body.starts_with("client-key-data:"))
      line = pad + "client-key-data: " + base64Encode(keyPem);
    out += line + "\n";
  }
  return out;
}

int rotateCertificates(const std::string& dataDir) {
  std::string tlsDir = (fs::path(dataDir) / "tls").string();
  if (!fs::exists(fs::path(tlsDir) / "ca.key")) {
    std::cerr << "skiff certificate rotate: no CA under " << tlsDir
              << " (start the server once first)\n";
    return 1;
  }
  auto p = rotateServerCertificates(tlsDir);
  std::cout << "rotated " << p.serverCert << " (valid "
            << secondsUntilExpiry(readFile(p.serverCert)) / 86400 << " days)\nrotated "
            << p.adminCert << "\n";
  auto kubeconfig = fs::path(dataDir) / "kubeconfig";
  if (fs::exists(kubeconfig)) {
    writeFileAtomic(kubeconfig.string(),
                    withAdminCredentials(readFile(kubeconfig.string()), readFile(p.adminCert),
                                         readFile(p.adminKey)),
                    0600);
    std::cout << "updated " << kubeconfig.string() << "\n";
  }
  std::cout << "the CA is unchanged; restart the server to serve the new certificate\n";
  return 0;
}

// Every stored value of the resources `config` encrypts, with how it is stored now.
struct StoredValue {
  std::string key, prefix;  // prefix: "aesgcm:v1:NAME", "" for plain
};

std::vector<StoredValue> storedValues(storage::Store& raw, const storage::ValueTransformer& t) {
  std::vector<StoredValue> out;
  auto r = raw.range("/registry/", storage::prefixEnd("/registry/"));
  for (auto& kv : r.kvs) {
    bool relevant = t.encrypts(kv.key) || storage::isEncryptedValue(kv.value);
    if (relevant) out.push_back({kv.key, storage::encryptionPrefixOf(kv.value)});
  }
  return out;
}

storage::StorePtr openStore(const std::string& dataDir) {
  storage::SqliteOptions so;
  so.path = (fs::path(dataDir) / "state.db").string();
  so.compaction.interval = std::chrono::milliseconds(0);
  return storage::openSqliteStore(so);
}

int encryptionStatus(const apiserver::ApiServerOptions& o) {
  std::string path = apiserver::encryptionConfigPath(o);
  if (!fs::exists(path)) {
    std::cout << "Encryption Status: Disabled (no " << path
              << "; the server creates it on its next start)\n";
    return 0;
  }
  auto config = storage::parseEncryptionConfig(readFile(path));
  storage::ValueTransformer t(config);
  std::cout << "Encryption Status: Enabled\nEncryption Config: " << path << "\n";
  for (const auto& rule : config.rules) {
    std::string resources, providers;
    for (const auto& r : rule.resources) resources += (resources.empty() ? "" : ",") + r;
    for (const auto& p : rule.providers) {
      std::string desc = p.kind == storage::EncryptionProvider::Kind::AesGcm      ? "aesgcm"
                         : p.kind == storage::EncryptionProvider::Kind::Secretbox ? "secretbox"
                                                                                  : "identity";
      if (!p.keys.empty()) {
        desc += "[";
        for (size_t i = 0; i < p.keys.size(); ++i) desc += (i ? "," : "") + p.keys[i].name;
        desc += "]";
      }
      providers += (providers.empty() ? "" : " ") + desc;
    }
    std::cout << "Resources: " << resources << "  Providers: " << providers << "\n";
  }
  if (fs::exists(fs::path(o.dataDir) / "state.db")) {
    storage::StorePtr raw;
    try {
      raw = openStore(o.dataDir);
    } catch (const std::exception&) {
      // The running server holds the database: its values are counted when it is stopped.
      std::cout << "Stored values: not counted while the server runs\n";
      return 0;
    }
    std::map<std::string, int> counts;
    for (const auto& v : storedValues(*raw, t)) ++counts[v.prefix.empty() ? "plain" : v.prefix];
    std::cout << "Stored values:";
    if (counts.empty()) std::cout << " none";
    for (const auto& [prefix, n] : counts) std::cout << " " << prefix << "=" << n;
    std::cout << "\n";
  }
  return 0;
}

// k3s's `secrets-encrypt rotate` in one offline step: (1) a new key becomes the writing key,
// the old keys stay for reading (written to the config first, so a crash leaves a readable
// state); (2) every value the configuration encrypts is rewritten with the new key, directly
// in the store (the server must be stopped: the data dir's lock says so); (3) the old keys
// are dropped from the configuration.
int rotateEncryption(const apiserver::ApiServerOptions& o) {
  auto lock = apiserver::tryLockDataDir(o.dataDir);
  if (!lock) {
    std::cerr << "skiff secrets-encrypt rotate: the server is running on " << o.dataDir
              << "; stop it first (values are re-encrypted directly in the store)\n";
    return 1;
  }
  std::string path = apiserver::encryptionConfigPath(o);
  storage::EncryptionConfig config;
  if (fs::exists(path)) {
    config = storage::parseEncryptionConfig(readFile(path));
  } else {
    config = storage::defaultEncryptionConfig("unused");
    config.rules[0].providers.erase(config.rules[0].providers.begin());  // identity only
  }
  // The rule of Secrets gets the new key.
  storage::EncryptionRule* rule = nullptr;
  for (auto& r : config.rules) {
    storage::EncryptionConfig single;
    single.rules.push_back(r);
    if (storage::ValueTransformer(single).covers("/registry/core/secrets/x/y")) {
      rule = &r;
      break;
    }
  }
  if (!rule) {
    config.rules.insert(config.rules.begin(),
                        storage::EncryptionRule{{"secrets"}, {storage::EncryptionProvider{}}});
    rule = &config.rules.front();
  }
  std::string newName = "key-" + std::to_string(std::time(nullptr));
  auto& first = rule->providers.front();
  std::vector<std::string> oldNames;
  if (first.kind == storage::EncryptionProvider::Kind::Identity) {
    storage::EncryptionProvider aes;
    aes.kind = storage::EncryptionProvider::Kind::AesGcm;
    aes.keys.push_back({newName, storage::randomKey()});
    rule->providers.insert(rule->providers.begin(), aes);
  } else {
    for (const auto& k : first.keys) oldNames.push_back(k.name);
    first.keys.insert(first.keys.begin(), {newName, storage::randomKey()});
  }
  writeFileAtomic(path, storage::renderEncryptionConfig(config), 0600);

  auto transformer = std::make_shared<storage::ValueTransformer>(config);
  int rewritten = 0;
  if (fs::exists(fs::path(o.dataDir) / "state.db")) {
    auto raw = openStore(o.dataDir);
    auto values = storedValues(*raw, *transformer);
    auto store = storage::encryptStore(std::move(raw), transformer);
    for (const auto& v : values) {
      if (!transformer->encrypts(v.key)) continue;
      auto kv = store->get(v.key);  // plaintext, read with any configured key
      if (!kv) continue;
      auto r = store->update(v.key, kv->value, kv->modRevision);
      if (!r.succeeded) {
        std::cerr << "skiff secrets-encrypt rotate: " << v.key << " changed while rotating\n";
        return 1;
      }
      ++rewritten;
    }
    // Older revisions still hold values under the old keys, which are about to go: drop that
    // history (a watcher resuming from before the rotation gets 410 and relists).
    if (rewritten > 0) store->compact(store->currentRevision());
  }
  // Only the new key remains in the rotated provider; other providers (identity) stay.
  auto& rotated = rule->providers.front();
  rotated.keys.resize(1);
  writeFileAtomic(path, storage::renderEncryptionConfig(config), 0600);
  std::cout << "encryption key rotated: new key " << newName << ", " << rewritten
            << " values re-encrypted";
  if (!oldNames.empty()) {
    std::cout << ", removed key";
    for (const auto& n : oldNames) std::cout << " " << n;
  }
  std::cout << "\nconfig: " << path << "\n";
  return 0;
}

}  // namespace

Subcommand addCertificateCommand(CLI::App& app) {
  auto dataDir = std::make_shared<std::string>("/var/lib/skiff");
  auto* cmd = app.add_subcommand("certificate", "Manage the server's certificates");
  cmd->require_subcommand(1);
  auto* rotate = cmd->add_subcommand(
      "rotate",
      "Re-issue the serving and admin client certificates (new keys, one year, same CA) and "
      "the admin kubeconfig; restart the server afterwards");
  rotate->add_option("--data-dir", *dataDir, "The server's data directory")->capture_default_str();
  return {cmd, [dataDir] { return rotateCertificates(*dataDir); }};
}

Subcommand addSecretsEncryptCommand(CLI::App& app) {
  auto o = std::make_shared<apiserver::ApiServerOptions>();
  auto* cmd = app.add_subcommand("secrets-encrypt", "Encryption at rest of Secrets");
  cmd->require_subcommand(1);
  auto* status = cmd->add_subcommand(
      "status", "Show the encryption configuration and how stored values are encrypted");
  auto* rotate = cmd->add_subcommand(
      "rotate",
      "With the server stopped: add a new key, re-encrypt every Secret with it in the store, "
      "then drop the old key");
  for (auto* sub : {status, rotate}) {
    sub->add_option("--data-dir", o->dataDir, "The server's data directory")->capture_default_str();
    sub->add_option("--encryption-provider-config", o->encryptionProviderConfig,
                    "EncryptionConfiguration file (default: DATA_DIR/encryption-config.yaml)");
  }
  return {cmd, [o, status] { return *status ? encryptionStatus(*o) : rotateEncryption(*o); }};
}

}  // namespace skiff::cli
