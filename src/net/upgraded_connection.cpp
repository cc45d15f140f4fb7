// UpgradedConnection over Beast streams (see upgraded_connection.h for the threading model).
#include "net/upgraded_connection.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>

namespace skiff::net::detail {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using error_code = boost::system::error_code;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// The asynchronous operation behind one blocking call; lives on the calling thread's stack,
// which waits until it is done.
struct PendingOp {
  bool done = false;
  error_code ec;
  size_t bytes = 0;
};

// A TCP FIN without TLS close_notify counts as end of stream too, as Go's crypto/tls reads
// it at a record boundary (and our close() sends none).
bool isEndOfStream(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}

template <class Done>
void shutdownSend(PlainStream& s, Done done) {
  error_code ec;
  s.socket().shutdown(asio::socket_base::shutdown_send, ec);
  done(ec, 0);
}

// TLS half-close is sending close_notify. Asio's shutdown would then also wait for the
// peer's close_notify, reading from the socket behind the back of a concurrent read(), and
// would not return until the peer closes its side. So for the duration of starting the
// operation (whose first step, SSL_shutdown queueing our alert, runs synchronously here)
// OpenSSL is told the peer's alert already came: the operation only writes ours. The flag is
// cleared again before any read can run (we are on the stream's strand), so reads go on.
template <class Done>
void shutdownSend(TlsStream& s, Done done) {
  SSL* ssl = s.native_handle();
  const int before = SSL_get_shutdown(ssl);
  SSL_set_shutdown(ssl, before | SSL_RECEIVED_SHUTDOWN);
  s.async_shutdown([done = std::move(done)](error_code ec) mutable { done(ec, 0); });
  SSL_set_shutdown(
      ssl, (SSL_get_shutdown(ssl) & ~SSL_RECEIVED_SHUTDOWN) | (before & SSL_RECEIVED_SHUTDOWN));
}

template <class Stream>
class StreamTransport final : public UpgradedTransport,
                              public std::enable_shared_from_this<StreamTransport<Stream>> {
 public:
  StreamTransport(Stream stream, std::string early)
      : stream_(std::move(stream)), executor_(stream_->get_executor()), early_(std::move(early)) {
    // Interactive sessions (exec, attach) send keystrokes; do not let Nagle hold them back.
    error_code ec;
    beast::get_lowest_layer(*stream_).socket().set_option(asio::ip::tcp::no_delay(true), ec);
  }

  size_t read(char* buf, size_t max) override {
    std::lock_guard reading(readMu_);
    if (max == 0) return 0;
    if (earlyPos_ < early_.size()) {
      size_t n = std::min(max, early_.size() - earlyPos_);
      std::memcpy(buf, early_.data() + earlyPos_, n);
      earlyPos_ += n;
      if (earlyPos_ == early_.size()) std::string().swap(early_);
      return n;
    }
    PendingOp op;
    bool started = run(op, [buf, max](Stream& s, auto done) {
      s.async_read_some(asio::buffer(buf, max), std::move(done));
    });
    if (!started) return 0;
    if (!op.ec) return op.bytes;
    if (isEndOfStream(op.ec) || isClosed()) return 0;
    throw std::runtime_error("upgraded connection read: " + op.ec.message());
  }

  void write(const char* data, size_t n) override {
    std::lock_guard writing(writeMu_);
    PendingOp op;
    bool started = run(op, [data, n](Stream& s, auto done) {
      asio::async_write(s, asio::const_buffer(data, n), std::move(done));
    });
    if (!started || (op.ec && isClosed()))
      throw std::runtime_error("upgraded connection write: connection closed");
    if (op.ec) throw std::runtime_error("upgraded connection write: " + op.ec.message());
  }

  void shutdownWrite() override {
    std::lock_guard writing(writeMu_);  // never in the middle of a write
    PendingOp op;
    bool started = run(op, [](Stream& s, auto done) { shutdownSend(s, std::move(done)); });
    if (!started || !op.ec || isClosed()) return;  // a closed connection has nothing to half-close
    throw std::runtime_error("upgraded connection shutdown: " + op.ec.message());
  }

  void close() override {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    if (released_) return;
    // Closing cancels a pending read or write: their handlers run with operation_aborted.
    asio::post(*executor_, [self = this->shared_from_this()] {
      error_code ec;
      beast::get_lowest_layer(*self->stream_).socket().close(ec);
    });
  }

  void release() override {
    std::lock_guard lock(mu_);
    if (released_) return;
    released_ = closed_ = true;
    for (auto* op : pending_) {
      op->ec = asio::error::operation_aborted;
      op->done = true;
    }
    pending_.clear();
    cv_.notify_all();
    // Both hold the io_context's strand: they must go before the io_context does.
    stream_.reset();
    executor_.reset();
  }

 private:
  // Starts `initiate` on the stream's executor and waits for its completion. False when the
  // connection is already closed (nothing was started).
  template <class Initiate>
  bool run(PendingOp& op, Initiate initiate) {
    std::unique_lock lock(mu_);
    if (closed_) return false;
    pending_.push_back(&op);
    asio::post(*executor_, [self = this->shared_from_this(), &op,
                            initiate = std::move(initiate)]() mutable {
      initiate(*self->stream_, [self, &op](error_code ec, size_t n) { self->complete(op, ec, n); });
    });
    cv_.wait(lock, [&] { return op.done; });
    return true;
  }

  void complete(PendingOp& op, error_code ec, size_t n) {
    std::lock_guard lock(mu_);
    if (released_) return;  // release() has already failed (and forgotten) the operation
    op.ec = ec;
    op.bytes = n;
    op.done = true;
    std::erase(pending_, &op);
    cv_.notify_all();
  }

  bool isClosed() {
    std::lock_guard lock(mu_);
    return closed_;
  }

  // Used on the executor only (and by release(), when no executor thread is left).
  std::optional<Stream> stream_;
  std::optional<typename Stream::executor_type> executor_;
  // At most one read() and one write()/shutdownWrite() at a time, as the stream allows.
  std::mutex readMu_, writeMu_;
  std::string early_;  // guarded by readMu_
  size_t earlyPos_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false, released_ = false;
  std::vector<PendingOp*> pending_;
};

class TransportConnection final : public UpgradedConnection {
 public:
  explicit TransportConnection(std::shared_ptr<UpgradedTransport> t) : t_(std::move(t)) {}
  ~TransportConnection() override { t_->close(); }
  size_t read(char* buf, size_t max) override { return t_->read(buf, max); }
  void write(const char* data, size_t n) override { t_->write(data, n); }
  void shutdownWrite() override { t_->shutdownWrite(); }
  void close() override { t_->close(); }

 private:
  std::shared_ptr<UpgradedTransport> t_;
};

}  // namespace

template <class Stream>
std::shared_ptr<UpgradedTransport> makeUpgradedTransport(Stream stream, std::string earlyBytes) {
  return std::make_shared<StreamTransport<Stream>>(std::move(stream), std::move(earlyBytes));
}
template std::shared_ptr<UpgradedTransport> makeUpgradedTransport<PlainStream>(PlainStream,
                                                                               std::string);
template std::shared_ptr<UpgradedTransport> makeUpgradedTransport<TlsStream>(TlsStream,
                                                                             std::string);

UpgradedConnectionPtr connectionOver(std::shared_ptr<UpgradedTransport> transport) {
  return std::make_unique<TransportConnection>(std::move(transport));
}

}  // namespace skiff::net::detail
