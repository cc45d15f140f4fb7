#include "client/node_lease.h"

#include <boost/json.hpp>
#include <chrono>

#include "common/api_error.h"
#include "common/ids.h"

namespace json = boost::json;

namespace skiff::client {

void renewNodeLease(RestClient& client, const std::string& nodeName, const std::string& nodeUid,
                    int leaseDurationSeconds) {
  auto now = formatMicroTime(std::chrono::system_clock::now());
  json::object spec{{"holderIdentity", nodeName},
                    {"leaseDurationSeconds", leaseDurationSeconds},
                    {"renewTime", now}};
  try {
    client.patchNoResult(resources::leases, kNodeLeaseNamespace, nodeName, PatchType::Merge,
                         json::object{{"spec", spec}});
  } catch (const ApiError& e) {
    if (e.code() != 404) throw;
    json::object meta{{"name", nodeName}, {"namespace", kNodeLeaseNamespace}};
    if (!nodeUid.empty())
      meta["ownerReferences"] = json::array{json::object{
          {"apiVersion", "v1"}, {"kind", "Node"}, {"name", nodeName}, {"uid", nodeUid}}};
    spec["acquireTime"] = now;
    client.create(resources::leases, kNodeLeaseNamespace,
                  json::object{{"apiVersion", "coordination.k8s.io/v1"},
                               {"kind", "Lease"},
                               {"metadata", std::move(meta)},
                               {"spec", std::move(spec)}});
  }
}

}  // namespace skiff::client
