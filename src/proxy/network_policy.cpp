#include "proxy/network_policy.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "api/json_access.h"
#include "api/label_selector.h"
#include "proxy/nft_rules.h"

namespace skiff::proxy {

namespace json = boost::json;

namespace {

struct Pod {
  std::string ns, name, ip, node;
  const json::object* labels = nullptr;
  const json::object* obj = nullptr;
};

// Pods that own an IPv4 address of the pod network: host-network pods share the node's
// address (policies do not select them), finished pods gave theirs back.
std::vector<Pod> livePods(const ObjectList& pods) {
  std::vector<Pod> out;
  for (auto& p : pods) {
    Pod pod;
    pod.ip = api::stringAt(*p, {"status", "podIP"});
    if (pod.ip.empty() || pod.ip.find(':') != std::string::npos) continue;
    if (api::boolAt(*p, {"spec", "hostNetwork"})) continue;
    auto phase = api::stringAt(*p, {"status", "phase"});
    if (phase == "Succeeded" || phase == "Failed") continue;
    pod.ns = api::stringAt(*p, {"metadata", "namespace"});
    pod.name = api::stringAt(*p, {"metadata", "name"});
    pod.node = api::stringAt(*p, {"spec", "nodeName"});
    pod.labels = api::objectAt(*p, {"metadata", "labels"});
    pod.obj = p.get();
    out.push_back(std::move(pod));
  }
  std::sort(out.begin(), out.end(), [](const Pod& a, const Pod& b) {
    return std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
  });
  return out;
}

// "TCP" → "tcp" (nft's spelling); upstream's default is TCP.
std::string protoOf(const json::object& port) {
  auto p = api::stringField(port, "protocol");
  if (p == "UDP") return "udp";
  if (p == "SCTP") return "sctp";
  return "tcp";
}

// A named port of a pod's containers (name and protocol must both match); 0 when none.
int namedPort(const Pod& pod, const std::string& name, const std::string& proto) {
  for (auto& c : api::arrayOrEmpty(*pod.obj, {"spec", "containers"})) {
    if (!c.is_object()) continue;
    for (auto& p : api::arrayOrEmpty(c.get_object(), {"ports"})) {
      if (!p.is_object()) continue;
      auto& po = p.get_object();
      if (api::stringField(po, "name") == name && protoOf(po) == proto)
        return static_cast<int>(api::intField(po, "containerPort"));
    }
  }
  return 0;
}

class Renderer {
 public:
  explicit Renderer(const PolicyInput& in) : in_(in), pods_(livePods(in.pods)) {
    for (auto& n : in.namespaces)
      nsLabels_[api::stringAt(*n, {"metadata", "name"})] =
          api::objectAt(*n, {"metadata", "labels"});
  }

  std::string render() {
    // Policies in a stable order, so the same inputs give the same script (no-op syncs).
    std::vector<const json::object*> policies;
    for (auto& p : in_.policies) policies.push_back(p.get());
    std::sort(policies.begin(), policies.end(), [](auto* a, auto* b) {
      return std::pair(api::stringAt(*a, {"metadata", "namespace"}),
                       api::stringAt(*a, {"metadata", "name"})) <
             std::pair(api::stringAt(*b, {"metadata", "namespace"}),
                       api::stringAt(*b, {"metadata", "name"}));
    });
    for (auto& pod : pods_) {
      if (pod.node != in_.nodeName) continue;
      for (auto* np : policies) {
        if (!selects(*np, pod)) continue;
        auto [ingress, egress] = policyTypes(*np);
        if (ingress) addRules(pod, *np, true);
        if (egress) addRules(pod, *np, false);
      }
    }
    return script();
  }

 private:
  struct PodChain {
    std::string ip;
    std::vector<std::string> rules;
  };

  bool selects(const json::object& np, const Pod& pod) const {
    if (api::stringAt(np, {"metadata", "namespace"}) != pod.ns) return false;
    auto* sel = api::valueAt(np, {"spec", "podSelector"});
    // An absent podSelector is the empty one: every pod of the namespace.
    return !sel || sel->is_null() || api::LabelSelector::fromJson(*sel).matches(pod.labels);
  }

  static std::pair<bool, bool> policyTypes(const json::object& np) {
    bool in = false, eg = false;
    auto* types = api::arrayAt(np, {"spec", "policyTypes"});
    if (!types || types->empty()) {
      // Upstream's defaulting, for objects that skipped it.
      auto* egress = api::arrayAt(np, {"spec", "egress"});
      return {true, egress && !egress->empty()};
    }
    for (auto& t : *types) {
      if (!t.is_string()) continue;
      in |= t.get_string() == "Ingress";
      eg |= t.get_string() == "Egress";
    }
    return {in, eg};
  }

