// The connection coroutines of the HTTP server, one per transport. Internal to
// http_server.cpp; implemented in http_connection_{plain,tls}.cpp.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>

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
  // Requests waitsForCommit() picks run on `writes` (HttpServerOptions::waitsForCommit).
  const std::function<bool(const HttpRequest&)>* waitsForCommit = nullptr;
  boost::asio::thread_pool* writes = nullptr;
  // HttpServerOptions' connection limits (see there).
  std::chrono::milliseconds idleTimeout{std::chrono::minutes(5)};
  std::chrono::milliseconds headerTimeout{std::chrono::seconds(30)};
  std::chrono::milliseconds bodyTimeout{std::chrono::seconds(60)};
  std::chrono::milliseconds writeTimeout{std::chrono::seconds(60)};
  int maxUpgradedConnections = 0;
};

// Serves HTTP/1.1 requests on the connection until it closes.
boost::asio::awaitable<void> servePlain(boost::asio::ip::tcp::socket socket,
                                        const ConnectionContext& ctx);
// The same after a TLS handshake; a verified client certificate becomes HttpRequest::client.
boost::asio::awaitable<void> serveTls(boost::asio::ip::tcp::socket socket,
                                      boost::asio::ssl::context& tls, const ConnectionContext& ctx);

}  // namespace skiff::net::detail
