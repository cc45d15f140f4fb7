// The proxy's pure parts: Service/EndpointSlice JSON → service ports → nft state → script
// text (full and incremental), and which UDP conntrack flows a change makes stale.
#include "proxy/nft_rules.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "proxy/service_model.h"
#include "proxy/system.h"

namespace skiff::proxy {
namespace {

namespace json = boost::json;

ObjectList objs(std::initializer_list<const char*> texts) {
  ObjectList out;
  for (auto* t : texts)
    out.push_back(std::make_shared<const json::object>(json::parse(t).as_object()));
  return out;
}

ProxyConfig config() {
  ProxyConfig c;
  c.nodeName = "node-a";
  return c;
}

const char* kWeb = R"({"metadata":{"namespace":"default","name":"web"},
  "spec":{"type":"ClusterIP","clusterIP":"10.43.0.20",
          "ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080}]}})";

std::string slice(const std::string& name, const std::string& endpoints,
                  const std::string& svc = "web") {
  return R"({"metadata":{"namespace":"default","name":")" + name +
         R"(","labels":{"kubernetes.io/service-name":")" + svc +
         R"("}},"addressType":"IPv4","ports":[{"name":"http","protocol":"TCP","port":8080}],
           "endpoints":[)" +
         endpoints + "]}";
}

std::string ep(const std::string& ip, bool ready, const std::string& node = "node-a",
               bool terminating = false) {
  return R"({"addresses":[")" + ip + R"("],"nodeName":")" + node + R"(","conditions":{"ready":)" +
         (ready ? "true" : "false") + R"(,"serving":)" + (ready || terminating ? "true" : "false") +
         R"(,"terminating":)" + (terminating ? "true" : "false") + "}}";
}

std::vector<ServicePort> build(std::initializer_list<const char*> services,
                               const std::vector<std::string>& slices) {
  ObjectList sl;
  for (auto& s : slices)
    sl.push_back(std::make_shared<const json::object>(json::parse(s).as_object()));
  return buildServicePorts(objs(services), sl, config());
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

TEST(ServiceModel, ReadyEndpointsOfTheMatchingPort) {
  auto ports = build({kWeb}, {slice("web-1", ep("10.42.0.5", true) + "," + ep("10.42.0.6", false)),
                              slice("web-2", ep("10.42.1.7", true, "node-b"))});
  ASSERT_EQ(ports.size(), 1u);
  auto& p = ports[0];
  EXPECT_EQ(p.id(), "default/web/tcp/http");
  EXPECT_EQ(p.protocol, "tcp");
  ASSERT_EQ(p.clusterEndpoints.size(), 2u);
  EXPECT_EQ(p.clusterEndpoints[0].ip, "10.42.0.5");
  EXPECT_EQ(p.clusterEndpoints[0].port, 8080);
  EXPECT_EQ(p.clusterEndpoints[1].ip, "10.42.1.7");
  ASSERT_EQ(p.localEndpoints.size(), 1u);
  EXPECT_EQ(p.localEndpoints[0].ip, "10.42.0.5");
}

TEST(ServiceModel, TerminatingServingEndpointsWhenNoneReady) {
  auto ports = build({kWeb}, {slice("web-1", ep("10.42.0.5", false, "node-a", true) + "," +
                                                 ep("10.42.0.6", false))});
  ASSERT_EQ(ports[0].clusterEndpoints.size(), 1u);
  EXPECT_EQ(ports[0].clusterEndpoints[0].ip, "10.42.0.5");
}

TEST(ServiceModel, SkipsHeadlessExternalNameAndOtherServicesSlices) {
  auto ports = build(
      {R"({"metadata":{"namespace":"default","name":"h"},"spec":{"clusterIP":"None","ports":[{"port":80}]}})",
       R"({"metadata":{"namespace":"default","name":"x"},"spec":{"type":"ExternalName","externalName":"a.b"}})",
       kWeb},
      {slice("other-1", ep("10.42.0.9", true), "other")});
  ASSERT_EQ(ports.size(), 1u);
  EXPECT_TRUE(ports[0].clusterEndpoints.empty());
}

TEST(ServiceModel, KubeDnsGoesToTheNodeLocalAddress) {
  auto ports = build(
      {R"({"metadata":{"namespace":"kube-system","name":"kube-dns"},"spec":{"clusterIP":"10.43.0.10",
          "ports":[{"name":"dns","protocol":"UDP","port":53},{"name":"dns-tcp","protocol":"TCP","port":53},
                   {"name":"metrics","protocol":"TCP","port":9153}]}})"},
      {});
  ASSERT_EQ(ports.size(), 3u);
  for (auto& p : ports) {
    ASSERT_EQ(p.clusterEndpoints.size(), 1u) << p.id();
    EXPECT_EQ(p.clusterEndpoints[0].ip, "169.254.20.10");
    EXPECT_EQ(p.clusterEndpoints[0].port, p.port);
    EXPECT_TRUE(p.noMasquerade);
  }
  auto text = renderDiff({}, desiredState(ports, config()));
  EXPECT_TRUE(contains(text, "meta l4proto udp dnat to 169.254.20.10:53")) << text;
  EXPECT_TRUE(contains(text, "meta l4proto tcp dnat to 169.254.20.10:9153")) << text;
  EXPECT_FALSE(contains(text, "jump mark-for-masquerade")) << text;
}

