// The API server's kubelet-facing subresources (see kubelet_proxy.h). pods/log talks to the
// kubelet with Beast here; exec, attach, port-forward and nodes/proxy go through
// KubeletTunnel (kubelet_tunnel.cpp).
//
// A pods/log request runs on the HTTP server thread that called podLog(): connect, TLS handshake,
// request and response headers happen there with timeouts (async operations on a private
// io_context, run to completion), so failures become an ordinary error response. A 2xx body
// is then relayed by a thread of its own that reads the kubelet's chunks and hands them to
// the client's connection through a StreamSource; cancel() (client gone) closes the kubelet
// connection, which ends that thread.
#include "apiserver/kubelet_proxy.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "api/json_access.h"
#include "apiserver/kubelet_scrape_connection.h"
#include "apiserver/kubelet_tunnel.h"
#include "apiserver/request_options.h"
#include "common/api_error.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/pki.h"
#include "net/go_net_error.h"

namespace skiff::apiserver {

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Upstream reads at most this much of a kubelet's error body.
constexpr size_t kMaxErrorBody = 50000;
// Kubelet output buffered for a slow client before the relay stops reading.
constexpr size_t kMaxQueuedBytes = 1 << 20;

// --- PodLogOptions from the query, as upstream's parameter codec and validation.

struct PodLogOptions {
  std::string container;
  bool follow = false, previous = false, timestamps = false;
  std::optional<int64_t> sinceSeconds, tailLines, limitBytes;
  std::optional<std::string> sinceTime;
};

PodLogOptions parseOptions(const HttpRequest& req, const std::string& name) {
  PodLogOptions o;
  o.container = req.paramOr("container", "");
  o.follow = req.flag("follow");
  o.previous = req.flag("previous");
  o.timestamps = req.flag("timestamps");
  o.sinceSeconds = int64Param(req, "sinceSeconds");
  o.tailLines = int64Param(req, "tailLines");
  o.limitBytes = int64Param(req, "limitBytes");
  if (auto t = req.param("sinceTime"); t && !t->empty()) {
    std::chrono::system_clock::time_point since;
    if (!parseTime(*t, since))
      throw badRequest("parsing time \"" + *t +
                       "\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"" + *t +
                       "\" as RFC 3339");
    o.sinceTime = formatTime(since);  // passed on in seconds, as upstream formats it
  }
  std::vector<StatusCause> causes;
  if (o.tailLines && *o.tailLines < 0)
    causes.push_back(
        {"FieldValueInvalid",
         "Invalid value: " + std::to_string(*o.tailLines) + ": must be greater than or equal to 0",
         "tailLines"});
  if (o.limitBytes && *o.limitBytes < 1)
    causes.push_back(
        {"FieldValueInvalid",
         "Invalid value: " + std::to_string(*o.limitBytes) + ": must be greater than 0",
         "limitBytes"});
  if (o.sinceSeconds && o.sinceTime)
    causes.push_back({"FieldValueForbidden",
                      "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
                      ""});
  else if (o.sinceSeconds && *o.sinceSeconds < 1)
    causes.push_back(
        {"FieldValueInvalid",
         "Invalid value: " + std::to_string(*o.sinceSeconds) + ": must be greater than 0",
         "sinceSeconds"});
  if (!causes.empty()) throw invalid("PodLogOptions", "", name, std::move(causes));
  return o;
}

// Upstream's validateContainer: the container may be left out only when there is one.
std::string chooseContainer(const json::object& pod, const std::string& requested,
                            const std::string& name) {
  const json::object* spec = api::objectField(pod, "spec");
  std::vector<std::string> all;  // init, regular, ephemeral: upstream's visiting order
  size_t regular = 0;
  std::string onlyRegular;
  for (const char* field : {"initContainers", "containers", "ephemeralContainers"}) {
    const json::value* list = spec ? spec->if_contains(field) : nullptr;
    if (!list || !list->is_array()) continue;
    for (const auto& c : list->as_array()) {
      if (!c.is_object()) continue;
      std::string n = api::stringField(c.as_object(), "name");
      all.push_back(n);
      if (std::string_view(field) == "containers") ++regular, onlyRegular = n;
    }
  }
  if (!requested.empty()) {
    if (std::find(all.begin(), all.end(), requested) == all.end())
      throw badRequest("container " + requested + " is not valid for pod " + name);
    return requested;
  }
  if (regular == 1) return onlyRegular;
  if (regular == 0) throw badRequest("a container name must be specified for pod " + name);
  std::string names;
  for (const auto& n : all) names += (names.empty() ? "" : " ") + n;
  throw badRequest("a container name must be specified for pod " + name + ", choose one of: [" +
                   names + "]");
}

// --- The kubelet's address.

struct KubeletEndpoint {
  std::string host;
  int port = 0;
  std::string hostPort() const {
    bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
};

KubeletEndpoint nodeEndpoint(const json::object& node, const KubeletClientOptions& options) {
  const json::object* status = api::objectField(node, "status");
  const json::value* addresses = status ? status->if_contains("addresses") : nullptr;
  KubeletEndpoint ep;
  if (addresses && addresses->is_array()) {
    for (const auto& type : options.preferredAddressTypes) {
      for (const auto& a : addresses->as_array()) {
        if (!a.is_object() || api::stringField(a.as_object(), "type") != type) continue;
        ep.host = api::stringField(a.as_object(), "address");
        if (!ep.host.empty()) break;
      }
      if (!ep.host.empty()) break;
    }
  }
  if (ep.host.empty()) {
    // Upstream's NoMatchError, printed as Go prints []NodeAddress.
    std::string known;
    if (addresses && addresses->is_array())
      for (const auto& a : addresses->as_array())
        if (a.is_object())
          known += (known.empty() ? "{" : " {") + api::stringField(a.as_object(), "type") + " " +
                   api::stringField(a.as_object(), "address") + "}";
    throw ApiError(500, "", "no preferred addresses found; known addresses: [" + known + "]");
  }
  ep.port = options.defaultPort;
  if (const json::object* daemon = status ? api::objectField(*status, "daemonEndpoints") : nullptr)
    if (const json::object* kubelet = api::objectField(*daemon, "kubeletEndpoint"))
      if (auto* p = kubelet->if_contains("Port")) {
        int64_t port = p->is_int64()    ? p->as_int64()
                       : p->is_uint64() ? static_cast<int64_t>(p->as_uint64())
                                        : 0;
        if (port > 0 && port < 65536) ep.port = static_cast<int>(port);
      }
  const json::object* meta = api::objectField(node, "metadata");
  checkKubeletDestination(meta ? api::stringField(*meta, "name") : "", ep.host, options);
  return ep;
}

std::string percentEncode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The raw query of a request target, without '?'.
std::string rawQuery(const std::string& target) {
  size_t q = target.find('?');
  return q == std::string::npos ? std::string() : target.substr(q + 1);
}

// Path and query on the kubelet, with the parameters in Go's url.Values order (sorted).
std::string kubeletTarget(const json::object& pod, const std::string& container,
                          const PodLogOptions& o) {
  const json::object* meta = api::objectField(pod, "metadata");
  std::string target =
      "/containerLogs/" + percentEncode(meta ? api::stringField(*meta, "namespace") : "") + "/" +
      percentEncode(meta ? api::stringField(*meta, "name") : "") + "/" + percentEncode(container);
  std::map<std::string, std::string> params;
  if (o.follow) params["follow"] = "true";
  if (o.previous) params["previous"] = "true";
  if (o.timestamps) params["timestamps"] = "true";
  if (o.sinceSeconds) params["sinceSeconds"] = std::to_string(*o.sinceSeconds);
  if (o.sinceTime) params["sinceTime"] = *o.sinceTime;
  if (o.tailLines) params["tailLines"] = std::to_string(*o.tailLines);
  if (o.limitBytes) params["limitBytes"] = std::to_string(*o.limitBytes);
  char sep = '?';
  for (const auto& [k, v] : params) {
    target += sep + k + "=" + percentEncode(v);
    sep = '&';
  }
  return target;
}

// --- One HTTPS exchange with a kubelet.

struct KubeletConnection {
  asio::io_context ioc;  // run only by the thread using the connection
  beast::ssl_stream<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;

