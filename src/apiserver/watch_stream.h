// A watch as an HTTP stream: cache events in, newline-delimited JSON WatchEvents out
// ({"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":...}), optionally as Tables.
#pragma once

#include <memory>

#include "api/resource_registry.h"
#include "apiserver/resource_store.h"
#include "net/http_types.h"

namespace skiff::apiserver {

struct WatchOptions {
  std::string ns;
  std::string resourceVersion;  // "" = current state + changes; "0" likewise; N = after N
  std::string labelSelector, fieldSelector;
  bool bookmarks = false;
  bool sendInitialEvents = false;  // with a BOOKMARK marking the end of the initial state
  int64_t timeoutSeconds = 0;      // 0: server default
  bool table = false;
  std::string includeObject = "Metadata";
};

// Starts a watch; throws ApiError (400 bad selector, 410 too old resourceVersion).
std::shared_ptr<StreamSource> startWatch(ResourceStore& store, const api::ResourceInfo& info,
                                         const WatchOptions& options);

}  // namespace skiff::apiserver
