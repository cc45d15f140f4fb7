// The audit log's file options (--audit-log-*), apart from audit.h so that api_server.h stays
// light.
#pragma once

#include <string>

namespace skiff::apiserver {

struct AuditLogOptions {
  std::string path;    // "-": stdout; empty: no audit log
  int maxSizeMb = 0;   // rotate past this size; 0: lumberjack's default, 100 MB
  int maxBackups = 0;  // backups kept; 0: all (subject to maxAge)
  int maxAgeDays = 0;  // backups older than this are removed; 0: kept
};

}  // namespace skiff::apiserver
