#include "proxy/table_model.h"

namespace skiff::proxy {

void TableModel::Counted::add(const std::string& v) {
  if (refs == 0 && others.empty()) value = v;
  if (v == value) {
    ++refs;
    return;
  }
  for (auto& [o, n] : others)
    if (o == v) {
      ++n;
      return;
    }
  others.emplace_back(v, 1);
}

void TableModel::Counted::remove(const std::string& v) {
  if (v == value && refs > 0) {
    if (--refs == 0 && !others.empty()) {
      // The next claimant's value takes over.
      std::tie(value, refs) = others.front();
      others.erase(others.begin());
    }
    return;
  }
  for (auto it = others.begin(); it != others.end(); ++it)
    if (it->first == v) {
      if (--it->second == 0) others.erase(it);
      return;
    }
}

void TableModel::Touched::add(const NftState& share) {
  for (auto& [name, _] : share.chains) chains.insert(name);
  for (auto& [name, _] : share.sets) sets.insert(name);
  for (auto& [container, items] : share.elements) {
    if (items.empty()) continue;
    auto& keys = elements[container];
    for (auto& [key, _] : items) keys.insert(key);
  }
}

void TableModel::addShare(const NftState& share) {
  for (auto& [name, rules] : share.chains) {
    auto& c = chains_[name];
    if (c.refs++ == 0) c.rules = rules;
  }
  for (auto& [name, decl] : share.sets) sets_[name].add(decl);
  for (auto& [container, items] : share.elements) {
    if (items.empty()) continue;
    auto& counted = elements_[container];
    for (auto& [key, value] : items) counted[key].add(value);
  }
}

void TableModel::removeShare(const NftState& share) {
  for (auto& [name, _] : share.chains) {
    auto it = chains_.find(name);
    if (it != chains_.end() && --it->second.refs <= 0) chains_.erase(it);
  }
  for (auto& [name, decl] : share.sets) {
    auto it = sets_.find(name);
    if (it == sets_.end()) continue;
    it->second.remove(decl);
    if (it->second.empty()) sets_.erase(it);
  }
  for (auto& [container, items] : share.elements) {
    auto cit = elements_.find(container);
    if (cit == elements_.end()) continue;
    for (auto& [key, value] : items) {
      auto it = cit->second.find(key);
      if (it == cit->second.end()) continue;
      it->second.remove(value);
      if (it->second.empty()) cit->second.erase(it);
    }
  }
}

NftState TableModel::snapshot(const Touched& t) const {
  NftState st;
  for (auto& name : t.chains)
    if (auto it = chains_.find(name); it != chains_.end()) st.chains[name] = it->second.rules;
  for (auto& name : t.sets)
    if (auto it = sets_.find(name); it != sets_.end()) st.sets[name] = it->second.value;
  for (auto& [container, keys] : t.elements) {
    auto cit = elements_.find(container);
    if (cit == elements_.end()) continue;
    for (auto& key : keys)
      if (auto it = cit->second.find(key); it != cit->second.end())
        st.elements[container][key] = it->second.value;
  }
  return st;
}

TableModel::Change TableModel::update(std::map<std::string, NftState> shares) {
  // Unchanged shares (most of a periodic resync) touch nothing.
  for (auto it = shares.begin(); it != shares.end();) {
    auto old = shares_.find(it->first);
    bool empty = it->second.chains.empty() && it->second.sets.empty();
    for (auto& [_, items] : it->second.elements) empty = empty && items.empty();
    bool same = old == shares_.end() ? empty : old->second == it->second;
    it = same ? shares.erase(it) : std::next(it);
  }
  Touched touched;
  for (auto& [key, share] : shares) {
    touched.add(share);
    if (auto it = shares_.find(key); it != shares_.end()) touched.add(it->second);
  }
  Change change;
  change.before = snapshot(touched);
  for (auto& [key, share] : shares) {
    if (auto it = shares_.find(key); it != shares_.end()) {
      removeShare(it->second);
      shares_.erase(it);
    }
    bool empty = share.chains.empty() && share.sets.empty();
    for (auto& [_, items] : share.elements) empty = empty && items.empty();
    if (empty) continue;
    addShare(share);
    shares_.emplace(key, std::move(share));
  }
  change.after = snapshot(touched);
  return change;
}

void TableModel::reset(std::map<std::string, NftState> shares) {
  clear();
  std::map<std::string, size_t> sizes;
  for (auto& [_, share] : shares)
    for (auto& [container, items] : share.elements) sizes[container] += items.size();
  for (auto& [container, n] : sizes) elements_[container].reserve(n);
  shares_.reserve(shares.size());
  for (auto& [key, share] : shares) {
    bool empty = share.chains.empty() && share.sets.empty();
    for (auto& [_, items] : share.elements) empty = empty && items.empty();
    if (empty) continue;
    addShare(share);
    shares_.emplace(key, std::move(share));
  }
}

void TableModel::clear() {
  shares_.clear();
  chains_.clear();
  sets_.clear();
  elements_.clear();
}

NftState TableModel::state() const {
  NftState st;
  for (auto& c : elementContainers()) st.elements[c];
  for (auto& [name, c] : chains_) st.chains[name] = c.rules;
  for (auto& [name, c] : sets_) st.sets[name] = c.value;
  for (auto& [container, items] : elements_) {
    auto& out = st.elements[container];
    for (auto& [key, c] : items) out.emplace(key, c.value);
  }
  return st;
}

}  // namespace skiff::proxy
