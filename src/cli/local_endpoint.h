// The client side of `skiff server`'s own components (scheduler, controller manager, the
// node of `skiff up`) reaching the API server in the same process: client::LocalEndpoint
// over ApiServer::handle. Requests keep the API server's whole path (routing, admission,
// validation, storage, watch cache, metrics); only TLS, sockets and HTTP framing go.
#pragma once
#include <memory>
#include <string>

#include "apiserver/api_server.h"
#include "client/http_transport.h"

namespace skiff::cli {

// Requests carry `userAgent` and the API server's loopback identity (system:apiserver in
// system:masters), as upstream's loopback client.
// `server` must outlive every client using the endpoint.
std::shared_ptr<client::LocalEndpoint> makeLocalEndpoint(apiserver::ApiServer& server,
                                                         std::string userAgent);

}  // namespace skiff::cli
