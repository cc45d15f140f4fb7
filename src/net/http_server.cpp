#include "net/http_server.h"

#include <sys/resource.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <thread>
#include <utility>

#include "common/log.h"
#include "common/metrics.h"
#include "common/thread_name.h"
#include "net/http_connection.h"
#include "net/upgrade_sessions.h"

namespace skiff::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace detail {
thread_local bool admittedOnArrival = false;
}  // namespace detail

bool takeAdmittedOnArrival() { return std::exchange(detail::admittedOnArrival, false); }

namespace {

std::pair<std::string, unsigned short> splitHostPort(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--listen must be HOST:PORT: " + listen);
  std::string host = listen.substr(0, colon);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return {host, static_cast<unsigned short>(std::stoi(listen.substr(colon + 1)))};
}

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  HttpHandler handler;
  detail::ConnectionContext context;
  // One event loop per thread, each serving its share of the connections (assigned in
  // turn as they are accepted). A connection's requests, writes and wake-ups then stay on
  // one thread: with one io_context run by N threads every completion could wake another
  // thread, and on 2 cores that hand-off cost more than the handlers (scheduler_perf:
  // server CPU 4.2 s with one thread, 5.0 s with two sharing a loop, 6.0 s with four).
  std::vector<std::unique_ptr<asio::io_context>> loops;
  // Keep idle loops running until stop(): a loop without connections has no work.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keepRunning;
  size_t nextLoop = 0;
  std::optional<asio::thread_pool> blocking;              // HttpServerOptions::mayBlock
  std::optional<asio::thread_pool> writes;                // HttpServerOptions::waitsForCommit
  std::atomic<int> writesInFlight{0};                     // ConnectionContext::writesInFlight
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;  // listen, then additionalListen
  std::vector<std::thread> threads;
  std::vector<unsigned short> boundPorts;
  std::optional<asio::ssl::context> tls;
  // Shared with the handler threads, which may outlive the server (see stop()).
  std::shared_ptr<detail::UpgradeSessions> upgrades = std::make_shared<detail::UpgradeSessions>();
  bool started = false;
  bool acceptFailing = false;

  asio::awaitable<void> acceptLoop(tcp::acceptor* acceptor) {
    for (;;) {
      auto& loop = *loops[nextLoop++ % loops.size()];
      auto [ec, socket] =
          co_await acceptor->async_accept(loop, asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        // Out of descriptors (EMFILE/ENFILE) or memory: the pending connection stays in the
        // backlog and accept fails again at once, so back off instead of spinning a core,
        // and log once per streak rather than per attempt.
        if (!acceptFailing)
          SKIFF_LOG_WARN("http accept failed, backing off error=\"{}\"", ec.message());
        acceptFailing = true;
        asio::steady_timer pause(co_await asio::this_coro::executor);
        pause.expires_after(std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      if (acceptFailing) SKIFF_LOG_INFO("http accept recovered");
      acceptFailing = false;
      auto executor = socket.get_executor();
      if (tls)
        asio::co_spawn(executor, detail::serveTls(std::move(socket), *tls, context),
                       asio::detached);
      else
        asio::co_spawn(executor, detail::servePlain(std::move(socket), context), asio::detached);
    }
  }
};

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
  impl_->context.handler = &impl_->handler;
  impl_->context.maxBodyBytes = impl_->options.maxBodyBytes;
  impl_->context.upgrades = impl_->upgrades.get();
  const auto& o = impl_->options;
  impl_->context.idleTimeout = o.idleTimeout;
  impl_->context.headerTimeout = o.headerTimeout;
  impl_->context.bodyTimeout = o.bodyTimeout;
  impl_->context.writeTimeout = o.writeTimeout;
  impl_->context.maxUpgradedConnections = o.maxUpgradedConnections;
}

namespace {
// As Go programs do at start: the soft descriptor limit up to the hard one, so thousands of
// client connections do not run into a default of 1,024.
void raiseDescriptorLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}
}  // namespace

HttpServer::~HttpServer() { stop(); }

namespace {
// Requests already on the pool finish; those still queued are dropped with their loops.
void stopPool(std::optional<asio::thread_pool>& pool) {
  if (!pool) return;
  pool->stop();
  pool->join();
  pool.reset();
}
}  // namespace

