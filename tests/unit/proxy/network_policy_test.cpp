// NetworkPolicy → nft script (the pure part of the node's enforcement): which pods get
// chains, what each rule allows, peer sets, ports (numbers, ranges, named), ipBlocks.
#include "proxy/network_policy.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "proxy/nft_rules.h"

namespace skiff::proxy {
namespace {

namespace json = boost::json;

std::shared_ptr<const json::object> obj(const std::string& text) {
  return std::make_shared<const json::object>(json::parse(text).as_object());
}

std::string pod(const std::string& ns, const std::string& name, const std::string& ip,
                const std::string& labels, const std::string& node = "node-a",
                const std::string& ports = "[]") {
  return R"({"metadata":{"namespace":")" + ns + R"(","name":")" + name + R"(","labels":)" + labels +
         R"(},"spec":{"nodeName":")" + node + R"(","containers":[{"name":"c","ports":)" + ports +
         R"(}]},"status":{"phase":"Running","podIP":")" + ip + R"("}})";
}

std::string policy(const std::string& ns, const std::string& name, const std::string& spec) {
  return R"({"metadata":{"namespace":")" + ns + R"(","name":")" + name + R"("},"spec":)" + spec +
         "}";
}

class NetworkPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    in_.nodeName = "node-a";
    in_.namespaces = {obj(R"({"metadata":{"name":"default","labels":{"team":"a"}}})"),
                      obj(R"({"metadata":{"name":"other","labels":{"team":"b"}}})")};
    in_.pods = {
        obj(pod("default", "server", "10.42.0.5", R"({"app":"server"})", "node-a",
                R"([{"name":"http","containerPort":8080}])")),
        obj(pod("default", "client", "10.42.0.6", R"({"role":"client"})")),
        obj(pod("default", "stranger", "10.42.0.7", R"({"role":"other"})")),
        obj(pod("other", "remote", "10.42.1.8", R"({"role":"client"})", "node-b",
                R"([{"name":"http","containerPort":9090}])")),
    };
  }
  std::string render(std::initializer_list<std::string> policies) {
    in_.policies.clear();
    for (auto& p : policies) in_.policies.push_back(obj(p));
    return renderPolicyTable(in_);
  }
  PolicyInput in_;
};

bool has(const std::string& script, const std::string& part) {
  return script.find(part) != std::string::npos;
}
size_t count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (auto p = s.find(part); p != std::string::npos; p = s.find(part, p + 1)) ++n;
  return n;
}

TEST_F(NetworkPolicyTest, NoPoliciesMeansBaseChainsOnly) {
  auto s = render({});
  EXPECT_TRUE(has(s, "add table ip skiff-policy\ndelete table ip skiff-policy\n")) << s;
  EXPECT_TRUE(has(s, "add chain ip skiff-policy forward { type filter hook forward priority 0"));
  EXPECT_TRUE(has(s, "add rule ip skiff-policy forward ct state established,related accept"));
  EXPECT_TRUE(has(s, "forward ip daddr vmap @ingress-pods"));
  EXPECT_TRUE(has(s, "input ip saddr vmap @egress-pods"));
  EXPECT_FALSE(has(s, "add element ip skiff-policy ingress-pods"));
}

TEST_F(NetworkPolicyTest, DefaultDenyIngressSelectsEveryLocalPodOfTheNamespace) {
  auto s = render({policy("default", "deny", R"({"podSelector":{},"policyTypes":["Ingress"]})")});
  auto chain = hashedName("ingress", "default/server");
  EXPECT_TRUE(has(s, "add element ip skiff-policy ingress-pods { 10.42.0.5 : jump " + chain)) << s;
  EXPECT_TRUE(has(s, "add rule ip skiff-policy " + chain + " fib saddr type local return"));
  EXPECT_TRUE(has(s, "add rule ip skiff-policy " + chain + " drop"));
  EXPECT_TRUE(has(s, "ingress-pods { 10.42.0.6 :"));
  EXPECT_FALSE(has(s, "10.42.1.8 :")) << "pods of other nodes get no chain here";
  EXPECT_FALSE(has(s, "egress-pods {  10.42")) << s;
  EXPECT_EQ(count(s, "add element ip skiff-policy egress-pods"), 0u);
}

