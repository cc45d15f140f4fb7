// The HTTP/1.1 server (Boost.Beast, kept out of this header). Connections are C++20
// coroutines on a small thread pool; a handler runs synchronously on the connection's
// thread, and streaming responses are driven asynchronously.
#pragma once

#include <memory>
#include <string>

#include "apiserver/http_types.h"

namespace skiff::apiserver {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:6443";  // host:port; port 0 picks a free port
  int threads = 4;
  size_t maxBodyBytes = 3 * 1024 * 1024;  // larger bodies get 413 (upstream's limit)
  // When set the server speaks only HTTPS.
  std::string tlsCertFile, tlsKeyFile;
  // CA that signs client certificates; the verified CN/O reach handlers as HttpRequest::client.
  std::string clientCaFile;
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

}  // namespace skiff::apiserver
