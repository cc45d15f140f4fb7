#include "dns/responder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dns/cluster_records.h"
#include "dns/forward_cache.h"
#include "unit/dns/dns_test_util.h"

namespace skiff::dns {
namespace {

using test::makeQuery;
using test::obj;
using test::parse;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

class ResponderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto web = obj(R"({"metadata":{"name":"web","namespace":"default"},
      "spec":{"clusterIP":"10.43.0.20","ports":[{"name":"http","port":80}]}})");
    index.setSource("default/web", serviceRecords(web, {}, "cluster.local"));
    auto ext = obj(R"({"metadata":{"name":"ext","namespace":"default"},
      "spec":{"type":"ExternalName","externalName":"web.default.svc.cluster.local"}})");
    index.setSource("default/ext", serviceRecords(ext, {}, "cluster.local"));
  }
  test::Parsed ask(const std::string& name, ldns_rr_type type, int edns = 0, bool tcp = false) {
    auto q = makeQuery(name, type, 4242, edns);
    Reply r = responder.answer(q.data(), q.size(), tcp);
    EXPECT_EQ(r.kind, Reply::Kind::Answer) << name;
    return parse(r.wire);
  }
  RecordIndex index;
  Responder responder{index};
};

TEST_F(ResponderTest, ServiceARecordIsAuthoritativeWithTtl5) {
  auto p = ask("web.default.svc.cluster.local.", LDNS_RR_TYPE_A);
  EXPECT_EQ(p.rcode, LDNS_RCODE_NOERROR);
  EXPECT_EQ(p.id, 4242);
  EXPECT_TRUE(p.aa);
  EXPECT_THAT(p.answer, ElementsAre("web.default.svc.cluster.local. A 10.43.0.20"));
  EXPECT_THAT(p.ttls, ElementsAre(5u));
  EXPECT_FALSE(p.edns);
}

TEST_F(ResponderTest, NamesAreCaseInsensitiveAndKeepTheQuestionsSpelling) {
  auto p = ask("WEB.Default.svc.cluster.local.", LDNS_RR_TYPE_A);
  EXPECT_THAT(p.answer, ElementsAre("WEB.Default.svc.cluster.local. A 10.43.0.20"));
}

TEST_F(ResponderTest, RepeatedQuestionsFromTheAnswerCacheKeepIdFlagsAndSpelling) {
  ask("web.default.svc.cluster.local.", LDNS_RR_TYPE_A);
  auto q = makeQuery("WEB.default.SVC.cluster.local.", LDNS_RR_TYPE_A, 777);
  q[2] &= static_cast<uint8_t>(~0x01);  // RD off
  auto p = parse(responder.answer(q.data(), q.size(), false).wire);
  EXPECT_EQ(p.id, 777);
  EXPECT_THAT(p.answer, ElementsAre("WEB.default.SVC.cluster.local. A 10.43.0.20"));
  ldns_pkt* pkt = nullptr;
  auto w = responder.answer(q.data(), q.size(), false).wire;
  ASSERT_EQ(ldns_wire2pkt(&pkt, w.data(), w.size()), LDNS_STATUS_OK);
  EXPECT_FALSE(ldns_pkt_rd(pkt));
  ldns_pkt_free(pkt);
}

TEST_F(ResponderTest, AnIndexChangeIsSeenAtOnce) {
  EXPECT_EQ(ask("web.default.svc.cluster.local.", LDNS_RR_TYPE_A).answer.size(), 1u);
  index.removeSource("default/web");
  EXPECT_EQ(ask("web.default.svc.cluster.local.", LDNS_RR_TYPE_A).rcode, LDNS_RCODE_NXDOMAIN);
  auto web = obj(R"({"metadata":{"name":"web","namespace":"default"},
    "spec":{"clusterIP":"10.43.0.99"}})");
  index.setSource("default/web", serviceRecords(web, {}, "cluster.local"));
  EXPECT_THAT(ask("web.default.svc.cluster.local.", LDNS_RR_TYPE_A).answer,
              ElementsAre("web.default.svc.cluster.local. A 10.43.0.99"));
}

TEST(QuickQuery, PlainQueriesOnly) {
  QuickQuery qq;
  auto q = test::makeQuery("Web.default.svc.cluster.local.", LDNS_RR_TYPE_A, 1, 1232);
  ASSERT_TRUE(parseQuickQuery(q.data(), q.size(), qq));
  EXPECT_EQ(qq.key, "web.default.svc.cluster.local/1/1/edns");
  EXPECT_EQ(qq.udpLimit, 1232);
  q = test::makeQuery("web.", LDNS_RR_TYPE_SRV);
  ASSERT_TRUE(parseQuickQuery(q.data(), q.size(), qq));
  EXPECT_EQ(qq.key, "web/33/1");
  EXPECT_EQ(qq.udpLimit, 512);
  q[2] |= 0x80;  // a response
  EXPECT_FALSE(parseQuickQuery(q.data(), q.size(), qq));
  Wire tiny = {1, 2, 3};
  EXPECT_FALSE(parseQuickQuery(tiny.data(), tiny.size(), qq));
}

