#include "scheduler/framework.h"

#include <algorithm>

namespace skiff::scheduler {

std::string Status::message() const {
  std::string out;
  for (const auto& r : reasons_) {
    if (!out.empty()) out += ", ";
    out += r;
  }
  return out;
}

Snapshot::Snapshot(std::vector<NodeInfoPtr> nodes) : nodes_(std::move(nodes)) {
  auto index = std::make_shared<std::unordered_map<std::string, size_t>>();
  auto images = std::make_shared<std::unordered_map<std::string, int>>();
  index->reserve(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    (*index)[nodes_[i]->name] = i;
    for (const auto& [image, size] : nodes_[i]->imageSizes) ++(*images)[image];
  }
  index_ = std::move(index);
  imageNodes_ = std::move(images);
  rebuildAffinityLists();
}

void Snapshot::rebuildAffinityLists() {
  withAffinity_.clear();
  withRequiredAnti_.clear();
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->podsWithAffinity > 0) withAffinity_.push_back(i);
    if (nodes_[i]->podsWithRequiredAntiAffinity > 0) withRequiredAnti_.push_back(i);
  }
}

const NodeInfo* Snapshot::get(std::string_view name) const {
  if (!index_) return nullptr;
  auto it = index_->find(std::string(name));
  return it == index_->end() ? nullptr : nodes_[it->second].get();
}

int Snapshot::nodesWithImage(std::string_view image) const {
  if (!imageNodes_) return 0;
  auto it = imageNodes_->find(std::string(image));
  return it == imageNodes_->end() ? 0 : it->second;
}

Snapshot Snapshot::withNode(NodeInfoPtr node) const {
  Snapshot out = *this;
  if (out.replaceNode(node)) return out;
  // A new name or other images: rebuild the indices for the what-if copy.
  auto nodes = nodes_;
  auto it = index_ ? index_->find(node->name) : decltype(index_->end()){};
  if (index_ && it != index_->end())
    nodes[it->second] = std::move(node);
  else
    nodes.push_back(std::move(node));
  return Snapshot(std::move(nodes));
}

bool Snapshot::replaceNode(NodeInfoPtr node) {
  if (!index_) return false;
  auto it = index_->find(node->name);
  if (it == index_->end()) return false;
  auto& slot = nodes_[it->second];
  const auto& before = slot->imageSizes;
  const auto& after = node->imageSizes;
  bool sameImages = before.size() == after.size() &&
                    std::equal(before.begin(), before.end(), after.begin(),
                               [](const auto& a, const auto& b) { return a.first == b.first; });
  if (!sameImages) return false;
  // The index lists stay valid unless the node joins or leaves one of them.
  bool listsChange =
      (slot->podsWithAffinity > 0) != (node->podsWithAffinity > 0) ||
      (slot->podsWithRequiredAntiAffinity > 0) != (node->podsWithRequiredAntiAffinity > 0);
  slot = std::move(node);
  if (listsChange) rebuildAffinityLists();
  return true;
}

void Profile::add(PluginPtr plugin, int64_t scoreWeight) {
  if (auto p = std::dynamic_pointer_cast<const PreFilterPlugin>(plugin)) preFilters_.push_back(p);
  if (auto p = std::dynamic_pointer_cast<const FilterPlugin>(plugin)) filters_.push_back(p);
  if (auto p = std::dynamic_pointer_cast<const ScorePlugin>(plugin))
    scorers_.emplace_back(p, scoreWeight);
  if (auto p = std::dynamic_pointer_cast<const PostFilterPlugin>(plugin)) postFilters_.push_back(p);
}

Status Profile::runPreFilters(CycleState& state, const PodInfo& pod,
                              const Snapshot& snapshot) const {
  for (const auto& p : preFilters_) {
    Status s = p->preFilter(state, pod, snapshot);
    if (s.isSkip()) {
      state.skipFilter.emplace_back(p->name());
      continue;
    }
    if (!s.isSuccess()) return s.withPlugin(p->name());
  }
  state.activeFilters.clear();
  for (const auto& f : filters_) {
    if (std::find(state.skipFilter.begin(), state.skipFilter.end(), f->name()) ==
        state.skipFilter.end())
      state.activeFilters.push_back(f.get());
  }
  state.activeFiltersSet = true;
  return Status::success();
}

Status Profile::runFilters(const CycleState& state, const PodInfo& pod,
                           const NodeInfo& node) const {
  if (state.activeFiltersSet) {
    for (const FilterPlugin* f : state.activeFilters) {
      Status s = f->filter(state, pod, node);
      if (!s.isSuccess()) return s.withPlugin(f->name());
    }
    return Status::success();
  }
  for (const auto& f : filters_) {
    if (std::find(state.skipFilter.begin(), state.skipFilter.end(), f->name()) !=
        state.skipFilter.end()) {
      continue;
    }
    Status s = f->filter(state, pod, node);
    if (!s.isSuccess()) return s.withPlugin(f->name());
  }
  return Status::success();
}

void defaultNormalizeScore(int64_t maxPriority, bool reverse, std::vector<NodeScore>& scores) {
  int64_t maxCount = 0;
  for (const auto& s : scores) maxCount = std::max(maxCount, s.score);
  if (maxCount == 0) {
    if (reverse) {
      for (auto& s : scores) s.score = maxPriority;
    }
    return;
  }
  for (auto& s : scores) {
    int64_t v = maxPriority * s.score / maxCount;
    s.score = reverse ? maxPriority - v : v;
  }
}

}  // namespace skiff::scheduler
