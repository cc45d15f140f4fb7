// The server on loopback (no root: a 127/8 address needs no interface) against a fake
// upstream resolver on another loopback address.
#include "dns/dns_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "dns/cluster_records.h"
#include "unit/dns/dns_test_util.h"

namespace skiff::dns {
namespace {

using test::makeQuery;
using test::parse;
using ::testing::ElementsAre;

sockaddr_in loopback(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// Answers example.com A 192.0.2.1 (TTL 30); never answers silent.example.
class FakeUpstream {
 public:
  FakeUpstream() {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    auto a = loopback("127.0.0.1", 0);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t l = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &l);
    port = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~FakeUpstream() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port = 0;
  std::atomic<int> queries{0};

 private:
  void run() {
    uint8_t buf[4096];
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      sockaddr_in from{};
      socklen_t fl = sizeof from;
      auto n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n <= 0) continue;
      ++queries;
      ldns_pkt* q = nullptr;
      if (ldns_wire2pkt(&q, buf, static_cast<size_t>(n)) != LDNS_STATUS_OK) continue;
      auto* question = ldns_rr_list_rr(ldns_pkt_question(q), 0);
      char* name = ldns_rdf2str(ldns_rr_owner(question));
      std::string qname = name;
      free(name);
      if (qname == "example.com.") {
        ldns_pkt_set_qr(q, true);
        ldns_rr* rr = nullptr;
        ldns_rr_new_frm_str(&rr, "example.com. 30 IN A 192.0.2.1", 0, nullptr, nullptr);
        ldns_pkt_push_rr(q, LDNS_SECTION_ANSWER, rr);
        uint8_t* out = nullptr;
        size_t size = 0;
        ldns_pkt2wire(&out, q, &size);
        sendto(fd_, out, size, 0, reinterpret_cast<sockaddr*>(&from), fl);
        free(out);
      }
      ldns_pkt_free(q);
    }
  }
  int fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

Wire udpAsk(uint16_t port, const Wire& q) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  timeval tv{5, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto a = loopback("127.0.0.2", port);
  sendto(s, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  Wire out(65535);
  auto n = recv(s, out.data(), out.size(), 0);
  close(s);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

Wire tcpAsk(uint16_t port, const Wire& q) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto a = loopback("127.0.0.2", port);
  Wire out;
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    Wire msg = {static_cast<uint8_t>(q.size() >> 8), static_cast<uint8_t>(q.size() & 0xff)};
    msg.insert(msg.end(), q.begin(), q.end());
    send(s, msg.data(), msg.size(), 0);
    uint8_t len[2];
    if (recv(s, len, 2, MSG_WAITALL) == 2) {
      out.resize(static_cast<size_t>(len[0] << 8 | len[1]));
      if (recv(s, out.data(), out.size(), MSG_WAITALL) != static_cast<ssize_t>(out.size()))
        out.clear();
    }
  }
  close(s);
  return out;
}

class DnsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto web = test::obj(R"({"metadata":{"name":"web","namespace":"default"},
      "spec":{"clusterIP":"10.43.0.20"}})");
    index.setSource("default/web", serviceRecords(web, {}, "cluster.local"));
    auto ext = test::obj(R"({"metadata":{"name":"ext","namespace":"default"},
      "spec":{"type":"ExternalName","externalName":"example.com"}})");
    index.setSource("default/ext", serviceRecords(ext, {}, "cluster.local"));
    resolv = std::filesystem::temp_directory_path() /
             ("skiff-dns-test-" + std::to_string(getpid()) + ".conf");
    std::ofstream(resolv) << "search example\nnameserver 127.0.0.1\nnameserver fd00::1\n";
    DnsServerOptions o;
    o.bindAddress = "127.0.0.2";
    o.port = 0;
    o.resolvConf = resolv.string();
    o.upstreamPort = upstream.port;
    o.upstreamTimeout = std::chrono::milliseconds(300);
    server = std::make_unique<DnsServer>(index, o);
    server->start();
  }
  void TearDown() override {
    server->stop();
    std::filesystem::remove(resolv);
  }
  FakeUpstream upstream;
  RecordIndex index;
  std::filesystem::path resolv;
  std::unique_ptr<DnsServer> server;
};