TEST(NftRules, ClusterIpBalancesThroughASharedChainAndTheEndpointMap) {
  auto ports = build(
      {kWeb}, {slice("web-1", ep("10.42.0.5", true) + "," + ep("10.42.1.6", true, "node-b"))});
  auto st = desiredState(ports, config());
  EXPECT_EQ(st.elements["service-ips"]["10.43.0.20 . tcp . 80"], "goto balance-tcp-2");
  // No chain of its own: balance-tcp-2 is part of the skeleton.
  EXPECT_TRUE(st.chains.empty());
  auto base = renderBase(config());
  EXPECT_TRUE(
      contains(base,
               "add rule ip skiff balance-tcp-2 ip saddr != 10.42.0.0/16 jump "
               "mark-for-masquerade\nadd rule ip skiff balance-tcp-2 dnat ip to ip daddr "
               ". meta l4proto . th dport . numgen random mod 2 map @service-endpoints-tcp\n"))
      << base;
  EXPECT_TRUE(st.sets.empty());
  EXPECT_EQ(
      st.elements["service-endpoints-tcp"],
      (std::map<std::string, std::string>{{"10.43.0.20 . tcp . 80 . 0", "10.42.0.5 . 8080"},
                                          {"10.43.0.20 . tcp . 80 . 1", "10.42.1.6 . 8080"}}));
  // Hairpin SNAT for the endpoint on this node only: the other one is never DNATed here.
  EXPECT_EQ(st.elements["hairpin"],
            (std::map<std::string, std::string>{{"10.42.0.5 . 10.42.0.5", ""}}));
  EXPECT_EQ(st.elements["cluster-ips"].count("10.43.0.20"), 1u);
  EXPECT_TRUE(st.elements["no-endpoint-services"].empty());
}

// `n` ready endpoints 10.42.<third>.1..n on this node.
std::string endpoints(int n, int third) {
  std::string out;
  for (int i = 1; i <= n; ++i)
    out +=
        (i > 1 ? "," : "") + ep("10.42." + std::to_string(third) + "." + std::to_string(i), true);
  return out;
}

