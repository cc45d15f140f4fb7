#include "dns/responder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>

#include "dns/ldns_include.h"

namespace skiff::dns {
namespace {

struct PktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktDeleter>;

Wire toWire(const ldns_pkt* p) {
  uint8_t* buf = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&buf, p, &size) != LDNS_STATUS_OK) return {};
  Wire w(buf, buf + size);
  std::free(buf);
  return w;
}

ldns_rdf* dname(const std::string& name) { return ldns_dname_new_frm_str((name + ".").c_str()); }

ldns_rr* newRr(ldns_rdf* owner, ldns_rr_type type, uint32_t ttl) {
  ldns_rr* rr = ldns_rr_new();
  ldns_rr_set_owner(rr, owner);
  ldns_rr_set_type(rr, type);
  ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
  ldns_rr_set_ttl(rr, ttl);
  return rr;
}

// The record as an RR; `owner` (the question's own spelling) replaces the index's name.
ldns_rr* toRr(const Record& r, ldns_rdf* owner, uint32_t ttl) {
  auto* rr = newRr(owner ? owner : dname(r.name), static_cast<ldns_rr_type>(r.type), ttl);
  switch (r.type) {
    case kA: {
      uint32_t be = htonl(r.ipv4);
      ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, &be));
      break;
    }
    case kSrv:
      ldns_rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, r.priority));
      ldns_rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, r.weight));
      ldns_rr_push_rdf(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, r.port));
      ldns_rr_push_rdf(rr, dname(r.target));
      break;
    default:  // CNAME, PTR
      ldns_rr_push_rdf(rr, dname(r.target));
  }
  return rr;
}

// The zone's SOA, as CoreDNS writes it (ns.dns.<zone> hostmaster.<zone>; minimum = TTL).
ldns_rr* soaRr(const std::string& zone, uint32_t ttl) {
  auto* rr = newRr(dname(zone), LDNS_RR_TYPE_SOA, ttl);
  ldns_rr_push_rdf(rr, dname("ns.dns." + zone));
  ldns_rr_push_rdf(rr, dname("hostmaster." + zone));
  for (uint32_t v : {uint32_t(1), uint32_t(7200), uint32_t(1800), uint32_t(86400), ttl})
    ldns_rr_push_rdf(rr, ldns_native2rdf_int32(LDNS_RDF_TYPE_INT32, v));
  return rr;
}

ldns_pkt* replyTo(const ldns_pkt* q, const ldns_rr* question) {
  ldns_pkt* r = ldns_pkt_new();
  ldns_pkt_set_id(r, ldns_pkt_id(q));
  ldns_pkt_set_qr(r, true);
  ldns_pkt_set_opcode(r, ldns_pkt_get_opcode(q));
  ldns_pkt_set_rd(r, ldns_pkt_rd(q));
  ldns_pkt_set_cd(r, ldns_pkt_cd(q));
  ldns_pkt_set_ra(r, true);
  if (question) ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, ldns_rr_clone(question));
  if (ldns_pkt_edns(q)) {
    // EDNS0 answered with ours: the size we accept, the client's DO bit.
    ldns_pkt_set_edns_udp_size(r, 1232);
    ldns_pkt_set_edns_do(r, ldns_pkt_edns_do(q));
  }
  return r;
}

uint16_t udpLimitOf(const ldns_pkt* q) {
  if (!ldns_pkt_edns(q)) return 512;
  uint16_t s = ldns_pkt_edns_udp_size(q);
  return s < 512 ? 512 : s;
}

}  // namespace

