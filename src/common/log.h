// Logging: spdlog, one line per event, key=value fields. Use the SKIFF_LOG_* macros so the
// format string is checked at compile time.
#pragma once
#include <spdlog/spdlog.h>

#define SKIFF_LOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define SKIFF_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define SKIFF_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define SKIFF_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)

namespace skiff {
// Sets up the process-wide logger: level name ("debug", "info", ...), lines to stderr.
void initLogging(const std::string& level);
}  // namespace skiff
