// Shared by the certificates.k8s.io controllers (csrapproving, csrsigning, csrcleaner).
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "client/rest_client.h"

namespace skiff::controller::csr {

inline const client::Resource kCsrs{"certificates.k8s.io", "v1", "certificatesigningrequests"};

// Adds condition `type` (status True) with reason and message to a copy of `csr` and writes
// it through `subresource` ("approval" for Approved/Denied, "status" for Failed).
boost::json::object writeCondition(client::RestClient& client, const boost::json::object& csr,
                                   const std::string& subresource, const std::string& type,
                                   const std::string& reason, const std::string& message);

}  // namespace skiff::controller::csr