TEST_F(ResponderTest, MissingNameIsNxDomainWithSoa) {
  auto p = ask("nope.default.svc.cluster.local.", LDNS_RR_TYPE_A);
  EXPECT_EQ(p.rcode, LDNS_RCODE_NXDOMAIN);
  EXPECT_TRUE(p.answer.empty());
  ASSERT_EQ(p.authority.size(), 1u);
  EXPECT_THAT(p.authority[0], ::testing::StartsWith("cluster.local. SOA ns.dns.cluster.local. "
                                                    "hostmaster.cluster.local."));
}

TEST_F(ResponderTest, AaaaOfAnIpv4NameIsNoData) {
  auto p = ask("web.default.svc.cluster.local.", LDNS_RR_TYPE_AAAA);
  EXPECT_EQ(p.rcode, LDNS_RCODE_NOERROR);
  EXPECT_TRUE(p.answer.empty());
  EXPECT_EQ(p.authority.size(), 1u);
}

TEST_F(ResponderTest, SrvOfANamedPortWithTheTargetsAddress) {
  auto p = ask("_http._tcp.web.default.svc.cluster.local.", LDNS_RR_TYPE_SRV);
  EXPECT_THAT(p.answer, ElementsAre("_http._tcp.web.default.svc.cluster.local. SRV 0 100 80 "
                                    "web.default.svc.cluster.local."));
  EXPECT_THAT(p.additional, ElementsAre("web.default.svc.cluster.local. A 10.43.0.20"));
}

TEST_F(ResponderTest, PtrOfAServiceAddress) {
  auto p = ask("20.0.43.10.in-addr.arpa.", LDNS_RR_TYPE_PTR);
  EXPECT_THAT(p.answer, ElementsAre("20.0.43.10.in-addr.arpa. PTR web.default.svc.cluster.local."));
}

TEST_F(ResponderTest, ExternalNameIsACnameFollowedInsideTheZone) {
  auto p = ask("ext.default.svc.cluster.local.", LDNS_RR_TYPE_A);
  EXPECT_THAT(p.answer,
              ElementsAre("ext.default.svc.cluster.local. CNAME web.default.svc.cluster.local.",
                          "web.default.svc.cluster.local. A 10.43.0.20"));
}

TEST_F(ResponderTest, ExternalNameOutsideTheZoneIsHandedBackForChasing) {
  auto svc = obj(R"({"metadata":{"name":"db","namespace":"default"},
    "spec":{"type":"ExternalName","externalName":"DB.Example.com"}})");
  index.setSource("default/db", serviceRecords(svc, {}, "cluster.local"));
  auto q = makeQuery("db.default.svc.cluster.local.", LDNS_RR_TYPE_A);
  Reply r = responder.answer(q.data(), q.size(), false);
  ASSERT_EQ(r.kind, Reply::Kind::Answer);
  EXPECT_EQ(r.chaseName, "db.example.com");
  EXPECT_EQ(r.cacheKey, "db.example.com/1/1");
  EXPECT_THAT(parse(r.chaseQuery).answer, ElementsAre());
  EXPECT_THAT(parse(r.wire).answer,
              ElementsAre("db.default.svc.cluster.local. CNAME db.example.com."));
  // CNAME questions get the alias alone.
  q = makeQuery("db.default.svc.cluster.local.", LDNS_RR_TYPE_CNAME);
  EXPECT_TRUE(responder.answer(q.data(), q.size(), false).chaseName.empty());
}

TEST_F(ResponderTest, PodRecord) {
  auto p = ask("10-42-0-5.default.pod.cluster.local.", LDNS_RR_TYPE_A);
  EXPECT_THAT(p.answer, ElementsAre("10-42-0-5.default.pod.cluster.local. A 10.42.0.5"));
}

TEST_F(ResponderTest, ZoneApexSoa) {
  auto p = ask("cluster.local.", LDNS_RR_TYPE_SOA);
  ASSERT_EQ(p.answer.size(), 1u);
  EXPECT_THAT(p.answer[0], ::testing::StartsWith("cluster.local. SOA"));
}

