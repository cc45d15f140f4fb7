#include "apiserver/http_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/x509.h>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <thread>

#include "common/api_error.h"
#include "common/log.h"
#include <boost/json/serialize.hpp>
#include <boost/json/object.hpp>

namespace skiff::apiserver {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using net::awaitable;
using net::use_awaitable;
constexpr auto kTuple = net::as_tuple(use_awaitable);

namespace {

std::string toLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::pair<std::string, unsigned short> splitHostPort(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--listen must be HOST:PORT: " + listen);
  std::string host = listen.substr(0, colon);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return {host, static_cast<unsigned short>(std::stoi(listen.substr(colon + 1)))};
}

// Fills path/query/headers of our request type from Beast's.
bool translateRequest(const http::request<http::string_body>& in, HttpRequest& out) {
  out.method = std::string(in.method_string());
  out.target = std::string(in.target());
  auto parsed = boost::urls::parse_origin_form(out.target);
  if (!parsed) return false;
  out.path = parsed->path();
  for (auto param : parsed->params()) out.query.emplace(param.key, param.value);
  for (const auto& field : in) {
    std::string name = toLower(field.name_string());
    auto [it, inserted] = out.headers.emplace(name, std::string(field.value()));
    if (!inserted) it->second += ", " + std::string(field.value());
  }
  out.body = in.body();
  return true;
}

http::response<http::string_body> errorResponse(const ApiError& e, unsigned version,
                                                bool keepAlive) {
  http::response<http::string_body> res{static_cast<http::status>(e.code()), version};
  res.set(http::field::content_type, "application/json");
  res.body() = boost::json::serialize(e.toStatus());
  res.keep_alive(keepAlive);
  res.prepare_payload();
  return res;
}

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  HttpHandler handler;
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  unsigned short boundPort = 0;
  std::optional<net::ssl::context> tls;
  bool started = false;

