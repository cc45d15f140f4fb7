#include "proxy/nft_rules.h"

#include <sstream>

#include "common/hash.h"

namespace skiff::proxy {

namespace {

// Priorities as numbers: nft 1.0.6 accepts the `dstnat` keyword only in prerouting.
// The filter checks run before DNAT (-110) so they see the Service address; the output
// cluster-IP check runs after it (-90), when only traffic no Service rule took is left.
struct BaseChain {
  const char* name;
  const char* hook;  // "" for a regular chain
};
const BaseChain kBaseChains[] = {
    {"filter-input", "type filter hook input priority -110 ;"},
    {"filter-forward", "type filter hook forward priority -110 ;"},
    {"filter-output", "type filter hook output priority -110 ;"},
    {"filter-output-post-dnat", "type filter hook output priority -90 ;"},
    {"nat-prerouting", "type nat hook prerouting priority -100 ;"},
    {"nat-output", "type nat hook output priority -100 ;"},
    {"nat-postrouting", "type nat hook postrouting priority 100 ;"},
    {"services", ""},
    {"service-endpoints-check", ""},
    {"nodeport-endpoints-check", ""},
    {"cluster-ips-check", ""},
    {"mark-for-masquerade", ""},
    {"masquerading", ""},
    {"reject-chain", ""},
};

const char* const kMasqMark = "0x4000";

struct Container {
  const char* name;
  const char* kind;  // "set" or "map"
  const char* type;
};
// service-endpoints-P/nodeport-endpoints-P (P: tcp, udp, sctp): the endpoints of every
// plain Service port, keyed by what the packet carries plus the random index a shared
// balance chain draws (nft needs `typeof` for a numgen key; `mod 10` only describes the
// field, any N works). One map per protocol because of nft 1.0.6: a rule added in a later
// transaction than the map fails to evaluate a `th dport` in the data ("conflicting
// protocols specified: ip vs. th"), and `tcp dport` there makes the rule match TCP only.
#define SKIFF_ENDPOINT_MAPS(P)                                                                 \
  {"service-endpoints-" P, "map",                                                              \
   "{ typeof ip daddr . meta l4proto . th dport . numgen random mod 10 : ip daddr . " P        \
   " dport ; }"},                                                                              \
  {                                                                                            \
    "nodeport-endpoints-" P, "map",                                                            \
        "{ typeof meta l4proto . th dport . numgen random mod 10 : ip daddr . " P " dport ; }" \
  }
const Container kContainers[] = {
    {"cluster-ips", "set", "{ type ipv4_addr ; }"},
    {"service-ips", "map", "{ type ipv4_addr . inet_proto . inet_service : verdict ; }"},
    {"service-nodeports", "map", "{ type inet_proto . inet_service : verdict ; }"},
    {"no-endpoint-services", "map", "{ type ipv4_addr . inet_proto . inet_service : verdict ; }"},
    {"no-endpoint-nodeports", "map", "{ type inet_proto . inet_service : verdict ; }"},
    SKIFF_ENDPOINT_MAPS("tcp"),
    SKIFF_ENDPOINT_MAPS("udp"),
    SKIFF_ENDPOINT_MAPS("sctp"),
    {"hairpin", "set", "{ type ipv4_addr . ipv4_addr ; }"},
};
#undef SKIFF_ENDPOINT_MAPS

const char* containerKind(const std::string& name) {
  for (auto& c : kContainers)
    if (name == c.name) return c.kind;
  return "map";
}

enum class BalanceKind { cluster, external, nodePort };
const char* const kProtocols[] = {"tcp", "udp", "sctp"};
const BalanceKind kBalanceKinds[] = {BalanceKind::cluster, BalanceKind::external,
                                     BalanceKind::nodePort};
// Balance chains for 1..kPrecreatedBalance endpoints exist from the start (72 small chains):
// endpoint counts change all the time (scaling, rollouts) and then cost map elements only,
// over netlink, instead of an nft process for a new chain.
constexpr size_t kPrecreatedBalance = 8;

std::string balanceChainName(BalanceKind kind, const std::string& protocol, size_t n) {
  const char* prefix = kind == BalanceKind::cluster    ? "balance-"
                       : kind == BalanceKind::external ? "external-balance-"
                                                       : "nodeport-balance-";
  return prefix + protocol + "-" + std::to_string(n);
}

std::vector<std::string> balanceRules(BalanceKind kind, const std::string& protocol, size_t n,
                                      const ProxyConfig& config) {
  const std::string pick = " . numgen random mod " + std::to_string(n) + " map @";
  const std::string byAddress =
      "dnat ip to ip daddr . meta l4proto . th dport" + pick + "service-endpoints-" + protocol;
  switch (kind) {
    case BalanceKind::cluster: {
      std::vector<std::string> rules;
      // Traffic from outside the pod range (the node itself, other hosts) is SNATed so the
      // reply comes back through this node's conntrack.
      if (!config.clusterCidr.empty())
        rules.push_back("ip saddr != " + config.clusterCidr + " jump mark-for-masquerade");
      rules.push_back(byAddress);
      return rules;
    }
    case BalanceKind::external:
      return {"jump mark-for-masquerade", byAddress};
    case BalanceKind::nodePort:
      return {"jump mark-for-masquerade",
              "dnat ip to meta l4proto . th dport" + pick + "nodeport-endpoints-" + protocol};
  }
  return {};
}

// The pre-created balance chains with their rules.
std::map<std::string, std::vector<std::string>> precreatedBalanceChains(const ProxyConfig& config) {
  std::map<std::string, std::vector<std::string>> chains;
  for (auto* p : kProtocols)
    for (auto kind : kBalanceKinds)
      for (size_t n = 1; n <= kPrecreatedBalance; ++n)
        chains[balanceChainName(kind, p, n)] = balanceRules(kind, p, n, config);
  return chains;
}

bool isBaseChain(const std::string& name) {
  for (auto& b : kBaseChains)
    if (name == b.name) return true;
  // A pre-created balance chain (balance-tcp-3, nodeport-balance-udp-8, ...).
  for (auto* prefix : {"balance-", "external-balance-", "nodeport-balance-"})
    if (name.rfind(prefix, 0) == 0) {
      auto rest = name.substr(std::string(prefix).size());
      auto dash = rest.rfind('-');
      if (dash == std::string::npos) return false;
      auto proto = rest.substr(0, dash), count = rest.substr(dash + 1);
      if (proto != "tcp" && proto != "udp" && proto != "sctp") return false;
      if (count.empty() || count.size() > 2 ||
          count.find_first_not_of("0123456789") != std::string::npos)
        return false;
      auto n = std::stoul(count);
      return n >= 1 && n <= kPrecreatedBalance;
    }
  return false;
}

bool isContainer(const std::string& name) {
  for (auto& c : kContainers)
    if (name == c.name) return true;
  return false;
}

std::string base32(uint64_t h) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string s;
  for (int i = 0; i < 8; ++i) {
    s += alphabet[h & 31];
    h >>= 5;
  }
  return s;
}

std::string addr(const Endpoint& ep) { return ep.ip + "/" + std::to_string(ep.port); }

// Builds the chains of one service port into the state.
class PortRenderer {
 public:
  PortRenderer(const ServicePort& sp, const ProxyConfig& config, NftState& st)
      : sp_(sp), config_(config), st_(st) {}

