// The proxy's nftables table `ip skiff`, as data and as nft script text (KEP-3866's
// entry points, with shared balance chains instead of a chain per Service):
//
//   base chains (hooks) → services: one vmap lookup on (daddr . proto . dport) → goto
//   balance-P-N (one chain per protocol P and endpoint count N, shared by every plain
//   Service port) → dnat to the element (daddr . proto . dport . numgen random mod N) of
//   @service-endpoints-P.
//   Per-packet cost does not grow with the number of Services, and a Service costs map
//   elements, not chains or sets: the kernel's cost of adding a set is linear in the sets
//   of the table (quadratic over a full sync), elements are hashed.
//
// Service ports that need rules of their own (session affinity, externalTrafficPolicy
// Local, the node-local DNS that must not be masqueraded) keep a chain per port and per
// endpoint (needsOwnChains); they cost more to program.
//
// `desiredState` is pure (service ports in, chains/sets/map elements out); `renderFull` and
// `renderDiff` turn states into one nft transaction each. Nothing here runs nft.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "proxy/service_model.h"

namespace skiff::proxy {

inline constexpr const char* kTable = "skiff";  // family ip (IPv4 only, see architecture.md)

// The variable part of the table: everything a Service change may add or remove. The base
// chains, the fixed sets/maps and their declarations are in renderBase().
struct NftState {
  std::map<std::string, std::vector<std::string>> chains;  // chain name → rules, in order
  std::map<std::string, std::string> sets;                 // dynamic set name → declaration
  // Elements of the fixed sets and maps: name → key → value ("" for a set).
  std::map<std::string, std::map<std::string, std::string>> elements;
  bool operator==(const NftState&) const = default;
};

// The fixed sets and maps whose elements NftState::elements holds.
const std::vector<std::string>& elementContainers();

// True for ports rendered as their own chains (see the top of this file).
bool needsOwnChains(const ServicePort& sp);

NftState desiredState(const std::vector<ServicePort>& ports, const ProxyConfig& config);

// The table's skeleton: the table, base chains (rewritten: flush + rules), fixed sets and
// maps (declared, contents kept). Installed at start before any Service is known, so the
// service-CIDR reject works from the first second; idempotent on an existing table.
std::string renderBase(const ProxyConfig& config);

// What is in the kernel's table now (names only), read at start to reconcile.
struct ExistingTable {
  std::set<std::string> chains, sets;
};
// Parses `nft list table ip skiff` output for chain/set/map names.
ExistingTable parseExistingTable(const std::string& listing);

// One transaction making the table exactly `desired`: base rewritten, every chain of
// `desired` rewritten, element containers flushed and refilled, chains and dynamic sets in
// `existing` that are no longer wanted deleted. Used for the first sync and after failures;
// the table is never deleted, so conntrack'd connections and unrelated state stay.
std::string renderFull(const NftState& desired, const ExistingTable& existing,
                       const ProxyConfig& config);

// One transaction moving the table from `installed` to `desired`: only changed chains are
// rewritten, only changed elements added/deleted. Empty when nothing changed.
std::string renderDiff(const NftState& installed, const NftState& desired);

// A transaction whose elements go over netlink (nft_netlink.h) instead of nft text:
// `before` (nft text: sets and chains added or rewritten), then one netlink batch (`flush`
// empties those containers, then `elements` in order), then `after` (nft text: chains and
// sets no longer used). Each step is atomic and leaves a consistent table: new chains exist
// before any element points at them, old ones go after none does.
struct ElementChange {
  std::string container, key, value;  // value: "" for sets; "goto CHAIN", "drop"; "ip . port"
  bool add = true;
  bool operator==(const ElementChange&) const = default;
};
struct SplitTransaction {
  std::string before;
  std::vector<std::string> flush;
  std::vector<ElementChange> elements;
  std::string after;
};
SplitTransaction splitFull(const NftState& desired, const ExistingTable& existing,
                           const ProxyConfig& config);
SplitTransaction splitDiff(const NftState& installed, const NftState& desired);
// The same as one nft text transaction.
std::string joinAsText(const SplitTransaction& t);

// Chain and set names of upstream's form: prefix-HASH8-suffix (the hash keeps names of
// different objects distinct; the suffix keeps them readable in `nft list`). `salt` joins
// the hash only.
std::string hashedName(const std::string& prefix, const std::string& suffix,
                       const std::string& salt = "");

// The script that removes the table (`skiff proxy --cleanup`, `skiff up` on stop).
std::string renderDeleteTable();

}  // namespace skiff::proxy
