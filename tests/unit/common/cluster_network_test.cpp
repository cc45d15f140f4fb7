// `skiff cluster`'s host-side arithmetic: CIDR overlap, the choice of a free cluster subnet
// (refusing ranges the host already routes), and the interface names' length limit.
#include "cli/cluster_network.h"

#include <gtest/gtest.h>

namespace skiff::cli::cluster {
namespace {

TEST(ClusterNetwork, CidrOverlap) {
  EXPECT_TRUE(cidrsOverlap("172.31.100.0/24", "172.31.100.7"));
  EXPECT_TRUE(cidrsOverlap("172.31.0.0/16", "172.31.100.0/24"));
  EXPECT_TRUE(cidrsOverlap("172.31.100.0/24", "172.16.0.0/12"));
  EXPECT_FALSE(cidrsOverlap("172.31.100.0/24", "172.31.101.0/24"));
  EXPECT_FALSE(cidrsOverlap("10.100.0.0/16", "10.42.0.0/16"));
  EXPECT_TRUE(cidrsOverlap("10.100.0.0/16", "0.0.0.0/0"));
  // Not IPv4 CIDRs: never a collision (callers skip what they cannot read).
  EXPECT_FALSE(cidrsOverlap("fe80::/64", "172.31.100.0/24"));
  EXPECT_FALSE(cidrsOverlap("172.31.100.0/33", "172.31.100.0/24"));
  EXPECT_FALSE(cidrsOverlap("garbage", "172.31.100.0/24"));
}

TEST(ClusterNetwork, PicksTheFirstSubnetFreeOfHostRoutes) {
  EXPECT_EQ(pickSubnet({}).octet, 100);
  EXPECT_EQ(pickSubnet({"192.0.2.0/24", "172.31.100.0/24"}).octet, 101);
  // The pod range 10.X.0.0/16 must be free as well.
  EXPECT_EQ(pickSubnet({"10.100.0.0/16", "10.101.5.0/24"}).octet, 102);
  Subnet s = pickSubnet({"172.31.100.1/24"});
  EXPECT_EQ(s.cidr(), "172.31.101.0/24");
  EXPECT_EQ(s.hostIp(), "172.31.101.1");
  EXPECT_EQ(s.nodeIp(3), "172.31.101.13");
}

TEST(ClusterNetwork, RefusesWhenEverySubnetCollides) {
  try {
    pickSubnet({"172.31.0.0/16"});
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no free cluster subnet"), std::string::npos);
  }
  EXPECT_THROW(pickSubnet({"10.0.0.0/8"}), std::runtime_error);
}

TEST(ClusterNetwork, NamesFitTheInterfaceLimit) {
  // IFNAMSIZ: 15 characters. Cluster names are at most 12.
  EXPECT_LE(bridgeName("abcdefghijkl").size(), 15u);
  EXPECT_LE(hostVethName(Subnet{249}, 50).size(), 15u);
  EXPECT_EQ(bridgeName("skiff"), "sk-skiff");
  EXPECT_EQ(netnsName("skiff-node-1"), "skiff-skiff-node-1");
  EXPECT_EQ(nftTableName("skiff"), "skiff-cluster-skiff");
}

}  // namespace
}  // namespace skiff::cli::cluster
