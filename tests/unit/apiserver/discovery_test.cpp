// Discovery: negotiation of aggregated v2/v2beta1, ordering by APIService priorities, and
// the documents with group-versions served through APIServices.
#include "apiserver/discovery.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace json = boost::json;
using namespace skiff::apiserver;

namespace {
const auto& registry() { return skiff::api::ResourceRegistry::builtin(); }

AggregatedVersion wardle(bool fetched, bool fresh) {
  AggregatedVersion v;
  v.group = "wardle.example.com";
  v.version = "v1alpha1";
  v.priority = {1000, 15};
  v.fetched = fetched;
  v.fresh = fresh;
  v.resources =
      json::parse(
          R"([{"name":"flunders","singularName":"flunder","namespaced":true,"kind":"Flunder","verbs":["get","list"],"shortNames":["fl"]},
                                {"name":"flunders/status","singularName":"","namespaced":true,"kind":"Flunder","verbs":["get"]},
                                {"name":"orphans/scale","singularName":"","namespaced":false,"kind":"Scale","group":"autoscaling","version":"v1","verbs":["get"]}])")
          .as_array();
  return v;
}
}  // namespace

TEST(DiscoveryNegotiation, KubectlAcceptHeaders) {
  // kubectl 1.30+.
  EXPECT_EQ(negotiateDiscovery(
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                "application/"
                "json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"),
            DiscoveryFormat::AggregatedV2);
  // kubectl 1.27-1.29.
  EXPECT_EQ(negotiateDiscovery(
                "application/"
                "json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"),
            DiscoveryFormat::AggregatedV2Beta1);
  EXPECT_EQ(negotiateDiscovery("application/json"), DiscoveryFormat::Legacy);
  EXPECT_EQ(negotiateDiscovery(""), DiscoveryFormat::Legacy);
  EXPECT_EQ(negotiateDiscovery("application/json, */*"), DiscoveryFormat::Legacy);
}