  void render() {
    if (needsOwnChains(sp_))
      renderOwnChains();
    else
      renderShared();
  }

 private:
  // Plain Service ports own no chain: their map elements point at balance chains shared by
  // every port with the same endpoint count, which draw the endpoint from service-endpoints.
  void renderShared() {
    auto& internal = sp_.internalLocal ? sp_.localEndpoints : sp_.clusterEndpoints;
    const std::string proto = sp_.protocol, port = std::to_string(sp_.port);
    st_.elements["cluster-ips"][sp_.clusterIp] = "";
    auto ipKey = [&](const std::string& ip) { return ip + " . " + proto + " . " + port; };
    if (!internal.empty()) {
      st_.elements["service-ips"][ipKey(sp_.clusterIp)] =
          "goto " + balanceChain(BalanceKind::cluster, internal.size());
      addEndpointElements("service-endpoints-", ipKey(sp_.clusterIp), internal);
      // Hairpin (a pod reaching itself through the Service) needs SNAT so the reply comes
      // back through the node; only endpoints on this node can be DNATed here.
      for (auto& ep : internal)
        if (!ep.remote) st_.elements["hairpin"][ep.ip + " . " + ep.ip] = "";
    } else {
      bool elsewhere = sp_.internalLocal && !sp_.clusterEndpoints.empty();
      st_.elements["no-endpoint-services"][ipKey(sp_.clusterIp)] =
          elsewhere ? "drop" : "goto reject-chain";
    }
    if (sp_.nodePort <= 0 && sp_.externalIps.empty()) return;
    const std::string npKey = proto + " . " + std::to_string(sp_.nodePort);
    auto& eps = sp_.clusterEndpoints;
    if (eps.empty()) {
      for (auto& ip : sp_.externalIps)
        st_.elements["no-endpoint-services"][ipKey(ip)] = "goto reject-chain";
      if (sp_.nodePort > 0) st_.elements["no-endpoint-nodeports"][npKey] = "goto reject-chain";
      return;
    }
    for (auto& ip : sp_.externalIps) {
      st_.elements["service-ips"][ipKey(ip)] =
          "goto " + balanceChain(BalanceKind::external, eps.size());
      addEndpointElements("service-endpoints-", ipKey(ip), eps);
    }
    if (sp_.nodePort > 0) {
      st_.elements["service-nodeports"][npKey] =
          "goto " + balanceChain(BalanceKind::nodePort, eps.size());
      addEndpointElements("nodeport-endpoints-", npKey, eps);
    }
  }

