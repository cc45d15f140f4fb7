// The one file in src/client that includes Asio/Beast (see http_transport.h for the model).
#include "client/http_transport.h"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <optional>

#include "common/log.h"

namespace skiff::client {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Lists of large clusters are big; this only guards against a runaway response.
constexpr uint64_t kMaxBody = 1ull << 30;

struct Connection {
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  std::unique_ptr<beast::tcp_stream> plain;
  beast::flat_buffer buffer;

  tcp::socket& socket() { return tls ? beast::get_lowest_layer(*tls).socket() : plain->socket(); }
  template <class F>
  void with(F&& f) {
    if (tls)
      f(*tls);
    else
      f(*plain);
  }
};

}  // namespace

void StreamAbort::abort() {
  std::lock_guard lock(mu_);
  aborted_ = true;
  // shutdown(2) on the descriptor is safe from any thread and wakes a blocked read.
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  if (wake_) wake_();
}

bool StreamAbort::aborted() {
  std::lock_guard lock(mu_);
  return aborted_;
}

bool StreamAbort::attach(int fd) {
  std::lock_guard lock(mu_);
  fd_ = fd;
  return !aborted_;
}

bool StreamAbort::attach(std::function<void()> wake) {
  std::lock_guard lock(mu_);
  wake_ = std::move(wake);
  return !aborted_;
}

struct HttpTransport::Impl {
  ClientConfig config;
  std::string host, port, basePath, hostHeader;
  asio::io_context io;  // never run: only sync operations, which need an executor to exist
  std::optional<ssl::context> tlsContext;
  // After setClientCertificate: the context new connections use (under mu). Earlier ones stay
  // alive for the connections made with them (rotations are rare: one a year or so).
  ssl::context* currentTls = nullptr;
  std::vector<std::unique_ptr<ssl::context>> rotatedTls;
  std::mutex mu;
  std::vector<std::unique_ptr<Connection>> idle;

  explicit Impl(const ClientConfig& c) : config(c) {
    if (c.local) return;  // no network: nothing to resolve, no TLS
    auto parsed = boost::urls::parse_uri(c.server);
    if (!parsed) throw TransportError("invalid server URL \"" + c.server + "\"");
    auto u = *parsed;
    bool https = u.scheme() == "https";
    if (!https && u.scheme() != "http")
      throw TransportError("server URL \"" + c.server + "\" must be http or https");
    host = u.host_address();
    port = u.has_port() ? std::string(u.port()) : (https ? "443" : "80");
    hostHeader = std::string(u.encoded_host_and_port());
    basePath = std::string(u.encoded_path());
    while (!basePath.empty() && basePath.back() == '/') basePath.pop_back();
    if (!https) return;
    tlsContext.emplace(ssl::context::tls_client);
    configureTls(*tlsContext, c.clientCertPem, c.clientKeyPem);
    currentTls = &*tlsContext;
  }

  void configureTls(ssl::context& ctx, const std::string& certPem, const std::string& keyPem) {
    const ClientConfig& c = config;
    try {
      ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      if (c.insecureSkipTlsVerify) {
        ctx.set_verify_mode(ssl::verify_none);
      } else {
        ctx.set_verify_mode(ssl::verify_peer);
        if (c.caPem.empty())
          ctx.set_default_verify_paths();
        else
          ctx.add_certificate_authority(asio::buffer(c.caPem));
      }
      if (!certPem.empty()) {
        ctx.use_certificate_chain(asio::buffer(certPem));
        ctx.use_private_key(asio::buffer(keyPem), ssl::context::pem);
      }
    } catch (const boost::system::system_error& e) {
      throw TransportError("TLS setup for " + c.server + ": " + e.what());
    }
  }

  std::unique_ptr<Connection> connect() {
    boost::system::error_code ec;
    tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host, port, ec);
    if (ec) throw TransportError("resolve " + host + ": " + ec.message());
    auto c = std::make_unique<Connection>();
    if (tlsContext) {
      ssl::context* tls = nullptr;
      {
        std::lock_guard lock(mu);
        tls = currentTls;
      }
      c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, *tls);
      beast::get_lowest_layer(*c->tls).connect(endpoints, ec);
    } else {
      c->plain = std::make_unique<beast::tcp_stream>(io);
      c->plain->connect(endpoints, ec);
    }
    if (ec) throw TransportError("connect " + config.server + ": " + ec.message());
    c->socket().set_option(tcp::no_delay(true), ec);
    if (tlsContext) {
      boost::system::error_code notIp;
      asio::ip::make_address(host, notIp);
      // SNI is for names only; IP literals are matched against the certificate's IP SANs.
      if (notIp) SSL_set_tlsext_host_name(c->tls->native_handle(), host.c_str());
      if (!config.insecureSkipTlsVerify)
        c->tls->set_verify_callback(ssl::host_name_verification(host));
      c->tls->handshake(ssl::stream_base::client, ec);
      if (ec) throw TransportError("TLS handshake with " + config.server + ": " + ec.message());
    }
    return c;
  }

  http::request<http::string_body> makeRequest(const std::string& method, const std::string& target,
                                               const std::string& body,
                                               const std::string& contentType) {
    http::request<http::string_body> req{http::string_to_verb(method), basePath + target, 11};
    req.set(http::field::host, hostHeader);
    req.set(http::field::user_agent, config.userAgent);
    req.set(http::field::accept, "application/json");
    if (!config.token.empty()) req.set(http::field::authorization, "Bearer " + config.token);
    if (!contentType.empty()) req.set(http::field::content_type, contentType);
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    return req;
  }

  std::unique_ptr<Connection> takeIdle() {
    std::lock_guard lock(mu);
    if (idle.empty()) return nullptr;
    auto c = std::move(idle.back());
    idle.pop_back();
    return c;
  }

  void giveBack(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mu);
    if (static_cast<int>(idle.size()) < config.maxIdleConnections) idle.push_back(std::move(c));
  }
};

