// Internal to the HTTP server and the upgrade client: UpgradedConnection over a Beast stream
// (plain TCP or TLS) after "101 Switching Protocols". Free of Asio/Beast includes; the
// implementation (upgraded_connection.cpp) is instantiated for beast::tcp_stream and
// beast::ssl_stream<beast::tcp_stream>, the only streams the server and the client use.
//
// Model: the stream stays on its executor (the server connection's strand, or the client
// connection's own I/O thread). read(), write() and shutdownWrite() post one asynchronous
// operation there and wait for its completion on a condition variable, so a reader thread
// and a writer thread never touch the (TLS) stream concurrently; Asio's ssl::stream allows
// one read and one write operation in flight at a time on one strand, which is exactly this.
#pragma once

#include <memory>
#include <string>

#include "net/http_types.h"

namespace skiff::net::detail {

// The shared state behind an UpgradedConnection. It outlives the handle while operations
// are in flight (their completion handlers keep it alive).
class UpgradedTransport {
 public:
  virtual ~UpgradedTransport() = default;
  virtual size_t read(char* buf, size_t max) = 0;
  virtual void write(const char* data, size_t n) = 0;
  virtual void shutdownWrite() = 0;
  // Closes the socket on its executor: pending and later reads return 0, writes throw.
  // Thread-safe, idempotent, never blocks.
  virtual void close() = 0;
  // For the server's stop(), once its io_context threads have ended: fails pending calls and
  // destroys the stream now, while the io_context still exists, so a handler thread that
  // outlives the server can neither hang nor touch freed Asio state.
  virtual void release() = 0;
};

// `earlyBytes`: what the peer sent after the HTTP message (already in Beast's read buffer);
// read() returns them first.
template <class Stream>
std::shared_ptr<UpgradedTransport> makeUpgradedTransport(Stream stream, std::string earlyBytes);

// The handle given to protocol code; destroying it closes the connection.
UpgradedConnectionPtr connectionOver(std::shared_ptr<UpgradedTransport> transport);

}  // namespace skiff::net::detail
