// Which node answers for a load-balancer address (the local provider routes the address to
// one node; the proxy there accepts it and forwards to the Service's endpoints). Pure, so
// the choice and the failover decision are unit-tested.
#pragma once
#include <string>
#include <vector>

namespace skiff::cloud::local {

struct LbCandidate {
  std::string node;
  bool running = true;       // its instance runs (inventory state)
  bool hasEndpoint = false;  // it holds a ready endpoint of the Service
};

// The node for `ip`: the current one while it still qualifies (no flapping when nodes come
// and go), else the best qualifying one. Qualifying means running, and holding an endpoint
// when any running candidate does (traffic then stays on the node, no second hop). Ties are
// broken by a hash of (ip, node), so Services spread over the nodes instead of all landing
// on the first. "" when no candidate runs.
std::string chooseLbNode(const std::string& ip, const std::string& current,
                         const std::vector<LbCandidate>& candidates);

}  // namespace skiff::cloud::local
