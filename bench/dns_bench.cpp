// Cluster DNS: Responder::answer alone (the per-query work), then the node-local server's UDP
// thread on 127.0.0.2, from one client thread:
//   - cluster names (1,000 Services, --services N): queries/s with 64 in flight, then latency
//     with one query outstanding at a time (--latency-queries, 20,000), p50/p99/p99.9;
//   - cached external names (--external, 100 names under example.com): a fake upstream
//     resolver on 127.0.0.3 (the server's resolv.conf names it) answers A records with TTL
//     300; one query per name warms the server's forward cache, then the same two
//     measurements, started more than a second after the warm-up (a hit then has its TTLs
//     counted down, the steady state). The fake upstream counts the queries it gets: the
//     measured ones must all come from the cache.
// Also the process's resident memory before and after the record index.
//   ninja -C build dns_bench && build/dns_bench [--services 10000] [--external 100]
//     [--latency-queries 20000] [--queries 200000 (each 64-in-flight run)]
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "dns/cluster_records.h"
#include "dns/dns_server.h"
#include "dns/ldns_include.h"
#include "dns/responder.h"

using namespace skiff::dns;
using Clock = std::chrono::steady_clock;

static Wire query(const std::string& name, uint16_t id) {
  ldns_pkt* q = nullptr;
  ldns_pkt_query_new_frm_str(&q, name.c_str(), LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD);
  ldns_pkt_set_id(q, id);
  uint8_t* buf = nullptr;
  size_t size = 0;
  ldns_pkt2wire(&buf, q, &size);
  Wire w(buf, buf + size);
  std::free(buf);
  ldns_pkt_free(q);
  return w;
}

// Answers every A question with <name> 300 IN A 192.0.2.1 and counts the queries it gets.
class FakeUpstream {
 public:
  explicit FakeUpstream(const char* ip) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, ip, &a.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      std::perror("fake upstream: bind");
      std::exit(1);
    }
    socklen_t l = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &l);
    port = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~FakeUpstream() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  uint16_t port = 0;
  std::atomic<int> queries{0};

 private:
  void run() {
    uint8_t buf[4096];
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      sockaddr_in from{};
      socklen_t fl = sizeof from;
      auto n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n <= 0) continue;
      ++queries;
      ldns_pkt* q = nullptr;
      if (ldns_wire2pkt(&q, buf, static_cast<size_t>(n)) != LDNS_STATUS_OK) continue;
      char* name = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(q), 0)));
      ldns_pkt_set_qr(q, true);
      ldns_pkt_set_ra(q, true);
      ldns_rr* rr = nullptr;
      ldns_rr_new_frm_str(&rr, (std::string(name) + " 300 IN A 192.0.2.1").c_str(), 0, nullptr,
                          nullptr);
      std::free(name);
      ldns_pkt_push_rr(q, LDNS_SECTION_ANSWER, rr);
      uint8_t* out = nullptr;
      size_t size = 0;
      ldns_pkt2wire(&out, q, &size);
      ::sendto(fd_, out, size, 0, reinterpret_cast<sockaddr*>(&from), fl);
      std::free(out);
      ldns_pkt_free(q);
    }
  }
  int fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Queries/s over the connected socket `c` with 64 queries in flight, `total` answers.
static double throughput(int c, const std::vector<Wire>& queries, int total) {
  int sent = 0, got = 0, inflight = 0;
  uint8_t buf[1500];
  auto t0 = Clock::now();
  while (got < total) {
    while (inflight < 64 && sent < total) {
      auto& q = queries[static_cast<size_t>(sent++) % queries.size()];
      ::send(c, q.data(), q.size(), 0);
      ++inflight;
    }
    pollfd p{c, POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) {  // lost datagrams: send more
      inflight = 0;
      continue;
    }
    while (::recv(c, buf, sizeof buf, MSG_DONTWAIT) > 0) {
      ++got;
      --inflight;
    }
  }
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  pollfd p{c, POLLIN, 0};  // late answers of datagrams counted as lost
  while (::poll(&p, 1, 100) > 0) ::recv(c, buf, sizeof buf, 0);
  return got / s;
}

