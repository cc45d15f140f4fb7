// Small helpers of the API server's network tests: byte I/O on upgraded connections and a
// loopback port nothing listens on.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "net/http_types.h"

namespace skiff::apiserver::test {

// Reads until end of stream.
inline std::string readAll(UpgradedConnection& c) {
  std::string out;
  char buf[16384];
  while (size_t n = c.read(buf, sizeof buf)) out.append(buf, n);
  return out;
}

// Reads exactly `n` bytes (fewer only at end of stream).
inline std::string readExactly(UpgradedConnection& c, size_t n) {
  std::string out;
  char buf[16384];
  while (out.size() < n) {
    size_t got = c.read(buf, std::min(sizeof buf, n - out.size()));
    if (got == 0) break;
    out.append(buf, got);
  }
  return out;
}

inline void writeString(UpgradedConnection& c, const std::string& s) {
  c.write(s.data(), s.size());
}

// A port on 127.0.0.1 nothing listens on.
inline int closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace skiff::apiserver::test