  // The chain shared by every port of this protocol, kind and endpoint count; the common
  // counts are part of the skeleton (renderBase), so a Service moving between them changes
  // map elements only.
  std::string balanceChain(BalanceKind kind, size_t n) {
    auto name = balanceChainName(kind, sp_.protocol, n);
    if (n > kPrecreatedBalance) st_.chains[name] = balanceRules(kind, sp_.protocol, n, config_);
    return name;
  }

  void addEndpointElements(const char* mapPrefix, const std::string& key,
                           const std::vector<Endpoint>& eps) {
    auto& elements = st_.elements[mapPrefix + sp_.protocol];
    for (size_t i = 0; i < eps.size(); ++i)
      elements[key + " . " + std::to_string(i)] = eps[i].ip + " . " + std::to_string(eps[i].port);
  }

  void renderOwnChains() {
    auto& internal = sp_.internalLocal ? sp_.localEndpoints : sp_.clusterEndpoints;
    const std::string proto = sp_.protocol, port = std::to_string(sp_.port);
    st_.elements["cluster-ips"][sp_.clusterIp] = "";
    auto ipKey = [&](const std::string& ip) { return ip + " . " + proto + " . " + port; };
    if (!internal.empty()) {
      auto chain = hashedName("service", sp_.id());
      auto& rules = st_.chains[chain];
      // Traffic from outside the pod range (the node itself, other hosts) is SNATed so the
      // reply comes back through this node's conntrack.
      if (!sp_.noMasquerade && !config_.clusterCidr.empty())
        rules.push_back("ip daddr " + sp_.clusterIp + " " + proto + " dport " + port +
                        " ip saddr != " + config_.clusterCidr + " jump mark-for-masquerade");
      addBalancing(rules, internal);
      st_.elements["service-ips"][ipKey(sp_.clusterIp)] = "goto " + chain;
    } else {
      // No endpoints: fail fast. With internalTrafficPolicy Local and endpoints only on
      // other nodes upstream drops instead (the Service does exist, just not here).
      bool elsewhere = sp_.internalLocal && !sp_.clusterEndpoints.empty();
      st_.elements["no-endpoint-services"][ipKey(sp_.clusterIp)] =
          elsewhere ? "drop" : "goto reject-chain";
    }

    if (sp_.nodePort <= 0 && sp_.externalIps.empty()) return;
    const std::string npKey = proto + " . " + std::to_string(sp_.nodePort);
    if (sp_.clusterEndpoints.empty()) {
      for (auto& ip : sp_.externalIps)
        st_.elements["no-endpoint-services"][ipKey(ip)] = "goto reject-chain";
      if (sp_.nodePort > 0) st_.elements["no-endpoint-nodeports"][npKey] = "goto reject-chain";
      return;
    }
    auto ext = hashedName("external", sp_.id());
    auto& rules = st_.chains[ext];
    if (!sp_.externalLocal) {
      rules.push_back("jump mark-for-masquerade");
      addBalancing(rules, sp_.clusterEndpoints);
    } else {
      // externalTrafficPolicy Local: outside clients keep their source address and reach
      // only this node's endpoints; pods and the node itself still use every endpoint.
      auto cluster = hashedName("cluster", sp_.id());
      addBalancing(st_.chains[cluster], sp_.clusterEndpoints);
      rules.push_back("ip saddr " + config_.clusterCidr + " goto " + cluster);
      rules.push_back("fib saddr type local jump mark-for-masquerade");
      rules.push_back("fib saddr type local goto " + cluster);
      if (sp_.localEndpoints.empty())
        rules.push_back("drop");
      else
        addBalancing(rules, sp_.localEndpoints);
    }
    for (auto& ip : sp_.externalIps) st_.elements["service-ips"][ipKey(ip)] = "goto " + ext;
    if (sp_.nodePort > 0) st_.elements["service-nodeports"][npKey] = "goto " + ext;
  }
  // Session affinity first (a client seen recently goes back to its endpoint), then an
  // equal random choice: numgen + an anonymous vmap is one rule whatever N is.
  void addBalancing(std::vector<std::string>& rules, const std::vector<Endpoint>& eps) {
    for (auto& ep : eps)
      if (sp_.affinitySeconds > 0)
        rules.push_back("ip saddr @" + affinitySet(ep) + " goto " + endpointChain(ep));
    std::string vmap = "numgen random mod " + std::to_string(eps.size()) + " vmap { ";
    for (size_t i = 0; i < eps.size(); ++i)
      vmap += (i ? ", " : "") + std::to_string(i) + " : goto " + endpointChain(eps[i]);
    rules.push_back(vmap + " }");
  }