TEST(NftRules, ServicesWithTheSameEndpointCountShareOneChain) {
  const char* other = R"({"metadata":{"namespace":"default","name":"api"},
    "spec":{"clusterIP":"10.43.0.21","ports":[{"name":"http","port":80}]}})";
  // 9 endpoints: past the pre-created balance chains, so the shares carry the chain.
  auto st = desiredState(build({kWeb, other}, {slice("web-1", endpoints(9, 1)),
                                               slice("api-1", endpoints(9, 2), "api")}),
                         config());
  EXPECT_EQ(st.chains.size(), 1u);
  EXPECT_EQ(st.chains["balance-tcp-9"].back(),
            "dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 9 map "
            "@service-endpoints-tcp");
  EXPECT_EQ(st.elements["service-ips"]["10.43.0.21 . tcp . 80"], "goto balance-tcp-9");
  EXPECT_EQ(st.elements["service-endpoints-tcp"]["10.43.0.21 . tcp . 80 . 8"], "10.42.2.9 . 8080");
}

TEST(NftRules, NoEndpointsRejects) {
  auto st = desiredState(build({kWeb}, {}), config());
  EXPECT_TRUE(st.chains.empty());
  EXPECT_EQ(st.elements["no-endpoint-services"]["10.43.0.20 . tcp . 80"], "goto reject-chain");
  EXPECT_TRUE(st.elements["service-ips"].empty());
  EXPECT_EQ(st.elements["cluster-ips"].count("10.43.0.20"), 1u);
}

TEST(NftRules, NodePortAndExternalIpsAreAlwaysMasqueraded) {
  auto ports = build({R"({"metadata":{"namespace":"default","name":"web"},
          "spec":{"type":"NodePort","clusterIP":"10.43.0.20","externalIPs":["192.0.2.10"],
                  "ports":[{"name":"http","port":80,"nodePort":30080}]},
          "status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.20"}]}}})"},
                     {slice("web-1", ep("10.42.0.5", true))});
  auto st = desiredState(ports, config());
  EXPECT_EQ(st.elements["service-nodeports"]["tcp . 30080"], "goto nodeport-balance-tcp-1");
  EXPECT_EQ(st.elements["service-ips"]["192.0.2.10 . tcp . 80"], "goto external-balance-tcp-1");
  EXPECT_EQ(st.elements["service-ips"]["192.0.2.20 . tcp . 80"], "goto external-balance-tcp-1");
  EXPECT_EQ(st.elements["service-endpoints-tcp"]["192.0.2.20 . tcp . 80 . 0"], "10.42.0.5 . 8080");
  EXPECT_EQ(st.elements["nodeport-endpoints-tcp"]["tcp . 30080 . 0"], "10.42.0.5 . 8080");
  auto base = renderBase(config());
  EXPECT_TRUE(
      contains(base, "add rule ip skiff external-balance-tcp-1 jump mark-for-masquerade\n"));
  EXPECT_TRUE(
      contains(base,
               "add rule ip skiff nodeport-balance-tcp-1 jump mark-for-masquerade\nadd rule "
               "ip skiff nodeport-balance-tcp-1 dnat ip to meta l4proto . th dport . numgen "
               "random mod 1 map @nodeport-endpoints-tcp\n"));
}

TEST(NftRules, NodePortWithoutEndpointsRejects) {
  auto ports = build({R"({"metadata":{"namespace":"default","name":"web"},
          "spec":{"type":"NodePort","clusterIP":"10.43.0.20","ports":[{"port":80,"nodePort":30080}]}})"},
                     {});
  auto st = desiredState(ports, config());
  EXPECT_EQ(st.elements["no-endpoint-nodeports"]["tcp . 30080"], "goto reject-chain");
}

