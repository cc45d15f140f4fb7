// openUpgrade(): one exchange on a private io_context, run by the calling thread while the
// request and response headers go by (Beast's stream timeouts bound each step), then, after a
// 101, by a thread of the connection's own (see upgraded_connection.h for the I/O model).
#include "net/http_upgrade_client.h"

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cctype>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "net/go_net_error.h"
#include "net/upgraded_connection.h"

namespace skiff::net {

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// Error bodies of non-101 answers are small; this only bounds a misbehaving server.
constexpr uint64_t kMaxBody = 16 * 1024 * 1024;

// Owns what a taken-over client connection runs on. Members are destroyed in reverse order:
// the connection (closing it) and its I/O thread go before the io_context and TLS context.
class ClientConnection final : public UpgradedConnection {
 public:
  ClientConnection(std::unique_ptr<ssl::context> tls, std::unique_ptr<asio::io_context> io,
                   UpgradedConnectionPtr inner)
      : tls_(std::move(tls)),
        io_(std::move(io)),
        work_(asio::make_work_guard(*io_)),
        inner_(std::move(inner)) {
    io_->restart();
    thread_ = std::thread([io = io_.get()] { io->run(); });
  }
  ~ClientConnection() override {
    inner_.reset();  // closes the socket: pending operations complete
    work_.reset();   // then run() returns
    thread_.join();
  }
  size_t read(char* buf, size_t max) override { return inner_->read(buf, max); }
  void write(const char* data, size_t n) override { inner_->write(data, n); }
  void shutdownWrite() override { inner_->shutdownWrite(); }
  void close() override { inner_->close(); }

