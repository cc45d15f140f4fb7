#include "dns/record_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dns/cluster_records.h"
#include "unit/dns/dns_test_util.h"

namespace skiff::dns {
namespace {

using test::obj;
using ::testing::UnorderedElementsAre;

Record a(const std::string& name, const std::string& ip) {
  uint32_t v = 0;
  parseIpv4(ip, v);
  return Record{.name = name, .type = kA, .ipv4 = v};
}

std::vector<std::string> texts(const std::vector<Record>& rs) {
  std::vector<std::string> out;
  for (auto& r : rs) {
    std::string s = r.name + " " + std::to_string(r.type) + " ";
    if (r.type == kA)
      s += formatIpv4(r.ipv4);
    else if (r.type == kSrv)
      s += std::to_string(r.weight) + " " + std::to_string(r.port) + " " + r.target;
    else
      s += r.target;
    out.push_back(s);
  }
  return out;
}

TEST(Ipv4, ParseFormatReverse) {
  uint32_t ip = 0;
  ASSERT_TRUE(parseIpv4("10.43.0.10", ip));
  EXPECT_EQ(formatIpv4(ip), "10.43.0.10");
  EXPECT_EQ(reverseName(ip), "10.0.43.10.in-addr.arpa");
  EXPECT_EQ(dashedIp(ip), "10-43-0-10");
  EXPECT_FALSE(parseIpv4("10.43.0", ip));
  EXPECT_FALSE(parseIpv4("10.43.0.256", ip));
  EXPECT_FALSE(parseIpv4("10.43.0.1x", ip));
  EXPECT_FALSE(parseIpv4("a.b.c.d", ip));
}

TEST(RecordIndex, LookupAndEmptyNonTerminals) {
  RecordIndex idx;
  idx.setSource("default/web", {a("web.default.svc.cluster.local", "10.43.0.20")});
  std::vector<Record> out;
  EXPECT_EQ(idx.lookup("web.default.svc.cluster.local", kA, out), Lookup::Found);
  EXPECT_THAT(texts(out), UnorderedElementsAre("web.default.svc.cluster.local 1 10.43.0.20"));
  out.clear();
  EXPECT_EQ(idx.lookup("web.default.svc.cluster.local", kAaaa, out), Lookup::NoData);
  EXPECT_EQ(idx.lookup("default.svc.cluster.local", kA, out), Lookup::NoData);
  EXPECT_EQ(idx.lookup("svc.cluster.local", kA, out), Lookup::NoData);
  EXPECT_EQ(idx.lookup("cluster.local", kA, out), Lookup::NoData);
  EXPECT_EQ(idx.lookup("nope.default.svc.cluster.local", kA, out), Lookup::NxDomain);
  EXPECT_EQ(idx.lookup("web.other.svc.cluster.local", kA, out), Lookup::NxDomain);
  EXPECT_EQ(idx.lookup("example.com", kA, out), Lookup::NotOurs);
  EXPECT_TRUE(out.empty());
}

TEST(RecordIndex, ReplaceAndRemoveSources) {
  RecordIndex idx;
  idx.setSource("default/web", {a("web.default.svc.cluster.local", "10.43.0.20")});
  idx.setSource("default/web", {a("web.default.svc.cluster.local", "10.43.0.21")});
  std::vector<Record> out;
  ASSERT_EQ(idx.lookup("web.default.svc.cluster.local", kA, out), Lookup::Found);
  EXPECT_THAT(texts(out), UnorderedElementsAre("web.default.svc.cluster.local 1 10.43.0.21"));
  idx.removeSource("default/web");
  out.clear();
  EXPECT_EQ(idx.lookup("web.default.svc.cluster.local", kA, out), Lookup::NxDomain);
  // Nothing is left behind, not even the empty non-terminals.
  EXPECT_EQ(idx.names(), 0u);
  EXPECT_EQ(idx.lookup("default.svc.cluster.local", kA, out), Lookup::NxDomain);
}

TEST(RecordIndex, PodNamesFromTheAddress) {
  RecordIndex idx;
  std::vector<Record> out;
  ASSERT_EQ(idx.lookup("10-42-0-5.default.pod.cluster.local", kA, out), Lookup::Found);
  EXPECT_THAT(texts(out), UnorderedElementsAre("10-42-0-5.default.pod.cluster.local 1 10.42.0.5"));
  out.clear();
  EXPECT_EQ(idx.lookup("10-42-0-5.default.pod.cluster.local", kAaaa, out), Lookup::NoData);
  EXPECT_EQ(idx.lookup("10-42-0.default.pod.cluster.local", kA, out), Lookup::NxDomain);
  EXPECT_EQ(idx.lookup("default.pod.cluster.local", kA, out), Lookup::NoData);
  EXPECT_EQ(idx.lookup("pod.cluster.local", kA, out), Lookup::NoData);
}

TEST(RecordIndex, OtherZone) {
  RecordIndex idx("k8s.example");
  std::vector<Record> out;
  EXPECT_EQ(idx.lookup("x.default.svc.cluster.local", kA, out), Lookup::NotOurs);
  EXPECT_EQ(idx.lookup("x.default.svc.k8s.example", kA, out), Lookup::NxDomain);
  EXPECT_FALSE(idx.inZone("xk8s.example"));
}

TEST(ServiceRecords, ClusterIpServiceWithNamedPorts) {
  auto svc = obj(R"({"metadata":{"name":"Web","namespace":"prod"},
    "spec":{"clusterIP":"10.43.0.20","ports":[{"name":"http","port":80,"protocol":"TCP"},
    {"port":8125,"protocol":"UDP"}]}})");
  EXPECT_THAT(
      texts(serviceRecords(svc, {}, "cluster.local")),
      UnorderedElementsAre("web.prod.svc.cluster.local 1 10.43.0.20",
                           "20.0.43.10.in-addr.arpa 12 web.prod.svc.cluster.local",
                           "web.prod.svc.cluster.local 33 100 80 web.prod.svc.cluster.local",
                           "_http._tcp.web.prod.svc.cluster.local 33 100 80 "
                           "web.prod.svc.cluster.local",
                           "web.prod.svc.cluster.local 33 100 8125 "
                           "web.prod.svc.cluster.local"));
}

TEST(ServiceRecords, ExternalNameIsACname) {
  auto svc = obj(R"({"metadata":{"name":"ext","namespace":"default"},
    "spec":{"type":"ExternalName","externalName":"db.example.com."}})");
  EXPECT_THAT(texts(serviceRecords(svc, {}, "cluster.local")),
              UnorderedElementsAre("ext.default.svc.cluster.local 5 db.example.com"));
}