TEST_F(NetworkPolicyTest, PodSelectorAndPortAllowIntoASharedPeerSet) {
  auto s = render({policy("default", "allow", R"({"podSelector":{"matchLabels":{"app":"server"}},
      "ingress":[{"from":[{"podSelector":{"matchLabels":{"role":"client"}}}],
                  "ports":[{"protocol":"TCP","port":8080}]}]})")});
  auto set = hashedName("peers", "default/allow/ingress/0");
  // Only the client of the policy's own namespace, not the one in "other".
  EXPECT_TRUE(has(s, "add element ip skiff-policy " + set + " { 10.42.0.6 }")) << s;
  auto chain = hashedName("ingress", "default/server");
  EXPECT_TRUE(has(s, "add rule ip skiff-policy " + chain + " ip saddr @" + set +
                         " meta l4proto tcp th dport 8080 return"))
      << s;
  EXPECT_FALSE(has(s, "ingress-pods { 10.42.0.6 :")) << "the client is not selected";
}

TEST_F(NetworkPolicyTest, NamespaceSelectorAloneAndCombinedWithPodSelector) {
  auto s = render({policy("default", "ns", R"({"podSelector":{},"ingress":[
      {"from":[{"namespaceSelector":{"matchLabels":{"team":"b"}}}]},
      {"from":[{"namespaceSelector":{"matchLabels":{"team":"a"}},
                "podSelector":{"matchLabels":{"role":"other"}}}]}]})")});
  EXPECT_TRUE(has(s, hashedName("peers", "default/ns/ingress/0") + " { 10.42.1.8 }")) << s;
  EXPECT_TRUE(has(s, hashedName("peers", "default/ns/ingress/1") + " { 10.42.0.7 }")) << s;
}

TEST_F(NetworkPolicyTest, EmptyFromAndPortsAllowEverything) {
  auto s = render({policy("default", "all", R"({"podSelector":{},"ingress":[{}]})")});
  auto chain = hashedName("ingress", "default/server");
  EXPECT_TRUE(has(s, "add rule ip skiff-policy " + chain + " return\n")) << s;
}

TEST_F(NetworkPolicyTest, PortRangesNamedPortsAndProtocolOnly) {
  auto s = render({policy("default", "ports", R"({"podSelector":{"matchLabels":{"app":"server"}},
      "ingress":[{"ports":[{"protocol":"TCP","port":8000,"endPort":8100},
                           {"protocol":"TCP","port":"http"},
                           {"protocol":"UDP","port":"http"},
                           {"protocol":"UDP"}]}]})")});
  auto chain = " " + hashedName("ingress", "default/server") + " ";
  EXPECT_TRUE(has(s, chain + "meta l4proto tcp th dport 8000-8100 return")) << s;
  // Named: resolved against the server's own container port; no UDP port of that name.
  EXPECT_TRUE(has(s, chain + "meta l4proto tcp th dport 8080 return")) << s;
  EXPECT_FALSE(has(s, "meta l4proto udp th dport")) << s;
  EXPECT_TRUE(has(s, chain + "meta l4proto udp return")) << s;
}

TEST_F(NetworkPolicyTest, IpBlockWithExcept) {
  auto s = render({policy("default", "cidr", R"({"podSelector":{"matchLabels":{"app":"server"}},
      "ingress":[{"from":[{"ipBlock":{"cidr":"10.42.0.0/24","except":["10.42.0.7/32"]}}]}]})")});
  EXPECT_TRUE(has(s, hashedName("ingress", "default/server") +
                         " ip saddr 10.42.0.0/24 ip saddr != { 10.42.0.7/32 } return"))
      << s;
}

TEST_F(NetworkPolicyTest, EgressRulesAndNamedPortsOfPeers) {
  auto s = render({policy("default", "eg", R"({"podSelector":{"matchLabels":{"role":"client"}},
      "policyTypes":["Egress"],
      "egress":[{"ports":[{"protocol":"UDP","port":53},{"protocol":"TCP","port":53}]},
                {"to":[{"namespaceSelector":{}}],"ports":[{"port":"http","protocol":"TCP"}]}]})")});
  auto chain = hashedName("egress", "default/client");
  EXPECT_TRUE(has(s, "egress-pods { 10.42.0.6 : jump " + chain)) << s;
  EXPECT_FALSE(has(s, "ingress-pods { 10.42.0.6")) << "Egress only";
  EXPECT_TRUE(has(s, chain + " meta l4proto udp th dport 53 return")) << s;
  EXPECT_TRUE(has(s, chain + " meta l4proto tcp th dport 53 return")) << s;
  auto named = hashedName("named", "default/eg/egress/1/tcp/http");
  EXPECT_TRUE(has(s, named + " { 10.42.0.5 . 8080, 10.42.1.8 . 9090 }")) << s;
  EXPECT_TRUE(has(s, chain + " meta l4proto tcp ip daddr . th dport @" + named + " return")) << s;
  EXPECT_FALSE(has(s, chain + " fib saddr")) << "node addresses are an ingress exception";
}

TEST_F(NetworkPolicyTest, UnionOfPoliciesAndSkippedPods) {
  in_.pods.push_back(obj(R"({"metadata":{"namespace":"default","name":"host","labels":{}},
      "spec":{"nodeName":"node-a","hostNetwork":true},"status":{"podIP":"192.168.1.2"}})"));
  in_.pods.push_back(obj(R"({"metadata":{"namespace":"default","name":"done","labels":{}},
      "spec":{"nodeName":"node-a"},"status":{"phase":"Succeeded","podIP":"10.42.0.9"}})"));
  auto s =
      render({policy("default", "a", R"({"podSelector":{},"ingress":[{"ports":[{"port":1}]}]})"),
              policy("default", "b", R"({"podSelector":{},"ingress":[{"ports":[{"port":2}]}]})")});
  auto chain = " " + hashedName("ingress", "default/server") + " ";
  EXPECT_TRUE(has(s, chain + "meta l4proto tcp th dport 1 return")) << s;
  EXPECT_TRUE(has(s, chain + "meta l4proto tcp th dport 2 return")) << s;
  EXPECT_EQ(count(s, chain + "drop"), 1u);
  EXPECT_FALSE(has(s, "192.168.1.2")) << "host-network pods are not selected";
  EXPECT_FALSE(has(s, "10.42.0.9")) << "finished pods gave their address back";
  EXPECT_EQ(
      s,
      render({policy("default", "b", R"({"podSelector":{},"ingress":[{"ports":[{"port":2}]}]})"),
              policy("default", "a", R"({"podSelector":{},"ingress":[{"ports":[{"port":1}]}]})")}))
      << "same input in another order, same script";
}

}  // namespace
}  // namespace skiff::proxy
