#include "dns/forward_cache.h"

#include <algorithm>
#include <cstdlib>

#include "dns/ldns_include.h"

namespace skiff::dns {
namespace {

constexpr uint32_t kMaxTtl = 300;

template <typename Fn>
void forEachRr(ldns_pkt* p, Fn&& fn) {
  for (auto* list : {ldns_pkt_answer(p), ldns_pkt_authority(p), ldns_pkt_additional(p)})
    for (size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) fn(ldns_rr_list_rr(list, i));
}

}  // namespace

uint32_t cacheableTtl(const Wire& answer) {
  ldns_pkt* p = nullptr;
  if (ldns_wire2pkt(&p, answer.data(), answer.size()) != LDNS_STATUS_OK) return 0;
  uint32_t ttl = 0;
  auto rcode = ldns_pkt_get_rcode(p);
  if (!ldns_pkt_tc(p) && (rcode == LDNS_RCODE_NOERROR || rcode == LDNS_RCODE_NXDOMAIN)) {
    ttl = kMaxTtl;
    bool any = false;
    if (ldns_rr_list_rr_count(ldns_pkt_answer(p)) > 0) {
      forEachRr(p, [&](ldns_rr* rr) {
        ttl = std::min(ttl, ldns_rr_ttl(rr));
        any = true;
      });
    } else {
      // Negative answer: the SOA's TTL bounded by its minimum field (RFC 2308 5).
      auto* auth = ldns_pkt_authority(p);
      for (size_t i = 0; i < ldns_rr_list_rr_count(auth); ++i) {
        auto* rr = ldns_rr_list_rr(auth, i);
        if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA) continue;
        ttl = std::min(ttl, ldns_rr_ttl(rr));
        if (ldns_rr_rd_count(rr) == 7)
          ttl = std::min(ttl, ldns_rdf2native_int32(ldns_rr_rdf(rr, 6)));
        any = true;
      }
    }
    if (!any) ttl = 0;  // nothing says how long it holds
  }
  ldns_pkt_free(p);
  return ttl;
}

std::optional<Wire> ForwardCache::get(const std::string& key, uint16_t id, Clock::time_point now) {
  Wire wire;
  uint32_t elapsed;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    auto age = std::chrono::duration_cast<std::chrono::seconds>(now - it->second.stored).count();
    if (age >= it->second.ttl) {
      entries_.erase(it);
      return std::nullopt;
    }
    wire = it->second.wire;
    elapsed = static_cast<uint32_t>(age);
  }
  if (wire.size() >= 2) {
    wire[0] = static_cast<uint8_t>(id >> 8);
    wire[1] = static_cast<uint8_t>(id & 0xff);
  }
  if (elapsed == 0) return wire;
  ldns_pkt* p = nullptr;
  if (ldns_wire2pkt(&p, wire.data(), wire.size()) != LDNS_STATUS_OK) return std::nullopt;
  forEachRr(p, [&](ldns_rr* rr) {
    auto t = ldns_rr_ttl(rr);
    ldns_rr_set_ttl(rr, t > elapsed ? t - elapsed : 0);
  });
  uint8_t* buf = nullptr;
  size_t size = 0;
  std::optional<Wire> out;
  if (ldns_pkt2wire(&buf, p, &size) == LDNS_STATUS_OK) out = Wire(buf, buf + size);
  std::free(buf);
  ldns_pkt_free(p);
  return out;
}

void ForwardCache::put(const std::string& key, const Wire& answer, Clock::time_point now) {
  uint32_t ttl = cacheableTtl(answer);
  if (ttl == 0) return;
  std::lock_guard lock(mu_);
  if (entries_.size() >= max_) {
    for (auto it = entries_.begin(); it != entries_.end();)
      it = now - it->second.stored >= std::chrono::seconds(it->second.ttl) ? entries_.erase(it)
                                                                           : std::next(it);
    if (entries_.size() >= max_) entries_.clear();  // still full: start over, simply
  }
  entries_[key] = Entry{answer, now, ttl};
}

size_t ForwardCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace skiff::dns