TEST_F(ResponderTest, OtherNamesAndUnknownReverseNamesAreForwarded) {
  for (auto [name, type] : {std::pair{"example.com.", LDNS_RR_TYPE_A},
                            std::pair{"1.1.168.192.in-addr.arpa.", LDNS_RR_TYPE_PTR}}) {
    auto q = makeQuery(name, type);
    Reply r = responder.answer(q.data(), q.size(), false);
    EXPECT_EQ(r.kind, Reply::Kind::Forward) << name;
  }
  auto q = makeQuery("Example.COM.", LDNS_RR_TYPE_A);
  EXPECT_EQ(responder.answer(q.data(), q.size(), false).cacheKey, "example.com/1/1");
}

TEST_F(ResponderTest, Edns0IsEchoedAndSetsTheUdpLimit) {
  auto p = ask("web.default.svc.cluster.local.", LDNS_RR_TYPE_A, 4096);
  EXPECT_TRUE(p.edns);
  auto q = makeQuery("web.default.svc.cluster.local.", LDNS_RR_TYPE_A, 1, 4096);
  EXPECT_EQ(responder.answer(q.data(), q.size(), false).udpLimit, 4096);
}

TEST_F(ResponderTest, LargeUdpAnswersAreTruncatedButNotOverTcp) {
  // A headless Service with 60 endpoints: 60 A records do not fit in 512 bytes.
  std::string eps;
  for (int i = 1; i <= 60; ++i)
    eps +=
        std::string(i > 1 ? "," : "") + R"({"addresses":["10.42.1.)" + std::to_string(i) + R"("]})";
  auto svc =
      obj(R"({"metadata":{"name":"big","namespace":"default"},"spec":{"clusterIP":"None"}})");
  auto slice = obj(R"({"addressType":"IPv4","endpoints":[)" + eps + "]}");
  index.setSource("default/big", serviceRecords(svc, {&slice}, "cluster.local"));
  auto udp = ask("big.default.svc.cluster.local.", LDNS_RR_TYPE_A);
  EXPECT_TRUE(udp.tc);
  EXPECT_TRUE(udp.answer.empty());
  auto bigger = ask("big.default.svc.cluster.local.", LDNS_RR_TYPE_A, 4096);
  EXPECT_FALSE(bigger.tc);
  EXPECT_EQ(bigger.answer.size(), 60u);
  auto tcp = ask("big.default.svc.cluster.local.", LDNS_RR_TYPE_A, 0, true);
  EXPECT_FALSE(tcp.tc);
  EXPECT_EQ(tcp.answer.size(), 60u);
}

TEST_F(ResponderTest, GarbageIsFormErrOrDropped) {
  Wire junk = {1, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 99};
  Reply r = responder.answer(junk.data(), junk.size(), false);
  ASSERT_EQ(r.kind, Reply::Kind::Answer);
  EXPECT_EQ(r.wire[3] & 0x0f, LDNS_RCODE_FORMERR);
  Wire tiny = {1, 2};
  EXPECT_EQ(responder.answer(tiny.data(), tiny.size(), false).kind, Reply::Kind::Drop);
}

TEST(ForwardCache, ServesWithCountedDownTtlsAndExpires) {
  // An upstream answer: example.com A 192.0.2.1 TTL 30.
  ldns_pkt* p = nullptr;
  ldns_pkt_query_new_frm_str(&p, "example.com.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD);
  ldns_pkt_set_qr(p, true);
  ldns_rr* rr = nullptr;
  ldns_rr_new_frm_str(&rr, "example.com. 30 IN A 192.0.2.1", 0, nullptr, nullptr);
  ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
  uint8_t* buf = nullptr;
  size_t size = 0;
  ldns_pkt2wire(&buf, p, &size);
  Wire answer(buf, buf + size);
  std::free(buf);
  ldns_pkt_free(p);
  EXPECT_EQ(cacheableTtl(answer), 30u);

  ForwardCache cache;
  auto t0 = ForwardCache::Clock::now();
  cache.put("example.com/1/1", answer, t0);
  auto hit = cache.get("example.com/1/1", 77, t0 + std::chrono::seconds(10));
  ASSERT_TRUE(hit);
  auto parsed = parse(*hit);
  EXPECT_EQ(parsed.id, 77);
  EXPECT_THAT(parsed.answer, ElementsAre("example.com. A 192.0.2.1"));
  EXPECT_THAT(parsed.ttls, ElementsAre(20u));
  EXPECT_FALSE(cache.get("example.com/1/1", 77, t0 + std::chrono::seconds(31)));
  EXPECT_FALSE(cache.get("other/1/1", 77, t0));
}

TEST(ForwardCache, ServfailIsNotCached) {
  auto q = makeQuery("example.com.", LDNS_RR_TYPE_A);
  auto servfail = errorReply(q.data(), q.size(), LDNS_RCODE_SERVFAIL);
  EXPECT_EQ(parse(servfail).rcode, LDNS_RCODE_SERVFAIL);
  EXPECT_EQ(cacheableTtl(servfail), 0u);
}

}  // namespace
}  // namespace skiff::dns
