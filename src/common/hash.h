// FNV-1a (64 bit): a stable, dependency-free hash for ids and fingerprints that must be the
// same across processes and restarts (container spec hashes, static pod UIDs, fake ids); and
// the hasher of string-keyed maps searched by views.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace skiff {

inline constexpr uint64_t kFnvOffsetBasis = 1469598103934665603ull;

// `seed` chains hashes: fnv1a(b, fnv1a(a)) hashes a then b.
inline uint64_t fnv1a(std::string_view s, uint64_t seed = kFnvOffsetBasis) {
  uint64_t h = seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// std::hash over views, for unordered maps keyed by std::string that are searched with a
// string_view (with std::equal_to<>): no key string is built per lookup.
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace skiff