  awaitable<void> acceptLoop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor->async_accept(net::make_strand(ioc), kTuple);
      if (ec) {
        if (ec == net::error::operation_aborted) co_return;
        SKIFF_LOG_WARN("http accept failed error=\"{}\"", ec.message());
        continue;
      }
      auto executor = socket.get_executor();
      if (tls) {
        net::co_spawn(executor, serveTls(std::move(socket)), net::detached);
      } else {
        net::co_spawn(executor, serveConnection(boost::beast::tcp_stream(std::move(socket)), {}),
                      net::detached);
      }
    }
  }

  awaitable<void> serveTls(tcp::socket socket) {
    boost::beast::ssl_stream<boost::beast::tcp_stream> stream(
        boost::beast::tcp_stream(std::move(socket)), *tls);
    boost::beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server, kTuple);
    if (ec) co_return;  // plain-HTTP clients and scanners end here
    boost::beast::get_lowest_layer(stream).expires_never();
    ClientIdentity identity = peerIdentity(stream.native_handle());
    co_await serveConnection(std::move(stream), std::move(identity));
  }

  // The verified client certificate's CN and O entries (the user and groups later).
  static ClientIdentity peerIdentity(SSL* ssl) {
    ClientIdentity id;
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (!cert) return id;
    if (SSL_get_verify_result(ssl) == X509_V_OK) {
      X509_NAME* name = X509_get_subject_name(cert);
      for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
        X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry));
        unsigned char* utf8 = nullptr;
        int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
        if (len < 0) continue;
        std::string value(reinterpret_cast<char*>(utf8), len);
        OPENSSL_free(utf8);
        if (nid == NID_commonName) id.user = value;
        if (nid == NID_organizationName) id.groups.push_back(value);
      }
    }
    X509_free(cert);
    return id;
  }

  template <class Stream>
  awaitable<void> serveConnection(Stream stream, ClientIdentity identity) {
    boost::beast::flat_buffer buffer;
    std::string remote;
    auto& lowest = boost::beast::get_lowest_layer(stream);
    {
      boost::system::error_code ec;
      auto ep = lowest.socket().remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options.maxBodyBytes);
      parser.header_limit(64 * 1024);
      lowest.expires_after(std::chrono::minutes(5));  // idle keep-alive connections
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
      (void)n;
      if (ec == http::error::body_limit) {
        auto res = errorResponse(
            requestEntityTooLarge("the request body is larger than the limit of " +
                                  std::to_string(options.maxBodyBytes) + " bytes"),
            11, false);
        co_await http::async_write(stream, res, kTuple);
        co_return;
      }
      if (ec) {
        if (ec != http::error::end_of_stream && ec != net::error::operation_aborted &&
            ec != boost::beast::error::timeout && ec != net::error::connection_reset) {
          auto res = errorResponse(badRequest("malformed HTTP request: " + ec.message()), 11, false);
          co_await http::async_write(stream, res, kTuple);
        }
        co_return;
      }
      lowest.expires_never();
      auto& beastReq = parser.get();
      const bool keepAlive = beastReq.keep_alive();
      const unsigned version = beastReq.version();

      HttpRequest req;
      req.remoteAddress = remote;
      req.client = identity;
      HttpResponse res;
      if (!translateRequest(beastReq, req)) {
        auto out = errorResponse(badRequest("malformed request target"), version, keepAlive);
        co_await http::async_write(stream, out, kTuple);
        continue;
      }
      std::optional<ApiError> failure;
      try {
        res = handler(req);
      } catch (const ApiError& e) {
        failure = e;
      } catch (const std::exception& e) {
        SKIFF_LOG_ERROR("handler failed method={} path={} error=\"{}\"", req.method, req.path,
                        e.what());
        failure = internalError(e.what());
      }
      if (failure) {
        auto out = errorResponse(*failure, version, keepAlive);
        auto [wec, wn] = co_await http::async_write(stream, out, kTuple);
        if (wec || !keepAlive) co_return;
        continue;
      }

      if (res.stream) {
        co_await streamResponse(stream, res, version);
        co_return;  // streams end the connection, as upstream's watch does
      }
      http::response<http::string_body> out{static_cast<http::status>(res.status), version};
      out.set(http::field::content_type, res.contentType);
      for (auto& [k, v] : res.headers) out.insert(k, v);
      out.body() = std::move(res.body);
      out.keep_alive(keepAlive);
      out.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, out, kTuple);
      if (wec || !keepAlive) co_return;
    }
  }

  template <class Stream>
  awaitable<void> streamResponse(Stream& stream, HttpResponse& res, unsigned version) {
    auto& lowest = boost::beast::get_lowest_layer(stream);
    auto source = res.stream;
    http::response<http::empty_body> head{static_cast<http::status>(res.status), version};
    head.set(http::field::content_type, res.contentType);
    head.set(http::field::transfer_encoding, "chunked");
    for (auto& [k, v] : res.headers) head.insert(k, v);
    http::response_serializer<http::empty_body> sr{head};
    auto [hec, hn] = co_await http::async_write_header(stream, sr, kTuple);
    if (hec) {
      source->cancel();
      co_return;
    }
    auto executor = co_await net::this_coro::executor;
    auto signal = std::make_shared<net::steady_timer>(executor);
    auto clientGone = std::make_shared<bool>(false);
    // Wake-ups may come from any thread: hop onto the connection's strand first.
    std::weak_ptr<net::steady_timer> weakSignal = signal;
    source->start([weakSignal, executor] {
      net::post(executor, [weakSignal] {
        if (auto s = weakSignal.lock()) s->cancel();
      });
    });
    // Watch the socket for the client closing it while we wait for events.
    net::co_spawn(
        executor,
        [&stream, signal, clientGone]() -> awaitable<void> {
          char byte;
          auto [ec, n] = co_await stream.async_read_some(net::buffer(&byte, 1), kTuple);
          (void)n;
          if (ec) {
            *clientGone = true;
            signal->cancel();
          }
        },
        net::detached);

    std::vector<std::string> chunks;
    bool open = true;
    while (open && !*clientGone) {
      chunks.clear();
      open = source->drain(chunks);
      for (auto& chunk : chunks) {
        auto [ec, n] =
            co_await net::async_write(stream, http::make_chunk(net::buffer(chunk)), kTuple);
        if (ec) {
          *clientGone = true;
          break;
        }
      }
      if (!open || *clientGone) break;
      if (std::chrono::steady_clock::now() >= source->deadline) break;
      signal->expires_at(source->deadline);
      co_await signal->async_wait(kTuple);
    }
    source->cancel();
    if (!*clientGone) {
      co_await net::async_write(stream, http::make_chunk_last(), kTuple);
      boost::system::error_code ec;
      lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
    // Closing cancels the reader coroutine before the stream goes away.
    boost::system::error_code ec;
    lowest.socket().close(ec);
  }
};

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  const auto& o = impl_->options;
  if (!o.tlsCertFile.empty()) {
    auto& ctx = impl_->tls.emplace(net::ssl::context::tls_server);
    ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                    net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                    net::ssl::context::no_tlsv1_1);
    ctx.use_certificate_chain_file(o.tlsCertFile);
    ctx.use_private_key_file(o.tlsKeyFile, net::ssl::context::pem);
    if (!o.clientCaFile.empty()) {
      // Client certificates are optional (tokens come later) but verified when sent.
      ctx.load_verify_file(o.clientCaFile);
      ctx.set_verify_mode(net::ssl::verify_peer);
      ctx.set_verify_callback([](bool, net::ssl::verify_context&) { return true; });
    }
  }
  auto [host, port] = splitHostPort(impl_->options.listen);
  tcp::endpoint endpoint(net::ip::make_address(host), port);
  impl_->acceptor.emplace(impl_->ioc);
  impl_->acceptor->open(endpoint.protocol());
  impl_->acceptor->set_option(net::socket_base::reuse_address(true));
  impl_->acceptor->bind(endpoint);
  impl_->acceptor->listen(net::socket_base::max_listen_connections);
  impl_->boundPort = impl_->acceptor->local_endpoint().port();
  net::co_spawn(impl_->ioc, impl_->acceptLoop(), net::detached);
  impl_->started = true;
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i)
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
}

void HttpServer::stop() {
  if (!impl_ || !impl_->started) return;
  impl_->started = false;
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

unsigned short HttpServer::port() const { return impl_->boundPort; }

}  // namespace skiff::apiserver