  explicit KubeletConnection(ssl::context& tls) : stream(ioc, tls) {
    parser.body_limit(boost::none);
  }

  // Runs one asynchronous operation to completion on this thread, bounded by `timeout`
  // (zero: no bound).
  template <class Start>
  error_code run(std::chrono::milliseconds timeout, Start start) {
    error_code result = asio::error::would_block;
    auto& lowest = beast::get_lowest_layer(stream);
    if (timeout.count() > 0)
      lowest.expires_after(timeout);
    else
      lowest.expires_never();
    start([&result](error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    lowest.expires_never();
    return result;
  }

  // Reads up to `n` body bytes into `buf`; `got` says how many. end_of_stream is not an
  // error once the message is complete (check parser.is_done()).
  error_code readSome(char* buf, size_t n, size_t& got, std::chrono::milliseconds timeout) {
    parser.get().body().data = buf;
    parser.get().body().size = n;
    error_code ec = run(timeout, [&](auto handler) {
      http::async_read_some(stream, buffer, parser, std::move(handler));
    });
    if (ec == http::error::need_buffer) ec = {};
    got = n - parser.get().body().size;
    return ec;
  }

  void close() {
    error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream).socket().close(ignored);
  }
};

// Relays a kubelet's 2xx body to the client's connection.
class KubeletLogStream : public StreamSource {
 public:
  explicit KubeletLogStream(std::unique_ptr<KubeletConnection> conn)
      : shared_(std::make_shared<Shared>()) {
    shared_->conn = std::move(conn);
  }
  ~KubeletLogStream() override {
    cancel();
    if (reader_.joinable()) reader_.join();
  }

