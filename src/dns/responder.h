// Answers one DNS query message from the record index, in wire format through ldns:
// authoritative answers for the cluster zone (and the reverse names of cluster addresses),
// NXDOMAIN/NODATA with the zone's SOA, the TC bit when an answer exceeds what the client
// can take over UDP, EDNS0 echoed. Names it does not own are handed back to be forwarded.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/record_index.h"

namespace skiff::dns {

using Wire = std::vector<uint8_t>;

struct Reply {
  enum class Kind {
    Answer,   // `wire` is the reply
    Forward,  // not ours: send the query upstream; `cacheKey` names it in the cache
    Drop,     // not a query we can answer at all (too short to echo an id)
  } kind = Kind::Drop;
  Wire wire;
  std::string cacheKey;
  uint16_t udpLimit = 512;  // what the client takes over UDP (EDNS0 size or 512)
  // An Answer that ends in a CNAME outside the zone (an ExternalName Service): the server
  // asks upstream for `chaseName` (query `chaseQuery`, cache key `cacheKey`) and appends
  // that answer (mergeChased), as CoreDNS resolves ExternalName targets for its clients.
  std::string chaseName;
  Wire chaseQuery;
};

struct ResponderOptions {
  uint32_t ttl = 5;  // CoreDNS's default for cluster records
};

class Responder {
 public:
  Responder(const RecordIndex& index, ResponderOptions options = {});
  // `tcp`: no size limit (a UDP answer that does not fit is truncated).
  Reply answer(const uint8_t* query, size_t len, bool tcp) const;

 private:
  Reply build(const uint8_t* query, size_t len, bool tcp) const;

  const RecordIndex& index_;
  ResponderOptions options_;
  // Built answers by question (lower-case name, type, class, EDNS0 and DO), for the index
  // generation they were built from: a repeated question costs a lookup and a copy instead
  // of ldns's parse and build. The client's id, flags and spelling of the name are patched in.
  struct Cached {
    Wire wire;
    uint64_t generation;
  };
  mutable std::mutex cacheMu_;
  mutable std::unordered_map<std::string, Cached> cache_;
};

// The parts of a plain query (one question, at most an OPT record) read without ldns; false
// for anything else, which then takes the full path.
struct QuickQuery {
  std::string key;     // lower-case name + type, class, EDNS0/DO
  size_t questionEnd;  // offset after the question section
  uint16_t udpLimit;
};
bool parseQuickQuery(const uint8_t* q, size_t len, QuickQuery& out);

// A reply carrying only `rcode` for `query` (SERVFAIL when forwarding failed), or empty when
// the query cannot be parsed.
Wire errorReply(const uint8_t* query, size_t len, int rcode);
// `ours` (a reply ending in a CNAME) with the answer records of `upstream` appended, its
// rcode taken over; truncated (TC) when it exceeds `udpLimit` and `tcp` is false.
Wire mergeChased(const Wire& ours, const Wire& upstream, bool tcp, uint16_t udpLimit);
// The cache key of a query: lower-case name, type, class and the DO bit.
std::string cacheKeyOf(const std::string& name, uint16_t type, uint16_t cls, bool dnssecOk);
// The name of an uncompressed wire domain name, lower-case, dotted, without the final dot.
std::string nameOfWire(const uint8_t* data, size_t len);

}  // namespace skiff::dns