  // Pods a peer's selectors pick: podSelector alone = the policy's namespace;
  // namespaceSelector alone = every pod of matching namespaces; both = AND.
  std::vector<const Pod*> peerPods(const std::string& policyNs, const json::object& peer) const {
    std::vector<const Pod*> out;
    auto* podSel = api::valueAt(peer, {"podSelector"});
    auto* nsSel = api::valueAt(peer, {"namespaceSelector"});
    bool hasPod = podSel && podSel->is_object(), hasNs = nsSel && nsSel->is_object();
    if (!hasPod && !hasNs) return out;
    auto ps = hasPod ? api::LabelSelector::fromJson(*podSel) : api::LabelSelector::everything();
    auto ns = hasNs ? api::LabelSelector::fromJson(*nsSel) : api::LabelSelector::everything();
    for (auto& pod : pods_) {
      if (hasNs) {
        auto it = nsLabels_.find(pod.ns);
        if (!ns.matches(it == nsLabels_.end() ? nullptr : it->second)) continue;
      } else if (pod.ns != policyNs) {
        continue;
      }
      if (ps.matches(pod.labels)) out.push_back(&pod);
    }
    return out;
  }

  // One policy's rules for one direction into the pod's chain (allow = return).
  void addRules(const Pod& pod, const json::object& np, bool ingress) {
    auto& chain = (ingress ? ingress_ : egress_)[pod.ns + "/" + pod.name];
    chain.ip = pod.ip;
    const std::string policyNs = api::stringAt(np, {"metadata", "namespace"});
    const std::string dir = ingress ? "ingress" : "egress";
    const std::string peerAddr = ingress ? "ip saddr" : "ip daddr";
    auto& rules = api::arrayOrEmpty(np, {"spec", dir});
    for (size_t i = 0; i < rules.size(); ++i) {
      if (!rules[i].is_object()) continue;
      auto& rule = rules[i].get_object();
      auto& peers = api::arrayOrEmpty(rule, {ingress ? "from" : "to"});
      auto& ports = api::arrayOrEmpty(rule, {"ports"});
      const std::string ruleId = policyNs + "/" + api::stringAt(np, {"metadata", "name"}) + "/" +
                                 dir + "/" + std::to_string(i);
      // Peers as address matches ("" = anyone); selector peers share one set per rule.
      std::vector<std::string> matches;
      std::vector<const Pod*> selected;
      bool anyone = peers.empty(), hasSelectors = false;
      for (auto& pv : peers) {
        if (!pv.is_object()) continue;
        auto& peer = pv.get_object();
        if (auto* block = api::objectAt(peer, {"ipBlock"})) {
          std::string m = peerAddr + " " + api::stringField(*block, "cidr");
          std::vector<std::string> except;
          for (auto& e : api::arrayOrEmpty(*block, {"except"}))
            if (e.is_string()) except.emplace_back(e.get_string());
          if (!except.empty()) m += " " + peerAddr + " != { " + join(except) + " }";
          matches.push_back(m);
          continue;
        }
        hasSelectors = true;
        for (auto* p : peerPods(policyNs, peer)) selected.push_back(p);
      }
      if (hasSelectors) {
        auto set = hashedName("peers", ruleId);
        auto& elems = sets_[set];
        for (auto* p : selected) elems.insert(p->ip);
        matches.push_back(peerAddr + " @" + set);
      }
      if (anyone) matches.push_back("");

      if (ports.empty()) {
        for (auto& m : matches) chain.rules.push_back(joinRule(m, "", "return"));
        continue;
      }
      for (auto& pv : ports) {
        if (!pv.is_object()) continue;
        auto& port = pv.get_object();
        const std::string proto = protoOf(port);
        const std::string l4 = "meta l4proto " + proto;
        auto* pval = api::valueAt(port, {"port"});
        if (!pval || pval->is_null()) {  // every port of the protocol
          for (auto& m : matches) chain.rules.push_back(joinRule(m, l4, "return"));
          continue;
        }
        if (pval->is_int64()) {
          std::string dport = l4 + " th dport " + std::to_string(pval->get_int64());
          if (int64_t end = api::intField(port, "endPort"); end > pval->get_int64())
            dport += "-" + std::to_string(end);
          for (auto& m : matches) chain.rules.push_back(joinRule(m, dport, "return"));
          continue;
        }
        if (!pval->is_string()) continue;
        const std::string name(pval->get_string());
        if (ingress) {
          // Named ports of ingress rules are the selected pod's own container ports.
          if (int n = namedPort(pod, name, proto))
            for (auto& m : matches)
              chain.rules.push_back(joinRule(m, l4 + " th dport " + std::to_string(n), "return"));
          continue;
        }
        // Egress: the port depends on the destination pod, so address and port are matched
        // together against the peer pods (every pod when `to` is empty) that name it.
        // ipBlock peers have no pod to resolve against and match nothing here.
        std::vector<const Pod*> candidates;
        if (anyone)
          for (auto& p : pods_) candidates.push_back(&p);
        else
          candidates = selected;
        auto set = hashedName("named", ruleId + "/" + proto + "/" + name);
        auto& elems = pairSets_[set];
        for (auto* p : candidates)
          if (int n = namedPort(*p, name, proto)) elems.insert(p->ip + " . " + std::to_string(n));
        chain.rules.push_back(l4 + " ip daddr . th dport @" + set + " return");
      }
    }
  }

