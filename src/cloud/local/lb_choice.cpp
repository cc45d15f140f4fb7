#include "cloud/local/lb_choice.h"

#include <cstdint>

namespace skiff::cloud::local {
namespace {
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}
}  // namespace

std::string chooseLbNode(const std::string& ip, const std::string& current,
                         const std::vector<LbCandidate>& candidates) {
  bool anyEndpoint = false;
  for (const auto& c : candidates) anyEndpoint |= c.running && c.hasEndpoint;
  auto qualifies = [&](const LbCandidate& c) {
    return c.running && (!anyEndpoint || c.hasEndpoint);
  };
  for (const auto& c : candidates)
    if (c.node == current && qualifies(c)) return current;
  const LbCandidate* best = nullptr;
  uint64_t bestScore = 0;
  for (const auto& c : candidates) {
    if (!qualifies(c)) continue;
    uint64_t score = fnv1a(ip + "/" + c.node);
    if (!best || score > bestScore || (score == bestScore && c.node < best->node)) {
      best = &c;
      bestScore = score;
    }
  }
  return best ? best->node : "";
}

}  // namespace skiff::cloud::local
