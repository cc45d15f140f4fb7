// The HTTP/1.1 server (Boost.Beast, kept out of this header). Connections are C++20
// coroutines on a small thread pool; a handler runs synchronously on the connection's
// thread, and streaming responses are driven asynchronously. A 101 answer with
// HttpResponse::upgrade hands the connection over to that function on a thread of its own.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "net/http_types.h"

namespace skiff::net {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:6443";  // host:port; port 0 picks a free port
  int threads = 2;                        // event loops, one thread each
  size_t maxBodyBytes = 3 * 1024 * 1024;  // larger bodies get 413 (upstream's limit)
  // When set the server speaks only HTTPS.
  std::string tlsCertFile, tlsKeyFile;
  // CA that signs client certificates; the verified CN/O reach handlers as HttpRequest::client.
  std::string clientCaFile;
  // stop() closes connections handed to UpgradeHandlers (101) and waits this long for the
  // handlers to return; those still running then are left to end on their own (their
  // connection's reads return 0 and writes throw).
  std::chrono::milliseconds upgradeStopGrace{5000};
  // Requests this returns true for run on a pool of `blockingThreads` threads instead of
  // their connection's event loop: a handler that waits on another server (the API
  // server's kubelet proxying: a dead node makes it wait for its timeouts) must not stall
  // the other connections of its loop.
  std::function<bool(const HttpRequest&)> mayBlock;
  int blockingThreads = 4;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  // Binds and starts serving on background threads. Throws std::runtime_error on failure.
  void start();
  void stop();
  unsigned short port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::net
