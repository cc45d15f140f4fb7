// malloc settings for skiff's allocation pattern: jemalloc's (the default build) or glibc's.
#pragma once

namespace skiff::cli {

// Request handling builds and drops many small JSON nodes (≈ 1,100 allocations per pod
// status patch), which per-thread caches serve best. jemalloc: every process starts without
// them (malloc_conf, for a kubelet's footprint) and this turns them on (MALLOC_CONF
// "tcache:true"). glibc: its cache keeps only 7 freed chunks per size, the rest go through
// the arena's bins; 256 per size ran the API server with 12 % fewer instructions (callgrind,
// bench/README.md). Both allocators take the setting only from the environment at process
// start, so this re-executes the binary once with it added (same pid, same arguments); the
// re-executed process then restores the caller's variable, so programs skiff starts
// (containerd, CNI plugins) get the environment they were given. Does nothing when the
// caller already chose a tcache setting in either allocator's variable (as the callgrind
// scripts do with GLIBC_TUNABLES: valgrind does not follow an exec) or when exec fails. Call it
// after parsing the command line: the re-executed process parses it again.
void tuneMallocByReexec(char** argv);

// Few malloc arenas: threads allocate large transient buffers (list responses) that
// per-thread arenas would keep resident long after. (jemalloc: malloc_conf sets two.)
void limitMallocArenas();

}  // namespace skiff::cli
