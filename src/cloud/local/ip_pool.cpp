#include "cloud/local/ip_pool.h"

#include <arpa/inet.h>

#include <boost/json.hpp>
#include <filesystem>

#include "common/log.h"
#include "common/pki.h"

namespace skiff::cloud::local {

namespace json = boost::json;
namespace fs = std::filesystem;

std::optional<uint32_t> parseIpv4(const std::string& text) {
  in_addr addr{};
  if (inet_pton(AF_INET, text.c_str(), &addr) != 1) return std::nullopt;
  return ntohl(addr.s_addr);
}

std::string formatIpv4(uint32_t ip) {
  in_addr addr{htonl(ip)};
  char buf[INET_ADDRSTRLEN] = {0};
  inet_ntop(AF_INET, &addr, buf, sizeof buf);
  return buf;
}

Ipv4Range parseIpv4Range(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return CloudError("invalid --load-balancer-ip-range \"" + text + "\": " + why +
                      " (want FIRST-LAST or a CIDR, e.g. 10.44.255.200-10.44.255.250)");
  };
  Ipv4Range r;
  if (auto dash = text.find('-'); dash != std::string::npos) {
    auto a = parseIpv4(text.substr(0, dash)), b = parseIpv4(text.substr(dash + 1));
    if (!a || !b) throw bad("not two IPv4 addresses");
    if (*a > *b) throw bad("the first address is after the last");
    r = {*a, *b};
  } else if (auto slash = text.find('/'); slash != std::string::npos) {
    auto a = parseIpv4(text.substr(0, slash));
    int prefix = -1;
    try {
      size_t used = 0;
      prefix = std::stoi(text.substr(slash + 1), &used);
      if (used != text.size() - slash - 1) prefix = -1;
    } catch (const std::exception&) {
    }
    if (!a || prefix < 0 || prefix > 32) throw bad("not an IPv4 CIDR");
    uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
    uint32_t base = *a & mask, top = base | ~mask;
    r = prefix >= 31 ? Ipv4Range{base, top} : Ipv4Range{base + 1, top - 1};
  } else {
    throw bad("no '-' or '/'");
  }
  if (r.size() > 65536) throw bad("more than 65536 addresses");
  return r;
}

IpPool::IpPool(const std::string& range, std::string statePath)
    : rangeText_(range), range_(parseIpv4Range(range)), statePath_(std::move(statePath)) {
  std::error_code ec;
  if (statePath_.empty() || !fs::exists(statePath_, ec)) return;
  json::value v;
  try {
    v = json::parse(readFile(statePath_));
  } catch (const std::exception& e) {
    // Refuse to start rather than hand out addresses that may be in use.
    throw CloudError("load-balancer allocations " + statePath_ + " unreadable: " + e.what());
  }
  const json::object* allocs = v.is_object() ? v.as_object().if_contains("allocations")
                                                   ? v.as_object().at("allocations").if_object()
                                                   : nullptr
                                             : nullptr;
  if (!allocs)
    throw CloudError("load-balancer allocations " + statePath_ + ": no \"allocations\" object");
  for (const auto& [key, val] : *allocs) {
    auto ip = val.is_string() ? parseIpv4(std::string(val.as_string())) : std::nullopt;
    if (!ip)
      throw CloudError("load-balancer allocations " + statePath_ + ": bad address for " +
                       std::string(key));
    byKey_[std::string(key)] = *ip;
    byIp_[*ip] = std::string(key);
  }
}

std::string IpPool::allocate(const std::string& key, const std::string& requested) {
  std::lock_guard lock(mu_);
  auto held = byKey_.find(key);
  if (!requested.empty()) {
    auto want = parseIpv4(requested);
    if (!want) throw CloudError("spec.loadBalancerIP \"" + requested + "\" is not an IPv4 address");
    if (held != byKey_.end() && held->second == *want) return formatIpv4(*want);
    if (*want < range_.first || *want > range_.last)
      throw CloudError("requested load balancer IP " + requested + " is outside the range " +
                       rangeText_);
    if (auto owner = byIp_.find(*want); owner != byIp_.end() && owner->second != key)
      throw CloudError("requested load balancer IP " + requested + " is already allocated to " +
                       owner->second);
    if (held != byKey_.end()) byIp_.erase(held->second);
    byKey_[key] = *want;
    byIp_[*want] = key;
    save();
    return requested;
  }
  if (held != byKey_.end()) return formatIpv4(held->second);
  for (uint64_t ip = range_.first; ip <= range_.last; ++ip) {
    if (byIp_.count(static_cast<uint32_t>(ip))) continue;
    byKey_[key] = static_cast<uint32_t>(ip);
    byIp_[static_cast<uint32_t>(ip)] = key;
    try {
      save();
    } catch (...) {
      byKey_.erase(key);
      byIp_.erase(static_cast<uint32_t>(ip));
      throw;
    }
    return formatIpv4(static_cast<uint32_t>(ip));
  }
  throw PoolExhausted("no load balancer IP left in " + rangeText_ + " (" +
                      std::to_string(range_.size()) + " addresses, all allocated)");
}

bool IpPool::release(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = byKey_.find(key);
  if (it == byKey_.end()) return false;
  byIp_.erase(it->second);
  byKey_.erase(it);
  save();
  return true;
}

std::optional<std::string> IpPool::lookup(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = byKey_.find(key);
  if (it == byKey_.end()) return std::nullopt;
  return formatIpv4(it->second);
}

std::map<std::string, std::string> IpPool::allocations() const {
  std::lock_guard lock(mu_);
  std::map<std::string, std::string> out;
  for (const auto& [k, ip] : byKey_) out[k] = formatIpv4(ip);
  return out;
}

void IpPool::save() const {
  if (statePath_.empty()) return;
  json::object allocs;
  for (const auto& [k, ip] : byKey_) allocs[k] = formatIpv4(ip);
  fs::create_directories(fs::path(statePath_).parent_path());
  writeFileAtomic(
      statePath_,
      json::serialize(json::object{{"range", rangeText_}, {"allocations", allocs}}) + "\n", 0644);
}

}  // namespace skiff::cloud::local
