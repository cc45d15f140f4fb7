#include "dns/dns_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "common/log.h"
#include "common/thread_name.h"

namespace skiff::dns {
namespace {

constexpr size_t kMaxMessage = 65535;

sockaddr_in makeAddr(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1)
    throw std::runtime_error("not an IPv4 address: " + ip);
  return a;
}

bool sameAddr(const sockaddr_in& a, const sockaddr_in& b) {
  return a.sin_addr.s_addr == b.sin_addr.s_addr && a.sin_port == b.sin_port;
}

uint16_t idOf(const uint8_t* w) { return static_cast<uint16_t>(w[0] << 8 | w[1]); }
void setId(Wire& w, uint16_t id) {
  w[0] = static_cast<uint8_t>(id >> 8);
  w[1] = static_cast<uint8_t>(id & 0xff);
}

int runIp(const std::string& args) {
  // iproute2 comes with the node dependencies (scripts/install-deps).
  return std::system(("ip " + args + " 2>/dev/null").c_str());
}

bool readFull(int fd, uint8_t* buf, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, buf, n);
    if (r <= 0) return false;
    buf += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool writeTcpMessage(int fd, const Wire& w) {
  Wire out;
  out.reserve(w.size() + 2);
  out.push_back(static_cast<uint8_t>(w.size() >> 8));
  out.push_back(static_cast<uint8_t>(w.size() & 0xff));
  out.insert(out.end(), w.begin(), w.end());
  return ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size());
}

void setTimeouts(int fd, std::chrono::milliseconds t) {
  timeval tv{static_cast<time_t>(t.count() / 1000),
             static_cast<suseconds_t>(t.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() too
}

}  // namespace

std::vector<sockaddr_in> readNameservers(const std::string& path, const std::string& exclude,
                                         uint16_t port) {
  std::vector<sockaddr_in> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string word, ip;
    f >> word >> ip;
    if (word != "nameserver" || ip == exclude) continue;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, ip.c_str(), &a.sin_addr) == 1) out.push_back(a);  // IPv4 only
  }
  return out;
}

namespace {
// The query types counted by name; others count as "other", as CoreDNS does.
constexpr std::pair<uint16_t, const char*> kCountedTypes[] = {
    {1, "A"}, {28, "AAAA"}, {33, "SRV"}, {12, "PTR"}, {5, "CNAME"}, {6, "SOA"}, {0, "other"}};
constexpr const char* kRcodes[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                   "NOTIMP",  "REFUSED", "other"};
constexpr size_t kTypes = std::size(kCountedTypes);

uint16_t qtypeOf(const uint8_t* q, size_t n) {
  size_t i = 12;
  while (i < n && q[i] != 0) {
    if (q[i] & 0xc0) return 0;
    i += 1 + q[i];
  }
  return i + 2 < n ? static_cast<uint16_t>(q[i + 1] << 8 | q[i + 2]) : 0;
}
}  // namespace

DnsServer::DnsServer(const RecordIndex& index, DnsServerOptions options)
    : index_(index),
      options_(std::move(options)),
      responder_(index_, options_.responder),
      nextId_(static_cast<uint16_t>(std::random_device{}())) {
  metrics_.describe("coredns_dns_requests_total", "counter",
                    "Counter of DNS requests made per zone, protocol and family.");
  metrics_.describe("coredns_dns_responses_total", "counter", "Counter of response status codes.");
  metrics_.describe("coredns_forward_requests_total", "counter",
                    "Counter of requests made per upstream.");
  metrics_.describe("coredns_cache_hits_total", "counter", "The count of cache hits.");
  metrics_.describe("coredns_cache_misses_total", "counter", "The count of cache misses.");
  const std::string server = "dns://" + options_.bindAddress + ":" + std::to_string(options_.port);
  for (const char* proto : {"udp", "tcp"})
    for (auto& [num, type] : kCountedTypes)
      requests_.push_back(&metrics_.series(
          "coredns_dns_requests_total",
          {{"server", server}, {"zone", "."}, {"proto", proto}, {"family", "1"}, {"type", type}}));
  for (const char* rcode : kRcodes)
    responses_.push_back(&metrics_.series("coredns_dns_responses_total",
                                          {{"server", server}, {"zone", "."}, {"rcode", rcode}}));
  forwards_ = &metrics_.series("coredns_forward_requests_total", {{"to", options_.resolvConf}});
  cacheHits_ =
      &metrics_.series("coredns_cache_hits_total", {{"server", server}, {"type", "success"}});
  cacheMisses_ = &metrics_.series("coredns_cache_misses_total", {{"server", server}});
}

