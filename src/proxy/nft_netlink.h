// Map and set elements of table `ip skiff` sent to the kernel as nf_tables netlink messages
// (libnftnl builds them, libmnl sends them), skipping nft's text parser: at 10,000 Services
// a full sync is ~150,000 elements, and nft spends ~13 µs parsing each one; here encoding
// and the kernel's insertion cost ~1 µs. Rules and chains stay nft text (rare, few).
//
// Elements are given in the text form nft_rules.h renders ("10.43.0.16 . tcp . 80 . 3" →
// "10.42.0.7 . 8080"); each container's field layout is known here. Concatenated keys and
// data use the kernel's layout: every field padded to 4 bytes (ipv4 4 B, l4proto 1 B, port
// 2 B network order, the numgen index a 4-byte host-order integer).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "proxy/nft_rules.h"

struct mnl_socket;

namespace skiff::proxy {

// Key or data bytes of one element in `container` (exposed for unit tests); throws
// std::invalid_argument for text that does not fit the container's layout.
std::vector<uint8_t> encodeElementKey(const std::string& container, const std::string& key);
std::vector<uint8_t> encodeElementData(const std::string& container, const std::string& value);

class NftNetlink {
 public:
  NftNetlink();
  ~NftNetlink();
  NftNetlink(const NftNetlink&) = delete;
  NftNetlink& operator=(const NftNetlink&) = delete;

  // One atomic nf_tables transaction on table ip skiff: the containers in `flush` emptied,
  // then `changes` in order (deletions of absent elements fail it, as in nft). Returns ""
  // when the kernel committed it, else the error (nothing changed then).
  std::string commit(const std::vector<std::string>& flush,
                     const std::vector<ElementChange>& changes);

 private:
  ::mnl_socket* nl_ = nullptr;
  uint32_t portId_ = 0;
  uint32_t seq_ = 0;
};

}  // namespace skiff::proxy
