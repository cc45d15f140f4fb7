// The local provider without a cluster: inventory records, the load-balancer address pool
// (distinct addresses, exhaustion, spec.loadBalancerIP, persistence), the choice of the node
// an address is routed to (and its failover), and routes through FakeRouteProgrammer.
#include "cloud/local/local_provider.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "cloud/local/inventory.h"
#include "cloud/local/ip_pool.h"
#include "cloud/local/lb_choice.h"
#include "cloud/route_diff.h"

namespace skiff::cloud::local {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/skiff-cloud-test.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

Instance machine(const std::string& name, const std::string& ip,
                 const std::string& state = "running", const std::string& netns = "") {
  Instance in;
  in.name = name;
  in.addresses = {{"InternalIP", ip}, {"Hostname", name}};
  in.zone = "zone-a";
  in.state = state;
  in.netns = netns;
  return in;
}

json::object node(const std::string& name, const std::string& providerId = "") {
  json::object n{{"metadata", {{"name", name}}}};
  if (!providerId.empty()) n["spec"] = json::object{{"providerID", providerId}};
  return n;
}

json::object service(const std::string& name, const std::string& lbIp = "") {
  json::object s{{"metadata", {{"name", name}, {"namespace", "default"}, {"uid", "1234-abcd"}}},
                 {"spec", {{"type", "LoadBalancer"}}}};
  if (!lbIp.empty()) s["spec"].as_object()["loadBalancerIP"] = lbIp;
  return s;
}

// --- inventory

TEST(LocalInventory, ParsesRecordWithDefaults) {
  auto in = parseInstance(
      R"({"name":"n1","addresses":[{"type":"InternalIP","address":"10.99.0.11"}],"zone":"z1"})",
      "f");
  EXPECT_EQ(in.name, "n1");
  EXPECT_EQ(in.zone, "z1");
  EXPECT_EQ(in.region, "local");
  EXPECT_EQ(in.instanceType, "skiff.local");
  EXPECT_TRUE(in.running());
  EXPECT_EQ(in.address("InternalIP"), "10.99.0.11");
  EXPECT_EQ(parseInstance(serializeInstance(in), "f").address("InternalIP"), "10.99.0.11");
}

TEST(LocalInventory, RejectsBadRecordsWithClearErrors) {
  auto message = [](const std::string& text) {
    try {
      parseInstance(text, "x.json");
    } catch (const CloudError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("{not json").find("x.json: not valid JSON"), std::string::npos);
  EXPECT_NE(message(R"({"name":"n1","state":"paused"})").find("must be running or stopped"),
            std::string::npos);
  EXPECT_NE(message(R"({"name":"../etc"})").find("must be a node name"), std::string::npos);
  EXPECT_NE(message(R"({"name":"n1","addresses":[{"type":"Public","address":"1.2.3.4"}]})")
                .find("unknown address type \"Public\""),
            std::string::npos);
  EXPECT_NE(message(R"({"name":"n1","zone":3})").find("\"zone\" must be a string"),
            std::string::npos);
}

TEST(LocalInventory, FindsByFileAndChecksTheName) {
  TempDir dir;
  Inventory inv(dir.path.string());
  inv.write(machine("n1", "10.99.0.11"));
  EXPECT_EQ(inv.find("n1")->address("InternalIP"), "10.99.0.11");
  EXPECT_FALSE(inv.find("n2").has_value());
  std::ofstream(dir.path / "n2.json") << R"({"name":"other"})";
  EXPECT_THROW(inv.find("n2"), CloudError);  // a bad record is an error, not "gone"
  EXPECT_EQ(inv.all().size(), 1u);           // and is skipped when listing
}

// --- address pool

TEST(IpPool, RangesParseAndBadOnesAreRejected) {
  EXPECT_EQ(parseIpv4Range("10.0.0.1-10.0.0.3").size(), 3u);
  EXPECT_EQ(parseIpv4Range("10.0.0.0/30").size(), 2u);  // network and broadcast left out
  EXPECT_EQ(parseIpv4Range("10.0.0.7/32").size(), 1u);
  EXPECT_THROW(parseIpv4Range("10.0.0.3-10.0.0.1"), CloudError);
  EXPECT_THROW(parseIpv4Range("banana"), CloudError);
  EXPECT_THROW(parseIpv4Range("10.0.0.0/8"), CloudError);  // more than 65536
}

TEST(IpPool, DistinctAddressesUntilExhausted) {
  IpPool pool("10.0.0.1-10.0.0.2", "");
  auto a = pool.allocate("ns/a"), b = pool.allocate("ns/b");
  EXPECT_NE(a, b);
  EXPECT_EQ(pool.allocate("ns/a"), a);  // idempotent
  try {
    pool.allocate("ns/c");
    FAIL() << "expected PoolExhausted";
  } catch (const PoolExhausted& e) {
    EXPECT_NE(std::string(e.what()).find("no load balancer IP left in 10.0.0.1-10.0.0.2"),
              std::string::npos);
  }
  EXPECT_TRUE(pool.release("ns/a"));
  EXPECT_EQ(pool.allocate("ns/c"), a);
  EXPECT_FALSE(pool.release("ns/zzz"));
}

TEST(IpPool, RequestedAddressHonouredOrRefused) {
  IpPool pool("10.0.0.1-10.0.0.4", "");
  EXPECT_EQ(pool.allocate("ns/a", "10.0.0.3"), "10.0.0.3");
  EXPECT_THROW(pool.allocate("ns/b", "10.0.0.3"), CloudError);  // held by ns/a
  EXPECT_THROW(pool.allocate("ns/b", "10.9.9.9"), CloudError);  // outside the range
  EXPECT_THROW(pool.allocate("ns/b", "not-an-ip"), CloudError);
  EXPECT_EQ(pool.allocate("ns/a", "10.0.0.4"), "10.0.0.4");  // moves, frees .3
  EXPECT_EQ(pool.allocate("ns/b", "10.0.0.3"), "10.0.0.3");
}

TEST(IpPool, AllocationsSurviveARestart) {
  TempDir dir;
  auto state = (dir.path / "lb.json").string();
  std::string a;
  {
    IpPool pool("10.0.0.1-10.0.0.2", state);
    a = pool.allocate("ns/a");
  }
  IpPool again("10.0.0.1-10.0.0.2", state);
  EXPECT_EQ(again.lookup("ns/a"), a);
  EXPECT_NE(again.allocate("ns/b"), a);  // never handed out twice
  EXPECT_THROW(again.allocate("ns/c"), PoolExhausted);
  std::ofstream(state) << "{broken";
  EXPECT_THROW(IpPool("10.0.0.1-10.0.0.2", state), CloudError);  // refuse, do not guess
}

// --- which node answers for an address

TEST(LbChoice, PrefersRunningNodesWithEndpointsAndSticks) {
  std::vector<LbCandidate> c = {{"n1", true, false}, {"n2", true, true}, {"n3", true, true}};
  auto first = chooseLbNode("10.0.0.1", "", c);
  EXPECT_TRUE(first == "n2" || first == "n3");
  EXPECT_EQ(chooseLbNode("10.0.0.1", first, c), first);  // no flapping
  EXPECT_NE(chooseLbNode("10.0.0.1", "n1", c), "n1");    // n1 holds no endpoint any more
}

TEST(LbChoice, FailsOverWhenTheNodeStopsAndNoneWhenAllStopped) {
  std::vector<LbCandidate> c = {{"n1", true, true}, {"n2", true, true}};
  auto first = chooseLbNode("10.0.0.9", "", c);
  for (auto& x : c)
    if (x.node == first) x.running = false;
  auto second = chooseLbNode("10.0.0.9", first, c);
  EXPECT_NE(second, first);
  EXPECT_FALSE(second.empty());
  for (auto& x : c) x.running = false;
  EXPECT_EQ(chooseLbNode("10.0.0.9", second, c), "");
  // Without endpoints anywhere, any running node will do.
  EXPECT_EQ(chooseLbNode("10.0.0.9", "", {{"n1", false, false}, {"n2", true, false}}), "n2");
}

TEST(LbChoice, SpreadsAddressesOverNodes) {
  std::vector<LbCandidate> c = {{"n1"}, {"n2"}, {"n3"}};
  std::set<std::string> used;
  for (int i = 1; i <= 30; ++i) used.insert(chooseLbNode("10.0.0." + std::to_string(i), "", c));
  EXPECT_EQ(used.size(), 3u);
}

// --- the provider

struct ProviderEnv {
  TempDir dir;
  std::shared_ptr<FakeRouteProgrammer> routes = std::make_shared<FakeRouteProgrammer>();
  std::unique_ptr<LocalProvider> provider;
  explicit ProviderEnv(std::vector<std::string> netns = {"host", "ns-n1", "ns-n2"}) {
    ProviderConfig config;
    config.dataDir = dir.path.string();
    config.clusterName = "c1";
    config.loadBalancerIpRange = "10.44.0.1-10.44.0.2";
    config.routeNetns = std::move(netns);
    provider = std::make_unique<LocalProvider>(config, routes);
    provider->inventory().write(machine("n1", "10.99.0.11", "running", "ns-n1"));
    provider->inventory().write(machine("n2", "10.99.0.12", "running", "ns-n2"));
  }
};

TEST(LocalProvider, InstancesByNameOrProviderId) {
  ProviderEnv env;
  auto& p = *env.provider;
  auto meta = p.instanceMetadata(node("n1"));
  EXPECT_EQ(meta.providerID, "skiff://c1/n1");
  EXPECT_EQ(meta.zone, "zone-a");
  EXPECT_EQ(meta.region, "local");
  ASSERT_EQ(meta.nodeAddresses.size(), 2u);
  EXPECT_TRUE(p.instanceExists(node("whatever", "skiff://c1/n2")));
  EXPECT_FALSE(p.instanceExists(node("n3")));
  EXPECT_THROW(p.instanceMetadata(node("n3")), InstanceNotFound);
  EXPECT_THROW(p.instanceExists(node("n1", "skiff://other/n1")), CloudError);
  EXPECT_THROW(p.instanceExists(node("n1", "aws:///i-123")), CloudError);
  EXPECT_FALSE(p.instanceShutdown(node("n1")));
  p.inventory().write(machine("n1", "10.99.0.11", "stopped", "ns-n1"));
  EXPECT_TRUE(p.instanceShutdown(node("n1")));
  EXPECT_EQ(p.routes(), static_cast<Routes*>(&p));
}

TEST(LocalProvider, NoRouteNamespacesMeansNoRoutes) {
  ProviderEnv env(std::vector<std::string>{});
  EXPECT_EQ(env.provider->routes(), nullptr);
}

TEST(LocalProvider, RoutesGoEverywhereButTheNodesOwnNamespace) {
  ProviderEnv env;
  auto& p = *env.provider;
  p.createRoute("c1", "uid1", {"", "n1", "10.42.1.0/24", false});
  EXPECT_EQ(env.routes->tables["host"]["10.42.1.0/24"], "10.99.0.11");
  EXPECT_EQ(env.routes->tables["ns-n2"]["10.42.1.0/24"], "10.99.0.11");
  EXPECT_FALSE(env.routes->tables["ns-n1"].count("10.42.1.0/24"));
  auto listed = p.listRoutes("c1");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].targetNode, "n1");
  EXPECT_EQ(listed[0].destinationCidr, "10.42.1.0/24");
  // Missing from one namespace: reported without a target, so it is deleted and re-made.
  env.routes->tables["ns-n2"].erase("10.42.1.0/24");
  EXPECT_EQ(p.listRoutes("c1").at(0).targetNode, "");
  p.deleteRoute("c1", listed[0]);
  EXPECT_TRUE(p.listRoutes("c1").empty());
  EXPECT_THROW(p.createRoute("c1", "u", {"", "n9", "10.42.9.0/24", false}), InstanceNotFound);
}

