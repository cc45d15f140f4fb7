// The key that signs ServiceAccount tokens: DATA_DIR/tls/service-account.key (ES256, mode
// 0600), generated on first start and reused afterwards, so tokens survive restarts.
#pragma once

#include <string>

#include "apiserver/auth/jwt.h"

namespace skiff::apiserver::auth {

Es256Key ensureServiceAccountKey(const std::string& tlsDir);

}  // namespace skiff::apiserver::auth