  void start(std::function<void()> wake) override {
    {
      std::lock_guard lock(shared_->mu);
      shared_->wake = std::move(wake);
      if (shared_->cancelled) return;
    }
    reader_ = std::thread([s = shared_] { s->relay(); });
  }

  bool drain(std::vector<std::string>& out) override {
    std::lock_guard lock(shared_->mu);
    for (auto& c : shared_->chunks) out.push_back(std::move(c));
    shared_->chunks.clear();
    shared_->queued = 0;
    shared_->cv.notify_all();
    return !shared_->done;
  }

  void cancel() override {
    std::lock_guard lock(shared_->mu);
    if (shared_->cancelled) return;
    shared_->cancelled = true;
    shared_->cv.notify_all();
    // Runs inside the relay's io_context: aborts the read it is blocked in.
    auto* conn = shared_->conn.get();
    asio::post(conn->ioc, [conn] { conn->close(); });
  }

 private:
  struct Shared {
    std::unique_ptr<KubeletConnection> conn;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::string> chunks;
    size_t queued = 0;
    bool done = false, cancelled = false;
    std::function<void()> wake;

    void relay() {
      char buf[16384];
      for (;;) {
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [this] { return cancelled || queued < kMaxQueuedBytes; });
          if (cancelled) break;
        }
        if (conn->parser.is_done()) break;
        size_t got = 0;
        error_code ec = conn->readSome(buf, sizeof buf, got, std::chrono::milliseconds(0));
        if (got > 0) {
          std::lock_guard lock(mu);
          chunks.emplace_back(buf, got);
          queued += got;
          if (!cancelled && wake) wake();
        }
        if (ec) {
          if (ec != asio::error::operation_aborted && ec != http::error::end_of_stream)
            SKIFF_LOG_DEBUG("kubelet log stream ended error=\"{}\"", ec.message());
          break;
        }
      }
      conn->close();
      std::lock_guard lock(mu);
      done = true;
      if (!cancelled && wake) wake();
    }
  };
  std::shared_ptr<Shared> shared_;
  std::thread reader_;
};

// The kubelet's error answer as our error: its Status passes through; text is wrapped the
// way upstream's GenericHttpResponseChecker does.
HttpResponse kubeletError(int code, const std::string& body, const std::string& contentType) {
  if (contentType.find("json") != std::string::npos) {
    error_code ec;
    json::value v = json::parse(body, ec);
    if (!ec && v.is_object() && api::stringField(v.as_object(), "kind") == "Status") {
      HttpResponse res;
      res.status = code;
      res.body = body;
      return res;
    }
  }
  if (code == 500) throw internalError(body);
  if (code == 400) throw badRequest(body);
  std::string reason;
  switch (code) {
    case 401:
      reason = "Unauthorized";
      break;
    case 403:
      reason = "Forbidden";
      break;
    case 404:
      reason = "NotFound";
      break;
    case 409:
      reason = "Conflict";
      break;
    case 422:
      reason = "Invalid";
      break;
    case 429:
      reason = "TooManyRequests";
      break;
    case 503:
      reason = "ServiceUnavailable";
      break;
    case 504:
      reason = "Timeout";
      break;
    default:
      break;
  }
  throw ApiError(code, reason,
                 body.empty() ? "the server responded with status " + std::to_string(code) : body);
}

}  // namespace

