// Watcher: a watch that stays open. It streams events of one resource on its own thread,
// re-watches from the last seen resourceVersion whenever the server ends the stream
// (timeouts, restarts, network errors; with client-go's reflector backoff 0.8 s → 30 s on
// failures), and starts over through `relist` when the server answers 410 Gone.
//
// Threading: one thread per Watcher; onEvent and relist run on it, in order. The
// destructor (or stop()) cuts the stream and joins the thread, so callbacks never run
// after it returns. Never call stop() from a callback.
#pragma once
#include <boost/json/object.hpp>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "client/indexer.h"
#include "client/rest_client.h"

namespace skiff::client {

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED (bookmarks and errors are handled inside)
  // Immutable and possibly shared: with an in-process API server (ClientConfig::local) it is
  // the server's own cached object.
  ObjectPtr object;
};

struct WatcherOptions {
  // Selectors; resourceVersion is where to start ("" = relist first, or when there is no
  // relist, let the server send the current objects as ADDED events).
  ListOptions list;
  std::function<void(WatchEvent&)> onEvent;
  // Lists from scratch and returns the resourceVersion to watch from. Called at start when
  // list.resourceVersion is empty and after 410 Gone. Optional.
  std::function<std::string()> relist;
  // Server-side timeout of each watch request; 0 = random in [5, 10) minutes like
  // client-go, so watchers do not reconnect in lockstep.
  int64_t timeoutSeconds = 0;
};

class Watcher {
 public:
  // `client` must outlive the Watcher. Starts the thread at once.
  Watcher(RestClient& client, Resource resource, std::string ns, WatcherOptions options);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  void stop();
  // The last resourceVersion delivered (or reached by a relist or bookmark).
  std::string resourceVersion() const;

 private:
  void run();
  bool watchOnce();  // one HTTP watch; false when it failed and a backoff is due
  bool sleepFor(std::chrono::milliseconds d);  // false when stopped meanwhile

  RestClient& client_;
  const Resource resource_;
  const std::string ns_;
  WatcherOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  bool needRelist_ = false;
  std::string rv_;
  StreamAbort abort_;
  std::thread thread_;
};

}  // namespace skiff::client
