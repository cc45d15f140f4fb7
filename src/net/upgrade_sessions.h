// Internal to the HTTP server: the connections it handed over after "101 Switching
// Protocols" and the threads running their UpgradeHandlers, so that stop() can end them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "net/http_types.h"
#include "net/upgraded_connection.h"

namespace skiff::net::detail {

class UpgradeSessions : public std::enable_shared_from_this<UpgradeSessions> {
 public:
  // Runs `handler` with a connection over `transport` on a new (detached, counted) thread.
  // Once stopping, the transport is closed instead.
  void launch(std::shared_ptr<UpgradedTransport> transport, UpgradeHandler handler);
  // Stop, step 1 (the io_context still running): closes every handed-over connection, so
  // blocked reads return 0 and writes throw, and waits up to `grace` for the handlers to
  // return. Handlers still running after that are left to finish on their own.
  void closeAll(std::chrono::milliseconds grace);
  // Stop, step 2 (the io_context's threads have ended, it still exists): releases the
  // transports that are still referenced (see UpgradedTransport::release).
  void releaseAll();
  // Connections handed over and still running (HttpServerOptions::maxUpgradedConnections).
  int running() {
    std::lock_guard<std::mutex> lock(mu_);
    return running_;
  }

 private:
  void finished();

  std::mutex mu_;
  std::condition_variable idle_;
  bool stopping_ = false;
  int running_ = 0;
  std::vector<std::weak_ptr<UpgradedTransport>> transports_;
};

}  // namespace skiff::net::detail
