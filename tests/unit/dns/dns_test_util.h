// Helpers of the DNS tests: API objects as JSON text, queries built and answers read with
// ldns (the same library the server uses, so the tests check meaning, not bytes).
#pragma once
#include <arpa/inet.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include "dns/ldns_include.h"
#include "dns/responder.h"

namespace skiff::dns::test {

inline boost::json::object obj(const std::string& text) {
  return boost::json::parse(text).as_object();
}

inline Wire makeQuery(const std::string& name, ldns_rr_type type, uint16_t id = 4242,
                      int ednsSize = 0) {
  ldns_pkt* q = nullptr;
  ldns_pkt_query_new_frm_str(&q, name.c_str(), type, LDNS_RR_CLASS_IN, LDNS_RD);
  ldns_pkt_set_id(q, id);
  if (ednsSize) ldns_pkt_set_edns_udp_size(q, static_cast<uint16_t>(ednsSize));
  uint8_t* buf = nullptr;
  size_t size = 0;
  ldns_pkt2wire(&buf, q, &size);
  Wire w(buf, buf + size);
  std::free(buf);
  ldns_pkt_free(q);
  return w;
}

// A parsed answer: rcode, flags and each section as "name TYPE rdata" strings.
struct Parsed {
  int rcode = -1;
  uint16_t id = 0;
  bool aa = false, tc = false, edns = false;
  std::vector<std::string> answer, authority, additional;
  std::vector<uint32_t> ttls;
};

inline std::string rrText(const ldns_rr* rr) {
  char* owner = ldns_rdf2str(ldns_rr_owner(rr));
  char* type = ldns_rr_type2str(ldns_rr_get_type(rr));
  std::string s = std::string(owner) + " " + type;
  std::free(owner);
  std::free(type);
  for (size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
    char* v = ldns_rdf2str(ldns_rr_rdf(rr, i));
    s += std::string(" ") + v;
    std::free(v);
  }
  return s;
}

inline Parsed parse(const Wire& w) {
  Parsed p;
  ldns_pkt* pkt = nullptr;
  if (ldns_wire2pkt(&pkt, w.data(), w.size()) != LDNS_STATUS_OK) return p;
  p.rcode = ldns_pkt_get_rcode(pkt);
  p.id = ldns_pkt_id(pkt);
  p.aa = ldns_pkt_aa(pkt);
  p.tc = ldns_pkt_tc(pkt);
  p.edns = ldns_pkt_edns(pkt);
  auto fill = [&](ldns_rr_list* l, std::vector<std::string>& out) {
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); ++i) {
      out.push_back(rrText(ldns_rr_list_rr(l, i)));
      p.ttls.push_back(ldns_rr_ttl(ldns_rr_list_rr(l, i)));
    }
  };
  fill(ldns_pkt_answer(pkt), p.answer);
  fill(ldns_pkt_authority(pkt), p.authority);
  fill(ldns_pkt_additional(pkt), p.additional);
  ldns_pkt_free(pkt);
  return p;
}

}  // namespace skiff::dns::test
