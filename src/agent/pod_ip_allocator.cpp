#include "agent/pod_ip_allocator.h"

#include <arpa/inet.h>

namespace skiff::agent {

std::optional<uint32_t> parseIpv4(const std::string& text) {
  in_addr addr{};
  if (inet_pton(AF_INET, text.c_str(), &addr) != 1) return std::nullopt;
  return ntohl(addr.s_addr);
}

std::string formatIpv4(uint32_t value) {
  in_addr addr{htonl(value)};
  char buf[INET_ADDRSTRLEN] = {0};
  inet_ntop(AF_INET, &addr, buf, sizeof buf);
  return buf;
}

bool PodIpAllocator::reset(const std::string& cidr) {
  cidr_.clear();
  size_ = 0;
  used_ = 0;
  next_ = 2;
  bits_.clear();
  auto slash = cidr.find('/');
  if (slash == std::string::npos) return false;
  auto base = parseIpv4(cidr.substr(0, slash));
  int prefix = -1;
  try {
    size_t used = 0;
    prefix = std::stoi(cidr.substr(slash + 1), &used);
    if (used != cidr.size() - slash - 1) return false;
  } catch (const std::exception&) {
    return false;
  }
  // Below /16 the bitmap would be large for no use (a node never runs 65k pods); above /30
  // nothing is left after the reserved addresses.
  if (!base || prefix < 16 || prefix > 30) return false;
  uint32_t mask = ~uint32_t{0} << (32 - prefix);
  cidr_ = cidr;
  base_ = *base & mask;
  size_ = uint32_t{1} << (32 - prefix);
  bits_.assign((size_ + 63) / 64, 0);
  return true;
}

std::optional<uint32_t> PodIpAllocator::offsetOf(const std::string& ip) const {
  auto addr = parseIpv4(ip);
  if (!addr || size_ == 0 || *addr < base_ || *addr - base_ >= size_) return std::nullopt;
  return *addr - base_;
}

void PodIpAllocator::set(uint32_t offset, bool on) {
  uint64_t bit = uint64_t{1} << (offset % 64);
  if (on)
    bits_[offset / 64] |= bit;
  else
    bits_[offset / 64] &= ~bit;
}

std::optional<std::string> PodIpAllocator::allocate() {
  if (size_ == 0) return std::nullopt;
  // Usable offsets: 2 .. size-2 (network, gateway and broadcast excluded).
  uint32_t usable = size_ - 3;
  for (uint32_t n = 0; n < usable; ++n) {
    uint32_t offset = 2 + (next_ - 2 + n) % usable;
    if (!test(offset)) {
      set(offset, true);
      ++used_;
      // Continue after it next time, so a released address is not reused at once (the
      // old pod's endpoints may still point at it for a moment).
      next_ = offset + 1 < size_ - 1 ? offset + 1 : 2;
      return formatIpv4(base_ + offset);
    }
  }
  return std::nullopt;
}

bool PodIpAllocator::occupy(const std::string& ip) {
  auto offset = offsetOf(ip);
  if (!offset || *offset < 2 || *offset >= size_ - 1 || test(*offset)) return false;
  set(*offset, true);
  ++used_;
  return true;
}

void PodIpAllocator::release(const std::string& ip) {
  auto offset = offsetOf(ip);
  if (!offset || *offset < 2 || *offset >= size_ - 1 || !test(*offset)) return;
  set(*offset, false);
  --used_;
}

}  // namespace skiff::agent
