// Cluster DNS throughput: Responder::answer alone (the per-query work), then the UDP server on
// loopback driven by one client thread keeping 64 queries in flight. Names: 1,000 Services
// (--services N), and the process's resident memory before and after the record index.
//   ninja -C build dns_bench && build/dns_bench [--services 10000]
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
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

// VmRSS of this process in KiB.
static long rssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

int main(int argc, char** argv) {
  int services = 1000;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--services") services = std::atoi(argv[i + 1]);
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

  std::ofstream("/tmp/dns_bench_resolv.conf") << "\n";
  DnsServerOptions o;
  o.bindAddress = "127.0.0.2";
  o.port = 0;
  o.resolvConf = "/tmp/dns_bench_resolv.conf";
  DnsServer server(index, o);
  server.start();
  int c = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(server.port());
  inet_pton(AF_INET, "127.0.0.2", &to.sin_addr);
  ::connect(c, reinterpret_cast<sockaddr*>(&to), sizeof to);
  int sent = 0, got = 0, inflight = 0;
  const int total = 200000;
  uint8_t buf[1500];
  t0 = Clock::now();
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
  s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("udp server: %.0f queries/s over loopback (client and server on this machine)\n",
              got / s);
  server.stop();
  ::close(c);
  std::remove("/tmp/dns_bench_resolv.conf");
}
