// A small cache of upstream answers, keyed by question (responder.h cacheKeyOf): an entry
// lives for the smallest TTL of its records (negative answers: the SOA's, RFC 2308), at most
// 5 minutes, and a hit is served with its TTLs counted down, as a caching resolver does.
#pragma once
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "dns/responder.h"

namespace skiff::dns {

class ForwardCache {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ForwardCache(size_t maxEntries = 10000) : max_(maxEntries) {}

  // The cached answer for `key` with the query's `id`, or nothing.
  std::optional<Wire> get(const std::string& key, uint16_t id,
                          Clock::time_point now = Clock::now());
  // Stores an upstream answer (not SERVFAIL, not truncated, not TTL 0).
  void put(const std::string& key, const Wire& answer, Clock::time_point now = Clock::now());
  size_t size() const;

 private:
  struct Entry {
    Wire wire;
    Clock::time_point stored;
    uint32_t ttl;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  size_t max_;
};

// The TTL a cache may keep an answer, or 0 when it must not be cached.
uint32_t cacheableTtl(const Wire& answer);

}  // namespace skiff::dns
