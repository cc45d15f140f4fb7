// The connection coroutines of the HTTP server, one per transport. Internal to
// http_server.cpp; implemented in http_connection_{plain,tls}.cpp.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "net/http_types.h"

namespace skiff::net::detail {

class UpgradeSessions;

struct ConnectionContext {
  const HttpHandler* handler = nullptr;
  size_t maxBodyBytes = 0;
  UpgradeSessions* upgrades = nullptr;  // takes connections over after a 101
  // Requests mayBlock() picks run on `blocking` (HttpServerOptions::mayBlock).
  const std::function<bool(const HttpRequest&)>* mayBlock = nullptr;
  boost::asio::thread_pool* blocking = nullptr;
  // Requests waitsForCommit() picks run on `writes` (HttpServerOptions::waitsForCommit),
  // unless none other is in flight: then on their loop.
  const std::function<bool(const HttpRequest&)>* waitsForCommit = nullptr;
  boost::asio::thread_pool* writes = nullptr;
  // Such writes in flight in the whole server: queued for `writes`, on it, or inline on a loop.
  std::atomic<int>* writesInFlight = nullptr;
  std::atomic<double>* writesInline = nullptr;  // counters: where they ran
  std::atomic<double>* writesPooled = nullptr;
  // HttpServerOptions::admit, for the requests that leave the loop (or may: writes).
  const std::function<std::optional<HttpResponse>(HttpRequest&, std::shared_ptr<void>&)>* admit =
      nullptr;
  // HttpServerOptions' connection limits (see there).
  std::chrono::milliseconds idleTimeout{std::chrono::minutes(5)};
  std::chrono::milliseconds headerTimeout{std::chrono::seconds(30)};
  std::chrono::milliseconds bodyTimeout{std::chrono::seconds(60)};
  std::chrono::milliseconds writeTimeout{std::chrono::seconds(60)};
  int maxUpgradedConnections = 0;
};

// Set on the thread that runs a handler for a request HttpServerOptions::admit admitted;
// takeAdmittedOnArrival() reads and clears it (http_server.cpp).
extern thread_local bool admittedOnArrival;

// Serves HTTP/1.1 requests on the connection until it closes.
boost::asio::awaitable<void> servePlain(boost::asio::ip::tcp::socket socket,
                                        const ConnectionContext& ctx);
// The same after a TLS handshake; a verified client certificate becomes HttpRequest::client.
boost::asio::awaitable<void> serveTls(boost::asio::ip::tcp::socket socket,
                                      boost::asio::ssl::context& tls, const ConnectionContext& ctx);

}  // namespace skiff::net::detail
