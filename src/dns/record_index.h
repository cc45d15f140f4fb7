// The cluster zone as a precomputed name → records index (CoreDNS's kubernetes plugin answers
// the same names, but walks its caches per query; we build every name once when an informer
// event changes a Service or EndpointSlice, so a query is one hash lookup).
//
// Names are lower-case, dotted, without the trailing dot: "web.default.svc.cluster.local".
// Every record belongs to a source (one key per Service: all of its names are replaced
// together when the Service or one of its slices changes).
#pragma once
#include <atomic>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace skiff::dns {

// RR type numbers (RFC 1035, 2782, 3596, 6891).
enum RrType : uint16_t {
  kA = 1,
  kNs = 2,
  kCname = 5,
  kSoa = 6,
  kPtr = 12,
  kAaaa = 28,
  kSrv = 33,
  kAny = 255,
};

struct Record {
  std::string name = {};
  uint16_t type = kA;
  uint32_t ipv4 = 0;                            // A: host byte order
  std::string target = {};                      // CNAME, PTR, SRV: a name without the trailing dot
  uint16_t priority = 0, weight = 0, port = 0;  // SRV
  bool operator==(const Record&) const = default;
};

// What a name lookup found.
enum class Lookup {
  Found,     // records of the asked type (or a CNAME) are in `out`
  NoData,    // the name exists, with no record of that type: NOERROR with SOA
  NxDomain,  // a name in the zone that does not exist: NXDOMAIN with SOA
  NotOurs,   // outside the cluster zone and unknown (a reverse name we hold nothing for):
             // forward it
};

class RecordIndex {
 public:
  explicit RecordIndex(std::string zone = "cluster.local");
  const std::string& zone() const { return zone_; }

  // Replaces every record of `source` (empty `records`: removes the source).
  void setSource(const std::string& source, std::vector<Record> records);
  void removeSource(const std::string& source) { setSource(source, {}); }

  // Records of `name` (lower-case, no trailing dot) for `qtype`. A CNAME is returned for any
  // type but CNAME's own queries too, as a resolver follows it.
  Lookup lookup(std::string_view name, uint16_t qtype, std::vector<Record>& out) const;

  // True when `name` is the zone or below it.
  bool inZone(std::string_view name) const;
  size_t names() const;
  // Bumped by every change: answers built from an older generation are stale.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  void addLocked(uint32_t source, const Record& r);
  void removeLocked(uint32_t source, const Record& r);
  // The pod names `1-2-3-4.ns.pod.<zone>` (CoreDNS `pods insecure`, kubeadm's default:
  // any well-formed address answers, no pod informer needed on every node).
  Lookup lookupPod(std::string_view name, uint16_t qtype, std::vector<Record>& out) const;

  const std::string zone_;
  mutable std::shared_mutex mu_;
  struct Entry {
    std::vector<std::pair<uint32_t, Record>> records;  // (source id, record)
    uint32_t below = 0;  // records at this name or under it; 0: the entry goes
  };
  std::unordered_map<std::string, Entry> names_;
  std::unordered_map<std::string, std::pair<uint32_t, std::vector<Record>>> sources_;
  uint32_t nextSourceId_ = 1;
  std::atomic<uint64_t> generation_{1};
};

// "10.0.0.1" → host-order address; false when not a dotted IPv4 address.
bool parseIpv4(std::string_view s, uint32_t& out);
std::string formatIpv4(uint32_t ip);
// 10.0.0.1 → "1.0.0.10.in-addr.arpa"
std::string reverseName(uint32_t ip);
// 10.0.0.1 → "10-0-0-1" (CoreDNS's name for an endpoint without hostname, and pod names)
std::string dashedIp(uint32_t ip);

}  // namespace skiff::dns
