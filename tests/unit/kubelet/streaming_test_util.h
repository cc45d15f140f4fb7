// Test plumbing for the streaming protocols: connected socket pairs as UpgradedConnections, and
// a stand-in for containerd's CRI streaming server (plain HTTP on 127.0.0.1, SPDY upgrade).
#pragma once

// clang-format off: the CRI header declares enumerators named like <signal.h>'s macros, so it
// comes before any system header.
#include "kubelet/cri/runtime_service.h"
// clang-format on

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kubelet/streaming/spdy.h"
#include "kubelet/streaming/upgraded_io.h"

namespace skiff::kubelet::streaming::testing {

inline std::pair<std::unique_ptr<FdConnection>, std::unique_ptr<FdConnection>> socketPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    throw std::runtime_error("socketpair");
  return {std::make_unique<FdConnection>(fds[0]), std::make_unique<FdConnection>(fds[1])};
}

// The runtime's streaming server: accepts connections on 127.0.0.1, checks the upgrade request
// and runs `serve` with a started-later server session for each.
class FakeStreamingServer {
 public:
  struct Request {
    std::string method, target, head;  // head: the whole request head, for header checks
  };
  // `protocol` is answered as X-Stream-Protocol-Version; `serve` owns the session.
  using Serve = std::function<void(const Request&, std::unique_ptr<spdy::Session>)>;

  FakeStreamingServer(std::string protocol, Serve serve)
      : protocol_(std::move(protocol)), serve_(std::move(serve)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd_, 8) != 0)
      throw std::runtime_error("fake streaming server: bind");
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeStreamingServer() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (auto& t : sessions_) t.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void loop() {
    while (!stopping_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      sessions_.emplace_back([this, c] { handle(std::make_unique<FdConnection>(c)); });
    }
  }
  void handle(UpgradedConnectionPtr conn) {
    std::string head;
    char ch;
    while (head.find("\r\n\r\n") == std::string::npos) {
      if (conn->read(&ch, 1) != 1) return;
      head.push_back(ch);
    }
    Request r;
    r.head = head;
    r.method = head.substr(0, head.find(' '));
    auto sp = head.find(' ');
    r.target = head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
    {
      std::lock_guard lock(mu_);
      requests_.push_back(r);
    }
    std::string reply =
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
        "X-Stream-Protocol-Version: " +
        protocol_ + "\r\n\r\n";
    conn->write(reply.data(), reply.size());
    serve_(r, std::make_unique<spdy::Session>(std::move(conn), spdy::Session::Role::Server));
  }

  std::string protocol_;
  Serve serve_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::vector<std::thread> sessions_;
  std::mutex mu_;
  std::vector<Request> requests_;
};

// A CRI runtime that only hands out streaming URLs (and records what it was asked).
class StreamingOnlyRuntime : public cri::RuntimeService {
 public:
  std::string url;  // answered by exec, attach and portForward
  std::vector<cri::v1::ExecRequest> execs;
  std::vector<cri::v1::AttachRequest> attaches;
  std::vector<cri::v1::PortForwardRequest> portForwards;

  std::string exec(const cri::v1::ExecRequest& r) override {
    std::lock_guard lock(mu_);
    execs.push_back(r);
    return url;
  }
  std::string attach(const cri::v1::AttachRequest& r) override {
    std::lock_guard lock(mu_);
    attaches.push_back(r);
    return url;
  }
  std::string portForward(const cri::v1::PortForwardRequest& r) override {
    std::lock_guard lock(mu_);
    portForwards.push_back(r);
    return url;
  }

  cri::v1::VersionResponse version() override { throw unused(); }
  cri::v1::StatusResponse status() override { throw unused(); }
  std::string runPodSandbox(const cri::v1::PodSandboxConfig&, const std::string&) override {
    throw unused();
  }
  void stopPodSandbox(const std::string&) override { throw unused(); }
  void removePodSandbox(const std::string&) override { throw unused(); }
  cri::v1::PodSandboxStatus podSandboxStatus(const std::string&) override { throw unused(); }
  std::vector<cri::v1::PodSandbox> listPodSandbox(const cri::v1::PodSandboxFilter&) override {
    throw unused();
  }
  std::string createContainer(const std::string&, const cri::v1::ContainerConfig&,
                              const cri::v1::PodSandboxConfig&) override {
    throw unused();
  }
  void startContainer(const std::string&) override { throw unused(); }
  void stopContainer(const std::string&, int64_t) override { throw unused(); }
  void removeContainer(const std::string&) override { throw unused(); }
  std::vector<cri::v1::Container> listContainers(const cri::v1::ContainerFilter&) override {
    throw unused();
  }
  cri::v1::ContainerStatus containerStatus(const std::string&) override { throw unused(); }
  ExecResult execSync(const std::string&, const std::vector<std::string>&,
                      std::chrono::seconds) override {
    throw unused();
  }
  std::vector<cri::v1::ContainerStats> listContainerStats(
      const cri::v1::ContainerStatsFilter&) override {
    throw unused();
  }
  void reopenContainerLog(const std::string&) override { throw unused(); }

 private:
  static cri::CriError unused() { return cri::CriError(12, "not implemented by the test runtime"); }
  std::mutex mu_;
};

}  // namespace skiff::kubelet::streaming::testing
