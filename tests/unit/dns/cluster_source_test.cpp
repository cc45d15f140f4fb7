// The informer wiring: Service and EndpointSlice events recompute one Service's records.
// Informers are driven by hand (replace / handleEvent), never started.
#include "dns/cluster_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/dns/dns_test_util.h"

namespace skiff::dns {
namespace {

using client::ObjectPtr;

ObjectPtr ptr(const std::string& text) {
  return std::make_shared<const boost::json::object>(test::obj(text));
}

std::vector<std::string> addresses(const RecordIndex& idx, const std::string& name) {
  std::vector<Record> out;
  idx.lookup(name, kA, out);
  std::vector<std::string> ips;
  for (auto& r : out) ips.push_back(formatIpv4(r.ipv4));
  std::sort(ips.begin(), ips.end());
  return ips;
}

TEST(ClusterSource, ServiceAndSliceEventsUpdateTheIndex) {
  client::ClientConfig config;
  config.server = "http://127.0.0.1:1";  // never called: the informers are not started
  client::RestClient rest(config);
  client::SharedInformerFactory informers(rest);
  RecordIndex index;
  ClusterSource source(index);
  source.attach(informers);
  auto& services = informers.informer(client::resources::services);
  auto& slices = informers.informer(client::resources::endpointSlices);

  auto headless = ptr(R"({"metadata":{"name":"db","namespace":"default","resourceVersion":"1"},
    "spec":{"clusterIP":"None"}})");
  auto web = ptr(R"({"metadata":{"name":"web","namespace":"default","resourceVersion":"2"},
    "spec":{"clusterIP":"10.43.0.20"}})");
  auto slice = [](const std::string& rv, const std::string& addrs) {
    return ptr(R"({"metadata":{"name":"db-x","namespace":"default","resourceVersion":")" + rv +
               R"(","labels":{"kubernetes.io/service-name":"db"}},"addressType":"IPv4",
               "endpoints":[)" +
               addrs + "]}");
  };
  // A slice seen before its Service counts once the Service arrives.
  slices.replace({slice("3", R"({"addresses":["10.42.0.7"]})")}, "3");
  EXPECT_TRUE(addresses(index, "db.default.svc.cluster.local").empty());
  services.replace({headless, web}, "3");
  EXPECT_THAT(addresses(index, "db.default.svc.cluster.local"),
              ::testing::ElementsAre("10.42.0.7"));
  EXPECT_THAT(addresses(index, "web.default.svc.cluster.local"),
              ::testing::ElementsAre("10.43.0.20"));

  client::WatchEvent modified{"MODIFIED", slice("4", R"({"addresses":["10.42.0.7"]},
    {"addresses":["10.42.0.8"]})")};
  slices.handleEvent(modified);
  EXPECT_THAT(addresses(index, "db.default.svc.cluster.local"),
              ::testing::ElementsAre("10.42.0.7", "10.42.0.8"));

  client::WatchEvent gone{"DELETED", slice("5", "")};
  slices.handleEvent(gone);
  EXPECT_TRUE(addresses(index, "db.default.svc.cluster.local").empty());

  client::WatchEvent deleted{"DELETED", web};
  services.handleEvent(deleted);
  std::vector<Record> out;
  EXPECT_EQ(index.lookup("web.default.svc.cluster.local", kA, out), Lookup::NxDomain);
}

}  // namespace
}  // namespace skiff::dns