TEST(LocalProvider, LoadBalancerAddressIsRoutedAndFailsOver) {
  ProviderEnv env;
  auto& p = *env.provider;
  std::vector<json::object> hosts = {node("n1"), node("n2")};
  auto status = p.ensureLoadBalancer("c1", service("web"), hosts);
  ASSERT_EQ(status.ingress.size(), 1u);
  auto ip = status.ingress[0].ip;
  EXPECT_EQ(status.ingress[0].ipMode, "VIP");
  auto chosen = p.chosenNode("default/web");
  ASSERT_FALSE(chosen.empty());
  std::string gw = chosen == "n1" ? "10.99.0.11" : "10.99.0.12";
  EXPECT_EQ(env.routes->tables["host"][ip + "/32"], gw);
  EXPECT_TRUE(p.listRoutes("c1").empty());  // load-balancer /32s are not pod routes
  // Its node stops: the next periodic pass routes the address to the other one.
  p.inventory().write(machine(chosen, gw, "stopped", "ns-" + chosen));
  p.periodic();
  auto other = p.chosenNode("default/web");
  EXPECT_NE(other, chosen);
  EXPECT_EQ(env.routes->tables["host"][ip + "/32"], other == "n1" ? "10.99.0.11" : "10.99.0.12");
  // Endpoints count: with the Service's endpoint only on `chosen` (stopped), stay on `other`.
  p.setEndpointNodes([&](const std::string&, const std::string&) { return std::vector{chosen}; });
  p.periodic();
  EXPECT_EQ(p.chosenNode("default/web"), other);
  // Deleted: the route and the address go.
  p.ensureLoadBalancerDeleted("c1", service("web"));
  EXPECT_FALSE(env.routes->tables["host"].count(ip + "/32"));
  EXPECT_FALSE(p.getLoadBalancer("c1", service("web")).has_value());
}