std::optional<NodeProxyRequest> parseNodeProxyPath(const std::string& target) {
  static constexpr std::string_view kNodes = "/api/v1/nodes/";
  std::string_view path(target);
  path = path.substr(0, std::min(path.find('?'), path.size()));
  if (!path.starts_with(kNodes)) return std::nullopt;
  std::string_view rest = path.substr(kNodes.size());
  size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos) return std::nullopt;
  std::string_view sub = rest.substr(slash);
  if (sub != "/proxy" && !sub.starts_with("/proxy/")) return std::nullopt;
  NodeProxyRequest np;
  np.name = percentDecode(rest.substr(0, slash));
  np.path = std::string(sub.substr(6));
  np.prefix = std::string(path.substr(0, kNodes.size() + slash + 6));
  np.query = rawQuery(target);
  return np;
}

struct KubeletProxy::Impl {
  KubeletClientOptions options;
  ssl::context tls{ssl::context::tls_client};
  std::unique_ptr<KubeletTunnel> tunnel;
  // getWhole()'s kubelets, by node|host:port: the connection kept open between scrapes
  // (kubelet_scrape_connection.h: ~11 KB idle), and the TLS session a new connection
  // resumes when the kubelet closed the old one.
  struct Scraped {
    std::unique_ptr<ScrapeConnection> idle;  // null while a scrape uses it, or none
    std::shared_ptr<SSL_SESSION> session;
  };
  std::mutex scrapedMu;
  std::map<std::string, Scraped> scraped;

  // A connected, TLS-handshaken connection to the kubelet; `fail` makes the error. `resume`,
  // when set, is offered for resumption (the kubelet may still do a full handshake).
  std::unique_ptr<KubeletConnection> connect(
      const KubeletEndpoint& ep, std::chrono::milliseconds connectTimeout,
      std::chrono::milliseconds handshakeTimeout,
      const std::function<ApiError(const std::string&)>& fail, SSL_SESSION* resume = nullptr);
  HttpResponse fetch(const KubeletEndpoint& ep, const std::string& target);
};

