#include "apiserver/kubelet_scrape_connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cerrno>
#include <climits>

#include "api/validation.h"
#include "net/go_net_error.h"

namespace skiff::apiserver {

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using Clock = ScrapeConnection::Clock;

error_code errnoCode(int e) { return {e, boost::system::system_category()}; }

int millisLeft(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, INT_MAX));
}

// Waits until `fd` is ready for `events`; false once `deadline` passed.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const int left = millisLeft(deadline);
    if (left == 0) return false;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, left);
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return true;  // the next call reports what is wrong
  }
}

// What an SSL call that returned `r` failed with, as an error code goNetErrorMessage words.
error_code sslFailure(SSL* ssl, int r) {
  const int kind = SSL_get_error(ssl, r);
  const unsigned long queued = ERR_get_error();
  ERR_clear_error();
  if (kind == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
  if (queued != 0) return {static_cast<int>(queued), asio::error::get_ssl_category()};
  if (kind == SSL_ERROR_SYSCALL && errno != 0) return errnoCode(errno);
  return asio::error::eof;  // the peer closed the socket without close_notify
}

// Runs an SSL call until it completes, waiting on the socket for as long as OpenSSL wants;
// false (with `failure` set) when it fails, or with `timedOut` when `deadline` passed.
template <typename Call>
bool drive(int fd, SSL* ssl, Clock::time_point deadline, Call call, int& result,
           error_code& failure, bool& timedOut) {
  timedOut = false;
  for (;;) {
    ERR_clear_error();
    errno = 0;
    result = call();
    if (result > 0) return true;
    const int kind = SSL_get_error(ssl, result);
    if (kind == SSL_ERROR_WANT_READ || kind == SSL_ERROR_WANT_WRITE) {
      if (!waitFor(fd, kind == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        timedOut = true;
        return false;
      }
      continue;
    }
    failure = sslFailure(ssl, result);
    return false;
  }
}

// OpenSSL writes the socket with write(), which raises SIGPIPE when the kubelet has reset the
// connection (Asio's sends pass MSG_NOSIGNAL, so skiff never ignores the signal, and the
// processes it starts inherit that). Blocked on this thread while a connection is driven; one
// raised meanwhile is taken off the thread before the old mask returns.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    pendingBefore_ = sigismember(&pending, SIGPIPE) == 1;
    changed_ = pthread_sigmask(SIG_BLOCK, &pipe_, &old_) == 0 && !sigismember(&old_, SIGPIPE);
  }
  ~SigpipeBlocked() {
    if (!changed_) return;
    sigset_t pending;
    sigemptyset(&pending);
    if (!pendingBefore_ && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
      const timespec zero{0, 0};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_, old_;
  bool pendingBefore_ = false, changed_ = false;
};

// A connected non-blocking socket to host:port by `deadline`, in Go's words on failure.
int dial(const std::string& host, int port, const std::string& hostPort,
         Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    const error_code ec =
        rc == EAI_AGAIN ? asio::error::host_not_found_try_again : asio::error::host_not_found;
    throw ScrapeError("dial tcp: lookup " + host + ": " + net::goNetErrorMessage(ec));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, ::freeaddrinfo);
  std::string last =
      "dial tcp " + hostPort + ": connect: " + net::goNetErrorMessage(asio::error::host_not_found);
  for (const addrinfo* a = found; a; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last = "dial tcp " + hostPort + ": socket: " + net::goNetErrorMessage(errnoCode(errno));
      continue;
    }
    int err = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        if (!waitFor(fd, POLLOUT, deadline)) {
          ::close(fd);
          throw ScrapeError(
              "dial tcp " + hostPort + ": " + net::goNetErrorMessage(boost::beast::error::timeout),
              true);
        }
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    if (err != 0) {
      ::close(fd);
      last = "dial tcp " + hostPort + ": connect: " + net::goNetErrorMessage(errnoCode(err));
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
  throw ScrapeError(last);
}

}  // namespace

std::unique_ptr<ScrapeConnection> ScrapeConnection::open(SSL_CTX* ctx, const std::string& host,
                                                         int port, Clock::time_point connectBy,
                                                         Clock::time_point handshakeBy,
                                                         SSL_SESSION* resume) {
  SigpipeBlocked noSigpipe;
  const bool v6 = host.find(':') != std::string::npos;
  const std::string hostPort = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  const int fd = dial(host, port, hostPort, connectBy);
  SSL* ssl = SSL_new(ctx);
  if (!ssl) {
    ::close(fd);
    throw ScrapeError("tls: out of memory");
  }
  std::unique_ptr<ScrapeConnection> conn(new ScrapeConnection(fd, ssl));
  SSL_set_fd(ssl, fd);
  if (!api::isIP(host)) SSL_set_tlsext_host_name(ssl, host.c_str());
  if (resume) SSL_set_session(ssl, resume);
  int result = 0;
  error_code failure;
  bool timedOut = false;
  if (!drive(
          fd, ssl, handshakeBy, [&] { return SSL_connect(ssl); }, result, failure, timedOut)) {
    if (timedOut) throw ScrapeError("net/http: TLS handshake timeout", true);
    throw ScrapeError("tls: " + net::goNetErrorMessage(failure));
  }
  return conn;
}

ScrapeConnection::~ScrapeConnection() {
  // Marked shut down without sending close_notify (the socket just closes, as a Go client's
  // idle connection does): OpenSSL would otherwise mark the session not resumable.
  SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(ssl_);
  ::close(fd_);
}

ScrapeConnection::Response ScrapeConnection::get(const std::string& hostHeader,
                                                 const std::string& target, size_t maxBytes,
                                                 Clock::time_point deadline, bool& answered) {
  SigpipeBlocked noSigpipe;
  answered = false;
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + hostHeader +
                              "\r\nUser-Agent: skiff-apiserver\r\nAccept: text/plain\r\n\r\n";
  const std::string awaiting =
      "context deadline exceeded (Client.Timeout exceeded while awaiting headers)";
  int result = 0;
  error_code failure;
  bool timedOut = false;
  for (size_t sent = 0; sent < request.size(); sent += static_cast<size_t>(result)) {
    const char* at = request.data() + sent;
    const int n = static_cast<int>(request.size() - sent);
    if (!drive(
            fd_, ssl_, deadline, [&] { return SSL_write(ssl_, at, n); }, result, failure, timedOut))
      throw timedOut ? ScrapeError(awaiting, true) : ScrapeError(net::goNetErrorMessage(failure));
  }

  http::response_parser<http::string_body> parser;
  parser.body_limit(maxBytes);
  parser.eager(true);
  std::string pending;  // read but not yet taken by the parser
  char buf[16384];
  while (!parser.is_done()) {
    if (!drive(
            fd_, ssl_, deadline, [&] { return SSL_read(ssl_, buf, sizeof buf); }, result, failure,
            timedOut)) {
      if (timedOut) throw ScrapeError(awaiting, true);
      // The kubelet closed the connection: the end of a body without a length, else a cut.
      if (failure == asio::error::eof && parser.is_header_done()) {
        error_code ec;
        parser.put_eof(ec);
        if (!ec) break;
      }
      throw ScrapeError(net::goNetErrorMessage(failure));
    }
    answered = true;
    pending.append(buf, static_cast<size_t>(result));
    while (!pending.empty() && !parser.is_done()) {
      error_code ec;
      const size_t used = parser.put(asio::buffer(pending), ec);
      pending.erase(0, used);
      if (ec == http::error::need_more) break;
      if (ec == http::error::body_limit)
        throw ScrapeError("response body larger than " + std::to_string(maxBytes) + " bytes");
      if (ec) throw ScrapeError(net::goNetErrorMessage(ec));
    }
  }
  Response res;
  res.status = parser.get().result_int();
  res.keepAlive = parser.get().keep_alive() && pending.empty();
  res.body = std::move(parser.get().body());
  return res;
}

bool ScrapeConnection::idleAndOpen() const {
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0 && SSL_pending(ssl_) == 0;
}

bool ScrapeConnection::resumed() const { return SSL_session_reused(ssl_) == 1; }

std::shared_ptr<SSL_SESSION> ScrapeConnection::session() const {
  SSL_SESSION* s = SSL_get1_session(ssl_);
  if (!s) return nullptr;
  std::shared_ptr<SSL_SESSION> kept(s, SSL_SESSION_free);
  return SSL_SESSION_is_resumable(s) ? kept : nullptr;
}

}  // namespace skiff::apiserver
