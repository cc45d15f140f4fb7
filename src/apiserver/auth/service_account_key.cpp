#include "apiserver/auth/service_account_key.h"

#include <filesystem>

#include "common/log.h"
#include "common/pki.h"

namespace skiff::apiserver::auth {

Es256Key ensureServiceAccountKey(const std::string& tlsDir) {
  namespace fs = std::filesystem;
  const fs::path path = fs::path(tlsDir) / "service-account.key";
  if (fs::exists(path)) return Es256Key::fromPrivatePem(readFile(path.string()));
  fs::create_directories(tlsDir);
  Es256Key key = Es256Key::generate();
  writeFileAtomic(path.string(), key.privatePem(), 0600);
  SKIFF_LOG_INFO("created the ServiceAccount token signing key path={} kid={}", path.string(),
                 key.keyId());
  return key;
}

}  // namespace skiff::apiserver::auth
