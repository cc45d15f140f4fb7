// The byte layout of map elements sent over netlink: what `nft --debug=netlink list` shows
// for the same elements written as text (checked on nft 1.0.6 / kernel 6.18).
#include "proxy/nft_netlink.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace skiff::proxy {
namespace {

using Bytes = std::vector<uint8_t>;

TEST(NftNetlink, ConcatenatedKeysPadEveryFieldToFourBytes) {
  // 10.43.0.16 . tcp . 80 . 3: address in network order, protocol byte, port in network
  // order, the numgen index as a host-order 32-bit integer.
  uint32_t three = 3;
  Bytes index(reinterpret_cast<uint8_t*>(&three), reinterpret_cast<uint8_t*>(&three) + 4);
  Bytes expected{10, 43, 0, 16, 6, 0, 0, 0, 0, 80, 0, 0};
  expected.insert(expected.end(), index.begin(), index.end());
  EXPECT_EQ(encodeElementKey("service-endpoints-tcp", "10.43.0.16 . tcp . 80 . 3"), expected);
  EXPECT_EQ(encodeElementData("service-endpoints-tcp", "10.42.0.7 . 8080"),
            (Bytes{10, 42, 0, 7, 0x1f, 0x90, 0, 0}));
  EXPECT_EQ(encodeElementKey("service-nodeports", "udp . 30053"),
            (Bytes{17, 0, 0, 0, 0x75, 0x65, 0, 0}));
  EXPECT_EQ(encodeElementKey("hairpin", "10.42.0.5 . 10.42.0.5"),
            (Bytes{10, 42, 0, 5, 10, 42, 0, 5}));
  EXPECT_EQ(encodeElementKey("cluster-ips", "10.43.0.1"), (Bytes{10, 43, 0, 1}));
}

TEST(NftNetlink, TextThatDoesNotFitTheLayoutIsRefused) {
  EXPECT_THROW(encodeElementKey("service-ips", "10.43.0.1 . tcp"), std::invalid_argument);
  EXPECT_THROW(encodeElementKey("service-ips", "10.43.0.1 . icmp . 80"), std::invalid_argument);
  EXPECT_THROW(encodeElementKey("service-ips", "10.43.0.1 . tcp . 70000"), std::invalid_argument);
  EXPECT_THROW(encodeElementKey("unknown-map", "10.43.0.1"), std::invalid_argument);
  EXPECT_THROW(encodeElementData("service-ips", "10.42.0.1 . 80"), std::invalid_argument);
}

}  // namespace
}  // namespace skiff::proxy
