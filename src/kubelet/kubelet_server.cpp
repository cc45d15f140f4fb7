#include "kubelet/kubelet_server.h"

#include <arpa/inet.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <thread>

#include "common/api_error.h"
#include "common/log.h"
#include "common/pki.h"
#include "kubelet/container_log.h"
#include "net/http_server.h"

namespace skiff::kubelet {

namespace json = boost::json;
namespace fs = std::filesystem;
using net::HttpRequest;
using net::HttpResponse;

namespace {

constexpr size_t kDrainBytes = 64 * 1024;

const char* reasonFor(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 422:
      return "Invalid";
    case 503:
      return "ServiceUnavailable";
    default:
      return code >= 500 ? "InternalError" : "";
  }
}

ApiError pathNotFound() {
  return ApiError(404, "NotFound", "the server could not find the requested resource");
}

bool isIp(const std::string& s) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::optional<int64_t> intParam(const HttpRequest& req, const std::string& name) {
  auto v = req.param(name);
  if (!v) return std::nullopt;
  int64_t out = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || end != v->data() + v->size() || v->empty())
    throw badRequest("unable to decode query: " + name + ": invalid integer \"" + *v + "\"");
  return out;
}

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    parts.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return parts;
}

HttpResponse text(std::string body) {
  HttpResponse res;
  res.contentType = "text/plain; charset=utf-8";
  res.body = std::move(body);
  return res;
}

class LogStreamSource;

// Wakes every followed log stream on a fixed period, so each looks for new lines at most
// that often; one thread for all streams.
class FollowPoller {
 public:
  explicit FollowPoller(std::chrono::milliseconds interval) : interval_(interval) {}
  ~FollowPoller() { stop(); }
  void start() {
    std::lock_guard lock(mu_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { loop(); });
  }
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  void add(std::weak_ptr<LogStreamSource> s) {
    std::lock_guard lock(mu_);
    streams_.push_back(std::move(s));
  }

 private:
  void loop();

  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<std::weak_ptr<LogStreamSource>> streams_;
  std::thread thread_;
};

// A container log as a streamed HTTP body. The reader never blocks: drain() renders what the
// file holds now; when it is at the end of a followed file, the poller's next wake-up brings
// the connection back.
class LogStreamSource : public net::StreamSource,
                        public std::enable_shared_from_this<LogStreamSource> {
 public:
  LogStreamSource(std::unique_ptr<ContainerLogReader> reader, FollowPoller* poller)
      : reader_(std::move(reader)), poller_(poller) {}

  void start(std::function<void()> wake) override {
    {
      std::lock_guard lock(mu_);
      wake_ = std::move(wake);
    }
    if (poller_) poller_->add(weak_from_this());
  }

  bool drain(std::vector<std::string>& out) override {
    std::lock_guard lock(mu_);
    if (!reader_) return false;
    std::string chunk;
    ContainerLogReader::Status status;
    try {
      status = reader_->read(chunk, kDrainBytes);
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("kubelet log read failed path={} error=\"{}\"", reader_->path(), e.what());
      status = ContainerLogReader::Status::End;
    }
    if (!chunk.empty()) out.push_back(std::move(chunk));
    if (status == ContainerLogReader::Status::End) {
      reader_.reset();
      return false;
    }
    // More is readable now: come back as soon as this chunk is written.
    if (status == ContainerLogReader::Status::Data && wake_) wake_();
    return true;
  }

  void cancel() override {
    std::lock_guard lock(mu_);
    reader_.reset();
  }

  // From the poller: false once the stream is over.
  bool poke() {
    std::lock_guard lock(mu_);
    if (!reader_) return false;
    if (wake_) wake_();
    return true;
  }

 private:
  std::mutex mu_;
  std::unique_ptr<ContainerLogReader> reader_;
  std::function<void()> wake_;
  FollowPoller* poller_;
};

void FollowPoller::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_) break;
    auto streams = streams_;
    lock.unlock();
    std::vector<bool> alive(streams.size(), false);
    for (size_t i = 0; i < streams.size(); ++i)
      if (auto s = streams[i].lock()) alive[i] = s->poke();
    lock.lock();
    // Drop finished streams; ones added meanwhile sit after the snapshot and stay.
    std::vector<std::weak_ptr<LogStreamSource>> keep;
    for (size_t i = 0; i < streams_.size(); ++i)
      if (i >= streams.size() || alive[i]) keep.push_back(std::move(streams_[i]));
    streams_ = std::move(keep);
  }
}

}  // namespace

