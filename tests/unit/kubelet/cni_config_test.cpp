// The node's CNI conflist from spec.podCIDR: content, idempotent writes, CIDR validation.
#include "kubelet/cni_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace skiff::kubelet {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path freshDir() {
  static std::atomic<int> n{0};
  auto d = fs::temp_directory_path() /
           ("skiff-cni-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
  fs::remove_all(d);
  return d;
}

TEST(CniConfig, RendersABridgeWithHostLocalIpamAndPortmap) {
  auto text = renderCniConfig(CniNetwork{.podCidr = "10.42.3.0/24"});
  auto conf = json::parse(text).as_object();
  EXPECT_EQ(conf.at("cniVersion"), "0.4.0");
  EXPECT_EQ(conf.at("name"), "skiff-pod-network");
  auto& plugins = conf.at("plugins").as_array();
  ASSERT_EQ(plugins.size(), 2u);
  auto& bridge = plugins[0].as_object();
  EXPECT_EQ(bridge.at("type"), "bridge");
  EXPECT_EQ(bridge.at("bridge"), "skiff0");
  EXPECT_EQ(bridge.at("isGateway"), true);
  EXPECT_EQ(bridge.at("hairpinMode"), true);
  EXPECT_EQ(bridge.at("mtu"), 1500);
  auto& ipam = bridge.at("ipam").as_object();
  EXPECT_EQ(ipam.at("type"), "host-local");
  EXPECT_EQ(ipam.at("ranges").at(0).at(0).at("subnet"), "10.42.3.0/24");
  EXPECT_EQ(ipam.at("routes").at(0).at("dst"), "0.0.0.0/0");
  auto& portmap = plugins[1].as_object();
  EXPECT_EQ(portmap.at("type"), "portmap");
  EXPECT_EQ(portmap.at("capabilities").at("portMappings"), true);
  EXPECT_EQ(text.back(), '\n');
}

TEST(CniConfig, IpamFolderOnlyWhenGiven) {
  // Nodes sharing a machine (skiff cluster) keep their IP allocations apart.
  auto plain = json::parse(renderCniConfig(CniNetwork{.podCidr = "10.42.3.0/24"})).as_object();
  EXPECT_FALSE(plain.at("plugins").at(0).at("ipam").as_object().contains("dataDir"));
  auto own = json::parse(renderCniConfig(CniNetwork{.podCidr = "10.42.3.0/24",
                                                    .ipamDataDir = "/d/node-1/cni/networks"}))
                 .as_object();
  EXPECT_EQ(own.at("plugins").at(0).at("ipam").at("dataDir"), "/d/node-1/cni/networks");
}

TEST(CniConfig, MasqueradeRefusesAnInvalidClusterRange) {
  // Checked before nft runs: nothing is installed for bad input.
  EXPECT_FALSE(ensurePodMasquerade("10.42.3.0/24", "10.42.0.0/99"));
  EXPECT_FALSE(ensurePodMasquerade("10.42.3.0/24", "not-a-cidr"));
}

TEST(CniConfig, RenderingIsStableAndFollowsTheNetwork) {
  CniNetwork n{.podCidr = "10.42.0.0/24", .bridge = "br-test", .name = "testnet", .mtu = 1450};
  EXPECT_EQ(renderCniConfig(n), renderCniConfig(n));
  auto conf = json::parse(renderCniConfig(n)).as_object();
  EXPECT_EQ(conf.at("name"), "testnet");
  EXPECT_EQ(conf.at("plugins").at(0).at("bridge"), "br-test");
  EXPECT_EQ(conf.at("plugins").at(0).at("mtu"), 1450);
  EXPECT_NE(renderCniConfig(CniNetwork{.podCidr = "10.42.1.0/24"}),
            renderCniConfig(CniNetwork{.podCidr = "10.42.2.0/24"}));
}

TEST(CniConfig, WritesOnceAndReportsUnchangedAfterwards) {
  auto dir = freshDir();
  CniNetwork n{.podCidr = "10.42.7.0/24"};
  EXPECT_TRUE(writeCniConfig(dir.string(), n));  // creates the directory too
  auto path = dir / "10-skiff.conflist";
  ASSERT_TRUE(fs::exists(path));
  EXPECT_EQ(readFile(path), renderCniConfig(n));
  auto mtime = fs::last_write_time(path);
  EXPECT_FALSE(writeCniConfig(dir.string(), n));
  EXPECT_EQ(fs::last_write_time(path), mtime);
  // A new CIDR rewrites it.
  CniNetwork other{.podCidr = "10.42.8.0/24"};
  EXPECT_TRUE(writeCniConfig(dir.string(), other));
  EXPECT_EQ(readFile(path), renderCniConfig(other));
  // A file changed by hand is put back.
  std::ofstream(path) << "{}";
  EXPECT_TRUE(writeCniConfig(dir.string(), other));
  EXPECT_EQ(readFile(path), renderCniConfig(other));
  fs::remove_all(dir);
}

TEST(CniConfig, ValidPodCidrAcceptsUsableIpv4Ranges) {
  for (auto* ok : {"10.42.0.0/24", "10.0.0.0/8", "192.168.4.0/30", "10.244.0.0/16"})
    EXPECT_TRUE(validPodCidr(ok)) << ok;
}

TEST(CniConfig, ValidPodCidrRejectsTheRest) {
  for (auto* bad : {"", "10.42.0.0", "10.42.0.0/", "10.42.0.0/31", "10.42.0.0/32", "10.0.0.0/7",
                    "10.42.0.0/24x", "10.42.0/24", "300.1.1.1/24", "fd00::/64", "garbage", "/24",
                    "10.42.0.0/-1"})
    EXPECT_FALSE(validPodCidr(bad)) << bad;
}

TEST(CniConfig, ValidPodCidrRejectsSignsAndSpacesInThePrefix) {
  // Go's net.ParseCIDR (what upstream validates with) accepts only decimal digits after '/'.
  bool plus = validPodCidr("10.42.0.0/+24"), space = validPodCidr("10.42.0.0/ 24");
  EXPECT_FALSE(plus);
  EXPECT_FALSE(space);
}

}  // namespace
}  // namespace skiff::kubelet
