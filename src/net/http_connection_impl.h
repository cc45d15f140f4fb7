// Internal to the HTTP server: the per-connection coroutines, written once for plain and TLS
// streams. Included only by http_connection_plain.cpp and http_connection_tls.cpp, which
// compile in parallel (this is the heaviest code in the project to compile).
#pragma once

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <optional>

#include "common/api_error.h"
#include "common/log.h"
#include "common/thread_name.h"
#include "net/http_connection.h"
#include "net/upgrade_sessions.h"
#include "net/upgraded_connection.h"

namespace skiff::net::detail {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// A streamed response writes what one drain returned in chunks of up to this many bytes.
constexpr size_t kStreamBatchBytes = 64 * 1024;

inline std::string toLower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Fills path/query/headers of our request type from Beast's.
inline bool translateRequest(const http::request<http::string_body>& in, HttpRequest& out) {
  out.method = std::string(in.method_string());
  out.target = std::string(in.target());
  if (!parseTarget(out)) return false;
  for (const auto& field : in) {
    std::string name = toLower(field.name_string());
    auto [it, inserted] = out.headers.emplace(name, std::string(field.value()));
    if (!inserted) it->second += ", " + std::string(field.value());
  }
  out.body = in.body();
  return true;
}

// `req` is null when the request itself could not be read.
inline http::response<http::string_body> errorResponse(const ApiError& e, unsigned version,
                                                       bool keepAlive,
                                                       const HttpRequest* req = nullptr) {
  HttpResponse status = statusResponse(e, req);
  http::response<http::string_body> res{static_cast<http::status>(e.code()), version};
  res.set(http::field::content_type, status.contentType);
  for (auto& [k, v] : status.headers) res.insert(k, v);
  res.body() = std::move(status.body);
  res.keep_alive(keepAlive);
  res.prepare_payload();
  return res;
}

template <class Stream>
awaitable<void> streamResponse(Stream& stream, HttpResponse& res, unsigned version,
                               std::chrono::milliseconds writeTimeout);

// The pool a request runs on instead of its connection's loop, or null for the loop.
inline asio::thread_pool* poolFor(const ConnectionContext& ctx, const HttpRequest& req) {
  if (ctx.blocking && ctx.mayBlock && *ctx.mayBlock && (*ctx.mayBlock)(req)) return ctx.blocking;
  if (ctx.writes && ctx.waitsForCommit && *ctx.waitsForCommit && (*ctx.waitsForCommit)(req))
    return ctx.writes;
  return nullptr;
}

// asio's pools start their threads themselves: each names itself on its first request, so
// profiles and `top -H` tell writes waiting for a commit from the event loops.
inline void namePoolThread(const char* name) {
  static thread_local bool named = false;
  if (!named) {
    setThreadName(name);
    named = true;
  }
}

// Counts one write in flight (ConnectionContext::writesInFlight) while alive.
class WriteInFlight {
 public:
  explicit WriteInFlight(std::atomic<int>& n) : n_(n), others_(n.fetch_add(1)) {}
  ~WriteInFlight() { n_.fetch_sub(1); }
  WriteInFlight(const WriteInFlight&) = delete;
  WriteInFlight& operator=(const WriteInFlight&) = delete;
  bool aloneOnArrival() const { return others_ == 0; }
  bool alone() const { return n_.load() == 1; }