namespace {
Wire makeQuery(const std::string& name, uint16_t qtype, bool dnssecOk) {
  ldns_pkt* q = nullptr;
  if (ldns_pkt_query_new_frm_str(&q, (name + ".").c_str(), static_cast<ldns_rr_type>(qtype),
                                 LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK)
    return {};
  PktPtr owned(q);
  if (dnssecOk) {
    ldns_pkt_set_edns_udp_size(q, 1232);
    ldns_pkt_set_edns_do(q, true);
  }
  return toWire(q);
}
}  // namespace

Wire mergeChased(const Wire& ours, const Wire& upstream, bool tcp, uint16_t udpLimit) {
  ldns_pkt *a = nullptr, *b = nullptr;
  if (ldns_wire2pkt(&a, ours.data(), ours.size()) != LDNS_STATUS_OK) return ours;
  PktPtr mine(a);
  if (ldns_wire2pkt(&b, upstream.data(), upstream.size()) != LDNS_STATUS_OK) return ours;
  PktPtr theirs(b);
  auto* answers = ldns_pkt_answer(b);
  for (size_t i = 0; i < ldns_rr_list_rr_count(answers); ++i)
    ldns_pkt_push_rr(a, LDNS_SECTION_ANSWER, ldns_rr_clone(ldns_rr_list_rr(answers, i)));
  ldns_pkt_set_rcode(a, ldns_pkt_get_rcode(b));
  ldns_pkt_set_aa(a, false);  // part of it is someone else's data
  Wire w = toWire(a);
  if (!tcp && w.size() > udpLimit) {
    // Keep the header and question only.
    ldns_rr_list_deep_free(ldns_pkt_answer(a));
    ldns_pkt_set_answer(a, ldns_rr_list_new());
    ldns_pkt_set_ancount(a, 0);
    ldns_rr_list_deep_free(ldns_pkt_additional(a));
    ldns_pkt_set_additional(a, ldns_rr_list_new());
    ldns_pkt_set_arcount(a, 0);
    ldns_pkt_set_tc(a, true);
    w = toWire(a);
  }
  return w;
}

std::string nameOfWire(const uint8_t* data, size_t len) {
  std::string out;
  size_t i = 0;
  while (i < len && data[i] != 0) {
    size_t l = data[i++];
    if (i + l > len) break;
    if (!out.empty()) out += '.';
    for (size_t k = 0; k < l; ++k)
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(data[i + k])));
    i += l;
  }
  return out;
}

std::string cacheKeyOf(const std::string& name, uint16_t type, uint16_t cls, bool dnssecOk) {
  return name + '/' + std::to_string(type) + '/' + std::to_string(cls) + (dnssecOk ? "/do" : "");
}

Wire errorReply(const uint8_t* query, size_t len, int rcode) {
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, query, len) != LDNS_STATUS_OK) {
    if (len < 12) return {};
    // Unparseable: echo the header with the error (FORMERR), no sections.
    Wire w(query, query + 12);
    w[2] = static_cast<uint8_t>((w[2] | 0x80) & ~0x04);  // QR, not AA
    w[3] = static_cast<uint8_t>((w[3] & 0xf0) | (rcode & 0x0f));
    for (int i = 4; i < 12; ++i) w[i] = 0;
    return w;
  }
  PktPtr q(raw);
  auto* qs = ldns_pkt_question(q.get());
  PktPtr r(replyTo(q.get(), ldns_rr_list_rr_count(qs) ? ldns_rr_list_rr(qs, 0) : nullptr));
  ldns_pkt_set_rcode(r.get(), static_cast<uint8_t>(rcode));
  return toWire(r.get());
}

Responder::Responder(const RecordIndex& index, ResponderOptions options)
    : index_(index), options_(options) {}

