#include "dns/record_index.h"

#include <algorithm>
#include <charconv>
#include <mutex>

namespace skiff::dns {

bool parseIpv4(std::string_view s, uint32_t& out) {
  uint32_t ip = 0;
  const char* p = s.data();
  const char* end = s.data() + s.size();
  for (int i = 0; i < 4; ++i) {
    unsigned v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc{} || next == p || v > 255 || next - p > 3) return false;
    ip = (ip << 8) | v;
    p = next;
    if (i < 3) {
      if (p == end || *p != '.') return false;
      ++p;
    }
  }
  if (p != end) return false;
  out = ip;
  return true;
}

std::string formatIpv4(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." +
         std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255);
}

std::string reverseName(uint32_t ip) {
  return std::to_string(ip & 255) + "." + std::to_string((ip >> 8) & 255) + "." +
         std::to_string((ip >> 16) & 255) + "." + std::to_string(ip >> 24) + ".in-addr.arpa";
}

std::string dashedIp(uint32_t ip) {
  auto s = formatIpv4(ip);
  std::replace(s.begin(), s.end(), '.', '-');
  return s;
}

RecordIndex::RecordIndex(std::string zone) : zone_(std::move(zone)) {}

bool RecordIndex::inZone(std::string_view name) const {
  if (name.size() == zone_.size()) return name == zone_;
  return name.size() > zone_.size() && name.ends_with(zone_) &&
         name[name.size() - zone_.size() - 1] == '.';
}

size_t RecordIndex::names() const {
  std::shared_lock lock(mu_);
  return names_.size();
}

// Every ancestor of a record's name down to the zone (or to the last two labels outside
// it, for reverse names) exists as an empty non-terminal: NOERROR/NODATA, not NXDOMAIN.
// Outside the zone (reverse names) only the name itself: other names there are forwarded.
static void forEachAncestor(std::string_view name, const std::string& zone, auto&& fn) {
  fn(name);
  if (!name.ends_with(zone)) return;
  while (true) {
    auto dot = name.find('.');
    if (dot == std::string_view::npos) return;
    name = name.substr(dot + 1);
    if (name.size() < zone.size()) return;
    fn(name);
    if (name == zone) return;
  }
}

void RecordIndex::addLocked(uint32_t source, const Record& r) {
  names_[r.name].records.emplace_back(source, r);
  forEachAncestor(r.name, zone_, [&](std::string_view n) { ++names_[std::string(n)].below; });
}

void RecordIndex::removeLocked(uint32_t source, const Record& r) {
  if (auto it = names_.find(r.name); it != names_.end()) {
    auto& v = it->second.records;
    for (auto rit = v.begin(); rit != v.end(); ++rit)
      if (rit->first == source && rit->second == r) {
        v.erase(rit);
        break;
      }
  }
  forEachAncestor(r.name, zone_, [&](std::string_view n) {
    auto it = names_.find(std::string(n));
    if (it != names_.end() && --it->second.below == 0) names_.erase(it);
  });
}

void RecordIndex::setSource(const std::string& source, std::vector<Record> records) {
  std::unique_lock lock(mu_);
  auto it = sources_.find(source);
  if (it != sources_.end()) {
    if (it->second.second == records) return;  // most informer updates change no name
    for (auto& r : it->second.second) removeLocked(it->second.first, r);
    if (records.empty()) {
      sources_.erase(it);
      generation_.fetch_add(1, std::memory_order_release);
      return;
    }
    it->second.second = std::move(records);
  } else {
    if (records.empty()) return;
    it = sources_.emplace(source, std::make_pair(nextSourceId_++, std::move(records))).first;
  }
  for (auto& r : it->second.second) addLocked(it->second.first, r);
  generation_.fetch_add(1, std::memory_order_release);
}

Lookup RecordIndex::lookupPod(std::string_view name, uint16_t qtype,
                              std::vector<Record>& out) const {
  // name = <ip>.<ns>.pod.<zone> or one of its ancestors.
  std::string_view rest = name.substr(0, name.size() - zone_.size() - 1);  // "...pod"
  rest.remove_suffix(3);                                                   // "<ip>.<ns>." or ""
  if (rest.empty()) return Lookup::NoData;                                 // pod.<zone>
  rest.remove_suffix(1);
  auto dot = rest.find('.');
  if (dot == std::string_view::npos) return Lookup::NoData;  // <ns>.pod.<zone>
  std::string ip(rest.substr(0, dot));
  if (rest.find('.', dot + 1) != std::string_view::npos) return Lookup::NxDomain;
  std::replace(ip.begin(), ip.end(), '-', '.');
  uint32_t addr;
  if (!parseIpv4(ip, addr)) return Lookup::NxDomain;
  if (qtype != kA && qtype != kAny) return Lookup::NoData;
  out.push_back(Record{.name = std::string(name), .type = kA, .ipv4 = addr});
  return Lookup::Found;
}

Lookup RecordIndex::lookup(std::string_view name, uint16_t qtype, std::vector<Record>& out) const {
  bool ours = inZone(name);
  if (ours) {
    std::string_view podZone = name.substr(0, name.size() - zone_.size());
    if (podZone == "pod." || podZone.ends_with(".pod.")) return lookupPod(name, qtype, out);
  }
  std::shared_lock lock(mu_);
  auto it = names_.find(std::string(name));
  if (it == names_.end()) {
    if (!ours) return Lookup::NotOurs;
    // The zone itself and svc.<zone> always exist.
    if (name.size() == zone_.size() || name.size() == zone_.size() + 4) {
      if (name.size() == zone_.size() || name.starts_with("svc.")) return Lookup::NoData;
    }
    return Lookup::NxDomain;
  }
  size_t before = out.size();
  for (auto& [source, r] : it->second.records)
    if (r.type == kCname && qtype != kCname) {
      out.push_back(r);  // an alias answers every type; the resolver follows it
      return Lookup::Found;
    }
  for (auto& [source, r] : it->second.records)
    if (r.type == qtype || qtype == kAny) out.push_back(r);
  return out.size() > before ? Lookup::Found : Lookup::NoData;
}

}  // namespace skiff::dns
