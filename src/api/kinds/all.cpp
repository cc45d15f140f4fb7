// The list of built-in kind strategies: a new built-in kind adds its file in this directory
// and one line here. (An explicit list rather than static registrars, so skiff_api needs no
// whole-archive linking in every binary and test that uses it.)
#include <vector>

#include "api/kind_strategy.h"

namespace skiff::api {

void addPodKinds(std::vector<KindStrategy>& out);
void addReplicationControllerKinds(std::vector<KindStrategy>& out);
void addServiceKinds(std::vector<KindStrategy>& out);
void addConfigKinds(std::vector<KindStrategy>& out);
void addNamespaceKinds(std::vector<KindStrategy>& out);
void addNodeKinds(std::vector<KindStrategy>& out);
void addStorageKinds(std::vector<KindStrategy>& out);
void addEndpointsKinds(std::vector<KindStrategy>& out);
void addEventKinds(std::vector<KindStrategy>& out);
void addLimitRangeKinds(std::vector<KindStrategy>& out);
void addAppsKinds(std::vector<KindStrategy>& out);
void addBatchKinds(std::vector<KindStrategy>& out);
void addHpaKinds(std::vector<KindStrategy>& out);
void addNetworkPolicyKinds(std::vector<KindStrategy>& out);
void addRbacKinds(std::vector<KindStrategy>& out);
void addPriorityClassKinds(std::vector<KindStrategy>& out);
void addLeaseKinds(std::vector<KindStrategy>& out);
void addApiServiceKinds(std::vector<KindStrategy>& out);
void addCrdKinds(std::vector<KindStrategy>& out);
void addCertificateKinds(std::vector<KindStrategy>& out);

const std::vector<KindStrategy>& builtinKindStrategies() {
  static const std::vector<KindStrategy> all = [] {
    std::vector<KindStrategy> out;
    for (auto add : {addPodKinds,       addReplicationControllerKinds,
                     addServiceKinds,   addConfigKinds,
                     addNamespaceKinds, addNodeKinds,
                     addStorageKinds,   addEndpointsKinds,
                     addEventKinds,     addLimitRangeKinds,
                     addAppsKinds,      addBatchKinds,
                     addHpaKinds,       addNetworkPolicyKinds,
                     addRbacKinds,      addPriorityClassKinds,
                     addLeaseKinds,     addApiServiceKinds,
                     addCrdKinds,       addCertificateKinds})
      add(out);
    return out;
  }();
  return all;
}

}  // namespace skiff::api
