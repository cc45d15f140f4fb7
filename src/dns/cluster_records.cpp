#include "dns/cluster_records.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "api/json_access.h"

namespace json = boost::json;

namespace skiff::dns {
namespace {

using api::arrayOrEmpty;
using api::intAt;
using api::objectAt;
using api::stringAt;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Port {
  std::string name, protocol;
  uint16_t port;
};

std::vector<Port> portsOf(const json::array& ports) {
  std::vector<Port> out;
  for (auto& v : ports) {
    auto* p = v.if_object();
    if (!p) continue;
    auto port = intAt(*p, {"port"});
    if (port <= 0 || port > 65535) continue;
    out.push_back({lower(stringAt(*p, {"name"})), lower(stringAt(*p, {"protocol"}, "TCP")),
                   static_cast<uint16_t>(port)});
  }
  return out;
}

void addSrv(std::vector<Record>& out, const std::string& svcName, const Port& p,
            const std::string& target, uint16_t weight) {
  out.push_back(
      Record{.name = svcName, .type = kSrv, .target = target, .weight = weight, .port = p.port});
  if (!p.name.empty())
    out.push_back(Record{.name = "_" + p.name + "._" + p.protocol + "." + svcName,
                         .type = kSrv,
                         .target = target,
                         .weight = weight,
                         .port = p.port});
}

}  // namespace

std::vector<Record> serviceRecords(const json::object& service,
                                   const std::vector<const json::object*>& slices,
                                   const std::string& zone) {
  std::vector<Record> out;
  auto name = lower(stringAt(service, {"metadata", "name"}));
  auto ns = lower(stringAt(service, {"metadata", "namespace"}, "default"));
  if (name.empty()) return out;
  const std::string svcName = name + "." + ns + ".svc." + zone;
  auto type = stringAt(service, {"spec", "type"}, "ClusterIP");

  if (type == "ExternalName") {
    auto target = lower(stringAt(service, {"spec", "externalName"}));
    while (!target.empty() && target.back() == '.') target.pop_back();
    if (!target.empty()) out.push_back(Record{.name = svcName, .type = kCname, .target = target});
    return out;
  }

  auto clusterIp = stringAt(service, {"spec", "clusterIP"});
  if (clusterIp != "None") {
    uint32_t ip;
    if (!parseIpv4(clusterIp, ip)) return out;  // not allocated yet, or IPv6 only
    out.push_back(Record{.name = svcName, .type = kA, .ipv4 = ip});
    out.push_back(Record{.name = reverseName(ip), .type = kPtr, .target = svcName});
    for (auto& p : portsOf(arrayOrEmpty(service, {"spec", "ports"})))
      addSrv(out, svcName, p, svcName, 100);
    return out;
  }

  // Headless: the ready endpoints of every IPv4 slice, each under its own name too.
  struct Endpoint {
    std::string host;  // hostname, or the dashed address
    uint32_t ip;
  };
  std::map<uint32_t, Endpoint> endpoints;  // by address: stable order, no duplicates
  std::vector<Port> ports;
  for (auto* slice : slices) {
    if (stringAt(*slice, {"addressType"}) != "IPv4") continue;
    for (auto& p : portsOf(arrayOrEmpty(*slice, {"ports"})))
      if (std::none_of(ports.begin(), ports.end(),
                       [&](const Port& q) { return q.name == p.name && q.port == p.port; }))
        ports.push_back(p);
    for (auto& e : arrayOrEmpty(*slice, {"endpoints"})) {
      auto* ep = e.if_object();
      if (!ep) continue;
      // Ready unless said otherwise (upstream: a nil condition means ready).
      auto* ready = api::valueAt(*ep, {"conditions", "ready"});
      if (ready && ready->is_bool() && !ready->as_bool()) continue;
      auto host = lower(stringAt(*ep, {"hostname"}));
      for (auto& a : arrayOrEmpty(*ep, {"addresses"})) {
        uint32_t ip;
        if (!a.is_string() || !parseIpv4(a.as_string(), ip)) continue;
        endpoints.emplace(ip, Endpoint{host.empty() ? dashedIp(ip) : host, ip});
      }
    }
  }
  auto weight = static_cast<uint16_t>(endpoints.empty() ? 100 : 100 / endpoints.size());
  if (weight == 0) weight = 1;
  for (auto& [ip, ep] : endpoints) {
    auto epName = ep.host + "." + svcName;
    out.push_back(Record{.name = svcName, .type = kA, .ipv4 = ip});
    out.push_back(Record{.name = epName, .type = kA, .ipv4 = ip});
    out.push_back(Record{.name = reverseName(ip), .type = kPtr, .target = epName});
    for (auto& p : ports) addSrv(out, svcName, p, epName, weight);
  }
  return out;
}

}  // namespace skiff::dns
