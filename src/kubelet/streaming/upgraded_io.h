// Byte plumbing shared by the streaming protocols: a socket as an UpgradedConnection, a
// connection that first replays bytes already read, and the plain-HTTP upgrade handshake the
// kubelet performs against the container runtime's streaming server (containerd serves
// http://127.0.0.1:<port>/exec/<token>; no TLS, as skiff's containerd config asks).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/http_types.h"

namespace skiff::kubelet::streaming {

using net::UpgradedConnection;
using net::UpgradedConnectionPtr;

// A connected stream socket (TCP or one end of a socketpair). close() shuts the socket down
// so a read blocked in another thread returns 0; the descriptor is released by the destructor.
class FdConnection : public UpgradedConnection {
 public:
  explicit FdConnection(int fd);
  ~FdConnection() override;
  FdConnection(const FdConnection&) = delete;
  FdConnection& operator=(const FdConnection&) = delete;

  size_t read(char* buf, size_t max) override;
  void write(const char* data, size_t n) override;
  void shutdownWrite() override;
  void close() override;
  int fd() const { return fd_; }
  // Receive timeout for the handshake (0 = none); a timed-out read throws.
  void setReadTimeout(std::chrono::milliseconds timeout);

 private:
  int fd_;
  std::mutex mu_;
  bool closed_ = false;
};

// Returns `prefix` first, then reads from `inner` (bytes that arrived with a handshake).
class PrefixedConnection : public UpgradedConnection {
 public:
  PrefixedConnection(UpgradedConnectionPtr inner, std::string prefix)
      : inner_(std::move(inner)), prefix_(std::move(prefix)) {}
  size_t read(char* buf, size_t max) override;
  void write(const char* data, size_t n) override { inner_->write(data, n); }
  void shutdownWrite() override { inner_->shutdownWrite(); }
  void close() override { inner_->close(); }

 private:
  UpgradedConnectionPtr inner_;
  std::string prefix_;
  size_t pos_ = 0;
};

// http://host:port/path?query, split. Throws std::invalid_argument for anything else.
struct HttpUrl {
  std::string scheme, host;
  int port = 80;
  std::string target;  // path and query, "/" when empty
};
HttpUrl parseHttpUrl(const std::string& url);

// Connects to host:port (TCP). Throws std::runtime_error with the reason.
std::unique_ptr<FdConnection> dialTcp(const std::string& host, int port,
                                      std::chrono::milliseconds timeout);

struct UpgradeReply {
  int status = 0;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;                                 // for a non-101 answer (bounded)
  std::string header(const std::string& lowerName) const;
};

// Sends `method target` with `headers` (Host is added) on `conn` and reads the response head.
// On 101 the connection carries the new protocol: `conn` is replaced by one that first replays
// bytes read past the head. Throws std::runtime_error on transport failures.
UpgradeReply httpUpgrade(UpgradedConnectionPtr& conn, const std::string& method, const HttpUrl& url,
                         const std::vector<std::pair<std::string, std::string>>& headers);

// Splits a comma-separated header value into trimmed, non-empty tokens.
std::vector<std::string> headerTokens(const std::string& value);
bool headerHasToken(const std::string& value, std::string_view token);  // case-insensitive

}  // namespace skiff::kubelet::streaming