void HttpServer::start() {
  const auto& o = impl_->options;
  raiseDescriptorLimit();
  if (!o.tlsCertFile.empty()) {
    auto& ctx = impl_->tls.emplace(asio::ssl::context::tls_server);
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1);
    ctx.use_certificate_chain_file(o.tlsCertFile);
    ctx.use_private_key_file(o.tlsKeyFile, asio::ssl::context::pem);
    if (!o.clientCaFile.empty()) {
      // Client certificates are optional (tokens come later) but verified when sent.
      ctx.load_verify_file(o.clientCaFile);
      ctx.set_verify_mode(asio::ssl::verify_peer);
      ctx.set_verify_callback([](bool, asio::ssl::verify_context&) { return true; });
      // A resumed session (TLS 1.3 ticket) carries the certificate its full handshake
      // verified. A server that verifies peers needs a session context for that: without one
      // OpenSSL fails the handshake of every client that offers a session ("session id
      // context uninitialized"; unit test MetricsApiTest.ScrapesResumeTheirTlsSession).
      static constexpr unsigned char kSessionContext[] = "skiff";
      SSL_CTX_set_session_id_context(ctx.native_handle(), kSessionContext,
                                     sizeof kSessionContext - 1);
    }
  }
  const int threads = std::max(1, impl_->options.threads);
  impl_->loops.clear();
  impl_->keepRunning.clear();
  for (int i = 0; i < threads; ++i) {
    impl_->loops.push_back(std::make_unique<asio::io_context>(1));
    impl_->keepRunning.push_back(asio::make_work_guard(*impl_->loops.back()));
  }
  impl_->acceptors.clear();
  impl_->boundPorts.clear();
  std::vector<std::string> addresses{o.listen};
  addresses.insert(addresses.end(), o.additionalListen.begin(), o.additionalListen.end());
  for (const auto& address : addresses) {
    auto [host, port] = splitHostPort(address);
    tcp::endpoint endpoint(asio::ip::make_address(host), port);
    auto acceptor = std::make_unique<tcp::acceptor>(*impl_->loops[0]);
    acceptor->open(endpoint.protocol());
    acceptor->set_option(asio::socket_base::reuse_address(true));
    acceptor->bind(endpoint);
    acceptor->listen(asio::socket_base::max_listen_connections);
    impl_->boundPorts.push_back(acceptor->local_endpoint().port());
    impl_->acceptors.push_back(std::move(acceptor));
  }
  if (o.mayBlock) {
    impl_->blocking.emplace(std::max(1, o.blockingThreads));
    impl_->context.mayBlock = &impl_->options.mayBlock;
    impl_->context.blocking = &*impl_->blocking;
  }
  if (o.waitsForCommit) {
    impl_->writes.emplace(std::max(1, o.writeThreads));
    impl_->context.waitsForCommit = &impl_->options.waitsForCommit;
    impl_->context.writes = &*impl_->writes;
    impl_->context.writesInFlight = &impl_->writesInFlight;
    auto& metrics = Metrics::global();
    metrics.describe("skiff_http_commit_waits_total", "counter",
                     "Requests that wait for a commit (creates, updates, deletes), by where they "
                     "ran: on the write pool, or on their event loop when no other was in flight.");
    impl_->context.writesInline =
        &metrics.series("skiff_http_commit_waits_total", {{"on", "loop"}});
    impl_->context.writesPooled =
        &metrics.series("skiff_http_commit_waits_total", {{"on", "pool"}});
  }
  if (o.admit) impl_->context.admit = &impl_->options.admit;
  for (auto& acceptor : impl_->acceptors)
    asio::co_spawn(*impl_->loops[0], impl_->acceptLoop(acceptor.get()), asio::detached);
  impl_->started = true;
  for (auto& loop : impl_->loops)
    impl_->threads.emplace_back(namedThread("http", [l = loop.get()] { l->run(); }));
}

void HttpServer::stop() {
  if (!impl_ || !impl_->started) return;
  impl_->started = false;
  // Upgraded connections first, while the io_context still runs their closing; then the
  // io_context; then whatever upgraded streams handlers that did not return still hold.
  impl_->upgrades->closeAll(impl_->options.upgradeStopGrace);
  impl_->keepRunning.clear();
  for (auto& loop : impl_->loops) loop->stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  stopPool(impl_->blocking);
  stopPool(impl_->writes);
  impl_->upgrades->releaseAll();
}

unsigned short HttpServer::port() const {
  return impl_->boundPorts.empty() ? 0 : impl_->boundPorts.front();
}
std::vector<unsigned short> HttpServer::ports() const { return impl_->boundPorts; }

}  // namespace skiff::net
