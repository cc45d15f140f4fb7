// glibc malloc settings for skiff's allocation pattern.
#pragma once

namespace skiff::cli {

// Request handling builds and drops many small JSON nodes (≈ 1,100 allocations per pod
// status patch); glibc's per-thread cache keeps only 7 freed chunks per size, the rest go
// through the arena's bins and are swept by malloc_consolidate. A cache of 256 per size
// runs the API server with 12 % fewer instructions (callgrind, bench/README.md). glibc takes
// that setting only from GLIBC_TUNABLES at process start, so this re-executes the binary
// once with it added (same pid, same arguments); the re-executed process then restores the
// caller's GLIBC_TUNABLES, so programs skiff starts (containerd, CNI plugins) get the
// environment they were given. Does nothing when the caller already set a tcache count
// (as the callgrind scripts do: valgrind does not follow an exec) or when exec fails.
// Call it after parsing the command line: the re-executed process parses it again.
void tuneMallocByReexec(char** argv);

// Few malloc arenas: threads allocate large transient buffers (list responses) that
// per-thread arenas would keep resident long after.
void limitMallocArenas();

}  // namespace skiff::cli