 private:
  std::atomic<int>& n_;
  int others_;
};

// Runs the handler (and finishes its API object) on the calling thread; `admitted` marks
// it admitted on arrival for takeAdmittedOnArrival().
inline HttpResponse runHandler(const ConnectionContext& ctx, HttpRequest& req, bool admitted) {
  admittedOnArrival = admitted;
  struct Clear {
    ~Clear() { admittedOnArrival = false; }
  } clear;
  HttpResponse res = (*ctx.handler)(req);
  finishApiObject(req, res);  // on a pool, a large list's gzip stays off the event loop too
  return res;
}

// Runs the handler on the connection's loop, or on the blocking pool for requests that may
// wait on another server, or on the write pool for those that wait for a commit (unless no
// other is in flight); the coroutine resumes on its own loop either way.
inline awaitable<HttpResponse> callHandler(const ConnectionContext& ctx, HttpRequest& req) {
  asio::thread_pool* pool = poolFor(ctx, req);
  if (!pool) co_return runHandler(ctx, req, false);
  // Admission first, while the request is still on its loop: it counts from its arrival,
  // not from when a pool thread gets to it. The hold is released once the handler returned.
  std::shared_ptr<void> hold;
  const bool admitted = ctx.admit && *ctx.admit;
  if (admitted)
    if (auto refused = (*ctx.admit)(req, hold)) co_return std::move(*refused);
  std::optional<WriteInFlight> write;
  if (pool == ctx.writes && ctx.writesInFlight) {
    write.emplace(*ctx.writesInFlight);
    if (write->aloneOnArrival()) {
      // Nothing to be committed with so far. Give the requests this loop has already read
      // their turn first (a post to our own queue: no wake-up): a write among them counts
      // itself, and then this one goes to the pool too. Still alone: run it here.
      co_await asio::post(asio::use_awaitable);
      if (write->alone()) {
        if (ctx.writesInline) ctx.writesInline->fetch_add(1, std::memory_order_relaxed);
        co_return runHandler(ctx, req, admitted);
      }
    }
    if (ctx.writesPooled) ctx.writesPooled->fetch_add(1, std::memory_order_relaxed);
  }
  co_return co_await asio::co_spawn(
      pool->get_executor(),
      [&ctx, &req, admitted,
       name = pool == ctx.writes ? "http-write" : "http-blocking"]() -> awaitable<HttpResponse> {
        namePoolThread(name);
        co_return runHandler(ctx, req, admitted);
      },
      asio::use_awaitable);
}

template <class Stream>
awaitable<void> serveConnection(Stream stream, std::shared_ptr<const ClientIdentity> identity,
                                const ConnectionContext& ctx) {
  boost::beast::flat_buffer buffer;
  std::string remote, local;
  auto& lowest = boost::beast::get_lowest_layer(stream);
  {
    boost::system::error_code ec;
    auto ep = lowest.socket().remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    auto lep = lowest.socket().local_endpoint(ec);
    if (!ec) local = lep.address().to_string() + ":" + std::to_string(lep.port());
  }
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(ctx.maxBodyBytes);
    parser.header_limit(64 * 1024);
    // An idle keep-alive connection waits for the first byte of its next request...
    if (buffer.size() == 0) {
      lowest.expires_after(ctx.idleTimeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kTuple);
      if (ec) co_return;  // closed, reset, or idle too long
      buffer.commit(n);
    }
    // ...then the headers must be complete soon (a slow-header client is dropped, and only
    // ever held a coroutine frame and a socket), and the body after them.
    lowest.expires_after(ctx.headerTimeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    if (!ec && !parser.is_done()) {
      lowest.expires_after(ctx.bodyTimeout);
      std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kTuple);
    }
    (void)n;
    lowest.expires_after(ctx.writeTimeout);  // for an error answer written below
    if (ec == http::error::body_limit) {
      auto res = errorResponse(
          requestEntityTooLarge("limit is " + std::to_string(ctx.maxBodyBytes)), 11, false);
      co_await http::async_write(stream, res, kTuple);
      co_return;
    }
    if (ec) {
      if (ec != http::error::end_of_stream && ec != asio::error::operation_aborted &&
          ec != boost::beast::error::timeout && ec != asio::error::connection_reset) {
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
    req.localAddress = local;
    req.client = identity;
    HttpResponse res;
    if (!translateRequest(beastReq, req)) {
      auto out = errorResponse(badRequest("malformed request target"), version, keepAlive);
      co_await http::async_write(stream, out, kTuple);
      continue;
    }
    std::optional<ApiError> failure;
    // Each upgraded connection takes a thread: past the cap, refuse before the handler dials
    // anything (a kubelet, containerd).
    if (ctx.maxUpgradedConnections > 0 && !req.header("upgrade").empty() &&
        ctx.upgrades->running() >= ctx.maxUpgradedConnections) {
      auto out = errorResponse(
          tooManyRequests("too many upgraded connections (exec, attach, port-forward), please "
                          "try again later",
                          1),
          version, keepAlive, &req);
      lowest.expires_after(ctx.writeTimeout);
      auto [wec, wn] = co_await http::async_write(stream, out, kTuple);
      if (wec || !keepAlive) co_return;
      lowest.expires_never();
      continue;
    }
    try {
      res = co_await callHandler(ctx, req);
    } catch (const ApiError& e) {
      failure = e;
    } catch (const std::exception& e) {
      SKIFF_LOG_ERROR("handler failed method={} path={} error=\"{}\"", req.method, req.path,
                      e.what());
      failure = internalError(e.what());
    }
    lowest.expires_after(ctx.writeTimeout);  // a client that does not read is dropped
    if (failure) {
      auto out = errorResponse(*failure, version, keepAlive, &req);
      auto [wec, wn] = co_await http::async_write(stream, out, kTuple);
      if (wec || !keepAlive) co_return;
      continue;
    }

    if (res.status == 101) {
      if (!res.upgrade) {
        // A handler bug: there is no protocol to switch to.
        SKIFF_LOG_ERROR("handler answered 101 without an upgrade handler method={} path={}",
                        req.method, req.path);
        auto out = errorResponse(
            internalError("the handler switched protocols without taking the connection over"),
            version, keepAlive);
        auto [wec, wn] = co_await http::async_write(stream, out, kTuple);
        if (wec || !keepAlive) co_return;
        continue;
      }
      // Only the handler's headers (Connection: Upgrade, Upgrade, Sec-WebSocket-Accept...):
      // no body, no Content-Length, no Content-Type.
      http::response<http::empty_body> head{http::status::switching_protocols, version};
      for (auto& [k, v] : res.headers) head.insert(k, v);
      auto [wec, wn] = co_await http::async_write(stream, head, kTuple);
      if (wec) co_return;
      lowest.expires_never();  // the upgraded protocol has its own rules
      // What the client sent after its request (the new protocol's first frames) is already
      // in our buffer; the taken-over connection delivers it first.
      std::string early(static_cast<const char*>(buffer.data().data()), buffer.size());
      ctx.upgrades->launch(makeUpgradedTransport<Stream>(std::move(stream), std::move(early)),
                           std::move(res.upgrade));
      co_return;  // HTTP is over on this connection; `stream` is moved-from
    }
    if (res.stream) {
      co_await streamResponse(stream, res, version, ctx.writeTimeout);
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
awaitable<void> streamResponse(Stream& stream, HttpResponse& res, unsigned version,
                               std::chrono::milliseconds writeTimeout) {
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
  // Idle watches wait without a deadline; each write below has one (a watcher that stops
  // reading is dropped instead of holding its backlog).
  lowest.expires_never();
  auto executor = co_await asio::this_coro::executor;
  auto signal = std::make_shared<asio::steady_timer>(executor);
  auto clientGone = std::make_shared<bool>(false);
  auto readerDone = std::make_shared<bool>(false);
  // Wake-ups may come from any thread: hop onto the connection's strand first.
  std::weak_ptr<asio::steady_timer> weakSignal = signal;
  // Set by every wake-up: one that comes while chunks are being written finds no wait to
  // cancel, and would otherwise leave its events queued until the next event or deadline.
  auto woken = std::make_shared<std::atomic<bool>>(false);
  // Only the wake-up that finds `woken` clear posts: the others come before the loop below
  // drained, and that drain takes their events too. A busy watch so costs the loop one
  // posted handler (and the event loop one interrupt) per drain, not one per event.
  source->start([weakSignal, woken, executor] {
    if (woken->exchange(true)) return;
    asio::post(executor, [weakSignal] {
      if (auto s = weakSignal.lock()) s->cancel();
    });
  });
  // Watch the socket for the client closing it while we wait for events.
  asio::co_spawn(
      executor,
      [&stream, signal, clientGone, readerDone]() -> awaitable<void> {
        char byte;
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(&byte, 1), kTuple);
        (void)n;
        if (ec) *clientGone = true;
        *readerDone = true;
        signal->cancel();
      },
      asio::detached);

  std::vector<std::string> chunks;
  std::string batch;
  bool open = true;
  while (open && !*clientGone) {
    chunks.clear();
    woken->store(false);
    open = source->drain(chunks);
    // What one drain returned goes out as few HTTP chunks (so few TLS records and
    // syscalls) as possible: clients split the stream by lines, not by chunks.
    for (size_t i = 0; i < chunks.size() && !*clientGone;) {
      const std::string* out = &chunks[i++];
      if (i < chunks.size() && out->size() + chunks[i].size() <= kStreamBatchBytes) {
        batch = *out;
        for (; i < chunks.size() && batch.size() + chunks[i].size() <= kStreamBatchBytes; ++i)
          batch += chunks[i];
        out = &batch;
      }
      lowest.expires_after(writeTimeout);
      auto [ec, n] =
          co_await asio::async_write(stream, http::make_chunk(asio::buffer(*out)), kTuple);
      lowest.expires_never();
      if (ec) *clientGone = true;
    }
    if (!open || *clientGone) break;
    if (std::chrono::steady_clock::now() >= source->deadline) break;
    if (woken->load()) continue;  // events arrived during the writes: drain them now
    signal->expires_at(source->nextLook());
    co_await signal->async_wait(kTuple);
  }
  source->cancel();
  if (!*clientGone) {
    lowest.expires_after(writeTimeout);
    co_await asio::async_write(stream, http::make_chunk_last(), kTuple);
    boost::system::error_code ec;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
  }
  // Closing aborts the reader's pending read; wait for it to finish, since that operation
  // still uses the stream (with TLS, its engine) until it completes.
  boost::system::error_code ec;
  lowest.socket().close(ec);
  while (!*readerDone) {
    signal->expires_after(std::chrono::seconds(5));
    co_await signal->async_wait(kTuple);
  }
}

}  // namespace skiff::net::detail