TEST(NftRules, ExternalTrafficPolicyLocalUsesLocalEndpointsWithoutSnat) {
  auto ports = build({R"({"metadata":{"namespace":"default","name":"web"},
          "spec":{"type":"NodePort","clusterIP":"10.43.0.20","externalTrafficPolicy":"Local",
                  "ports":[{"name":"http","port":80,"nodePort":30080}]}})"},
                     {slice("web-1", ep("10.42.0.5", true) + "," + ep("10.42.1.6", true, "b"))});
  auto st = desiredState(ports, config());
  auto ext = hashedName("external", "default/web/tcp/http");
  auto cluster = hashedName("cluster", "default/web/tcp/http");
  auto& rules = st.chains[ext];
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_EQ(rules[0], "ip saddr 10.42.0.0/16 goto " + cluster);
  EXPECT_EQ(rules[3], "numgen random mod 1 vmap { 0 : goto " +
                          hashedName("endpoint", "default/web/tcp/http__10.42.0.5/8080") + " }");
  EXPECT_TRUE(contains(st.chains[cluster][0], "numgen random mod 2"));
}

TEST(NftRules, InternalTrafficPolicyLocalWithoutLocalEndpointsDrops) {
  auto ports = build({R"({"metadata":{"namespace":"default","name":"web"},
          "spec":{"clusterIP":"10.43.0.20","internalTrafficPolicy":"Local",
                  "ports":[{"name":"http","port":80}]}})"},
                     {slice("web-1", ep("10.42.1.6", true, "b"))});
  auto st = desiredState(ports, config());
  EXPECT_EQ(st.elements["no-endpoint-services"]["10.43.0.20 . tcp . 80"], "drop");
}

TEST(NftRules, SessionAffinityUsesATimedSetPerEndpoint) {
  auto ports = build({R"({"metadata":{"namespace":"default","name":"web"},
          "spec":{"clusterIP":"10.43.0.20","sessionAffinity":"ClientIP",
                  "sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}},
                  "ports":[{"name":"http","port":80}]}})"},
                     {slice("web-1", ep("10.42.0.5", true))});
  auto st = desiredState(ports, config());
  ASSERT_EQ(st.sets.size(), 1u);
  auto& [set, decl] = *st.sets.begin();
  EXPECT_EQ(decl, "{ type ipv4_addr ; flags dynamic,timeout ; timeout 60s ; }");
  auto svc = hashedName("service", "default/web/tcp/http");
  auto epc = hashedName("endpoint", "default/web/tcp/http__10.42.0.5/8080");
  EXPECT_EQ(st.chains[svc][1], "ip saddr @" + set + " goto " + epc);
  EXPECT_EQ(st.chains[epc][1], "update @" + set + " { ip saddr }");
}

TEST(NftRules, BaseRejectsTheServiceCidr) {
  auto base = renderBase(config());
  EXPECT_TRUE(contains(
      base, "add rule ip skiff cluster-ips-check ip daddr 10.43.0.0/16 jump reject-chain"));
  EXPECT_TRUE(
      contains(base, "add rule ip skiff reject-chain meta l4proto tcp reject with tcp reset"));
  EXPECT_TRUE(contains(base, "add chain ip skiff nat-prerouting { type nat hook prerouting"));
  // The skeleton never deletes or flushes maps: a restart keeps the installed Services.
  EXPECT_FALSE(contains(base, "delete"));
  EXPECT_FALSE(contains(base, "flush map"));
}