TEST(DiscoveryNegotiation, OrderAndRejectedClauses) {
  // A more specific clause wins over a plain one listed first; q decides before that.
  EXPECT_EQ(negotiateDiscovery(
                "application/json, "
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
            DiscoveryFormat::AggregatedV2Beta1);
  EXPECT_EQ(negotiateDiscovery(
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0.2, "
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList;q=0.9"),
            DiscoveryFormat::AggregatedV2Beta1);
  // Unknown version, other kind, other group, protobuf (not offered here): not acceptable.
  EXPECT_EQ(
      negotiateDiscovery("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList"),
      DiscoveryFormat::Legacy);
  EXPECT_EQ(negotiateDiscovery("application/json;as=Table;v=v1;g=meta.k8s.io"),
            DiscoveryFormat::Legacy);
  EXPECT_EQ(negotiateDiscovery("application/json;g=example.com;v=v2;as=APIGroupDiscoveryList"),
            DiscoveryFormat::Legacy);
  EXPECT_EQ(negotiateDiscovery(
                "application/"
                "vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"),
            DiscoveryFormat::Legacy);
  EXPECT_EQ(negotiateDiscovery(
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0"),
            DiscoveryFormat::Legacy);
  EXPECT_EQ(aggregatedDiscoveryContentType(DiscoveryFormat::AggregatedV2Beta1),
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList");
}

TEST(Discovery, V2Beta1DocumentHasTheSameShape) {
  auto v2 = aggregatedDiscovery(registry(), false, DiscoveryFormat::AggregatedV2);
  auto beta = aggregatedDiscovery(registry(), false, DiscoveryFormat::AggregatedV2Beta1);
  EXPECT_EQ(v2.at("apiVersion").as_string(), "apidiscovery.k8s.io/v2");
  EXPECT_EQ(beta.at("apiVersion").as_string(), "apidiscovery.k8s.io/v2beta1");
  EXPECT_EQ(v2.at("items"), beta.at("items"));
}

TEST(Discovery, GroupsInUpstreamPriorityOrder) {
  auto list = apiGroupList(registry());
  std::vector<std::string> names;
  for (const auto& g : list.at("groups").as_array()) names.emplace_back(g.at("name").as_string());
  ASSERT_GE(names.size(), 4u);
  EXPECT_EQ(names[0], "apiregistration.k8s.io");
  EXPECT_EQ(names[1], "apps");
  EXPECT_EQ(names[2], "events.k8s.io");
  auto autoscaling = apiGroup(registry(), "autoscaling");
  ASSERT_TRUE(autoscaling);
  EXPECT_EQ(autoscaling->at("preferredVersion").at("version").as_string(), "v2");
}

TEST(Discovery, AggregatedVersionsJoinTheDocuments) {
  std::vector<AggregatedVersion> extra{wardle(true, true)};
  auto list = apiGroupList(registry(), extra);
  const auto& groups = list.at("groups").as_array();
  EXPECT_EQ(groups.back().at("name").as_string(), "wardle.example.com");  // priority 1000: last
  auto group = apiGroup(registry(), "wardle.example.com", extra);
  ASSERT_TRUE(group);
  EXPECT_EQ(group->at("preferredVersion").at("groupVersion").as_string(),
            "wardle.example.com/v1alpha1");

  auto doc = aggregatedDiscovery(registry(), false, DiscoveryFormat::AggregatedV2, extra);
  const auto& last = doc.at("items").as_array().back().as_object();
  EXPECT_EQ(last.at("metadata").at("name").as_string(), "wardle.example.com");
  const auto& version = last.at("versions").as_array()[0].as_object();
  EXPECT_EQ(version.at("freshness").as_string(), "Current");
  const auto& resources = version.at("resources").as_array();
  ASSERT_EQ(resources.size(), 2u);
  EXPECT_EQ(resources[0].at("resource").as_string(), "flunders");
  EXPECT_EQ(resources[0].at("scope").as_string(), "Namespaced");
  EXPECT_EQ(resources[0].at("responseKind").at("kind").as_string(), "Flunder");
  EXPECT_EQ(resources[0].at("shortNames").as_array().size(), 1u);
  EXPECT_EQ(resources[0].at("subresources").as_array()[0].at("subresource").as_string(), "status");
  // A subresource without its parent gets a made-up parent.
  EXPECT_EQ(resources[1].at("resource").as_string(), "orphans");
  EXPECT_EQ(resources[1].at("scope").as_string(), "Cluster");
  EXPECT_EQ(
      resources[1].at("subresources").as_array()[0].at("responseKind").at("group").as_string(),
      "autoscaling");
}

TEST(Discovery, StaleAndUnfetchedVersions) {
  std::vector<AggregatedVersion> stale{wardle(true, false)};
  auto doc = aggregatedDiscovery(registry(), false, DiscoveryFormat::AggregatedV2, stale);
  const auto& version = doc.at("items").as_array().back().at("versions").as_array()[0].as_object();
  EXPECT_EQ(version.at("freshness").as_string(), "Stale");
  EXPECT_FALSE(version.contains("resources"));
  // Listed in legacy discovery regardless (as upstream's /apis handler does).
  EXPECT_TRUE(apiGroup(registry(), "wardle.example.com", stale));

  std::vector<AggregatedVersion> unfetched{wardle(false, false)};
  doc = aggregatedDiscovery(registry(), false, DiscoveryFormat::AggregatedV2, unfetched);
  for (const auto& g : doc.at("items").as_array())
    EXPECT_NE(g.at("metadata").at("name").as_string(), "wardle.example.com");
}

TEST(Discovery, VersionOrder) {
  EXPECT_GT(compareKubeVersions("v2", "v1"), 0);
  EXPECT_GT(compareKubeVersions("v1", "v2beta1"), 0);
  EXPECT_GT(compareKubeVersions("v1beta2", "v1beta1"), 0);
  EXPECT_GT(compareKubeVersions("v1beta1", "v1alpha3"), 0);
  EXPECT_GT(compareKubeVersions("v1alpha1", "foo"), 0);
  EXPECT_GT(compareKubeVersions("bar", "foo"), 0);
  EXPECT_EQ(compareKubeVersions("v1", "v1"), 0);
  // Versions of one group: versionPriority first, then Kubernetes order.
  AggregatedVersion a = wardle(true, true), b = wardle(true, true), c = wardle(true, true);
  b.version = "v1";
  c.version = "v1beta1";
  c.priority.version = 20;
  auto group = apiGroup(registry(), "wardle.example.com", {a, b, c});
  ASSERT_TRUE(group);
  const auto& versions = group->at("versions").as_array();
  ASSERT_EQ(versions.size(), 3u);
  EXPECT_EQ(versions[0].at("version").as_string(), "v1beta1");
  EXPECT_EQ(versions[1].at("version").as_string(), "v1");
  EXPECT_EQ(versions[2].at("version").as_string(), "v1alpha1");
}
