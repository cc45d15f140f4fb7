// The client side of "101 Switching Protocols": one HTTP/1.1 request on a fresh connection
// (plain or TLS) whose connection, when the server switches protocols, becomes an
// UpgradedConnection. Used to tunnel exec/attach/port-forward to kubelets and to the
// container runtime's streaming server. Asio/Beast stay in http_upgrade_client.cpp.
//
// Threading: openUpgrade() blocks the caller (connect, TLS handshake, request, response
// headers). A returned connection has an I/O thread of its own, so one thread may read while
// another writes and close() from any thread unblocks a read; destroying it closes it and
// joins that thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "net/http_types.h"

namespace skiff::net {

struct UpgradeRequest {
  std::string host;  // name or IP literal
  unsigned short port = 0;
  bool tls = false;
  std::string clientCertPem, clientKeyPem;  // presented when set (TLS)
  // Off: any server certificate is accepted (kubelets serve self-signed ones). On: verified
  // against caPem (the system roots when empty) and `host`.
  bool verifyServer = false;
  std::string caPem;
  // The name sent as SNI and verified instead of `host` when set (an aggregated API server
  // dialled at an endpoint IP presents a certificate for <service>.<namespace>.svc).
  std::string serverName;
  std::string method = "GET", target;
  // Sent as given (e.g. Connection: Upgrade, Upgrade: SPDY/3.1, X-Stream-Protocol-Version);
  // Host defaults to host:port, Content-Length follows `body`.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds connectTimeout{5000};  // TCP connect, and TLS handshake again
  // Sending the request and receiving the response headers (and a non-101 body).
  std::chrono::milliseconds responseTimeout{30000};
};

struct UpgradeResult {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // as the server sent them
  std::string body;                                          // for non-101 answers
  // Set for 101: the rest of the byte stream, starting with any bytes that came right after
  // the response headers.
  UpgradedConnectionPtr connection;
};

// Throws std::runtime_error when connecting, the TLS handshake or the HTTP exchange fails
// (including the timeouts above). Any status is a result; only 101 carries a connection.
UpgradeResult openUpgrade(const UpgradeRequest& request);

// A response whose body is read as it arrives (a watch relayed by the aggregator): the
// status and headers, then the body in pieces (chunked encoding already removed).
class StreamingResponse {
 public:
  virtual ~StreamingResponse() = default;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  // Blocks until body bytes arrive; false at the end of the body or when the connection
  // failed or was closed.
  virtual bool read(std::string& piece) = 0;
  // Ends the exchange from any thread; a blocked read() returns false. Idempotent.
  virtual void close() = 0;
};
// Sends the request (not an upgrade) and reads the response headers within the request's
// timeouts; the body is then read without a deadline. Throws as openUpgrade does.
std::unique_ptr<StreamingResponse> openStreaming(const UpgradeRequest& request);

}  // namespace skiff::net