TEST(NftRules, DiffSendsOnlyWhatChanged) {
  auto before = desiredState(
      build({kWeb}, {slice("web-1", ep("10.42.0.5", true) + "," + ep("10.42.0.6", true))}),
      config());
  EXPECT_EQ(renderDiff(before, before), "");
  auto after = desiredState(build({kWeb}, {slice("web-1", ep("10.42.0.5", true))}), config());
  auto diff = renderDiff(before, after);
  // Endpoint counts up to 8 have their chains in the skeleton: map elements only.
  EXPECT_FALSE(contains(diff, "chain")) << diff;
  EXPECT_TRUE(contains(diff, "delete element ip skiff service-ips { 10.43.0.20 . tcp . 80 }\n"));
  EXPECT_TRUE(contains(
      diff, "add element ip skiff service-ips { 10.43.0.20 . tcp . 80 : goto balance-tcp-1 }\n"));
  EXPECT_TRUE(contains(
      diff, "delete element ip skiff service-endpoints-tcp { 10.43.0.20 . tcp . 80 . 1 }\n"));
  EXPECT_TRUE(contains(diff, "delete element ip skiff hairpin { 10.42.0.6 . 10.42.0.6 }\n"));
  // The unchanged endpoint stays untouched.
  EXPECT_FALSE(contains(diff, "10.43.0.20 . tcp . 80 . 0")) << diff;
  // Past 8 endpoints the chain is the Services' own: it goes after the element that pointed
  // at it.
  auto nine = desiredState(build({kWeb}, {slice("web-1", endpoints(9, 1))}), config());
  diff = renderDiff(nine, after);
  EXPECT_LT(diff.find("delete element ip skiff service-ips"),
            diff.find("delete chain ip skiff balance-tcp-9"))
      << diff;

  // Down to no endpoints: the map element moves from service-ips to no-endpoint-services.
  auto none = desiredState(build({kWeb}, {}), config());
  diff = renderDiff(after, none);
  EXPECT_TRUE(contains(diff, "delete element ip skiff service-ips { 10.43.0.20 . tcp . 80 }"));
  EXPECT_TRUE(contains(
      diff,
      "add element ip skiff no-endpoint-services { 10.43.0.20 . tcp . 80 : goto reject-chain }"));
}

TEST(NftRules, DiffAddsChainsBeforeRulesThatJumpToThem) {
  auto st = desiredState(build({kWeb}, {slice("web-1", endpoints(9, 1))}), config());
  auto diff = renderDiff({}, st);
  EXPECT_LT(diff.find("add chain ip skiff balance-tcp-9\n"),
            diff.find("add rule ip skiff balance-tcp-9"));
  EXPECT_LT(diff.find("add rule ip skiff balance-tcp-9"),
            diff.find("add element ip skiff service-ips"));
}

TEST(NftRules, AffinityAndLocalTrafficPolicyKeepChainsOfTheirOwn) {
  auto affinity = build({R"({"metadata":{"namespace":"default","name":"web"},
          "spec":{"clusterIP":"10.43.0.20","sessionAffinity":"ClientIP",
                  "ports":[{"name":"http","port":80}]}})"},
                        {slice("web-1", ep("10.42.0.5", true))});
  ASSERT_EQ(affinity.size(), 1u);
  EXPECT_TRUE(needsOwnChains(affinity[0]));
  auto st = desiredState(affinity, config());
  EXPECT_TRUE(st.elements["service-endpoints-tcp"].empty());
  EXPECT_EQ(st.elements["service-ips"]["10.43.0.20 . tcp . 80"],
            "goto " + hashedName("service", "default/web/tcp/http"));
  auto plain = build({kWeb}, {slice("web-1", ep("10.42.0.5", true))});
  EXPECT_FALSE(needsOwnChains(plain[0]));
}

TEST(NftRules, FullSyncReconcilesWithoutDeletingTheTable) {
  auto st = desiredState(build({kWeb}, {slice("web-1", ep("10.42.0.5", true))}), config());
  auto existing = parseExistingTable(
      "table ip skiff {\n\tset cluster-ips {\n\t\ttype ipv4_addr\n\t}\n"
      "\tset affinity-OLD-x {\n\t}\n"
      "\tchain services {\n\t}\n\tchain service-OLD-default/gone/tcp/ {\n\t}\n}\n");
  EXPECT_TRUE(existing.chains.count("service-OLD-default/gone/tcp/"));
  EXPECT_TRUE(existing.sets.count("cluster-ips"));
  auto full = renderFull(st, existing, config());
  EXPECT_FALSE(contains(full, "delete table"));
  EXPECT_TRUE(contains(full, "flush map ip skiff service-ips\n"));
  EXPECT_TRUE(contains(full, "delete chain ip skiff service-OLD-default/gone/tcp/\n"));
  EXPECT_TRUE(contains(full, "delete set ip skiff affinity-OLD-x\n"));
  EXPECT_FALSE(contains(full, "delete chain ip skiff services\n"));
  EXPECT_FALSE(contains(full, "delete set ip skiff cluster-ips"));
  // Stale chains go after the maps that pointed at them were refilled.
  EXPECT_LT(full.find("flush map ip skiff service-ips"),
            full.find("delete chain ip skiff service-OLD"));
}