  std::string affinitySet(const Endpoint& ep) {
    // The timeout is part of the hash ('@' and the like are not valid in nft names): a new
    // timeout is a new set, as a set's timeout cannot be changed in place.
    auto name =
        hashedName("affinity", sp_.id() + "__" + addr(ep), std::to_string(sp_.affinitySeconds));
    st_.sets[name] = "{ type ipv4_addr ; flags dynamic,timeout ; timeout " +
                     std::to_string(sp_.affinitySeconds) + "s ; }";
    return name;
  }

  std::string endpointChain(const Endpoint& ep) {
    auto name = hashedName("endpoint", sp_.id() + "__" + addr(ep));
    auto [it, fresh] = st_.chains.try_emplace(name);
    if (!fresh) return name;
    auto& rules = it->second;
    // Hairpin: a pod reaching itself through the Service must see the reply come from the
    // Service, so its own source is replaced by the node's.
    if (!sp_.noMasquerade) rules.push_back("ip saddr " + ep.ip + " jump mark-for-masquerade");
    if (sp_.affinitySeconds > 0) rules.push_back("update @" + affinitySet(ep) + " { ip saddr }");
    rules.push_back("meta l4proto " + sp_.protocol + " dnat to " + ep.ip + ":" +
                    std::to_string(ep.port));
    return name;
  }

  const ServicePort& sp_;
  const ProxyConfig& config_;
  NftState& st_;
};

void appendChainRules(std::ostringstream& out, const std::string& chain,
                      const std::vector<std::string>& rules) {
  for (auto& r : rules) out << "add rule ip skiff " << chain << " " << r << "\n";
}

void appendElement(std::ostringstream& out, const char* verb, const std::string& container,
                   const std::string& key, const std::string& value) {
  out << verb << " element ip skiff " << container << " { " << key;
  if (!value.empty()) out << " : " << value;
  out << " }\n";
}

}  // namespace

bool needsOwnChains(const ServicePort& sp) {
  return sp.affinitySeconds > 0 || sp.externalLocal || sp.noMasquerade;
}

std::string hashedName(const std::string& prefix, const std::string& suffix,
                       const std::string& salt) {
  return prefix + "-" + base32(fnv1a(salt, fnv1a(suffix))) + "-" + suffix;
}

