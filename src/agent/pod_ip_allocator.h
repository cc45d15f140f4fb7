// Pod addresses out of one node's spec.podCIDR, as a kubelet's host-local IPAM does. IPv4:
// the network address and the .1 gateway are never handed out, nor the broadcast address.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace skiff::agent {

class PodIpAllocator {
 public:
  // Empty until reset() with a valid CIDR: allocate() then returns nullopt.
  PodIpAllocator() = default;
  // Forgets every allocation. False (and empty) when `cidr` is not an IPv4 CIDR or is too
  // small to hold a pod address.
  bool reset(const std::string& cidr);
  const std::string& cidr() const { return cidr_; }
  bool valid() const { return size_ > 0; }

  // The lowest free address, or nullopt when none is left.
  std::optional<std::string> allocate();
  // Marks `ip` used (adopting a pod that already has it). False when it is outside the
  // range, reserved or already taken.
  bool occupy(const std::string& ip);
  void release(const std::string& ip);
  size_t used() const { return used_; }

 private:
  std::optional<uint32_t> offsetOf(const std::string& ip) const;
  bool test(uint32_t offset) const { return (bits_[offset / 64] >> (offset % 64)) & 1; }
  void set(uint32_t offset, bool on);

  std::string cidr_;
  uint32_t base_ = 0;  // host byte order
  uint32_t size_ = 0;  // addresses in the range (0 = unusable)
  uint32_t next_ = 2;  // search hint
  size_t used_ = 0;
  std::vector<uint64_t> bits_;
};

// Parses "10.1.2.3" into host byte order.
std::optional<uint32_t> parseIpv4(const std::string& text);
std::string formatIpv4(uint32_t addr);

}  // namespace skiff::agent
