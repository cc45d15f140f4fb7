#include "kubelet/streaming/upgraded_io.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace skiff::kubelet::streaming {

namespace {

std::string errnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

constexpr size_t kMaxResponseHead = 64 * 1024;
constexpr size_t kMaxErrorBody = 64 * 1024;

}  // namespace

// ---------------------------------------------------------------- FdConnection

FdConnection::FdConnection(int fd) : fd_(fd) {}

FdConnection::~FdConnection() {
  if (fd_ >= 0) ::close(fd_);
}

size_t FdConnection::read(char* buf, size_t max) {
  for (;;) {
    ssize_t n = ::recv(fd_, buf, max, 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == ECONNRESET || errno == EPIPE) return 0;
    if (errno == EAGAIN || errno == EWOULDBLOCK) throw std::runtime_error("read timed out");
    if (errno == ENOTCONN || errno == EBADF) return 0;
    throw std::runtime_error(errnoText("recv"));
  }
}

void FdConnection::write(const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd_, data, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(errnoText("send"));
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
}

void FdConnection::shutdownWrite() { ::shutdown(fd_, SHUT_WR); }

void FdConnection::close() {
  std::lock_guard lock(mu_);
  if (closed_) return;
  closed_ = true;
  ::shutdown(fd_, SHUT_RDWR);
}

void FdConnection::setReadTimeout(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

// ---------------------------------------------------------------- PrefixedConnection

size_t PrefixedConnection::read(char* buf, size_t max) {
  if (pos_ < prefix_.size()) {
    size_t n = std::min(max, prefix_.size() - pos_);
    std::memcpy(buf, prefix_.data() + pos_, n);
    pos_ += n;
    if (pos_ == prefix_.size()) {
      prefix_.clear();
      prefix_.shrink_to_fit();
      pos_ = 0;
    }
    return n;
  }
  return inner_->read(buf, max);
}

// ---------------------------------------------------------------- URLs and dialing

HttpUrl parseHttpUrl(const std::string& url) {
  HttpUrl u;
  auto sep = url.find("://");
  if (sep == std::string::npos) throw std::invalid_argument("not an absolute URL: " + url);
  u.scheme = lower(url.substr(0, sep));
  if (u.scheme != "http")
    throw std::invalid_argument("unsupported URL scheme \"" + u.scheme + "\"");
  std::string rest = url.substr(sep + 3);
  auto slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (u.target.front() == '?') u.target = "/" + u.target;
  std::string portText;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) throw std::invalid_argument("bad host in URL: " + url);
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      portText = authority.substr(close + 2);
  } else {
    auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) portText = authority.substr(colon + 1);
  }
  if (u.host.empty()) throw std::invalid_argument("no host in URL: " + url);
  if (!portText.empty()) {
    int port = 0;
    auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
    if (ec != std::errc() || end != portText.data() + portText.size() || port <= 0 || port > 65535)
      throw std::invalid_argument("bad port in URL: " + url);
    u.port = port;
  }
  return u;
}

std::unique_ptr<FdConnection> dialTcp(const std::string& host, int port,
                                      std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0)
    throw std::runtime_error("dial tcp " + host + ":" + service + ": " + ::gai_strerror(rc));
  std::string lastError = "no addresses";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      lastError = errnoText("socket");
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (rc == 0) {
        errno = ETIMEDOUT;
        rc = -1;
      } else if (rc > 0) {
        int err = 0;
        socklen_t len = sizeof(err);
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        errno = err;
        rc = err == 0 ? 0 : -1;
      }
    }
    if (rc == 0) {
      int flags = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &flags, sizeof(flags));
      // Back to blocking I/O: the protocol code uses one thread per direction.
      int fl = ::fcntl(fd, F_GETFL);
      ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
      ::freeaddrinfo(res);
      return std::make_unique<FdConnection>(fd);
    }
    lastError = errnoText("connect");
    ::close(fd);
  }
  ::freeaddrinfo(res);
  throw std::runtime_error("dial tcp " + host + ":" + service + ": " + lastError);
}

// ---------------------------------------------------------------- upgrade handshake

std::string UpgradeReply::header(const std::string& lowerName) const {
  auto it = headers.find(lowerName);
  return it == headers.end() ? std::string() : it->second;
}

UpgradeReply httpUpgrade(UpgradedConnectionPtr& conn, const std::string& method, const HttpUrl& url,
                         const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string hostHeader =
      url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (url.port != 80) hostHeader += ":" + std::to_string(url.port);
  std::string req = method + " " + url.target + " HTTP/1.1\r\nHost: " + hostHeader + "\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  conn->write(req.data(), req.size());

  std::string head;
  size_t end = std::string::npos;
  char buf[4096];
  while (end == std::string::npos) {
    size_t n = conn->read(buf, sizeof(buf));
    if (n == 0) throw std::runtime_error("connection closed before the upgrade response");
    head.append(buf, n);
    end = head.find("\r\n\r\n");
    if (end == std::string::npos && head.size() > kMaxResponseHead)
      throw std::runtime_error("upgrade response head too large");
  }
  std::string rest = head.substr(end + 4);
  head.resize(end);

  UpgradeReply reply;
  size_t lineEnd = head.find("\r\n");
  std::string statusLine = head.substr(0, lineEnd);
  // "HTTP/1.1 101 Switching Protocols"
  auto sp = statusLine.find(' ');
  if (sp == std::string::npos || !statusLine.starts_with("HTTP/"))
    throw std::runtime_error("malformed response status line \"" + statusLine + "\"");
  reply.status = std::atoi(statusLine.c_str() + sp + 1);
  size_t pos = lineEnd == std::string::npos ? head.size() : lineEnd + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string line = head.substr(pos, e - pos);
    pos = e + 2;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    reply.headers.emplace(lower(trim(line.substr(0, colon))), trim(line.substr(colon + 1)));
  }
  if (reply.status == 101) {
    if (!rest.empty())
      conn = std::make_unique<PrefixedConnection>(std::move(conn), std::move(rest));
    return reply;
  }
  // An error answer: keep (a bounded part of) its body for the message.
  reply.body = std::move(rest);
  size_t want = kMaxErrorBody;
  if (auto cl = reply.header("content-length"); !cl.empty())
    want = std::min<size_t>(kMaxErrorBody, std::strtoull(cl.c_str(), nullptr, 10));
  try {
    while (reply.body.size() < want) {
      size_t n = conn->read(buf, sizeof(buf));
      if (n == 0) break;
      reply.body.append(buf, n);
    }
  } catch (const std::exception&) {
    // the status is what matters
  }
  if (reply.body.size() > want) reply.body.resize(want);
  return reply;
}

std::vector<std::string> headerTokens(const std::string& value) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t comma = value.find(',', pos);
    if (comma == std::string::npos) comma = value.size();
    std::string t = trim(std::string_view(value).substr(pos, comma - pos));
    if (!t.empty()) out.push_back(std::move(t));
    pos = comma + 1;
  }
  return out;
}

bool headerHasToken(const std::string& value, std::string_view token) {
  for (const auto& t : headerTokens(value))
    if (lower(t) == lower(std::string(token))) return true;
  return false;
}

}  // namespace skiff::kubelet::streaming
