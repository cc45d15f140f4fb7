// Node IPAM: pod ranges for Nodes. Nodes are cluster-scoped on a shared server, so every
// test uses its own names and cluster range, and deletes its nodes.
#include <atomic>
#include <set>

#include "unit/controller/test_env.h"

namespace skiff::controller::testing {
namespace {

std::string uniqueNodeName(const std::string& prefix) {
  static std::atomic<int> n{0};
  return "ipam-" + prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

void createNode(client::RestClient& c, const std::string& name, const std::string& podCidr = "") {
  boost::json::object spec;
  if (!podCidr.empty()) {
    spec["podCIDR"] = podCidr;
    spec["podCIDRs"] = boost::json::array{boost::json::value(podCidr)};
  }
  c.create(client::resources::nodes, "",
           boost::json::object{{"apiVersion", "v1"},
                               {"kind", "Node"},
                               {"metadata", boost::json::object{{"name", name}}},
                               {"spec", spec}});
}

std::string podCidrOf(client::RestClient& c, const std::string& name) {
  try {
    return stringAt(c.get(client::resources::nodes, "", name), {"spec", "podCIDR"});
  } catch (const ApiError&) {
    return "";
  }
}

struct NodeCleanup {
  client::RestClient& c;
  std::vector<std::string> names;
  ~NodeCleanup() {
    for (auto& n : names) {
      try {
        c.remove(client::resources::nodes, "", n);
      } catch (const std::exception&) {
      }
    }
  }
};

}  // namespace

TEST(NodeIpamController, AllocatesDistinctRangesWithinClusterCidr) {
  ControllerEnv env({"nodeipam"}, [](ControllerOptions& o) {
    o.clusterCidr = "10.150.0.0/16";
    o.nodeCidrMaskSize = 24;
  });
  NodeCleanup cleanup{env.c(), {uniqueNodeName("a"), uniqueNodeName("b"), uniqueNodeName("c")}};
  for (auto& n : cleanup.names) createNode(env.c(), n);
  std::set<std::string> seen;
  for (auto& n : cleanup.names) {
    ASSERT_TRUE(eventually([&] { return !podCidrOf(env.c(), n).empty(); })) << n;
    auto node = env.c().get(client::resources::nodes, "", n);
    auto cidr = stringAt(node, {"spec", "podCIDR"});
    EXPECT_TRUE(cidr.starts_with("10.150.")) << cidr;
    EXPECT_TRUE(cidr.ends_with(".0/24")) << cidr;
    auto* cidrs = arrayAt(node, {"spec", "podCIDRs"});
    ASSERT_TRUE(cidrs && cidrs->size() == 1);
    EXPECT_EQ(cidrs->at(0).as_string(), cidr);
    EXPECT_TRUE(seen.insert(cidr).second) << "range handed out twice: " << cidr;
  }
}

TEST(NodeIpamController, MarksExistingRangesOnStartupAndReportsExhaustion) {
  // 10.151.0.0/23 in /24 slices: exactly two. Both are taken before the controller starts.
  auto c = newClient();
  NodeCleanup cleanup{*c, {uniqueNodeName("old0"), uniqueNodeName("old1"), uniqueNodeName("new")}};
  createNode(*c, cleanup.names[0], "10.151.0.0/24");
  createNode(*c, cleanup.names[1], "10.151.1.0/24");
  ControllerEnv env({"nodeipam"}, [](ControllerOptions& o) {
    o.clusterCidr = "10.151.0.0/23";
    o.nodeCidrMaskSize = 24;
  });
  createNode(env.c(), cleanup.names[2]);
  auto hasEvent = [&] {
    for (auto& e : listItems(env.c(), client::resources::events, "default")) {
      auto& o = e.as_object();
      if (stringAt(o, {"reason"}) == "CIDRNotAvailable" &&
          stringAt(o, {"involvedObject", "name"}) == cleanup.names[2])
        return true;
    }
    return false;
  };
  ASSERT_TRUE(eventually(hasEvent));
  EXPECT_EQ(podCidrOf(env.c(), cleanup.names[2]), "");

  // Deleting a node frees its range for the waiting one.
  env.c().remove(client::resources::nodes, "", cleanup.names[0]);
  ASSERT_TRUE(eventually([&] { return podCidrOf(env.c(), cleanup.names[2]) == "10.151.0.0/24"; }));
  EXPECT_EQ(podCidrOf(env.c(), cleanup.names[1]), "10.151.1.0/24");
}

TEST(NodeIpamController, InvalidClusterCidrLeavesNodesAlone) {
  ControllerEnv env({"nodeipam"}, [](ControllerOptions& o) { o.clusterCidr = "not-a-cidr"; });
  NodeCleanup cleanup{env.c(), {uniqueNodeName("bad")}};
  createNode(env.c(), cleanup.names[0]);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(podCidrOf(env.c(), cleanup.names[0]), "");
}

}  // namespace skiff::controller::testing