const std::vector<std::string>& elementContainers() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (auto& c : kContainers) v.push_back(c.name);
    return v;
  }();
  return names;
}

NftState desiredState(const std::vector<ServicePort>& ports, const ProxyConfig& config) {
  NftState st;
  for (auto& sp : ports) PortRenderer(sp, config, st).render();
  return st;
}

std::string renderBase(const ProxyConfig& config) {
  std::ostringstream out;
  out << "add table ip skiff { comment \"skiff proxy: Service rules\" ; }\n";
  for (auto& b : kBaseChains) {
    out << "add chain ip skiff " << b.name;
    if (*b.hook) out << " { " << b.hook << " }";
    out << "\n";
  }
  for (auto& c : kContainers)
    out << "add " << c.kind << " ip skiff " << c.name << " " << c.type << "\n";
  for (auto& b : kBaseChains) out << "flush chain ip skiff " << b.name << "\n";
  std::map<std::string, std::vector<std::string>> rules;
  rules["filter-input"] = {"ct state new jump nodeport-endpoints-check",
                           "ct state new jump service-endpoints-check",
                           // route_localnet (for NodePorts on 127.0.0.1) must not let other
                           // hosts reach the node's loopback services (CVE-2020-8558).
                           "iifname != \"lo\" ip daddr 127.0.0.0/8 ct status & dnat == 0 drop"};
  rules["filter-forward"] = {"ct state new jump service-endpoints-check",
                             "ct state new jump cluster-ips-check"};
  rules["filter-output"] = {"ct state new jump service-endpoints-check"};
  rules["filter-output-post-dnat"] = {"ct state new jump cluster-ips-check"};
  rules["nat-prerouting"] = {"jump services"};
  rules["nat-output"] = {"jump services"};
  rules["nat-postrouting"] = {"jump masquerading"};
  rules["services"] = {
      "ip daddr . meta l4proto . th dport vmap @service-ips",
      "fib daddr type local meta l4proto . th dport vmap @service-nodeports",
  };
  rules["service-endpoints-check"] = {
      "ip daddr . meta l4proto . th dport vmap @no-endpoint-services"};
  rules["nodeport-endpoints-check"] = {
      "fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports"};
  // A Service address on a port it does not serve, or an address no Service has: refused
  // here, so the packet never leaves the node and the client fails at once.
  rules["cluster-ips-check"] = {"ip daddr @cluster-ips jump reject-chain"};
  if (!config.serviceCidr.empty())
    rules["cluster-ips-check"].push_back("ip daddr " + config.serviceCidr + " jump reject-chain");
  rules["mark-for-masquerade"] = {std::string("meta mark set meta mark | ") + kMasqMark};
  rules["masquerading"] = {"ip saddr . ip daddr @hairpin ct status dnat masquerade fully-random",
                           std::string("meta mark & ") + kMasqMark + " == 0 return",
                           std::string("meta mark set meta mark ^ ") + kMasqMark,
                           "masquerade fully-random"};
  rules["reject-chain"] = {"meta l4proto tcp reject with tcp reset", "reject"};
  for (auto& b : kBaseChains) appendChainRules(out, b.name, rules[b.name]);
  for (auto& [name, chainRules] : precreatedBalanceChains(config)) {
    out << "add chain ip skiff " << name << "\n"
        << "flush chain ip skiff " << name << "\n";
    appendChainRules(out, name, chainRules);
  }
  return out.str();
}

ExistingTable parseExistingTable(const std::string& listing) {
  ExistingTable t;
  std::istringstream in(listing);
  for (std::string line; std::getline(in, line);) {
    auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos) continue;
    std::istringstream words(line.substr(start));
    std::string kind, name, brace;
    words >> kind >> name >> brace;
    if (brace != "{") continue;
    if (kind == "chain") t.chains.insert(name);
    if (kind == "set" || kind == "map") t.sets.insert(name);
  }
  return t;
}