TEST(LocalProvider, RequestedLoadBalancerIp) {
  ProviderEnv env;
  auto& p = *env.provider;
  EXPECT_EQ(p.ensureLoadBalancer("c1", service("web", "10.44.0.2"), {}).ingress.at(0).ip,
            "10.44.0.2");
  EXPECT_THROW(p.ensureLoadBalancer("c1", service("web2", "10.44.0.2"), {}), CloudError);
  EXPECT_EQ(p.getLoadBalancerName("c1", service("web")), "a1234abcd");
}

// --- route diffing

TEST(RouteDiff, CreatesMissingKeepsGoodDeletesStaleInsideClusterCidr) {
  std::vector<RouteNode> nodes = {{"n1", "u1", {"10.42.1.0/24"}},
                                  {"n2", "u2", {"10.42.2.0/24", "fd00::/64"}},
                                  {"n3", "u3", {}}};
  std::vector<Route> existing = {{"r1", "n1", "10.42.1.0/24", false},     // good
                                 {"r2", "n9", "10.42.9.0/24", false},     // deleted node
                                 {"r3", "n1", "10.42.2.0/24", false},     // range moved to n2
                                 {"r4", "", "10.42.5.0/24", true},        // blackhole
                                 {"r5", "n9", "192.168.0.0/24", false}};  // not ours
  auto plan = diffRoutes(nodes, existing, "10.42.0.0/16");
  ASSERT_EQ(plan.toCreate.size(), 1u);
  EXPECT_EQ(plan.toCreate[0].first, "u2");
  EXPECT_EQ(plan.toCreate[0].second.targetNode, "n2");
  EXPECT_EQ(plan.toCreate[0].second.destinationCidr, "10.42.2.0/24");
  std::set<std::string> deleted;
  for (const auto& r : plan.toDelete) deleted.insert(r.name);
  EXPECT_EQ(deleted, (std::set<std::string>{"r2", "r3", "r4"}));
  EXPECT_TRUE(cidrContains("10.42.0.0/16", "10.42.7.0/24"));
  EXPECT_FALSE(cidrContains("10.42.0.0/16", "10.0.0.0/8"));
  EXPECT_FALSE(cidrContains("garbage", "10.42.7.0/24"));
}

TEST(RouteDiff, ParsesIpRouteJson) {
  auto routes = parseIpRouteJson(
      R"([{"dst":"10.42.1.0/24","gateway":"10.99.0.11","dev":"br0"},{"dst":"10.44.0.1","gateway":"10.99.0.12"}])");
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[1].destination, "10.44.0.1/32");
  EXPECT_EQ(routes[1].gateway, "10.99.0.12");
  EXPECT_TRUE(parseIpRouteJson("").empty());
}

}  // namespace
}  // namespace skiff::cloud::local