  static std::string joinRule(const std::string& peer, const std::string& port,
                              const std::string& verdict) {
    std::string r = peer;
    for (auto* part : {&port, &verdict})
      if (!part->empty()) r += (r.empty() ? "" : " ") + *part;
    return r;
  }

  template <typename C>
  static std::string join(const C& items) {
    std::string s;
    for (auto& i : items) s += (s.empty() ? "" : ", ") + i;
    return s;
  }

  std::string script() const {
    std::ostringstream out;
    const std::string t = std::string("ip ") + kPolicyTable;
    // Declared then deleted: the delete succeeds whether or not the table existed, and the
    // new table replaces it within the same transaction (no moment without rules).
    out << "add table " << t << "\n";
    out << "delete table " << t << "\n";
    out << "add table " << t << " { comment \"skiff: NetworkPolicy\" ; }\n";
    // After the proxy's DNAT (prerouting -100), so Service traffic is judged by its pod.
    out << "add chain " << t
        << " forward { type filter hook forward priority 0 ; policy accept ; }\n";
    // Pods' traffic to the node itself (node-local DNS, node ports) is egress too.
    out << "add chain " << t << " input { type filter hook input priority 0 ; policy accept ; }\n";
    out << "add map " << t << " ingress-pods { type ipv4_addr : verdict ; }\n";
    out << "add map " << t << " egress-pods { type ipv4_addr : verdict ; }\n";
    for (auto& [name, elems] : sets_) {
      out << "add set " << t << " " << name << " { type ipv4_addr ; }\n";
      if (!elems.empty())
        out << "add element " << t << " " << name << " { " << join(elems) << " }\n";
    }
    for (auto& [name, elems] : pairSets_) {
      out << "add set " << t << " " << name << " { type ipv4_addr . inet_service ; }\n";
      if (!elems.empty())
        out << "add element " << t << " " << name << " { " << join(elems) << " }\n";
    }
    auto chains = [&](const std::map<std::string, PodChain>& pods, const char* prefix,
                      const char* map) {
      for (auto& [id, chain] : pods) {
        auto name = hashedName(prefix, id);
        out << "add chain " << t << " " << name << "\n";
        // The node's own addresses (kubelet probes) are always let in; see architecture.md.
        if (std::string(prefix) == "ingress")
          out << "add rule " << t << " " << name << " fib saddr type local return\n";
        for (auto& r : chain.rules) out << "add rule " << t << " " << name << " " << r << "\n";
        out << "add rule " << t << " " << name << " drop\n";
        out << "add element " << t << " " << map << " { " << chain.ip << " : jump " << name
            << " }\n";
      }
    };
    chains(egress_, "egress", "egress-pods");
    chains(ingress_, "ingress", "ingress-pods");
    // Replies of allowed connections pass; new flows are checked against the sender's egress,
    // then the receiver's ingress (each pod chain returns when a rule allows, else drops).
    out << "add rule " << t << " forward ct state established,related accept\n";
    out << "add rule " << t << " forward ip saddr vmap @egress-pods\n";
    out << "add rule " << t << " forward ip daddr vmap @ingress-pods\n";
    out << "add rule " << t << " input ct state established,related accept\n";
    out << "add rule " << t << " input ip saddr vmap @egress-pods\n";
    return out.str();
  }

  const PolicyInput& in_;
  std::vector<Pod> pods_;
  std::map<std::string, const json::object*> nsLabels_;
  std::map<std::string, PodChain> ingress_, egress_;              // "ns/pod" → chain
  std::map<std::string, std::set<std::string>> sets_, pairSets_;  // set name → elements
};

}  // namespace

std::string renderPolicyTable(const PolicyInput& in) { return Renderer(in).render(); }

std::string renderDeletePolicyTable() {
  return std::string("add table ip ") + kPolicyTable + "\ndelete table ip " + kPolicyTable + "\n";
}

}  // namespace skiff::proxy