SplitTransaction splitFull(const NftState& desired, const ExistingTable& existing,
                           const ProxyConfig& config) {
  SplitTransaction t;
  std::ostringstream out;
  out << renderBase(config);
  for (auto& [name, decl] : desired.sets) out << "add set ip skiff " << name << " " << decl << "\n";
  // Every chain exists before any rule jumps to one.
  for (auto& [name, _] : desired.chains) out << "add chain ip skiff " << name << "\n";
  for (auto& [name, rules] : desired.chains) {
    out << "flush chain ip skiff " << name << "\n";
    appendChainRules(out, name, rules);
  }
  t.before = out.str();
  for (auto& c : elementContainers()) {
    t.flush.push_back(c);
    auto it = desired.elements.find(c);
    if (it == desired.elements.end()) continue;
    for (auto& [k, v] : it->second) t.elements.push_back({c, k, v, true});
  }
  // Leftovers of an earlier run: emptied first, since they may jump to one another.
  std::ostringstream after;
  std::vector<std::string> stale;
  for (auto& name : existing.chains)
    if (!isBaseChain(name) && !desired.chains.count(name)) stale.push_back(name);
  for (auto& name : stale) after << "flush chain ip skiff " << name << "\n";
  for (auto& name : stale) after << "delete chain ip skiff " << name << "\n";
  for (auto& name : existing.sets)
    if (!isContainer(name) && !desired.sets.count(name))
      after << "delete set ip skiff " << name << "\n";
  t.after = after.str();
  return t;
}

SplitTransaction splitDiff(const NftState& installed, const NftState& desired) {
  SplitTransaction t;
  std::ostringstream out;
  for (auto& [name, decl] : desired.sets)
    if (!installed.sets.count(name)) out << "add set ip skiff " << name << " " << decl << "\n";
  for (auto& [name, _] : desired.chains)
    if (!installed.chains.count(name)) out << "add chain ip skiff " << name << "\n";
  for (auto& [name, rules] : desired.chains) {
    auto it = installed.chains.find(name);
    if (it == installed.chains.end()) {
      appendChainRules(out, name, rules);
    } else if (it->second != rules) {
      out << "flush chain ip skiff " << name << "\n";
      appendChainRules(out, name, rules);
    }
  }
  t.before = out.str();
  static const std::map<std::string, std::string> kEmpty;
  for (auto& c : elementContainers()) {
    auto oldIt = installed.elements.find(c), newIt = desired.elements.find(c);
    auto& before = oldIt == installed.elements.end() ? kEmpty : oldIt->second;
    auto& after = newIt == desired.elements.end() ? kEmpty : newIt->second;
    // A changed value is a delete and an add: `add element` does not replace a verdict.
    for (auto& [k, v] : before) {
      auto it = after.find(k);
      if (it == after.end() || it->second != v) t.elements.push_back({c, k, "", false});
    }
    for (auto& [k, v] : after) {
      auto it = before.find(k);
      if (it == before.end() || it->second != v) t.elements.push_back({c, k, v, true});
    }
  }
  std::ostringstream after;
  std::vector<std::string> gone;
  for (auto& [name, _] : installed.chains)
    if (!desired.chains.count(name)) gone.push_back(name);
  for (auto& name : gone) after << "flush chain ip skiff " << name << "\n";
  for (auto& name : gone) after << "delete chain ip skiff " << name << "\n";
  for (auto& [name, _] : installed.sets)
    if (!desired.sets.count(name)) after << "delete set ip skiff " << name << "\n";
  t.after = after.str();
  return t;
}

std::string joinAsText(const SplitTransaction& t) {
  std::ostringstream out;
  out << t.before;
  for (auto& c : t.flush) out << "flush " << containerKind(c) << " ip skiff " << c << "\n";
  for (auto& e : t.elements)
    appendElement(out, e.add ? "add" : "delete", e.container, e.key, e.value);
  out << t.after;
  return out.str();
}

std::string renderFull(const NftState& desired, const ExistingTable& existing,
                       const ProxyConfig& config) {
  return joinAsText(splitFull(desired, existing, config));
}

std::string renderDiff(const NftState& installed, const NftState& desired) {
  return joinAsText(splitDiff(installed, desired));
}

std::string renderDeleteTable() {
  // Declaring first makes the delete succeed whether or not the table exists.
  return "table ip skiff\ndelete table ip skiff\n";
}

}  // namespace skiff::proxy