void ensureKubeletServingCert(const std::string& certPath, const std::string& keyPath,
                              const std::string& nodeName, const std::vector<std::string>& ips) {
  // Kept until fewer than 90 days of its year remain (common/pki.h), then made anew.
  if (fs::exists(certPath) && fs::exists(keyPath)) {
    try {
      if (secondsUntilExpiry(readFile(certPath)) >= kRenewBeforeDays * 24 * 3600) return;
    } catch (const std::exception&) {
      // unreadable: made anew below
    }
  }
  std::vector<std::string> dnsNames = {"localhost"};
  std::vector<std::string> ipSans = {"127.0.0.1"};
  auto add = [](std::vector<std::string>& v, const std::string& s) {
    if (!s.empty() && std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
  };
  if (isIp(nodeName))
    add(ipSans, nodeName);
  else
    add(dnsNames, nodeName);
  for (const auto& ip : ips) add(ipSans, ip);
  const std::string host = nodeName.empty() ? "localhost" : nodeName;
  // Upstream names the issuer "<host>-ca@<unix time>".
  auto ca = createCa(host + "-ca@" + std::to_string(std::time(nullptr)));
  auto serving = issueCertificate(ca, host + "@" + std::to_string(std::time(nullptr)), {}, dnsNames,
                                  ipSans, true, false);
  fs::path dir = fs::path(certPath).parent_path();
  if (!dir.empty()) fs::create_directories(dir);
  writeFileAtomic(keyPath, serving.keyPem, 0600);
  writeFileAtomic(certPath, serving.certPem + ca.certPem, 0644);
  SKIFF_LOG_INFO("kubelet serving certificate created cert={} node={}", certPath, nodeName);
}

struct KubeletServer::Impl {
  KubeletServerOptions options;
  LogLocator logs;
  PodLister pods;
  std::vector<std::pair<std::string, net::HttpHandler>> routes;
  FollowPoller poller;
  std::unique_ptr<net::HttpServer> http;
  std::string certPath, keyPath;

  explicit Impl(KubeletServerOptions o)
      : options(std::move(o)), poller(options.followPollInterval) {}

  HttpResponse handle(HttpRequest& req);
  HttpResponse containerLogs(HttpRequest& req, const std::string& ns, const std::string& pod,
                             const std::string& container);
};

HttpResponse KubeletServer::Impl::handle(HttpRequest& req) {
  const std::string& p = req.path;
  if (p == "/healthz") return text("ok");
  if (options.auth) {
    if (auto refused = options.auth->check(req)) return std::move(*refused);
  } else if (req.identity().user.empty()) {
    HttpResponse res = text("Unauthorized");  // upstream's plain-text 401 body
    res.status = 401;
    return res;
  }
  for (const auto& [prefix, handler] : routes)
    if (p == prefix || (p.starts_with(prefix) && p[prefix.size()] == '/')) return handler(req);
  if (p == "/pods" || p == "/pods/") {
    if (req.method != "GET") throw ApiError(405, "MethodNotAllowed", "method not allowed");
    json::object list{{"kind", "PodList"},
                      {"apiVersion", "v1"},
                      {"metadata", json::object()},
                      {"items", pods ? pods() : json::array()}};
    HttpResponse res;
    res.body = json::serialize(list);
    return res;
  }
  if (p.starts_with("/containerLogs/")) {
    auto parts = splitPath(p.substr(std::string("/containerLogs/").size()));
    if (parts.size() != 3 || parts[0].empty() || parts[1].empty() || parts[2].empty())
      throw pathNotFound();
    if (req.method != "GET") throw ApiError(405, "MethodNotAllowed", "method not allowed");
    return containerLogs(req, parts[0], parts[1], parts[2]);
  }
  throw pathNotFound();
}

HttpResponse KubeletServer::Impl::containerLogs(HttpRequest& req, const std::string& ns,
                                                const std::string& pod,
                                                const std::string& container) {
  ContainerLogOptions o;
  o.follow = req.flag("follow");
  o.timestamps = req.flag("timestamps");
  const bool previous = req.flag("previous");
  o.tailLines = intParam(req, "tailLines");
  o.limitBytes = intParam(req, "limitBytes");
  auto sinceSeconds = intParam(req, "sinceSeconds");
  std::optional<LogTime> sinceTime;
  if (auto t = req.param("sinceTime")) {
    sinceTime = parseLogTime(*t);
    if (!sinceTime)
      throw badRequest("unable to decode query: sinceTime: invalid time \"" + *t + "\"");
  }
  if (auto stream = req.param("stream")) {
    if (*stream == "Stdout")
      o.includeStderr = false;
    else if (*stream == "Stderr")
      o.includeStdout = false;
    else if (*stream != "All")
      throw ApiError(422, "Invalid", "Invalid request.");
  }
  // Upstream's ValidatePodLogOptions, answered as its kubelet does.
  if ((o.tailLines && *o.tailLines < 0) || (o.limitBytes && *o.limitBytes < 1) ||
      (sinceSeconds && *sinceSeconds < 1) || (sinceSeconds && sinceTime))
    throw ApiError(422, "Invalid", "Invalid request.");
  // The later of now-sinceSeconds and sinceTime, as upstream's NewLogOptions.
  if (sinceSeconds) o.sinceUnixNanos = nowLogTime().unixNanos - *sinceSeconds * 1'000'000'000;
  if (sinceTime && (!o.sinceUnixNanos || sinceTime->unixNanos > *o.sinceUnixNanos))
    o.sinceUnixNanos = sinceTime->unixNanos;

  if (!logs) throw ApiError(404, "NotFound", "pod \"" + pod + "\" not found");
  std::string message;
  int code = 0;
  auto target = logs(ns, pod, container, previous, message, code);
  if (!target) {
    if (code < 400) code = 404;
    if (message.empty()) message = "pod \"" + pod + "\" not found";
    throw ApiError(code, reasonFor(code), message);
  }
  std::function<bool()> stillRunning;
  if (o.follow && target->running) {
    stillRunning = [locator = logs, ns, pod, container, previous, path = target->path] {
      std::string ignoredMessage;
      int ignoredCode = 0;
      auto now = locator(ns, pod, container, previous, ignoredMessage, ignoredCode);
      return now && now->running && now->path == path;
    };
  } else {
    o.follow = false;  // nothing more will be written: render the file and end
  }
  std::unique_ptr<ContainerLogReader> reader;
  try {
    reader = std::make_unique<ContainerLogReader>(target->path, o, std::move(stillRunning));
  } catch (const std::runtime_error& e) {
    throw badRequest(e.what());
  }
  HttpResponse res;
  res.contentType = "text/plain";
  auto source = std::make_shared<LogStreamSource>(std::move(reader), o.follow ? &poller : nullptr);
  res.stream = std::move(source);
  return res;
}

KubeletServer::KubeletServer(KubeletServerOptions options, LogLocator logs, PodLister pods)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->logs = std::move(logs);
  impl_->pods = std::move(pods);
  impl_->certPath = (fs::path(impl_->options.certDir) / "kubelet.crt").string();
  impl_->keyPath = (fs::path(impl_->options.certDir) / "kubelet.key").string();
}

