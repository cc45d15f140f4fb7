// Shared by the Watcher tests over HTTPS (watch_informer_test.cpp) and over the in-process
// endpoint (local_endpoint_test.cpp): an event log and checks both transports must pass.
#pragma once
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "client/informer.h"
#include "client/watch.h"
#include "test_server.h"

namespace skiff::client::testing {

// What a watcher delivered, as "TYPE name", in order.
struct Recorded {
  std::mutex mu;
  std::vector<std::string> events;
  void add(const std::string& e) {
    std::lock_guard lock(mu);
    events.push_back(e);
  }
  std::vector<std::string> get() {
    std::lock_guard lock(mu);
    return events;
  }
  std::function<void(WatchEvent&)> handler() {
    return [this](WatchEvent& ev) { add(ev.type + " " + metaString(*ev.object, "name")); };
  }
  // For an informer: "add name", "update name", "delete name".
  ResourceEventHandlers informerHandlers() {
    return {
        .onAdd = [this](const boost::json::object& o) { add("add " + metaString(o, "name")); },
        .onUpdate = [this](
                        const boost::json::object&,
                        const boost::json::object& n) { add("update " + metaString(n, "name")); },
        .onDelete =
            [this](const boost::json::object& o) { add("delete " + metaString(o, "name")); },
    };
  }
};

// Options for a watch of the ConfigMaps in `ns` from now on, recording into `rec`.
inline WatcherOptions watchFromNow(RestClient& c, const std::string& ns, Recorded& rec,
                                   int64_t timeoutSeconds = 0) {
  WatcherOptions o;
  o.list.resourceVersion = metaString(c.list(resources::configMaps, ns), "resourceVersion");
  o.timeoutSeconds = timeoutSeconds;
  o.onEvent = rec.handler();
  return o;
}

// A quiet watch still gets bookmarks (every 5 s): its resourceVersion follows writes to
// other namespaces, so a re-watch after compaction does not start from a stale one.
inline void expectQuietWatchGetsBookmarks(RestClient& c) {
  std::string quiet = freshNamespace(c, "bm-quiet"), busy = freshNamespace(c, "bm-busy");
  WatcherOptions o;
  o.list.resourceVersion = metaString(c.list(resources::configMaps, quiet), "resourceVersion");
  Watcher w(c, resources::configMaps, quiet, o);
  auto other = c.create(resources::configMaps, busy, configMap("elsewhere", "1"));
  const int64_t wanted = std::stoll(metaString(other, "resourceVersion"));
  EXPECT_TRUE(eventually(
      [&] { return !w.resourceVersion().empty() && std::stoll(w.resourceVersion()) >= wanted; },
      std::chrono::seconds(8)));
}

}  // namespace skiff::client::testing