KubeletProxy::KubeletProxy(KubeletClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  auto& ctx = impl_->tls;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  // A streaming connection (logs, exec) idles between reads: no record buffers meanwhile.
  SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  // Kubelets serve self-signed certificates; upstream skips verification unless
  // --kubelet-certificate-authority is given (not supported yet).
  ctx.set_verify_mode(ssl::verify_none);
  const auto& o = impl_->options;
  if (!o.clientCertFile.empty()) {
    try {
      ctx.use_certificate_chain_file(o.clientCertFile);
      ctx.use_private_key_file(o.clientKeyFile, ssl::context::pem);
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error("kubelet client certificate " + o.clientCertFile + ": " + e.what());
    }
  }
  KubeletTunnelOptions tunnelOptions;
  tunnelOptions.connectTimeout = o.connectTimeout;
  tunnelOptions.responseTimeout = o.responseTimeout;
  tunnelOptions.drainTimeout = o.tunnelDrainTimeout;
  if (!o.clientCertFile.empty()) {
    tunnelOptions.clientCertPem = readFile(o.clientCertFile);
    tunnelOptions.clientKeyPem = readFile(o.clientKeyFile);
  }
  impl_->tunnel = std::make_unique<KubeletTunnel>(std::move(tunnelOptions));
}

KubeletProxy::~KubeletProxy() = default;

std::unique_ptr<KubeletConnection> KubeletProxy::Impl::connect(
    const KubeletEndpoint& ep, std::chrono::milliseconds connectTimeout,
    std::chrono::milliseconds handshakeTimeout,
    const std::function<ApiError(const std::string&)>& fail, SSL_SESSION* resume) {
  auto conn = std::make_unique<KubeletConnection>(tls);
  if (resume) SSL_set_session(conn->stream.native_handle(), resume);
  tcp::resolver resolver(conn->ioc);
  error_code ec;
  auto endpoints = resolver.resolve(ep.host, std::to_string(ep.port), ec);
  if (ec) throw fail("dial tcp: lookup " + ep.host + ": " + goNetErrorMessage(ec));
  ec = conn->run(connectTimeout, [&](auto handler) {
    beast::get_lowest_layer(conn->stream).async_connect(endpoints, std::move(handler));
  });
  if (ec)
    throw fail("dial tcp " + ep.hostPort() + ": " +
               (ec == beast::error::timeout ? "" : "connect: ") + goNetErrorMessage(ec));
  error_code notIp;
  asio::ip::make_address(ep.host, notIp);
  if (notIp) SSL_set_tlsext_host_name(conn->stream.native_handle(), ep.host.c_str());
  ec = conn->run(handshakeTimeout, [&](auto handler) {
    conn->stream.async_handshake(ssl::stream_base::client, std::move(handler));
  });
  if (ec == beast::error::timeout) throw fail("net/http: TLS handshake timeout");
  if (ec) throw fail("tls: " + goNetErrorMessage(ec));
  return conn;
}

HttpResponse KubeletProxy::Impl::fetch(const KubeletEndpoint& ep, const std::string& target) {
  const std::string url = "https://" + ep.hostPort() + target;
  auto fail = [&](const std::string& what) {
    return ApiError(500, "", "Get \"" + url + "\": " + what);
  };
  auto conn = connect(ep, options.connectTimeout, options.tlsHandshakeTimeout, fail);
  error_code ec;

  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, ep.hostPort());
  req.set(http::field::user_agent, "skiff-apiserver");
  req.set(http::field::accept, "*/*");
  ec = conn->run(options.responseTimeout,
                 [&](auto handler) { http::async_write(conn->stream, req, std::move(handler)); });
  if (ec) throw fail(goNetErrorMessage(ec));
  ec = conn->run(options.responseTimeout, [&](auto handler) {
    http::async_read_header(conn->stream, conn->buffer, conn->parser, std::move(handler));
  });
  if (ec == beast::error::timeout) throw fail("net/http: timeout awaiting response headers");
  if (ec) throw fail(goNetErrorMessage(ec));

  const int status = conn->parser.get().result_int();
  if (status < 200 || status > 206) {
    std::string body, contentType(conn->parser.get()[http::field::content_type]);
    char buf[8192];
    while (!conn->parser.is_done() && body.size() < kMaxErrorBody) {
      size_t got = 0;
      ec = conn->readSome(buf, sizeof buf, got, options.responseTimeout);
      body.append(buf, std::min(got, kMaxErrorBody - body.size()));
      if (ec) break;
    }
    conn->close();
    return kubeletError(status, body, contentType);
  }
  HttpResponse res;
  res.status = status;
  res.contentType = "text/plain";
  if (status == 204) return res;  // no body to relay (and none may be sent)
  res.stream = std::make_shared<KubeletLogStream>(std::move(conn));
  return res;
}

