#include "apiserver/hardening.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <stdexcept>

#include "common/log.h"
#include "common/pki.h"
#include "storage/encryption.h"

namespace skiff::apiserver {

namespace fs = std::filesystem;

namespace {

void chmodIfExists(const fs::path& p, unsigned mode) {
  if (::chmod(p.c_str(), mode) != 0 && errno != ENOENT)
    throw std::runtime_error("cannot chmod " + p.string() + ": " + std::strerror(errno));
}

}  // namespace

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

std::unique_ptr<DataDirLock> tryLockDataDir(const std::string& dataDir) {
  auto path = fs::path(dataDir) / "server.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return nullptr;
  }
  return std::make_unique<DataDirLock>(fd);
}

std::unique_ptr<DataDirLock> prepareDataDir(const std::string& dataDir) {
  fs::path dir(dataDir);
  fs::create_directories(dir);
  chmodIfExists(dir, 0700);
  auto lock = tryLockDataDir(dataDir);
  if (!lock)
    throw std::runtime_error("data dir " + dataDir +
                             " is in use by another skiff server (server.lock is held)");
  for (const char* name :
       {"kubeconfig", "state.db", "state.db-wal", "state.db-shm", "encryption-config.yaml"})
    chmodIfExists(dir / name, 0600);
  if (!fs::exists(dir / "state.db")) {
    // An empty file is an empty SQLite database; created here so its mode is ours.
    int fd = ::open((dir / "state.db").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
  }
  return lock;
}

std::string encryptionConfigPath(const ApiServerOptions& options) {
  if (!options.encryptionProviderConfig.empty()) return options.encryptionProviderConfig;
  return (fs::path(options.dataDir) / "encryption-config.yaml").string();
}

storage::StorePtr encryptAtRest(storage::StorePtr store, const ApiServerOptions& options) {
  std::string path = encryptionConfigPath(options);
  if (options.encryptionProviderConfig.empty() && !fs::exists(path)) {
    // On by default, as k3s's secrets-encrypt: existing plain Secrets keep reading through
    // the identity provider and are encrypted on their next write (or by
    // `skiff secrets-encrypt rotate`).
    auto config = storage::defaultEncryptionConfig("key-" + std::to_string(std::time(nullptr)));
    writeFileAtomic(path, storage::renderEncryptionConfig(config), 0600);
    SKIFF_LOG_INFO("encryption at rest on path={} resources=secrets provider=aesgcm", path);
  }
  auto config = storage::parseEncryptionConfig(readFile(path));
  return storage::encryptStore(std::move(store),
                               std::make_shared<storage::ValueTransformer>(std::move(config)));
}

}  // namespace skiff::apiserver