bool parseQuickQuery(const uint8_t* q, size_t len, QuickQuery& out) {
  if (len < 17) return false;
  auto u16 = [&](size_t i) { return static_cast<uint16_t>(q[i] << 8 | q[i + 1]); };
  // QR=0, opcode QUERY; one question, no answers or authority, at most one additional.
  if ((q[2] & 0xf8) != 0 || u16(4) != 1 || u16(6) != 0 || u16(8) != 0 || u16(10) > 1) return false;
  out.key.clear();
  size_t i = 12;
  while (q[i] != 0) {
    size_t l = q[i];
    if (l > 63 || i + 1 + l >= len) return false;  // compression pointers take the full path
    if (!out.key.empty()) out.key += '.';
    for (size_t k = 1; k <= l; ++k) {
      auto c = static_cast<char>(q[i + k]);
      if (c == '.' || c == '/') return false;  // cannot be keyed unambiguously
      out.key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    i += 1 + l;
  }
  if (i + 5 > len) return false;
  out.key += '/' + std::to_string(u16(i + 1)) + '/' + std::to_string(u16(i + 3));
  out.questionEnd = i + 5;
  out.udpLimit = 512;
  if (u16(10) == 0) return out.questionEnd == len;
  // The OPT record: root name, type 41, class = UDP size, TTL = ext-rcode, version, DO.
  size_t o = out.questionEnd;
  if (o + 11 > len || q[o] != 0 || u16(o + 1) != 41 || o + 11 + u16(o + 9) != len) return false;
  if (q[o + 6] != 0) return false;  // EDNS version other than 0: the full path answers BADVERS
  uint16_t size = u16(o + 3);
  out.udpLimit = size < 512 ? 512 : size;
  out.key += (q[o + 7] & 0x80) ? "/edns/do" : "/edns";
  return true;
}

Reply Responder::answer(const uint8_t* query, size_t len, bool tcp) const {
  QuickQuery qq;
  if (!parseQuickQuery(query, len, qq)) return build(query, len, tcp);
  uint64_t generation = index_.generation();
  {
    std::lock_guard lock(cacheMu_);
    auto it = cache_.find(qq.key);
    if (it != cache_.end() && it->second.generation == generation &&
        (tcp || it->second.wire.size() <= qq.udpLimit)) {
      Reply r;
      r.kind = Reply::Kind::Answer;
      r.udpLimit = qq.udpLimit;
      r.wire = it->second.wire;
      // The client's id and RD/CD flags, and its spelling of the name (answers point at it).
      r.wire[0] = query[0];
      r.wire[1] = query[1];
      r.wire[2] = static_cast<uint8_t>((r.wire[2] & ~0x01) | (query[2] & 0x01));
      r.wire[3] = static_cast<uint8_t>((r.wire[3] & ~0x10) | (query[3] & 0x10));
      std::copy(query + 12, query + qq.questionEnd, r.wire.begin() + 12);
      return r;
    }
  }
  Reply r = build(query, len, tcp);
  // Only complete authoritative answers are kept (not truncated ones, not chased CNAMEs).
  if (r.kind == Reply::Kind::Answer && r.chaseName.empty() && r.wire.size() >= qq.questionEnd &&
      !(r.wire[2] & 0x02)) {
    std::lock_guard lock(cacheMu_);
    if (cache_.size() >= 20000) cache_.clear();  // pod names are unbounded: start over
    cache_[qq.key] = Cached{r.wire, generation};
  }
  return r;
}

Reply Responder::build(const uint8_t* query, size_t len, bool tcp) const {
  Reply out;
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, query, len) != LDNS_STATUS_OK) {
    out.wire = errorReply(query, len, LDNS_RCODE_FORMERR);
    out.kind = out.wire.empty() ? Reply::Kind::Drop : Reply::Kind::Answer;
    return out;
  }
  PktPtr q(raw);
  if (ldns_pkt_qr(q.get())) return out;  // a response sent to us: never answer those
  out.udpLimit = udpLimitOf(q.get());
  auto* qs = ldns_pkt_question(q.get());
  auto reply = [&](ldns_pkt* r) {
    PktPtr owned(r);
    out.kind = Reply::Kind::Answer;
    out.wire = toWire(r);
    if (!tcp && out.wire.size() > out.udpLimit) {
      // Too large for the client's buffer: header and question only, TC set (RFC 2181 9).
      PktPtr t(replyTo(q.get(), ldns_rr_list_rr(qs, 0)));
      ldns_pkt_set_aa(t.get(), ldns_pkt_aa(r));
      ldns_pkt_set_rcode(t.get(), ldns_pkt_get_rcode(r));
      ldns_pkt_set_tc(t.get(), true);
      out.wire = toWire(t.get());
    }
    return out;
  };
  if (ldns_pkt_get_opcode(q.get()) != LDNS_PACKET_QUERY) {
    auto* r = replyTo(q.get(), ldns_rr_list_rr_count(qs) ? ldns_rr_list_rr(qs, 0) : nullptr);
    ldns_pkt_set_rcode(r, LDNS_RCODE_NOTIMPL);
    return reply(r);
  }
  if (ldns_rr_list_rr_count(qs) != 1) {
    auto* r = replyTo(q.get(), nullptr);
    ldns_pkt_set_rcode(r, LDNS_RCODE_FORMERR);
    return reply(r);
  }
  const ldns_rr* question = ldns_rr_list_rr(qs, 0);
  const ldns_rdf* owner = ldns_rr_owner(question);
  std::string name = nameOfWire(ldns_rdf_data(owner), ldns_rdf_size(owner));
  auto qtype = static_cast<uint16_t>(ldns_rr_get_type(question));
  auto qclass = static_cast<uint16_t>(ldns_rr_get_class(question));

  std::vector<Record> records;
  Lookup found = qclass == LDNS_RR_CLASS_IN ? index_.lookup(name, qtype, records) : Lookup::NotOurs;
  if (found == Lookup::NotOurs) {
    out.kind = Reply::Kind::Forward;
    out.cacheKey = cacheKeyOf(name, qtype, qclass, ldns_pkt_edns_do(q.get()));
    return out;
  }
  auto* r = replyTo(q.get(), question);
  ldns_pkt_set_aa(r, true);
  const std::string& zone = index_.zone();
  if (name == zone && (qtype == kSoa || qtype == kNs)) {
    if (qtype == kSoa) {
      ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, soaRr(zone, options_.ttl));
    } else {
      auto* ns = newRr(ldns_rdf_clone(owner), LDNS_RR_TYPE_NS, options_.ttl);
      ldns_rr_push_rdf(ns, dname("ns.dns." + zone));
      ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, ns);
    }
    return reply(r);
  }
  if (found != Lookup::Found) {
    if (found == Lookup::NxDomain) ldns_pkt_set_rcode(r, LDNS_RCODE_NXDOMAIN);
    // The SOA tells resolvers how long to cache the absence (RFC 2308).
    ldns_pkt_push_rr(r, LDNS_SECTION_AUTHORITY, soaRr(zone, options_.ttl));
    return reply(r);
  }
  for (auto& rec : records)
    ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, toRr(rec, ldns_rdf_clone(owner), options_.ttl));
  // The addresses of SRV targets and of an alias, so clients need no second query (stub
  // resolvers do not follow a CNAME themselves).
  std::vector<std::string> targets;  // each SRV target's address once
  for (auto& rec : records) {
    if (rec.type == kSrv) {
      if (std::find(targets.begin(), targets.end(), rec.target) != targets.end()) continue;
      targets.push_back(rec.target);
      std::vector<Record> extra;
      index_.lookup(rec.target, kA, extra);
      for (auto& e : extra)
        if (e.type == kA)
          ldns_pkt_push_rr(r, LDNS_SECTION_ADDITIONAL, toRr(e, nullptr, options_.ttl));
    } else if (rec.type == kCname && qtype != kCname) {
      if (!index_.inZone(rec.target)) {
        // Outside the zone: upstream answers the rest (the server chases it).
        out.chaseName = rec.target;
        out.chaseQuery = makeQuery(rec.target, qtype, ldns_pkt_edns_do(q.get()));
        out.cacheKey = cacheKeyOf(rec.target, qtype, LDNS_RR_CLASS_IN, ldns_pkt_edns_do(q.get()));
        continue;
      }
      std::vector<Record> chased;
      if (index_.lookup(rec.target, qtype, chased) == Lookup::Found)
        for (auto& c : chased)
          if (c.type == qtype)
            ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, toRr(c, nullptr, options_.ttl));
    }
  }
  return reply(r);
}

}  // namespace skiff::dns
