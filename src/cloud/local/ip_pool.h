// The local provider's load-balancer address pool (--load-balancer-ip-range): addresses are
// handed to Services by key ("namespace/name"), never twice, and every change is written to
// a state file before the address is returned, so a restarted cloud controller manager keeps
// each Service's address and never hands out one already in use.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cloud/cloud_provider.h"

namespace skiff::cloud::local {

// Thrown when every address is taken (the message names the range).
class PoolExhausted : public CloudError {
 public:
  using CloudError::CloudError;
};

struct Ipv4Range {
  uint32_t first = 0, last = 0;  // host byte order, inclusive
  uint64_t size() const { return uint64_t{last} - first + 1; }
};
// "A-B" (inclusive) or a CIDR (its network and broadcast addresses left out below /31);
// throws CloudError for anything else or for more than 65536 addresses.
Ipv4Range parseIpv4Range(const std::string& text);
std::optional<uint32_t> parseIpv4(const std::string& text);
std::string formatIpv4(uint32_t ip);

class IpPool {
 public:
  // Loads `statePath` when it exists (allocations outside the range are kept, so shrinking
  // the range never re-issues an address still held; they are dropped on release).
  IpPool(const std::string& range, std::string statePath);

  // The address of `key`: the one it holds, else `requested` (spec.loadBalancerIP) when
  // given, else the lowest free one. Throws PoolExhausted, or CloudError when `requested`
  // is outside the range or held by another key. A key holding a different address than
  // `requested` moves to it (the old one is freed).
  std::string allocate(const std::string& key, const std::string& requested = "");
  // Frees the address of `key`; false when it held none.
  bool release(const std::string& key);
  std::optional<std::string> lookup(const std::string& key) const;
  std::map<std::string, std::string> allocations() const;  // key -> ip
  const std::string& rangeText() const { return rangeText_; }
  uint64_t capacity() const { return range_.size(); }

 private:
  void save() const;  // under mu_
  std::string rangeText_;
  Ipv4Range range_;
  std::string statePath_;
  mutable std::mutex mu_;
  std::map<std::string, uint32_t> byKey_;
  std::map<uint32_t, std::string> byIp_;
};

}  // namespace skiff::cloud::local
