#include "cli/malloc_tuning.h"

#include <malloc.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>
#include <string_view>

namespace skiff::cli {
namespace {

// Where the allocator takes its thread-cache setting from at process start.
struct CacheTuning {
  const char* variable;        // read by the allocator before main
  const char* callerVariable;  // set only between our exec and the restore: the caller's
                               // value, "" when it had none
  const char* setting;         // present in `variable`: the caller chose already
  const char* value;           // what we add
  const char* separator;       // between entries of `variable`
};
#ifdef SKIFF_JEMALLOC
constexpr CacheTuning kTuning{"MALLOC_CONF", "SKIFF_CALLER_MALLOC_CONF", "tcache", "tcache:true",
                              ","};
#else
constexpr CacheTuning kTuning{"GLIBC_TUNABLES", "SKIFF_CALLER_GLIBC_TUNABLES",
                              "glibc.malloc.tcache_count", "glibc.malloc.tcache_count=256", ":"};
#endif

void restoreTunables(const char* caller) {
  if (caller && *caller)
    setenv(kTuning.variable, caller, 1);
  else
    unsetenv(kTuning.variable);
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
  if (const char* caller = std::getenv(kTuning.callerVariable)) {
    std::string value = caller;  // copy: unsetenv frees what getenv returned
    unsetenv(kTuning.callerVariable);
    restoreTunables(value.c_str());
    return;
  }
  const char* current = std::getenv(kTuning.variable);
  std::string caller = current ? current : "";
  if (caller.find(kTuning.setting) != std::string::npos) return;
  // A caller that tuned glibc's cache (the valgrind scripts) runs a profile: no exec either.
  const char* glibc = std::getenv("GLIBC_TUNABLES");
  if (glibc && std::string_view(glibc).find("glibc.malloc.tcache_count") != std::string::npos)
    return;
  setenv(kTuning.callerVariable, caller.c_str(), 1);
  setenv(kTuning.variable,
         caller.empty() ? kTuning.value : (caller + kTuning.separator + kTuning.value).c_str(), 1);
  execv(selfPath().c_str(), argv);
  // exec refused: run untuned with the environment as it was.
  unsetenv(kTuning.callerVariable);
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