TEST_F(DnsServerTest, ReadsTheIpv4NameserversOfResolvConf) {
  EXPECT_EQ(server->upstreams().size(), 1u);
}

TEST_F(DnsServerTest, AnswersClusterNamesOverUdpAndTcp) {
  auto q = makeQuery("web.default.svc.cluster.local.", LDNS_RR_TYPE_A, 11);
  auto udp = parse(udpAsk(server->port(), q));
  EXPECT_EQ(udp.id, 11);
  EXPECT_THAT(udp.answer, ElementsAre("web.default.svc.cluster.local. A 10.43.0.20"));
  auto tcp = parse(tcpAsk(server->port(), q));
  EXPECT_THAT(tcp.answer, ElementsAre("web.default.svc.cluster.local. A 10.43.0.20"));
  EXPECT_EQ(upstream.queries, 0);
  auto metrics = server->metrics().render();
  EXPECT_THAT(metrics, ::testing::HasSubstr("proto=\"udp\",family=\"1\",type=\"A\"} 1"));
  EXPECT_THAT(metrics, ::testing::HasSubstr("proto=\"tcp\",family=\"1\",type=\"A\"} 1"));
  EXPECT_THAT(metrics, ::testing::HasSubstr("rcode=\"NOERROR\"} 2"));
}

TEST_F(DnsServerTest, ForwardsOtherNamesAndCachesTheAnswer) {
  auto first = parse(udpAsk(server->port(), makeQuery("example.com.", LDNS_RR_TYPE_A, 21)));
  EXPECT_EQ(first.id, 21);
  EXPECT_THAT(first.answer, ElementsAre("example.com. A 192.0.2.1"));
  auto again = parse(udpAsk(server->port(), makeQuery("EXAMPLE.com.", LDNS_RR_TYPE_A, 22)));
  EXPECT_EQ(again.id, 22);
  EXPECT_THAT(again.answer, ElementsAre("example.com. A 192.0.2.1"));
  EXPECT_EQ(upstream.queries, 1);  // the second came from the cache
  auto metrics = server->metrics().render();
  EXPECT_THAT(metrics, ::testing::HasSubstr("coredns_cache_hits_total{server=\"dns://127.0.0.2:0\","
                                            "type=\"success\"} 1"));
  EXPECT_THAT(metrics, ::testing::HasSubstr("coredns_forward_requests_total{to=\""));
  auto tcp = parse(tcpAsk(server->port(), makeQuery("example.com.", LDNS_RR_TYPE_A, 23)));
  EXPECT_EQ(tcp.id, 23);
  EXPECT_THAT(tcp.answer, ElementsAre("example.com. A 192.0.2.1"));
}

TEST_F(DnsServerTest, ExternalNameTargetsOutsideTheZoneAreResolvedUpstream) {
  auto q = makeQuery("ext.default.svc.cluster.local.", LDNS_RR_TYPE_A, 41);
  for (bool tcp : {false, true}) {
    auto p = parse(tcp ? tcpAsk(server->port(), q) : udpAsk(server->port(), q));
    EXPECT_EQ(p.id, 41);
    EXPECT_EQ(p.rcode, LDNS_RCODE_NOERROR);
    EXPECT_THAT(p.answer, ElementsAre("ext.default.svc.cluster.local. CNAME example.com.",
                                      "example.com. A 192.0.2.1"))
        << (tcp ? "tcp" : "udp");
  }
  EXPECT_EQ(upstream.queries, 1);  // the target's answer was cached for the second
}

TEST_F(DnsServerTest, SilentUpstreamGivesServfail) {
  auto p = parse(udpAsk(server->port(), makeQuery("silent.example.", LDNS_RR_TYPE_A, 31)));
  EXPECT_EQ(p.id, 31);
  EXPECT_EQ(p.rcode, LDNS_RCODE_SERVFAIL);
  auto t = parse(tcpAsk(server->port(), makeQuery("silent.example.", LDNS_RR_TYPE_A, 32)));
  EXPECT_EQ(t.rcode, LDNS_RCODE_SERVFAIL);
}

}  // namespace
}  // namespace skiff::dns