std::string KubeletProxy::getWhole(const json::object& node, const std::string& target,
                                   std::chrono::milliseconds timeout, size_t maxBytes) {
  auto& d = *impl_;
  const KubeletEndpoint ep = nodeEndpoint(node, d.options);
  const json::object* meta = api::objectField(node, "metadata");
  const std::string key = (meta ? api::stringField(*meta, "name") : "") + "|" + ep.hostPort();
  const std::string url = "https://" + ep.hostPort() + target;
  auto fail = [&](const std::string& what) {
    return ApiError(500, "", "Get \"" + url + "\": " + what);
  };
  using Clock = ScrapeConnection::Clock;
  const auto now = Clock::now();
  const auto deadline = now + timeout;
  std::unique_ptr<ScrapeConnection> conn;
  std::shared_ptr<SSL_SESSION> session;
  {
    std::lock_guard lock(d.scrapedMu);
    if (auto it = d.scraped.find(key); it != d.scraped.end()) {
      conn = std::move(it->second.idle);
      session = it->second.session;
    }
  }
  ScrapeConnection::Response res;
  bool done = false;
  if (conn && conn->idleAndOpen()) {
    bool answered = false;
    try {
      res = conn->get(ep.hostPort(), target, maxBytes, deadline, answered);
      done = true;
    } catch (const ScrapeError& e) {
      // Closed by the kubelet while idle (restarted, or its idle timeout): a new connection.
      // A kubelet that answers slowly or only in part is not retried.
      if (answered || e.timedOut) throw fail(e.what());
    }
  }
  if (!done) {
    conn.reset();
    try {
      conn = ScrapeConnection::open(d.tls.native_handle(), ep.host, ep.port,
                                    std::min(deadline, now + d.options.connectTimeout),
                                    std::min(deadline, now + d.options.tlsHandshakeTimeout),
                                    session.get());
      Metrics::global().increment("skiff_kubelet_client_tls_handshakes_total",
                                  {{"resumed", conn->resumed() ? "true" : "false"}});
      bool answered = false;
      res = conn->get(ep.hostPort(), target, maxBytes, deadline, answered);
    } catch (const ScrapeError& e) {
      throw fail(e.what());
    }
    // TLS 1.3 tickets arrive after the handshake and were read with the answer, so the
    // session is resumable now.
    session = conn->session();
  }
  {
    std::lock_guard lock(d.scrapedMu);
    auto& kept = d.scraped[key];
    if (session) kept.session = std::move(session);
    if (res.keepAlive) kept.idle = std::move(conn);
    // The node's kubelet at an address it had before: nothing to keep for that one.
    const std::string prefix = key.substr(0, key.rfind('|') + 1);
    for (auto it = d.scraped.lower_bound(prefix);
         it != d.scraped.end() && it->first.starts_with(prefix);)
      it = it->first == key ? std::next(it) : d.scraped.erase(it);
  }
  const int status = res.status;
  std::string body = std::move(res.body);
  if (status < 200 || status > 299) {
    if (body.size() > 200) body.resize(200);
    throw fail("request failed, status: \"" + std::to_string(status) + " " +
               std::string(http::obsolete_reason(static_cast<http::status>(status))) +
               "\": " + body);
  }
  return body;
}

void KubeletProxy::retainSessions(const std::set<std::string>& nodeNames) {
  std::lock_guard lock(impl_->scrapedMu);
  std::erase_if(impl_->scraped, [&](const auto& kv) {
    return !nodeNames.count(kv.first.substr(0, kv.first.rfind('|')));
  });
}

