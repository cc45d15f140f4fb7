#include "kubelet/prober.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstring>

#include "api/json_access.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace json = boost::json;

namespace skiff::kubelet {
namespace {

using api::arrayAt;
using api::intAt;
using api::objectAt;
using api::stringAt;
using Clock = std::chrono::steady_clock;

// A port given as a number or as the name of one of the container's ports.
int resolvePort(const json::value* port, const json::object& container) {
  if (!port) return -1;
  if (port->is_int64()) return static_cast<int>(port->as_int64());
  if (!port->is_string()) return -1;
  std::string name(port->as_string());
  if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) return std::stoi(name);
  if (auto* ports = arrayAt(container, {"ports"}))
    for (auto& p : *ports)
      if (p.is_object() && stringAt(p.as_object(), {"name"}) == name)
        return static_cast<int>(intAt(p.as_object(), {"containerPort"}, -1));
  return -1;
}

// A TCP connection with a deadline; -1 (and `error`) on failure.
int connectWithTimeout(const std::string& host, int port, std::chrono::milliseconds timeout,
                       std::string& error) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) {
    error = "dial tcp " + host + ":" + std::to_string(port) + ": lookup failed";
    return -1;
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int rc = fd < 0 ? -1 : connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (fd < 0) {
    error = "socket failed";
    return -1;
  }
  if (rc != 0 && errno != EINPROGRESS) {
    error = "dial tcp " + host + ":" + std::to_string(port) + ": connect: " + std::strerror(errno);
    close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
    error = "dial tcp " + host + ":" + std::to_string(port) + ": i/o timeout";
    close(fd);
    return -1;
  }
  int soerr = 0;
  socklen_t len = sizeof soerr;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
  if (soerr != 0) {
    error = "dial tcp " + host + ":" + std::to_string(port) + ": connect: " + std::strerror(soerr);
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

ProbeOutcome httpProbe(const json::object& get, const json::object& container,
                       const std::string& podIp, std::chrono::milliseconds timeout) {
  auto host = stringAt(get, {"host"}, podIp);
  int port = resolvePort(get.if_contains("port"), container);
  if (port <= 0) return {false, "invalid port in httpGet probe"};
  auto path = stringAt(get, {"path"}, "/");
  if (path.empty() || path[0] != '/') path = "/" + path;
  bool https = stringAt(get, {"scheme"}, "HTTP") == "HTTPS";
  std::string error;
  int fd = connectWithTimeout(host, port, timeout, error);
  if (fd < 0)
    return {false, "Get \"" + std::string(https ? "https" : "http") + "://" + host + ":" +
                       std::to_string(port) + path + "\": " + error};
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                    "\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n";
  if (auto* headers = arrayAt(get, {"httpHeaders"}))
    for (auto& h : *headers)
      if (h.is_object())
        req +=
            stringAt(h.as_object(), {"name"}) + ": " + stringAt(h.as_object(), {"value"}) + "\r\n";
  req += "\r\n";
  std::string resp;
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  bool ok = true;
  if (https) {
    // Upstream's probes do not verify certificates either.
    ctx = SSL_CTX_new(TLS_client_method());
    ssl = ctx ? SSL_new(ctx) : nullptr;
    ok = ssl && SSL_set_fd(ssl, fd) == 1 && SSL_connect(ssl) == 1;
  }
  if (ok)
    ok = https ? SSL_write(ssl, req.data(), static_cast<int>(req.size())) > 0
               : send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
  char buf[4096];
  while (ok && resp.find("\r\n") == std::string::npos && resp.size() < 65536) {
    long n = https ? SSL_read(ssl, buf, sizeof buf) : recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  if (ssl) SSL_free(ssl);
  if (ctx) SSL_CTX_free(ctx);
  close(fd);
  int code = 0;
  if (resp.rfind("HTTP/", 0) == 0) {
    auto sp = resp.find(' ');
    if (sp != std::string::npos) code = std::atoi(resp.c_str() + sp + 1);
  }
  if (code >= 200 && code < 400) return {true, ""};
  if (code == 0)
    return {false, "Get \"" + host + ":" + std::to_string(port) + path + "\": no HTTP response"};
  return {false, "HTTP probe failed with statuscode: " + std::to_string(code)};
}

ProbeOutcome tcpProbe(const json::object& tcp, const json::object& container,
                      const std::string& podIp, std::chrono::milliseconds timeout) {
  auto host = stringAt(tcp, {"host"}, podIp);
  int port = resolvePort(tcp.if_contains("port"), container);
  if (port <= 0) return {false, "invalid port in tcpSocket probe"};
  std::string error;
  int fd = connectWithTimeout(host, port, timeout, error);
  if (fd < 0) return {false, error};
  close(fd);
  return {true, ""};
}

const char* kindName(ProbeKind k) {
  return k == ProbeKind::Liveness    ? "Liveness"
         : k == ProbeKind::Readiness ? "Readiness"
                                     : "Startup";
}

}  // namespace

ProbeOutcome runProbe(const json::object& probe, const json::object& container,
                      const std::string& podIp, const std::string& containerId,
                      cri::RuntimeService& runtime) {
  auto timeout = std::chrono::seconds(std::max<int64_t>(1, intAt(probe, {"timeoutSeconds"}, 1)));
  try {
    if (auto* ex = objectAt(probe, {"exec"})) {
      std::vector<std::string> argv;
      if (auto* cmd = arrayAt(*ex, {"command"}))
        for (auto& a : *cmd)
          if (a.is_string()) argv.emplace_back(a.as_string());
      auto r = runtime.execSync(containerId, argv, timeout);
      if (r.exitCode == 0) return {true, ""};
      auto out = r.stdoutData + r.stderrData;
      return {false, out.empty() ? "command exited with " + std::to_string(r.exitCode) : out};
    }
    if (auto* get = objectAt(probe, {"httpGet"})) return httpProbe(*get, container, podIp, timeout);
    if (auto* tcp = objectAt(probe, {"tcpSocket"}))
      return tcpProbe(*tcp, container, podIp, timeout);
    if (objectAt(probe, {"grpc"})) return {false, "grpc probes are not supported by skiff yet"};
  } catch (const std::exception& e) {
    return {false, e.what()};
  }
  return {false, "probe has no handler"};
}

ProbeManager::ProbeManager(cri::RuntimeService& runtime, OnChange onChange, OnEvent onUnhealthy,
                           int workers)
    : runtime_(runtime),
      onChange_(std::move(onChange)),
      onUnhealthy_(std::move(onUnhealthy)),
      workerCount_(workers) {}

ProbeManager::~ProbeManager() { stop(); }

void ProbeManager::start() {
  threads_.emplace_back(namedThread("probe-timer", [this] { schedulerLoop(); }));
  for (int i = 0; i < workerCount_; ++i)
    threads_.emplace_back(namedThread("prober", [this] { workerLoop(); }));
}

void ProbeManager::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  workCv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void ProbeManager::schedule(size_t id, std::chrono::milliseconds after) {
  timers_.push(Due{Clock::now() + after, id});
  cv_.notify_all();
}

void ProbeManager::ensure(const std::string& podKey, const json::object& container,
                          const std::string& containerId, const std::string& podIp) {
  std::lock_guard lock(mu_);
  if (containers_.count(containerId)) return;
  auto& cp = containers_[containerId];
  const std::pair<const char*, ProbeKind> kinds[] = {{"livenessProbe", ProbeKind::Liveness},
                                                     {"readinessProbe", ProbeKind::Readiness},
                                                     {"startupProbe", ProbeKind::Startup}};
  for (auto& [field, kind] : kinds) {
    auto* probe = objectAt(container, {field});
    if (!probe) continue;
    if (kind == ProbeKind::Readiness) cp.hasReadiness = true;
    if (kind == ProbeKind::Startup) cp.hasStartup = true;
    size_t id = nextId_++;
    auto& st = probes_[id];
    st.podKey = podKey;
    st.containerId = containerId;
    st.containerName = stringAt(container, {"name"});
    st.podIp = podIp;
    st.kind = kind;
    st.probe = *probe;
    st.container = container;
    schedule(id, std::chrono::seconds(intAt(*probe, {"initialDelaySeconds"}, 0)));
  }
  cp.started = !cp.hasStartup;
  cp.ready = !cp.hasReadiness && cp.started;
}

void ProbeManager::retainOnly(const std::vector<std::string>& live) {
  std::lock_guard lock(mu_);
  for (auto it = containers_.begin(); it != containers_.end();) {
    if (std::find(live.begin(), live.end(), it->first) == live.end())
      it = containers_.erase(it);
    else
      ++it;
  }
  for (auto it = probes_.begin(); it != probes_.end();) {
    if (!containers_.count(it->second.containerId) && !it->second.running)
      it = probes_.erase(it);
    else
      ++it;
  }
}

bool ProbeManager::ready(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = containers_.find(id);
  return it == containers_.end() ? true : it->second.ready && it->second.started;
}

bool ProbeManager::started(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = containers_.find(id);
  return it == containers_.end() ? true : it->second.started;
}

std::optional<std::string> ProbeManager::takeRestartReason(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return std::nullopt;
  auto r = std::move(it->second.restartReason);
  it->second.restartReason.reset();
  return r;
}

void ProbeManager::schedulerLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (timers_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto next = timers_.top();
    if (Clock::now() < next.at) {
      cv_.wait_until(lock, next.at);
      continue;
    }
    timers_.pop();
    auto it = probes_.find(next.id);
    if (it == probes_.end() || !containers_.count(it->second.containerId)) {
      if (it != probes_.end() && !it->second.running) probes_.erase(it);
      continue;
    }
    it->second.running = true;
    work_.push_back(next.id);
    workCv_.notify_one();
  }
}

void ProbeManager::workerLoop() {
  while (true) {
    size_t id;
    json::object probe, container;
    std::string podIp, containerId, podKey, containerName;
    {
      std::unique_lock lock(mu_);
      workCv_.wait(lock, [this] { return stopping_ || !work_.empty(); });
      if (stopping_) return;
      id = work_.front();
      work_.pop_front();
      auto& st = probes_.at(id);
      probe = st.probe;
      container = st.container;
      podIp = st.podIp;
      containerId = st.containerId;
      podKey = st.podKey;
      containerName = st.containerName;
    }
    auto outcome = runProbe(probe, container, podIp, containerId, runtime_);
    bool changed = false;
    std::string unhealthy;
    {
      std::lock_guard lock(mu_);
      changed = record(id, outcome, unhealthy);
    }
    if (!unhealthy.empty() && onUnhealthy_) onUnhealthy_(podKey, containerName, unhealthy);
    if (changed && onChange_) onChange_(podKey);
  }
}

// Applies one result to the thresholds; true when the container's state changed. Callers
// hold mu_.
bool ProbeManager::record(size_t id, const ProbeOutcome& outcome, std::string& unhealthy) {
  auto it = probes_.find(id);
  if (it == probes_.end()) return false;
  auto& st = it->second;
  st.running = false;
  auto cit = containers_.find(st.containerId);
  if (cit == containers_.end()) {
    probes_.erase(it);
    return false;
  }
  auto& cp = cit->second;
  bool changed = false;
  // The startup probe gates the others: liveness and readiness wait until it succeeded.
  bool gated = st.kind != ProbeKind::Startup && !cp.started;
  int successThreshold =
      static_cast<int>(std::max<int64_t>(1, intAt(st.probe, {"successThreshold"}, 1)));
  int failureThreshold =
      static_cast<int>(std::max<int64_t>(1, intAt(st.probe, {"failureThreshold"}, 3)));
  if (!gated && outcome.success) {
    st.failures = 0;
    if (++st.successes >= successThreshold && !st.result) {
      st.result = true;
      if (st.kind == ProbeKind::Readiness) cp.ready = true;
      if (st.kind == ProbeKind::Startup) {
        cp.started = true;
        if (!cp.hasReadiness) cp.ready = true;
      }
      changed = st.kind != ProbeKind::Liveness;
    }
  } else if (!gated) {
    st.successes = 0;
    unhealthy = std::string(kindName(st.kind)) + " probe failed: " + outcome.message;
    if (++st.failures >= failureThreshold) {
      if (st.kind == ProbeKind::Readiness) {
        if (cp.ready) changed = true;
        st.result = false;
        cp.ready = false;
      } else if (!cp.restartReason) {
        cp.restartReason = "Container " + st.containerName + " failed " +
                           (st.kind == ProbeKind::Liveness ? "liveness" : "startup") +
                           " probe, will be restarted";
        st.failures = 0;
        changed = true;
      }
    }
  }
  if (st.kind == ProbeKind::Startup && cp.started) {
    probes_.erase(it);  // a startup probe that succeeded is done for this container
  } else {
    schedule(id,
             std::chrono::seconds(std::max<int64_t>(1, intAt(st.probe, {"periodSeconds"}, 10))));
  }
  return changed;
}

}  // namespace skiff::kubelet