KubeletServer::~KubeletServer() { stop(); }

void KubeletServer::addRoute(std::string pathPrefix, net::HttpHandler handler) {
  while (pathPrefix.size() > 1 && pathPrefix.back() == '/') pathPrefix.pop_back();
  impl_->routes.emplace_back(std::move(pathPrefix), std::move(handler));
}

void KubeletServer::start() {
  auto& o = impl_->options;
  if (o.certDir.empty()) throw std::runtime_error("kubelet server: no certificate directory");
  ensureKubeletServingCert(impl_->certPath, impl_->keyPath, o.nodeName, o.nodeIps);
  net::HttpServerOptions ho;
  ho.listen = o.listen;
  ho.threads = o.threads;
  ho.tlsCertFile = impl_->certPath;
  ho.tlsKeyFile = impl_->keyPath;
  ho.clientCaFile = o.clientCaFile;
  if (!o.clientCaPem.empty()) {
    ho.clientCaFile = (fs::path(o.certDir) / "client-ca.crt").string();
    writeFileAtomic(ho.clientCaFile, o.clientCaPem, 0644);
  }
  if (ho.clientCaFile.empty())
    SKIFF_LOG_WARN("kubelet server has no client CA: every request but /healthz gets 401");
  impl_->http = std::make_unique<net::HttpServer>(
      ho, [impl = impl_.get()](HttpRequest& req) { return impl->handle(req); });
  impl_->http->start();
  impl_->poller.start();
  SKIFF_LOG_INFO("kubelet server listening address={} port={}", o.listen, port());
}

void KubeletServer::stop() {
  if (!impl_) return;
  // The poller first: it wakes connections that live on the HTTP server's threads.
  impl_->poller.stop();
  if (impl_->http) impl_->http->stop();
  impl_->http.reset();
}

unsigned short KubeletServer::port() const { return impl_->http ? impl_->http->port() : 0; }
std::string KubeletServer::certFile() const { return impl_->certPath; }
std::string KubeletServer::keyFile() const { return impl_->keyPath; }

}  // namespace skiff::kubelet