 private:
  std::unique_ptr<ssl::context> tls_;
  std::unique_ptr<asio::io_context> io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  UpgradedConnectionPtr inner_;
  std::thread thread_;
};

// Runs one asynchronous operation on `io` on this thread, bounded by `timeout`.
template <class Stream, class Start>
error_code runOp(asio::io_context& io, Stream& stream, std::chrono::milliseconds timeout,
                 Start start) {
  error_code result = asio::error::would_block;
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(timeout);
  start([&result](error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  lowest.expires_never();
  return result;
}

std::string hostPort(const UpgradeRequest& r) {
  bool ipv6 = r.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + r.host + "]" : r.host) + ":" + std::to_string(r.port);
}

std::unique_ptr<ssl::context> clientTlsContext(const UpgradeRequest& r) {
  try {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (r.verifyServer) {
      ctx->set_verify_mode(ssl::verify_peer);
      if (r.caPem.empty())
        ctx->set_default_verify_paths();
      else
        ctx->add_certificate_authority(asio::buffer(r.caPem));
    } else {
      ctx->set_verify_mode(ssl::verify_none);
    }
    if (!r.clientCertPem.empty()) {
      ctx->use_certificate_chain(asio::buffer(r.clientCertPem));
      ctx->use_private_key(asio::buffer(r.clientKeyPem), ssl::context::pem);
    }
    return ctx;
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(std::string("TLS client setup: ") + e.what());
  }
}

// Connects the stream's TCP layer to the request's host and port.
template <class Stream>
void connect(asio::io_context& io, Stream& stream, const UpgradeRequest& r) {
  tcp::resolver resolver(io);
  error_code ec;
  auto endpoints = resolver.resolve(r.host, std::to_string(r.port), ec);
  if (ec) throw std::runtime_error("dial tcp: lookup " + r.host + ": " + goNetErrorMessage(ec));
  ec = runOp(io, stream, r.connectTimeout, [&](auto handler) {
    beast::get_lowest_layer(stream).async_connect(endpoints, std::move(handler));
  });
  if (ec)
    throw std::runtime_error("dial tcp " + hostPort(r) + ": " +
                             (ec == beast::error::timeout ? "" : "connect: ") +
                             goNetErrorMessage(ec));
}

http::request<http::string_body> makeRequest(const UpgradeRequest& r) {
  http::request<http::string_body> req;
  req.version(11);
  req.method_string(r.method);
  req.target(r.target);
  req.set(http::field::host, hostPort(r));
  for (const auto& [name, value] : r.headers) {
    if (beast::iequals(name, "host"))
      req.set(http::field::host, value);
    else
      req.insert(name, value);
  }
  req.body() = r.body;
  req.prepare_payload();  // Content-Length only; Connection and Upgrade stay as given
  return req;
}

// Sends the request and reads the answer; after a 101, `transport` takes the stream over.
template <class Stream>
UpgradeResult exchange(asio::io_context& io, Stream& stream, const UpgradeRequest& r,
                       std::shared_ptr<detail::UpgradedTransport>& transport) {
  auto req = makeRequest(r);
  error_code ec = runOp(io, stream, r.responseTimeout,
                        [&](auto handler) { http::async_write(stream, req, std::move(handler)); });
  if (ec) throw std::runtime_error(r.method + " " + r.target + ": " + goNetErrorMessage(ec));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);
  if (beast::iequals(r.method, "HEAD")) parser.skip(true);
  ec = runOp(io, stream, r.responseTimeout,
             [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
  if (ec) throw std::runtime_error(r.method + " " + r.target + ": " + goNetErrorMessage(ec));

  auto& res = parser.get();
  UpgradeResult result;
  result.status = static_cast<int>(res.result_int());
  for (const auto& field : res)
    result.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  if (result.status != 101) {
    result.body = std::move(res.body());
    return result;
  }
  // A 101 has no body: whatever followed its headers belongs to the new protocol.
  std::string early(static_cast<const char*>(buffer.data().data()), buffer.size());
  transport = detail::makeUpgradedTransport<Stream>(std::move(stream), std::move(early));
  return result;
}

// The body of a streamed response, read by whoever calls read(); close() is posted to the
// io_context so the socket is only touched by the thread running it.
template <class Stream>
class StreamingResponseImpl final : public StreamingResponse {
 public:
  StreamingResponseImpl(std::unique_ptr<ssl::context> tls, std::unique_ptr<asio::io_context> io,
                        std::unique_ptr<Stream> stream)
      : tls_(std::move(tls)), io_(std::move(io)), stream_(std::move(stream)) {
    parser_.body_limit(boost::none);
  }
  ~StreamingResponseImpl() override {
    stream_.reset();  // streams go before their io_context and TLS context
  }
  http::response_parser<http::string_body>& parser() { return parser_; }
  beast::flat_buffer& buffer() { return buffer_; }
  Stream& stream() { return *stream_; }

  bool read(std::string& piece) override {
    std::lock_guard lock(readMu_);
    while (!closed_.load()) {
      if (!parser_.get().body().empty()) {
        piece = std::move(parser_.get().body());
        parser_.get().body().clear();
        return true;
      }
      if (parser_.is_done()) return false;
      error_code result = asio::error::would_block;
      http::async_read_some(*stream_, buffer_, parser_,
                            [&result](error_code ec, std::size_t) { result = ec; });
      io_->restart();
      io_->run();
      if (result && parser_.get().body().empty()) return false;
    }
    return false;
  }
  void close() override {
    if (closed_.exchange(true)) return;
    asio::post(*io_, [this] {
      error_code ignored;
      beast::get_lowest_layer(*stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(*stream_).socket().close(ignored);
    });
    // If nobody is reading, run the posted close here.
    if (readMu_.try_lock()) {
      io_->restart();
      io_->poll();
      readMu_.unlock();
    }
  }

 private:
  std::unique_ptr<ssl::context> tls_;
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<Stream> stream_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  std::mutex readMu_;
  std::atomic<bool> closed_{false};
};

template <class Stream>
std::unique_ptr<StreamingResponse> streamOver(std::unique_ptr<StreamingResponseImpl<Stream>> out,
                                              const UpgradeRequest& r, asio::io_context& io) {
  auto req = makeRequest(r);
  error_code ec = runOp(io, out->stream(), r.responseTimeout, [&](auto handler) {
    http::async_write(out->stream(), req, std::move(handler));
  });
  if (ec) throw std::runtime_error(r.method + " " + r.target + ": " + goNetErrorMessage(ec));
  ec = runOp(io, out->stream(), r.responseTimeout, [&](auto handler) {
    http::async_read_header(out->stream(), out->buffer(), out->parser(), std::move(handler));
  });
  if (ec) throw std::runtime_error(r.method + " " + r.target + ": " + goNetErrorMessage(ec));
  const auto& res = out->parser().get();
  out->status = static_cast<int>(res.result_int());
  for (const auto& field : res)
    out->headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  return out;
}

}  // namespace

std::unique_ptr<StreamingResponse> openStreaming(const UpgradeRequest& r) {
  std::unique_ptr<ssl::context> tls;
  if (r.tls) tls = clientTlsContext(r);
  auto io = std::make_unique<asio::io_context>();
  asio::io_context& ioRef = *io;
  if (!r.tls) {
    auto stream = std::make_unique<beast::tcp_stream>(ioRef);
    connect(ioRef, *stream, r);
    auto out = std::make_unique<StreamingResponseImpl<beast::tcp_stream>>(nullptr, std::move(io),
                                                                          std::move(stream));
    return streamOver(std::move(out), r, ioRef);
  }
  auto stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioRef, *tls);
  connect(ioRef, *stream, r);
  const std::string& name = r.serverName.empty() ? r.host : r.serverName;
  error_code notIp;
  asio::ip::make_address(name, notIp);
  if (notIp) SSL_set_tlsext_host_name(stream->native_handle(), name.c_str());
  if (r.verifyServer) stream->set_verify_callback(ssl::host_name_verification(name));
  error_code ec = runOp(ioRef, *stream, r.connectTimeout, [&](auto handler) {
    stream->async_handshake(ssl::stream_base::client, std::move(handler));
  });
  if (ec == beast::error::timeout) throw std::runtime_error("net/http: TLS handshake timeout");
  if (ec) throw std::runtime_error("tls: " + goNetErrorMessage(ec));
  auto out = std::make_unique<StreamingResponseImpl<beast::ssl_stream<beast::tcp_stream>>>(
      std::move(tls), std::move(io), std::move(stream));
  return streamOver(std::move(out), r, ioRef);
}

UpgradeResult openUpgrade(const UpgradeRequest& r) {
  std::unique_ptr<ssl::context> tls;
  if (r.tls) tls = clientTlsContext(r);
  auto io = std::make_unique<asio::io_context>();
  std::shared_ptr<detail::UpgradedTransport> transport;
  UpgradeResult result;
  // Streams (even moved-from ones) must go before the io_context: hence this scope.
  if (!r.tls) {
    beast::tcp_stream stream(*io);
    connect(*io, stream, r);
    result = exchange(*io, stream, r, transport);
  } else {
    beast::ssl_stream<beast::tcp_stream> stream(*io, *tls);
    connect(*io, stream, r);
    const std::string& name = r.serverName.empty() ? r.host : r.serverName;
    error_code notIp;
    asio::ip::make_address(name, notIp);
    // SNI is for names only; IP literals are matched against the certificate's IP SANs.
    if (notIp) SSL_set_tlsext_host_name(stream.native_handle(), name.c_str());
    if (r.verifyServer) stream.set_verify_callback(ssl::host_name_verification(name));
    error_code ec = runOp(*io, stream, r.connectTimeout, [&](auto handler) {
      stream.async_handshake(ssl::stream_base::client, std::move(handler));
    });
    if (ec == beast::error::timeout) throw std::runtime_error("net/http: TLS handshake timeout");
    if (ec) throw std::runtime_error("tls: " + goNetErrorMessage(ec));
    result = exchange(*io, stream, r, transport);
  }
  if (transport)
    result.connection = std::make_unique<ClientConnection>(
        std::move(tls), std::move(io), detail::connectionOver(std::move(transport)));
  return result;
}

std::string goNetErrorMessage(const boost::system::error_code& ec) {
  namespace beast = boost::beast;
  namespace asio = boost::asio;
  if (ec == beast::error::timeout) return "i/o timeout";
  if (ec == asio::error::eof || ec == beast::http::error::end_of_stream ||
      ec == asio::ssl::error::stream_truncated)
    return "EOF";
  std::string m = ec.message();
  if (!m.empty()) m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
  return m;
}

}  // namespace skiff::net
