// Answers one DNS query message from the record index, in wire format through ldns:
// authoritative answers for the cluster zone (and the reverse names of cluster addresses),
// NXDOMAIN/NODATA with the zone's SOA, the TC bit when an answer exceeds what the client
// can take over UDP, EDNS0 echoed. Names it does not own are handed back to be forwarded.
#pragma once
#include <cstdint>
#include <string>
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
  const RecordIndex& index_;
  ResponderOptions options_;
};

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