// Round-trip times in µs with one query outstanding at a time (each with its own id; an
// answer to another id is skipped). Aborts when an answer is not NOERROR with an answer
// record, or none comes within a second.
static std::vector<double> roundTrips(int c, std::vector<Wire> queries, int n) {
  std::vector<double> us;
  us.reserve(static_cast<size_t>(n));
  uint8_t buf[1500];
  for (int i = 0; i < n; ++i) {
    auto& q = queries[static_cast<size_t>(i) % queries.size()];
    q[0] = static_cast<uint8_t>(i >> 8);
    q[1] = static_cast<uint8_t>(i & 0xff);
    auto t0 = Clock::now();
    ::send(c, q.data(), q.size(), 0);
    ssize_t got;
    do {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) {
        std::fprintf(stderr, "no answer within 1 s (query %d)\n", i);
        std::exit(1);
      }
      got = ::recv(c, buf, sizeof buf, 0);
    } while (got < 12 || buf[0] != q[0] || buf[1] != q[1]);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if ((buf[3] & 0x0f) != 0 || (buf[6] << 8 | buf[7]) == 0) {
      std::fprintf(stderr, "query %d: rcode %d, %d answers\n", i, buf[3] & 0x0f,
                   buf[6] << 8 | buf[7]);
      std::exit(1);
    }
  }
  return us;
}

static void printLatency(const char* what, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double p) {
    return us[std::min(us.size() - 1,
                       static_cast<size_t>(p / 100 * static_cast<double>(us.size())))];
  };
  std::printf(
      "%s: %zu queries one at a time: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.0f us\n", what,
      us.size(), at(50), at(99), at(99.9), us.back());
}

// VmRSS of this process in KiB.
static long rssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

int main(int argc, char** argv) {
  int services = 1000, externals = 100, latencyQueries = 20000, udpQueries = 200000;
  for (int i = 1; i + 1 < argc; ++i) {
    std::string a = argv[i];
    if (a == "--services") services = std::atoi(argv[i + 1]);
    if (a == "--external") externals = std::atoi(argv[i + 1]);
    if (a == "--latency-queries") latencyQueries = std::atoi(argv[i + 1]);
    if (a == "--queries") udpQueries = std::atoi(argv[i + 1]);
  }
  const long rssBefore = rssKb();
  RecordIndex index;
  std::vector<Wire> queries;
  for (int i = 0; i < services; ++i) {
    auto name = "svc" + std::to_string(i);
    auto svc =
        boost::json::parse(R"({"metadata":{"name":")" + name +
                           R"(","namespace":"default"},"spec":{"clusterIP":"10.43.)" +
                           std::to_string(i / 250 % 250 + 1) + "." + std::to_string(i % 250) +
                           R"(","ports":[{"name":"http","port":80}]}})")
            .as_object();
    index.setSource("default/" + name, serviceRecords(svc, {}, "cluster.local"));
    queries.push_back(query(name + ".default.svc.cluster.local.", static_cast<uint16_t>(i)));
  }
  std::printf("%d Services: RSS %.1f MB before the index, %.1f MB after (queries included)\n",
              services, rssBefore / 1024.0, rssKb() / 1024.0);
  Responder responder(index);
  const int n = 300000;
  auto t0 = Clock::now();
  size_t bytes = 0;
  for (int i = 0; i < n; ++i) {
    auto& q = queries[static_cast<size_t>(i) % queries.size()];
    bytes += responder.answer(q.data(), q.size(), false).wire.size();
  }
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("responder: %.0f answers/s (%.2f us each, %zu bytes)\n", n / s, s / n * 1e6, bytes);

  FakeUpstream upstream("127.0.0.3");
  const std::string resolv = "/tmp/dns_bench_resolv." + std::to_string(getpid()) + ".conf";
  std::ofstream(resolv) << "nameserver 127.0.0.3\n";
  DnsServerOptions o;
  o.bindAddress = "127.0.0.2";
  o.port = 0;
  o.resolvConf = resolv;
  o.upstreamPort = upstream.port;
  DnsServer server(index, o);
  server.start();
  int c = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(server.port());
  inet_pton(AF_INET, "127.0.0.2", &to.sin_addr);
  ::connect(c, reinterpret_cast<sockaddr*>(&to), sizeof to);

  std::printf(
      "cluster names, udp server: %.0f queries/s with 64 in flight (client and server on "
      "this machine)\n",
      throughput(c, queries, udpQueries));
  printLatency("cluster names, udp server", roundTrips(c, queries, latencyQueries));

  std::vector<Wire> external;
  for (int i = 0; i < externals; ++i)
    external.push_back(query("host" + std::to_string(i) + ".example.com.", 0));
  roundTrips(c, external, externals);  // one query per name: the forward cache's misses
  const int warm = upstream.queries.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  std::printf("external names: %d names, %d queries upstream to warm the forward cache\n",
              externals, warm);
  const int measured = udpQueries;
  std::printf("external names (cached), udp server: %.0f queries/s with 64 in flight\n",
              throughput(c, external, measured));
  printLatency("external names (cached), udp server", roundTrips(c, external, latencyQueries));
  std::printf("external names: %d queries upstream during the %d measured (must be 0)\n",
              upstream.queries.load() - warm, measured + latencyQueries);
  server.stop();
  ::close(c);
  std::remove(resolv.c_str());
}