TEST(ServiceRecords, UnallocatedServiceHasNoRecords) {
  auto svc = obj(R"({"metadata":{"name":"web","namespace":"default"},"spec":{}})");
  EXPECT_TRUE(serviceRecords(svc, {}, "cluster.local").empty());
}

TEST(ServiceRecords, HeadlessServiceReadyEndpointsAndHostnames) {
  auto svc = obj(R"({"metadata":{"name":"db","namespace":"default"},
    "spec":{"clusterIP":"None","ports":[{"name":"pg","port":5432}]}})");
  auto slice = obj(R"({"metadata":{"name":"db-abc","namespace":"default",
      "labels":{"kubernetes.io/service-name":"db"}},
    "addressType":"IPv4","ports":[{"name":"pg","port":5432,"protocol":"TCP"}],
    "endpoints":[
      {"addresses":["10.42.0.7"],"hostname":"db-0","conditions":{"ready":true}},
      {"addresses":["10.42.0.8"],"conditions":{}},
      {"addresses":["10.42.0.9"],"hostname":"db-2","conditions":{"ready":false}}]})");
  auto v6 = obj(R"({"addressType":"IPv6","endpoints":[{"addresses":["fd00::1"]}]})");
  auto rs = texts(serviceRecords(svc, {&slice, &v6}, "cluster.local"));
  EXPECT_THAT(rs, UnorderedElementsAre(
                      "db.default.svc.cluster.local 1 10.42.0.7",
                      "db-0.db.default.svc.cluster.local 1 10.42.0.7",
                      "7.0.42.10.in-addr.arpa 12 db-0.db.default.svc.cluster.local",
                      "db.default.svc.cluster.local 33 50 5432 db-0.db.default.svc.cluster.local",
                      "_pg._tcp.db.default.svc.cluster.local 33 50 5432 "
                      "db-0.db.default.svc.cluster.local",
                      "db.default.svc.cluster.local 1 10.42.0.8",
                      "10-42-0-8.db.default.svc.cluster.local 1 10.42.0.8",
                      "8.0.42.10.in-addr.arpa 12 10-42-0-8.db.default.svc.cluster.local",
                      "db.default.svc.cluster.local 33 50 5432 "
                      "10-42-0-8.db.default.svc.cluster.local",
                      "_pg._tcp.db.default.svc.cluster.local 33 50 5432 "
                      "10-42-0-8.db.default.svc.cluster.local"));
}

}  // namespace
}  // namespace skiff::dns
