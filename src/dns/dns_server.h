// The node-local DNS server (like NodeLocal DNSCache, but authoritative from the node's own
// informers): UDP and TCP on one address (169.254.20.10:53 by default, put on a dummy
// interface it creates and removes; a port-less bridge where the kernel lacks the dummy
// driver), answers the cluster zone from the RecordIndex and
// forwards everything else to the resolvers of the host's resolv.conf, with a small cache.
//
// Threads: `dns-udp` serves UDP and relays forwarded queries without blocking (pending
// queries keyed by the id we sent upstream); `dns-tcp` accepts, one short-lived `dns-conn`
// thread per TCP connection, which forwards synchronously.
#pragma once
#include <netinet/in.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "dns/forward_cache.h"
#include "dns/record_index.h"
#include "dns/responder.h"

namespace skiff::dns {

struct DnsServerOptions {
  std::string bindAddress = "169.254.20.10";
  uint16_t port = 53;  // 0: any free port (tests)
  // Nameservers of this file receive the names outside the cluster zone.
  std::string resolvConf = "/etc/resolv.conf";
  uint16_t upstreamPort = 53;  // tests run a fake upstream on another port
  // The dummy interface that carries a non-loopback bind address; "" leaves the address to
  // the caller.
  std::string interfaceName = "skiff-dns";
  ResponderOptions responder;
  std::chrono::milliseconds upstreamTimeout{2000};
};

class DnsServer {
 public:
  DnsServer(const RecordIndex& index, DnsServerOptions options);
  ~DnsServer();
  // Adds the address, binds UDP and TCP, starts serving. Throws std::runtime_error.
  void start();
  void stop();
  uint16_t port() const { return boundPort_; }
  const std::vector<sockaddr_in>& upstreams() const { return upstreams_; }
  // CoreDNS's families (coredns_dns_requests_total, coredns_dns_responses_total,
  // coredns_forward_requests_total, coredns_cache_hits_total/misses_total), served on 9153.
  Metrics& metrics() { return metrics_; }

 private:
  struct Pending {
    sockaddr_in client;
    uint16_t clientId;
    std::string cacheKey;
    Wire query;    // with our id
    Wire partial;  // a chased CNAME: our part of the reply, completed by the upstream answer
    uint16_t udpLimit = 512;
    size_t server = 0;
    std::chrono::steady_clock::time_point deadline;
  };
  void udpLoop();
  void handleUdp(const uint8_t* buf, size_t n, const sockaddr_in& from);
  // Sends `query` (client id `clientId`) upstream for `client`, or answers from the cache.
  void forwardUdp(const Wire& query, uint16_t clientId, const sockaddr_in& client,
                  const std::string& cacheKey, Wire partial, uint16_t udpLimit);
  void replyUdp(const sockaddr_in& to, const Wire& w);
  void handleUpstream(const uint8_t* buf, size_t n, const sockaddr_in& from);
  void expirePending();
  void sendToUpstream(Pending& p);
  void tcpLoop();
  void serveConnection(int fd);
  Wire forwardBlocking(const Wire& query);
  void countRequest(const uint8_t* q, size_t n, bool tcp);
  void countResponse(const Wire& w);

  const RecordIndex& index_;
  DnsServerOptions options_;
  Responder responder_;
  ForwardCache cache_;
  std::vector<sockaddr_in> upstreams_;
  int udp_ = -1, tcp_ = -1, upstream_ = -1, wake_ = -1;
  uint16_t boundPort_ = 0;
  bool addedInterface_ = false;
  std::atomic<bool> stopping_{false};
  std::thread udpThread_, tcpThread_;
  std::map<uint16_t, Pending> pending_;  // udp thread only
  uint16_t nextId_;
  std::mutex connMu_;
  std::condition_variable connCv_;
  std::set<int> connections_;

  Metrics metrics_{true};
  // Series references, so counting is one atomic add (index: proto × type, rcode).
  std::vector<std::atomic<double>*> requests_, responses_;
  std::atomic<double>*forwards_, *cacheHits_, *cacheMisses_;
};

// The IPv4 nameservers of a resolv.conf (at `port`), without `exclude` (our own address).
std::vector<sockaddr_in> readNameservers(const std::string& path, const std::string& exclude,
                                         uint16_t port = 53);

}  // namespace skiff::dns
