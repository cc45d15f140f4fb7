// NetworkPolicy validation (upstream ValidateNetworkPolicySpec: peers, ports, ipBlocks,
// policyTypes) and defaulting (TCP, policyTypes from the rules present).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/defaults.h"
#include "api/validation.h"

namespace json = boost::json;
using skiff::StatusCause;

namespace {

std::vector<StatusCause> validate(const std::string& spec) {
  json::object o = json::parse(R"({"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
      "metadata":{"name":"np","namespace":"default"},"spec":)" +
                               spec + "}")
                       .as_object();
  skiff::api::applyDefaults("networking.k8s.io", "NetworkPolicy", o);
  return skiff::api::validateObject("networking.k8s.io", "NetworkPolicy", o, nullptr);
}

std::string messageFor(const std::vector<StatusCause>& causes, std::string_view field) {
  for (const auto& c : causes)
    if (c.field == field) return c.message;
  return "<none>";
}

}  // namespace

TEST(NetworkPolicyValidation, ValidPolicies) {
  EXPECT_TRUE(validate(R"({"podSelector":{}})").empty());
  EXPECT_TRUE(validate(R"({"podSelector":{"matchLabels":{"app":"x"}},"ingress":[{"from":[
      {"podSelector":{"matchLabels":{"a":"b"}},"namespaceSelector":{}},
      {"ipBlock":{"cidr":"10.0.0.0/8","except":["10.1.0.0/16"]}}],
      "ports":[{"port":80,"endPort":90},{"port":"http"},{"protocol":"UDP"}]}],
      "egress":[{}]})")
                  .empty());
}

TEST(NetworkPolicyValidation, IpBlocks) {
  auto c = validate(R"({"podSelector":{},"ingress":[{"from":[
      {"ipBlock":{"cidr":"10.0.0.0/16","except":["10.1.0.0/24"]}},
      {"ipBlock":{"cidr":"10.0.0.0/16","except":["10.0.0.0/16"]}},
      {"ipBlock":{"cidr":"10.0.0.300/16"}},
      {"ipBlock":{}}]}]})");
  EXPECT_EQ(messageFor(c, "spec.ingress[0].from[0].ipBlock.except[0]"),
            "Invalid value: \"10.1.0.0/24\": must be a strict subset of `cidr`");
  EXPECT_EQ(messageFor(c, "spec.ingress[0].from[1].ipBlock.except[0]"),
            "Invalid value: \"10.0.0.0/16\": must be a strict subset of `cidr`");
  EXPECT_EQ(messageFor(c, "spec.ingress[0].from[2].ipBlock.cidr"),
            "Invalid value: \"10.0.0.300/16\": not a valid CIDR");
  EXPECT_EQ(messageFor(c, "spec.ingress[0].from[3].ipBlock.cidr"), "Required value");
}

TEST(NetworkPolicyValidation, Ports) {
  auto c = validate(R"({"podSelector":{},"egress":[{"ports":[
      {"port":90,"endPort":80},{"port":"http","endPort":90},{"port":70000},
      {"protocol":"ICMP","port":1},{"port":"Bad_Name"},{"endPort":5}]}]})");
  EXPECT_EQ(messageFor(c, "spec.egress[0].ports[0].endPort"),
            "Invalid value: 90: must be greater than or equal to `port`");
  EXPECT_EQ(messageFor(c, "spec.egress[0].ports[1].endPort"),
            "Invalid value: 90: may not be specified when `port` is non-numeric");
  EXPECT_EQ(messageFor(c, "spec.egress[0].ports[2].port"),
            "Invalid value: 70000: must be between 1 and 65535, inclusive");
  EXPECT_EQ(messageFor(c, "spec.egress[0].ports[3].protocol"),
            "Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\"");
  EXPECT_NE(messageFor(c, "spec.egress[0].ports[4].port"), "<none>");
  EXPECT_EQ(messageFor(c, "spec.egress[0].ports[5].endPort"),
            "Invalid value: 5: may not be specified when `port` is not specified");
}

TEST(NetworkPolicyValidation, PeersSelectorsAndTypes) {
  auto c = validate(R"({"podSelector":{"matchExpressions":[{"key":"a","operator":"Bogus"}]},
      "policyTypes":["Ingress","Sideways"],
      "ingress":[{"from":[{},{"podSelector":{},"ipBlock":{"cidr":"10.0.0.0/8"}}]}]})");
  EXPECT_NE(messageFor(c, "spec.podSelector.matchExpressions[0].operator"), "<none>");
  EXPECT_EQ(messageFor(c, "spec.policyTypes[1]"),
            "Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\"");
  EXPECT_EQ(messageFor(c, "spec.ingress[0].from[0]"), "Required value: must specify a peer");
  EXPECT_EQ(messageFor(c, "spec.ingress[0].from[1]"),
            "Forbidden: may not specify both ipBlock and another peer");
}
