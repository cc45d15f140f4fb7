// A kept-alive HTTPS/1.1 connection to one kubelet for the metrics scraper
// (KubeletProxy::getWhole), driven by blocking calls with deadlines on the thread using it.
//
// Why not Asio's TLS stream, as the log and exec relays use: it keeps ~68 KB per connection
// (its record buffers and BIO pair) however idle, so connections were closed after every
// scrape and each scrape paid a TCP connect and a (resumed) TLS handshake: 0.9 ms of API
// server CPU and 1.3 ms of the kubelet's (bench/README.md), a third of two cores at 5,000
// nodes. Here OpenSSL reads and writes the socket itself and, with SSL_MODE_RELEASE_BUFFERS,
// an idle connection keeps its SSL object (~11 KB measured), so every node's connection stays open
// between scrapes and a scrape costs one request.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

namespace skiff::apiserver {

// A failure in Go's net/http words ("dial tcp H:P: connect: connection refused"), without
// the `Get "URL": ` prefix the caller adds.
struct ScrapeError : std::runtime_error {
  explicit ScrapeError(const std::string& what, bool timedOut = false)
      : std::runtime_error(what), timedOut(timedOut) {}
  bool timedOut;  // the deadline passed (the kubelet is slow, not gone)
};

class ScrapeConnection {
 public:
  using Clock = std::chrono::steady_clock;

  // TCP connect by `connectBy`, TLS handshake by `handshakeBy`, offering `resume` (may be
  // null) for resumption. Throws ScrapeError.
  static std::unique_ptr<ScrapeConnection> open(SSL_CTX* ctx, const std::string& host, int port,
                                                Clock::time_point connectBy,
                                                Clock::time_point handshakeBy, SSL_SESSION* resume);
  ~ScrapeConnection();
  ScrapeConnection(const ScrapeConnection&) = delete;
  ScrapeConnection& operator=(const ScrapeConnection&) = delete;

  struct Response {
    int status = 0;
    std::string body;
    bool keepAlive = false;  // the connection may carry the next request
  };
  // GET `target` with its whole answer by `deadline`, at most `maxBytes` of body. `answered`
  // turns true once a byte of the answer arrived: a failure before that on a kept
  // connection means the kubelet closed it while idle. Throws ScrapeError.
  Response get(const std::string& hostHeader, const std::string& target, size_t maxBytes,
               Clock::time_point deadline, bool& answered);

  // False when the idle connection has something to read, which can only be the kubelet
  // closing it: not worth a request.
  bool idleAndOpen() const;
  bool resumed() const;
  // The session to offer on the next connection (TLS 1.3 tickets arrive with the first
  // answer); null when the kubelet gave none that can be resumed.
  std::shared_ptr<SSL_SESSION> session() const;

 private:
  ScrapeConnection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  int fd_;
  SSL* ssl_;
};

}  // namespace skiff::apiserver
