// The DNS records of one Service (and its EndpointSlices), as the Kubernetes DNS
// specification and CoreDNS's kubernetes plugin define them:
//   ClusterIP:    <svc>.<ns>.svc.<zone> A <clusterIP>, PTR for the cluster IP;
//   headless:     <svc>.<ns>.svc.<zone> A <each ready endpoint>, and per endpoint
//                 <hostname or 1-2-3-4>.<svc>.<ns>.svc.<zone> A + PTR;
//   ExternalName: <svc>.<ns>.svc.<zone> CNAME <externalName>;
//   SRV:          _<port>._<proto>.<svc>.<ns>.svc.<zone> for named ports (per endpoint when
//                 headless), and every port at <svc>.<ns>.svc.<zone> itself.
// Pure functions over the API objects, so the index and tests share them.
#pragma once
#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "dns/record_index.h"

namespace skiff::dns {

std::vector<Record> serviceRecords(const boost::json::object& service,
                                   const std::vector<const boost::json::object*>& slices,
                                   const std::string& zone);

}  // namespace skiff::dns
