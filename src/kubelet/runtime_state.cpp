#include "kubelet/runtime_state.h"

namespace skiff::kubelet {

const RuntimeContainer* RuntimePod::latest(const std::string& name,
                                           const std::string& sandboxId) const {
  for (auto& c : containers)
    if (c.name == name && (sandboxId.empty() || c.sandboxId == sandboxId)) return &c;
  return nullptr;
}

const RuntimeContainer* RuntimePod::previousExited(const std::string& name,
                                                   const RuntimeContainer* than) const {
  bool past = than == nullptr;
  for (auto& c : containers) {
    if (&c == than) {
      past = true;
      continue;
    }
    if (past && c.name == name && c.state == ContainerRunState::Exited) return &c;
  }
  return nullptr;
}

int RuntimePod::nextRestartCount(const std::string& name) const {
  int next = 0;
  for (auto& c : containers)
    if (c.name == name && c.restartCount + 1 > next) next = c.restartCount + 1;
  return next;
}

}  // namespace skiff::kubelet