TEST(Conntrack, RemovedUdpEndpointsAreFlushed) {
  auto udp = [](const std::string& eps) {
    std::string svc = R"({"metadata":{"namespace":"default","name":"dns"},
      "spec":{"type":"NodePort","clusterIP":"10.43.0.30","ports":[{"name":"d","protocol":"UDP","port":53,"nodePort":30053}]}})";
    std::string sl =
        R"({"metadata":{"namespace":"default","name":"dns-1","labels":{"kubernetes.io/service-name":"dns"}},
      "addressType":"IPv4","ports":[{"name":"d","protocol":"UDP","port":5353}],"endpoints":[)" +
        eps + "]}";
    return buildServicePorts(objs({svc.c_str()}), objs({sl.c_str()}), config());
  };
  auto two = udp(ep("10.42.0.5", true) + "," + ep("10.42.0.6", true));
  auto one = udp(ep("10.42.0.5", true));
  auto none = udp("");
  EXPECT_TRUE(staleUdpFlows(two, two).empty());
  EXPECT_EQ(staleUdpFlows(two, one), (std::vector<ConntrackFlush>{{"10.43.0.30", 53, "10.42.0.6"},
                                                                  {"", 30053, "10.42.0.6"}}));
  // From none to some: what conntrack recorded while packets were rejected goes.
  EXPECT_EQ(staleUdpFlows(none, one),
            (std::vector<ConntrackFlush>{{"10.43.0.30", 53, ""}, {"", 30053, ""}}));
  // TCP endpoints are never flushed (their connections end on their own).
  EXPECT_TRUE(
      staleUdpFlows(build({kWeb}, {slice("w", ep("10.42.0.5", true))}), build({kWeb}, {})).empty());
}

}  // namespace
}  // namespace skiff::proxy

namespace skiff::proxy {
namespace {

// A change to one of many Services costs a transaction the size of that change.
TEST(NftRules, DiffSizeDoesNotGrowWithTheNumberOfServices) {
  ObjectList services, slices, changed;
  for (int i = 0; i < 1000; ++i) {
    auto name = "svc" + std::to_string(i);
    auto ip = "10.43." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 2);
    services.push_back(std::make_shared<const json::object>(
        json::parse(R"({"metadata":{"namespace":"default","name":")" + name +
                    R"("},"spec":{"clusterIP":")" + ip +
                    R"(","ports":[{"name":"http","port":80}]}})")
            .as_object()));
    auto eps = ep("10.42.0." + std::to_string(i % 250 + 2), true);
    slices.push_back(std::make_shared<const json::object>(
        json::parse(slice(name + "-1", eps, name)).as_object()));
    if (i == 500) eps += "," + ep("10.42.1.9", true);
    changed.push_back(std::make_shared<const json::object>(
        json::parse(slice(name + "-1", eps, name)).as_object()));
  }
  auto before = desiredState(buildServicePorts(services, slices, config()), config());
  auto after = desiredState(buildServicePorts(services, changed, config()), config());
  EXPECT_EQ(before.chains.size(), 0u);  // balance-tcp-1, in the skeleton
  EXPECT_EQ(before.elements["service-endpoints-tcp"].size(), 1000u);
  auto diff = renderDiff(before, after);
  EXPECT_LT(diff.size(), 1500u) << diff;
  EXPECT_TRUE(contains(diff, "goto balance-tcp-2")) << diff;
}

}  // namespace
}  // namespace skiff::proxy