void DnsServer::countRequest(const uint8_t* q, size_t n, bool tcp) {
  uint16_t type = qtypeOf(q, n);
  size_t t = 0;
  while (t + 1 < kTypes && kCountedTypes[t].first != type) ++t;
  requests_[(tcp ? kTypes : 0) + t]->fetch_add(1, std::memory_order_relaxed);
}

void DnsServer::countResponse(const Wire& w) {
  if (w.size() < 4) return;
  size_t rcode = std::min<size_t>(w[3] & 0x0f, std::size(kRcodes) - 1);
  responses_[rcode]->fetch_add(1, std::memory_order_relaxed);
}

DnsServer::~DnsServer() { stop(); }

void DnsServer::start() {
  upstreams_ = readNameservers(options_.resolvConf, options_.bindAddress, options_.upstreamPort);
  if (upstreams_.empty())
    SKIFF_LOG_WARN("dns: no IPv4 nameserver in {}; names outside the cluster get SERVFAIL",
                   options_.resolvConf);
  auto addr = makeAddr(options_.bindAddress, options_.port);
  // A link-local service address lives on a dummy interface of ours, as NodeLocal DNSCache's
  // does: reachable from every pod through its default route to the node, never routed off it.
  bool loopback = options_.bindAddress.rfind("127.", 0) == 0;
  bool onInterface = !loopback && !options_.interfaceName.empty();
  if (onInterface) {
    const auto& ifname = options_.interfaceName;
    if (ifname.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") != std::string::npos)
      throw std::runtime_error("bad interface name " + ifname);
    // A port-less bridge behaves the same where the kernel has no dummy driver.
    if (!std::filesystem::exists("/sys/class/net/" + ifname) &&
        runIp("link add " + ifname + " type dummy") != 0)
      runIp("link add " + ifname + " type bridge");
    if (runIp("addr replace " + options_.bindAddress + "/32 dev " + ifname) != 0 ||
        runIp("link set " + ifname + " up") != 0)
      throw std::runtime_error("cannot put " + options_.bindAddress + " on interface " + ifname +
                               " (needs root and iproute2)");
  }

  udp_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  tcp_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  upstream_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int one = 1;
  ::setsockopt(tcp_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(udp_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("dns: bind udp " + options_.bindAddress + ":" +
                             std::to_string(options_.port) + ": " + std::strerror(errno));
  socklen_t len = sizeof addr;
  ::getsockname(udp_, reinterpret_cast<sockaddr*>(&addr), &len);
  boundPort_ = ntohs(addr.sin_port);
  if (::bind(tcp_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(tcp_, 128))
    throw std::runtime_error("dns: bind tcp " + options_.bindAddress + ":" +
                             std::to_string(boundPort_) + ": " + std::strerror(errno));
  // Ours to remove at stop only once bound: a second server on the machine (whose bind
  // fails) must not take the first one's address away.
  addedInterface_ = onInterface;
  udpThread_ = namedThread("dns-udp", [this] { udpLoop(); });
  tcpThread_ = namedThread("dns-tcp", [this] { tcpLoop(); });
  SKIFF_LOG_INFO("dns: serving zone {} on {}:{} (udp, tcp), forwarding to {} nameserver(s) of {}",
                 index_.zone(), options_.bindAddress, boundPort_, upstreams_.size(),
                 options_.resolvConf);
}

void DnsServer::stop() {
  if (!stopping_.exchange(true)) {
    if (wake_ >= 0) {
      uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(wake_, &one, sizeof one);
    }
    if (udpThread_.joinable()) udpThread_.join();
    if (tcpThread_.joinable()) tcpThread_.join();
    {
      std::unique_lock lock(connMu_);
      for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
      connCv_.wait(lock, [&] { return connections_.empty(); });
    }
    for (int* fd : {&udp_, &tcp_, &upstream_, &wake_})
      if (*fd >= 0) ::close(std::exchange(*fd, -1));
    if (addedInterface_) {
      runIp("link delete " + options_.interfaceName);
      addedInterface_ = false;
    }
  }
}

// ---- UDP: answers inline, relays forwarded queries through one upstream socket ----

void DnsServer::udpLoop() {
  std::vector<uint8_t> buf(kMaxMessage);
  pollfd fds[3] = {{udp_, POLLIN, 0}, {upstream_, POLLIN, 0}, {wake_, POLLIN, 0}};
  while (!stopping_) {
    int timeout = pending_.empty() ? -1 : 100;
    if (::poll(fds, 3, timeout) < 0 && errno != EINTR) break;
    if (fds[2].revents) break;
    // Bounded batches, so neither socket starves the other.
    for (int i = 0; i < 64 && (fds[0].revents & POLLIN); ++i) {
      sockaddr_in from{};
      socklen_t fl = sizeof from;
      ssize_t n = ::recvfrom(udp_, buf.data(), buf.size(), MSG_DONTWAIT,
                             reinterpret_cast<sockaddr*>(&from), &fl);
      if (n < 0) break;
      handleUdp(buf.data(), static_cast<size_t>(n), from);
    }
    for (int i = 0; i < 64 && (fds[1].revents & POLLIN); ++i) {
      sockaddr_in from{};
      socklen_t fl = sizeof from;
      ssize_t n = ::recvfrom(upstream_, buf.data(), buf.size(), MSG_DONTWAIT,
                             reinterpret_cast<sockaddr*>(&from), &fl);
      if (n < 0) break;
      handleUpstream(buf.data(), static_cast<size_t>(n), from);
    }
    expirePending();
  }
}

void DnsServer::replyUdp(const sockaddr_in& to, const Wire& w) {
  countResponse(w);
  ::sendto(udp_, w.data(), w.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
}

void DnsServer::handleUdp(const uint8_t* buf, size_t n, const sockaddr_in& from) {
  countRequest(buf, n, false);
  Reply r = responder_.answer(buf, n, false);
  if (r.kind == Reply::Kind::Answer) {
    if (r.chaseName.empty() || upstreams_.empty()) return replyUdp(from, r.wire);
    return forwardUdp(r.chaseQuery, idOf(buf), from, r.cacheKey, std::move(r.wire), r.udpLimit);
  }
  if (r.kind == Reply::Kind::Forward)
    forwardUdp(Wire(buf, buf + n), idOf(buf), from, r.cacheKey, {}, r.udpLimit);
}

void DnsServer::forwardUdp(const Wire& query, uint16_t clientId, const sockaddr_in& client,
                           const std::string& cacheKey, Wire partial, uint16_t udpLimit) {
  auto hit = cache_.get(cacheKey, clientId);
  (hit ? cacheHits_ : cacheMisses_)->fetch_add(1, std::memory_order_relaxed);
  if (hit) {
    if (!partial.empty()) return replyUdp(client, mergeChased(partial, *hit, false, udpLimit));
    if (hit->size() <= udpLimit) return replyUdp(client, *hit);
  }
  if (upstreams_.empty() || pending_.size() >= 4096) {
    Wire q = partial.empty() ? query : partial;
    return replyUdp(client, errorReply(q.data(), q.size(), 2 /* SERVFAIL */));
  }
  // Our own id upstream, so concurrent clients using the same id do not collide.
  do ++nextId_;
  while (pending_.count(nextId_));
  Pending p{client, clientId, cacheKey, query, std::move(partial), udpLimit, 0, {}};
  setId(p.query, nextId_);
  auto& stored = pending_.emplace(nextId_, std::move(p)).first->second;
  sendToUpstream(stored);
}

void DnsServer::sendToUpstream(Pending& p) {
  p.deadline = std::chrono::steady_clock::now() + options_.upstreamTimeout;
  forwards_->fetch_add(1, std::memory_order_relaxed);
  auto& to = upstreams_[p.server];
  ::sendto(upstream_, p.query.data(), p.query.size(), 0, reinterpret_cast<const sockaddr*>(&to),
           sizeof to);
}

void DnsServer::handleUpstream(const uint8_t* buf, size_t n, const sockaddr_in& from) {
  if (n < 12) return;
  auto it = pending_.find(idOf(buf));
  // Only the server we asked may answer (a spoofed reply from elsewhere is dropped).
  if (it == pending_.end() || !sameAddr(from, upstreams_[it->second.server])) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  Wire answer(buf, buf + n);
  setId(answer, p.clientId);
  cache_.put(p.cacheKey, answer);
  replyUdp(p.client,
           p.partial.empty() ? answer : mergeChased(p.partial, answer, false, p.udpLimit));
}

void DnsServer::expirePending() {
  auto now = std::chrono::steady_clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto& p = it->second;
    if (p.deadline > now) {
      ++it;
      continue;
    }
    if (++p.server < upstreams_.size()) {  // the next nameserver, as a stub resolver would
      sendToUpstream(p);
      ++it;
      continue;
    }
    setId(p.query, p.clientId);
    const Wire& q = p.partial.empty() ? p.query : p.partial;
    replyUdp(p.client, errorReply(q.data(), q.size(), 2 /* SERVFAIL */));
    it = pending_.erase(it);
  }
}

// ---- TCP: one thread per connection (clients use TCP after a TC answer; they are few) ----

void DnsServer::tcpLoop() {
  pollfd fds[2] = {{tcp_, POLLIN, 0}, {wake_, POLLIN, 0}};
  while (!stopping_) {
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[1].revents) break;
    if (!(fds[0].revents & POLLIN)) continue;
    int fd = ::accept4(tcp_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(connMu_);
    if (connections_.size() >= 64) {
      ::close(fd);
      continue;
    }
    connections_.insert(fd);
    namedThread("dns-conn", [this, fd] { serveConnection(fd); }).detach();
  }
}

void DnsServer::serveConnection(int fd) {
  setTimeouts(fd, std::chrono::seconds(10));
  std::vector<uint8_t> buf(kMaxMessage);
  while (!stopping_) {
    uint8_t lenBytes[2];
    if (!readFull(fd, lenBytes, 2)) break;
    size_t len = static_cast<size_t>(lenBytes[0] << 8 | lenBytes[1]);
    if (len < 12 || !readFull(fd, buf.data(), len)) break;
    countRequest(buf.data(), len, true);
    Reply r = responder_.answer(buf.data(), len, true);
    Wire out;
    uint16_t id = idOf(buf.data());
    if (r.kind == Reply::Kind::Drop) break;
    if (r.kind == Reply::Kind::Answer && (r.chaseName.empty() || upstreams_.empty())) {
      out = std::move(r.wire);
    } else {
      bool chase = r.kind == Reply::Kind::Answer;
      Wire query = chase ? r.chaseQuery : Wire(buf.data(), buf.data() + len);
      if (chase) setId(query, id);
      auto upstream = cache_.get(r.cacheKey, id);
      (upstream ? cacheHits_ : cacheMisses_)->fetch_add(1, std::memory_order_relaxed);
      if (!upstream) {
        forwards_->fetch_add(1, std::memory_order_relaxed);
        upstream = forwardBlocking(query);
        if (!upstream->empty()) cache_.put(r.cacheKey, *upstream);
      }
      if (upstream->empty())
        out = errorReply(chase ? r.wire.data() : buf.data(), chase ? r.wire.size() : len, 2);
      else
        out = chase ? mergeChased(r.wire, *upstream, true, 0) : std::move(*upstream);
    }
    countResponse(out);
    if (out.empty() || !writeTcpMessage(fd, out)) break;
  }
  std::lock_guard lock(connMu_);
  ::close(fd);
  connections_.erase(fd);
  connCv_.notify_all();
}

// UDP to each nameserver in turn; over TCP when the UDP answer came truncated.
Wire DnsServer::forwardBlocking(const Wire& query) {
  for (auto& server : upstreams_) {
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    setTimeouts(s, options_.upstreamTimeout);
    Wire answer(kMaxMessage);
    ssize_t n = -1;
    if (::connect(s, reinterpret_cast<const sockaddr*>(&server), sizeof server) == 0 &&
        ::send(s, query.data(), query.size(), 0) == static_cast<ssize_t>(query.size())) {
      do n = ::recv(s, answer.data(), answer.size(), 0);
      while (n >= 12 && idOf(answer.data()) != idOf(query.data()));
    }
    ::close(s);
    if (n < 12) continue;
    answer.resize(static_cast<size_t>(n));
    if (!(answer[2] & 0x02)) return answer;  // not truncated
    int t = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setTimeouts(t, options_.upstreamTimeout);
    uint8_t lenBytes[2];
    if (::connect(t, reinterpret_cast<const sockaddr*>(&server), sizeof server) == 0 &&
        writeTcpMessage(t, query) && readFull(t, lenBytes, 2)) {
      Wire full(static_cast<size_t>(lenBytes[0] << 8 | lenBytes[1]));
      if (full.size() >= 12 && readFull(t, full.data(), full.size())) {
        ::close(t);
        return full;
      }
    }
    ::close(t);
    return answer;  // the truncated one: the client learns it should retry
  }
  return {};
}

}  // namespace skiff::dns