size_t KubeletProxy::keptConnections() const {
  std::lock_guard lock(impl_->scrapedMu);
  return static_cast<size_t>(
      std::count_if(impl_->scraped.begin(), impl_->scraped.end(),
                    [](const auto& kv) { return kv.second.idle != nullptr; }));
}

HttpResponse KubeletProxy::podLog(ResourceStore& store, const RequestInfo& ri, HttpRequest& req) {
  if (ri.name.empty() || ri.namespaceName.empty())
    throw ApiError(404, "NotFound", "the server could not find the requested resource");
  if (req.method != "GET")
    throw ApiError(405, "MethodNotAllowed",
                   "the server does not allow this method on the requested resource");
  PodLogOptions options = parseOptions(req, ri.name);
  ObjectPtr pod = store.getShared(*ri.info, ri.namespaceName, ri.name);
  std::string container = chooseContainer(*pod, options.container, ri.name);
  const json::object* spec = api::objectField(*pod, "spec");
  std::string nodeName = spec ? api::stringField(*spec, "nodeName") : "";
  if (nodeName.empty()) {
    // Upstream streams nothing for a pod without a node: 204.
    HttpResponse res;
    res.status = 204;
    res.contentType = "text/plain";
    return res;
  }
  const auto* nodes = api::ResourceRegistry::builtin().find("", "v1", "nodes");
  ObjectPtr node = store.getShared(*nodes, "", nodeName);
  KubeletEndpoint ep = nodeEndpoint(*node, impl_->options);
  return impl_->fetch(ep, kubeletTarget(*pod, container, options));
}

HttpResponse KubeletProxy::podStream(ResourceStore& store, const RequestInfo& ri,
                                     HttpRequest& req) {
  const std::string& sub = ri.subresource;  // exec, attach or portforward
  if (ri.name.empty() || ri.namespaceName.empty())
    throw ApiError(404, "NotFound", "the server could not find the requested resource");
  if (req.method != "GET" && req.method != "POST")
    throw ApiError(405, "MethodNotAllowed",
                   "the server does not allow this method on the requested resource");
  if (sub == "exec" && req.query.find("command") == req.query.end())
    throw badRequest("you must specify at least 1 command");
  ObjectPtr pod = store.getShared(*ri.info, ri.namespaceName, ri.name);
  std::string container;
  if (sub != "portforward")
    container = chooseContainer(*pod, req.paramOr("container", ""), ri.name);
  const json::object* spec = api::objectField(*pod, "spec");
  std::string nodeName = spec ? api::stringField(*spec, "nodeName") : "";
  if (nodeName.empty()) throw badRequest("pod " + ri.name + " does not have a host assigned");
  if (sub != "portforward") {
    const json::object* status = api::objectField(*pod, "status");
    std::string phase = status ? api::stringField(*status, "phase") : "";
    if (phase == "Succeeded" || phase == "Failed")
      throw badRequest(std::string(sub == "exec" ? "cannot exec into" : "cannot attach to") +
                       " a container in a completed pod; current phase is " + phase);
  }
  const auto* nodes = api::ResourceRegistry::builtin().find("", "v1", "nodes");
  ObjectPtr node = store.getShared(*nodes, "", nodeName);
  KubeletEndpoint ep = nodeEndpoint(*node, impl_->options);
  if (!isUpgradeRequest(req)) throw badRequest("Upgrade request required");

  const json::object* meta = api::objectField(*pod, "metadata");
  std::string target =
      "/" + std::string(sub == "portforward" ? "portForward" : sub) + "/" +
      percentEncode(meta ? api::stringField(*meta, "namespace") : ri.namespaceName) + "/" +
      percentEncode(ri.name);
  if (!container.empty()) target += "/" + percentEncode(container);
  if (std::string query = rawQuery(req.target); !query.empty()) target += "?" + query;
  return impl_->tunnel->upgrade({ep.host, ep.port, true, true, target}, req);
}

