// The `kubernetes` Service's endpoints (upstream's master endpoint reconciler, "none" lease
// mode for one API server): on start, the Service default/kubernetes targets this server's
// secure port, and the Endpoints and EndpointSlice named `kubernetes` list its advertise
// address with port name https. Pods then reach the API server at 10.43.0.1:443 through the
// Service proxy.
#pragma once

#include <string>

#include "api/resource_registry.h"

namespace skiff::apiserver {

class ResourceStore;

// The advertise address when none is configured: the IPv4 address of the interface that
// holds the default route; else the listen host when it is not a wildcard; else 127.0.0.1.
std::string defaultAdvertiseAddress(const std::string& listenHost);

// Creates or corrects the Service's target port, the Endpoints and the EndpointSlice
// (idempotent: unchanged objects are not written). Throws ApiError on a storage failure.
void reconcileKubernetesEndpoints(ResourceStore& store, const api::ResourceRegistry& registry,
                                  const std::string& address, int port);

}  // namespace skiff::apiserver
