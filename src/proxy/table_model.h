// The proxy's table as the sum of every Service's share, so a sync that follows a few
// Service or EndpointSlice changes recomputes and sends only those Services' share instead of
// the whole table (the full rebuild stays for the first sync, the periodic resync and
// after failures).
//
// A share (`NftState` fragment: chains, dynamic sets, map/set elements) is what
// desiredState() renders for one Service's ports. Items several Services contribute — the
// shared balance-N chains, a hairpin element of a pod behind two Services, a key two
// Services claim — are counted: present while any Service wants them, removed with the last.
// When two Services claim one map key with different values the one claimed first wins
// until it is withdrawn (upstream leaves such conflicts undefined as well).
#pragma once
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "proxy/nft_rules.h"

namespace skiff::proxy {

class TableModel {
 public:
  // The table state of the touched items before and after an update; renderDiff(before,
  // after) is the transaction for it.
  struct Change {
    NftState before, after;
  };

  // Replaces the shares of the given Services (an empty NftState removes one).
  Change update(std::map<std::string, NftState> shares);
  // Replaces every share at once (a full sync): no before/after to compute.
  void reset(std::map<std::string, NftState> shares);
  void clear();
  // The whole table (for a full sync).
  NftState state() const;
  size_t services() const { return shares_.size(); }

 private:
  // One item's value and how many shares want it; a different value wanted at the same
  // time waits in `others` (rare: conflicting claims).
  struct Counted {
    std::string value;
    int refs = 0;
    std::vector<std::pair<std::string, int>> others;
    void add(const std::string& v);
    void remove(const std::string& v);  // refs 0 and no others: gone
    bool empty() const { return refs == 0 && others.empty(); }
  };
  struct ChainCount {
    std::vector<std::string> rules;
    int refs = 0;
  };
  struct Touched {
    std::set<std::string> chains, sets;
    std::map<std::string, std::set<std::string>> elements;
    void add(const NftState& share);
  };
  void addShare(const NftState& share);
  void removeShare(const NftState& share);
  NftState snapshot(const Touched& t) const;

  std::unordered_map<std::string, NftState> shares_;
  std::map<std::string, ChainCount> chains_;
  std::map<std::string, Counted> sets_;
  std::map<std::string, std::unordered_map<std::string, Counted>> elements_;
};

}  // namespace skiff::proxy
