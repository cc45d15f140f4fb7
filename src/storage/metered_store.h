// A Store that times every read and write it passes on, as upstream's API server times its
// etcd requests: etcd_request_duration_seconds{operation,type}, a histogram with upstream's
// buckets (5 ms … 60 s). skiff's store is SQLite (or memory), not etcd; the name is kept
// because dashboards and alerts look for it. `operation` is get, list, create, update or
// delete; `type` is the resource as upstream names it ("pods", "deployments.apps"). Keys
// that name no resource (the watch cache's load of all of /registry/) are not timed.
#pragma once

#include "storage/store.h"

namespace skiff::storage {

StorePtr meterStore(StorePtr inner);

// "/registry/apps/deployments/ns/x" → "deployments.apps"; "/registry/core/pods/..." → "pods";
// "" when the key names no resource.
std::string resourceOfKey(std::string_view key);

}  // namespace skiff::storage
