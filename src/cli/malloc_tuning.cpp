#include "cli/malloc_tuning.h"

#include <malloc.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>
#include <string_view>

namespace skiff::cli {
namespace {

#ifdef SKIFF_JEMALLOC
// jemalloc reads its options from MALLOC_CONF when the process starts (before main).
constexpr const char* kTunables = "MALLOC_CONF";
constexpr const char* kCallerTunables = "SKIFF_CALLER_MALLOC_CONF";
constexpr const char* kTcacheSetting = "tcache";
constexpr const char* kTcacheCount = "tcache:true";
constexpr const char* kSeparator = ",";
#else
constexpr const char* kTunables = "GLIBC_TUNABLES";
// Set only between our exec and the restore: the caller's value, "" when it had none.
constexpr const char* kCallerTunables = "SKIFF_CALLER_GLIBC_TUNABLES";
constexpr const char* kTcacheSetting = "glibc.malloc.tcache_count";
constexpr const char* kTcacheCount = "glibc.malloc.tcache_count=256";
constexpr const char* kSeparator = ":";
#endif

void restoreTunables(const char* caller) {
  if (caller && *caller)
    setenv(kTunables, caller, 1);
  else
    unsetenv(kTunables);
}

// The binary's own path, so the process keeps its name ("skiff", not "exe"); /proc/self/exe
// itself when the file was replaced or removed since it started.
std::string selfPath() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "/proc/self/exe";
  std::string path(buf, static_cast<size_t>(n));
  if (path.ends_with(" (deleted)") || access(path.c_str(), X_OK) != 0) return "/proc/self/exe";
  return path;
}

}  // namespace

void tuneMallocByReexec(char** argv) {
  if (const char* caller = std::getenv(kCallerTunables)) {
    std::string value = caller;  // copy: unsetenv frees what getenv returned
    unsetenv(kCallerTunables);
    restoreTunables(value.c_str());
    return;
  }
  const char* current = std::getenv(kTunables);
  std::string caller = current ? current : "";
  if (caller.find(kTcacheSetting) != std::string::npos) return;
  // A caller that tuned glibc's cache (the valgrind scripts) runs a profile: no exec either.
  const char* glibc = std::getenv("GLIBC_TUNABLES");
  if (glibc && std::string_view(glibc).find("glibc.malloc.tcache_count") != std::string::npos)
    return;
  setenv(kCallerTunables, caller.c_str(), 1);
  setenv(kTunables, caller.empty() ? kTcacheCount : (caller + kSeparator + kTcacheCount).c_str(),
         1);
  execv(selfPath().c_str(), argv);
  // exec refused: run untuned with the environment as it was.
  unsetenv(kCallerTunables);
  restoreTunables(current ? caller.c_str() : nullptr);
}

#ifdef SKIFF_JEMALLOC
void limitMallocArenas() {}  // malloc_conf's narenas
#else
void limitMallocArenas() { mallopt(M_ARENA_MAX, 2); }
#endif

}  // namespace skiff::cli

#ifdef SKIFF_JEMALLOC
// jemalloc reads this before main: what every skiff process starts with. Two arenas (one per
// core here) and no per-thread caches: the smallest footprint, for a node's kubelet and
// proxy; control-plane processes re-execute with the caches on (tuneMallocByReexec).
// Unused pages go back to the kernel after 10 s (jemalloc's default decay).
extern "C" {
// NOLINTNEXTLINE: the name and type jemalloc looks for
const char* malloc_conf = "narenas:2,tcache:false";
}
#endif
