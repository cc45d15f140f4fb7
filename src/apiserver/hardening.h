// What the API server does at start to protect its data (docs/architecture.md, Hardening):
// DATA_DIR is 0700 and locked against a second server, the database and secrets files are
// 0600, and the Store encrypts what the EncryptionConfiguration says.
#pragma once

#include <memory>
#include <string>

#include "apiserver/api_server.h"
#include "storage/store.h"

namespace skiff::apiserver {

// Holds DATA_DIR's lock (DATA_DIR/server.lock, flock) while alive.
class DataDirLock {
 public:
  explicit DataDirLock(int fd) : fd_(fd) {}
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  int fd_;
};

// Creates DATA_DIR (0700, also when it existed), takes its lock (throws when another process
// holds it: one server per data dir), fixes the modes of the files skiff keeps there
// (kubeconfig, state.db and its -wal/-shm, encryption-config.yaml: 0600) and creates an empty
// state.db as 0600 so SQLite's -wal/-shm (which copy its mode) are 0600 too.
std::unique_ptr<DataDirLock> prepareDataDir(const std::string& dataDir);
// The lock alone, without waiting: nullptr when a server holds it (offline commands).
std::unique_ptr<DataDirLock> tryLockDataDir(const std::string& dataDir);

// The EncryptionConfiguration in force: --encryption-provider-config, or
// DATA_DIR/encryption-config.yaml (written with a new AES-GCM key for Secrets when missing).
std::string encryptionConfigPath(const ApiServerOptions& options);
// `store` wrapped to encrypt at rest by that configuration.
storage::StorePtr encryptAtRest(storage::StorePtr store, const ApiServerOptions& options);

}  // namespace skiff::apiserver