HttpResponse KubeletProxy::nodeProxy(ResourceStore& store, const NodeProxyRequest& np,
                                     HttpRequest& req) {
  static const char* const kMethods[] = {"GET",    "POST", "PUT",    "PATCH",
                                         "DELETE", "HEAD", "OPTIONS"};
  if (std::none_of(std::begin(kMethods), std::end(kMethods),
                   [&](const char* m) { return req.method == m; }))
    throw ApiError(405, "MethodNotAllowed",
                   "the server does not allow this method on the requested resource");
  // utilnet.SplitSchemeNamePort
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t colon = np.name.find(':', start);
    parts.push_back(np.name.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  std::string scheme, name, port;
  if (parts.size() == 1) {
    name = parts[0];
  } else if (parts.size() == 2) {
    name = parts[0], port = parts[1];
  } else if (parts.size() == 3) {
    scheme = parts[0], name = parts[1], port = parts[2];
  }
  int portNumber = 0;
  if (!port.empty()) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), portNumber);
    if (ec != std::errc() || end != port.data() + port.size() || portNumber < 1 ||
        portNumber > 65535)
      name.clear();
  }
  if (name.empty() || (scheme != "" && scheme != "http" && scheme != "https"))
    throw badRequest("invalid node request \"" + np.name + "\"");

  const auto* nodes = api::ResourceRegistry::builtin().find("", "v1", "nodes");
  ObjectPtr node = store.getShared(*nodes, "", name);
  KubeletEndpoint ep = nodeEndpoint(*node, impl_->options);
  ProxyTarget to{ep.host, ep.port, true, true, ""};
  if (portNumber != 0 && portNumber != ep.port)
    // Upstream relays to any port of the node; here only the kubelet's is reachable, so that
    // nodes/proxy cannot reach other services on the node's address.
    throw badRequest("invalid node request \"" + np.name + "\": only the kubelet port " +
                     std::to_string(ep.port) + " of node " + name + " is proxied");
  to.target = np.path.empty() ? "/" : np.path;
  if (!np.query.empty()) to.target += "?" + np.query;

  if (isUpgradeRequest(req)) return impl_->tunnel->upgrade(to, req);
  if (np.path.empty() && (req.method == "GET" || req.method == "HEAD")) {
    // proxyRedirectsforRootPath: relative links on the backend's root page need the slash.
    HttpResponse res;
    res.status = 301;
    res.contentType = "text/plain; charset=utf-8";
    res.headers.emplace_back("Location",
                             np.prefix + "/" + (np.query.empty() ? "" : "?" + np.query));
    return res;
  }
  return impl_->tunnel->forward(to, req, np.prefix + np.path);
}

bool proxyableIp(const std::string& ip, bool allowLoopback) {
  boost::system::error_code ec;
  asio::ip::address a = asio::ip::make_address(ip, ec);
  if (ec) return false;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  if (a.is_unspecified() || a.is_multicast()) return false;
  if (a.is_loopback()) return allowLoopback;
  if (a.is_v4()) return (a.to_v4().to_uint() & 0xffff0000u) != 0xa9fe0000u;  // 169.254/16
  return !a.to_v6().is_link_local();                                         // fe80::/10
}

void checkKubeletDestination(const std::string& nodeName, const std::string& host,
                             const KubeletClientOptions& options) {
  const bool loopbackOk =
      options.allowLoopback || (!nodeName.empty() && nodeName == options.localNodeName);
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (!ec) {
    if (!proxyableIp(host, loopbackOk)) throw ApiError(500, "", "address not allowed");
    return;
  }
  // A name: every address it resolves to must pass (upstream's IsProxyableHostname). When it
  // does not resolve, the dial fails with its own error.
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  auto results = resolver.resolve(host, "", ec);
  if (ec) return;
  for (const auto& r : results)
    if (!proxyableIp(r.endpoint().address().to_string(), loopbackOk))
      throw ApiError(500, "", "address not allowed");
}

void KubeletProxy::closeTunnels() { impl_->tunnel->closeAll(); }

size_t KubeletProxy::openTunnels() const { return impl_->tunnel->openTunnels(); }

}  // namespace skiff::apiserver