HttpTransport::HttpTransport(const ClientConfig& config) : impl_(std::make_unique<Impl>(config)) {}
HttpTransport::~HttpTransport() = default;

void HttpTransport::setClientCertificate(const std::string& certPem, const std::string& keyPem) {
  if (!impl_->tlsContext) throw TransportError("client certificates need an https server");
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  impl_->configureTls(*ctx, certPem, keyPem);
  std::lock_guard lock(impl_->mu);
  impl_->currentTls = ctx.get();
  impl_->rotatedTls.push_back(std::move(ctx));
  impl_->idle.clear();  // kept connections authenticated with the old certificate
}

HttpResult HttpTransport::request(const std::string& method, const std::string& target,
                                  const std::string& body, const std::string& contentType) {
  if (impl_->config.local) return impl_->config.local->request(method, target, body, contentType);
  auto req = impl_->makeRequest(method, target, body, contentType);
  // A pooled connection may have been closed by the server while idle; that shows up as a
  // failure on first use, so such a request is retried once on a fresh connection.
  for (int attempt = 0;; ++attempt) {
    auto conn = attempt == 0 ? impl_->takeIdle() : nullptr;
    bool reused = conn != nullptr;
    HttpResult result;
    bool keepAlive = false;
    try {
      if (!conn) conn = impl_->connect();
      conn->with([&](auto& s) {
        http::write(s, req);
        http::response_parser<http::string_body> parser;
        parser.body_limit(kMaxBody);
        http::read(s, conn->buffer, parser);
        auto& res = parser.get();
        result.status = res.result_int();
        result.contentType = std::string(res[http::field::content_type]);
        if (auto ra = res[http::field::retry_after]; !ra.empty())
          result.headers.emplace_back("Retry-After", std::string(ra));
        result.body = std::move(res.body());
        keepAlive = res.keep_alive();
      });
    } catch (const boost::system::system_error& e) {
      if (reused) {
        SKIFF_LOG_DEBUG("client reused connection failed, retrying method={} target={} err={}",
                        method, target, e.what());
        continue;
      }
      throw TransportError(method + " " + impl_->config.server + target + ": " + e.what());
    }
    if (keepAlive) impl_->giveBack(std::move(conn));
    return result;
  }
}

HttpResult HttpTransport::stream(const std::string& target,
                                 const std::function<void(std::string_view)>& onData,
                                 StreamAbort& abort) {
  if (impl_->config.local) return impl_->config.local->stream(target, onData, abort);
  HttpResult result;
  if (abort.aborted()) return result;
  std::unique_ptr<Connection> conn;
  try {
    conn = impl_->connect();
  } catch (const TransportError&) {
    if (abort.aborted()) return result;
    throw;
  }
  if (!abort.attach(conn->socket().native_handle())) return result;
  struct Detach {
    StreamAbort& a;
    ~Detach() { a.attach(-1); }
  } detach{abort};
  try {
    conn->with([&](auto& s) {
      auto req = impl_->makeRequest("GET", target, "", "");
      http::write(s, req);
      http::response_parser<http::buffer_body> parser;
      parser.body_limit(boost::none);
      http::read_header(s, conn->buffer, parser);
      result.status = parser.get().result_int();
      result.contentType = std::string(parser.get()[http::field::content_type]);
      const bool ok = result.status / 100 == 2;
      char chunk[16384];
      while (!parser.is_done()) {
        parser.get().body().data = chunk;
        parser.get().body().size = sizeof chunk;
        boost::system::error_code ec;
        // read_some returns as soon as some bytes were parsed, so events are delivered
        // when they arrive rather than when a buffer fills.
        http::read_some(s, conn->buffer, parser, ec);
        if (ec == http::error::need_buffer) ec = {};
        size_t n = sizeof chunk - parser.get().body().size;
        if (n > 0) {
          if (ok)
            onData(std::string_view(chunk, n));
          else
            result.body.append(chunk, n);
        }
        if (ec) throw boost::system::system_error(ec);
      }
    });
  } catch (const boost::system::system_error& e) {
    if (abort.aborted()) return result;
    throw TransportError("GET " + impl_->config.server + target + ": " + e.what());
  }
  return result;
}

}  // namespace skiff::client
