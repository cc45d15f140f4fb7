#include "net/upgrade_sessions.h"

#include <exception>
#include <system_error>
#include <thread>

#include "common/log.h"

namespace skiff::net::detail {

void UpgradeSessions::launch(std::shared_ptr<UpgradedTransport> transport, UpgradeHandler handler) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      std::erase_if(transports_, [](const auto& w) { return w.expired(); });
      transports_.push_back(transport);
      ++running_;
    } else {
      transport->close();
      return;
    }
  }
  auto conn = connectionOver(std::move(transport));
  try {
    std::thread([self = shared_from_this(), conn = std::move(conn),
                 handler = std::move(handler)]() mutable {
      {
        // Handler and connection are gone before finished(): stop() may return right after.
        UpgradeHandler run = std::move(handler);
        try {
          run(std::move(conn));
        } catch (const std::exception& e) {
          SKIFF_LOG_WARN("upgraded connection handler failed error=\"{}\"", e.what());
        } catch (...) {
          SKIFF_LOG_WARN("upgraded connection handler failed error=unknown");
        }
      }
      conn.reset();
      self->finished();
    }).detach();
  } catch (const std::system_error& e) {
    // The lambda (and with it the connection) is destroyed: the connection is closed.
    SKIFF_LOG_ERROR("upgraded connection thread not started error=\"{}\"", e.what());
    finished();
  }
}

void UpgradeSessions::finished() {
  std::lock_guard lock(mu_);
  --running_;
  idle_.notify_all();
}

void UpgradeSessions::closeAll(std::chrono::milliseconds grace) {
  std::vector<std::weak_ptr<UpgradedTransport>> all;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    all = transports_;
  }
  for (auto& w : all)
    if (auto t = w.lock()) t->close();
  std::unique_lock lock(mu_);
  if (!idle_.wait_for(lock, grace, [&] { return running_ == 0; }))
    SKIFF_LOG_WARN("http server stopping with upgraded connection handlers still running count={}",
                   running_);
}

void UpgradeSessions::releaseAll() {
  std::vector<std::weak_ptr<UpgradedTransport>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(transports_);
  }
  for (auto& w : all)
    if (auto t = w.lock()) t->release();
}

}  // namespace skiff::net::detail
