#include "proxy/system.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/log.h"

namespace skiff::proxy {

namespace {

// fork/exec of argv with stdout+stderr captured (or discarded); stdin from /dev/null.
CommandResult runCommand(const std::vector<std::string>& argv, bool capture) {
  int pipefd[2] = {-1, -1};
  if (capture && ::pipe2(pipefd, O_CLOEXEC) != 0) return {};
  pid_t pid = ::fork();
  if (pid < 0) {
    if (capture) ::close(pipefd[0]), ::close(pipefd[1]);
    return {};
  }
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    int out = capture ? pipefd[1] : devnull;
    ::dup2(out, 1);
    ::dup2(out, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  CommandResult r;
  if (capture) {
    ::close(pipefd[1]);
    char buf[4096];
    for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) r.output.append(buf, n);
    ::close(pipefd[0]);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Endpoints as (ip, port): a new target port on the same pod is a new destination too.
std::set<std::pair<std::string, int>> endpointsOf(const ServicePort& sp) {
  std::set<std::pair<std::string, int>> eps;
  for (auto& ep : sp.clusterEndpoints) eps.insert({ep.ip, ep.port});
  for (auto& ep : sp.localEndpoints) eps.insert({ep.ip, ep.port});
  return eps;
}

}  // namespace

CommandResult runNft(const std::string& script) {
  // A file rather than a pipe: nft reads it whole, and errors quote its line numbers.
  char path[] = "/tmp/skiff-proxy-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) return {-1, "mkstemp failed"};
  size_t off = 0;
  while (off < script.size()) {
    ssize_t n = ::write(fd, script.data() + off, script.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::close(fd);
  auto r = runCommand({"nft", "-f", path}, true);
  ::unlink(path);
  return r;
}

CommandResult listTable() { return runCommand({"nft", "list", "table", "ip", "skiff"}, true); }

bool deleteTable() {
  auto r = runNft("table ip skiff\ndelete table ip skiff\n");
  return r.exitCode == 0;
}

std::vector<ConntrackFlush> staleUdpFlows(const std::vector<ServicePort>& before,
                                          const std::vector<ServicePort>& after) {
  std::map<std::string, const ServicePort*> next;
  for (auto& sp : after)
    if (sp.protocol == "udp") next[sp.id()] = &sp;
  std::vector<ConntrackFlush> flows;
  auto addFor = [&](const ServicePort& sp, const std::string& endpoint) {
    flows.push_back({sp.clusterIp, sp.port, endpoint});
    for (auto& ip : sp.externalIps) flows.push_back({ip, sp.port, endpoint});
    if (sp.nodePort > 0) flows.push_back({"", sp.nodePort, endpoint});
  };
  std::set<std::string> seen;
  for (auto& sp : before) {
    if (sp.protocol != "udp" || sp.noMasquerade) continue;
    seen.insert(sp.id());
    auto it = next.find(sp.id());
    auto now = it == next.end() ? decltype(endpointsOf(sp)){} : endpointsOf(*it->second);
    std::set<std::string> goneIps;  // conntrack filters the DNAT target by address only
    for (auto& ep : endpointsOf(sp))
      if (!now.count(ep)) goneIps.insert(ep.first);
    for (auto& ip : goneIps) addFor(sp, ip);
    // From no endpoints to some: flows conntrack recorded while packets were rejected
    // (no DNAT) would otherwise keep bypassing the new rules.
    if (it != next.end() && sp.clusterEndpoints.empty() && !it->second->clusterEndpoints.empty())
      addFor(*it->second, "");
  }
  for (auto& [id, sp] : next)
    if (!seen.count(id) && !sp->noMasquerade && !sp->clusterEndpoints.empty()) addFor(*sp, "");
  return flows;
}

int flushConntrack(const std::vector<ConntrackFlush>& flows) {
  int failed = 0;
  for (auto& f : flows) {
    std::vector<std::string> argv = {"conntrack", "-D", "-p", "udp"};
    if (!f.origDst.empty()) argv.insert(argv.end(), {"--orig-dst", f.origDst});
    if (f.origPort > 0) argv.insert(argv.end(), {"--orig-port-dst", std::to_string(f.origPort)});
    if (!f.dnatTo.empty()) argv.insert(argv.end(), {"--dst-nat", f.dnatTo});
    // Exit code 1 only means nothing matched.
    auto r = runCommand(argv, false);
    if (r.exitCode < 0 || r.exitCode == 127) {
      ++failed;
      SKIFF_LOG_WARN(
          "proxy: conntrack could not run (install the conntrack package) dst={} port={}",
          f.origDst, f.origPort);
    }
  }
  return failed;
}

std::string setSysctl(const std::string& key, const std::string& value) {
  std::string path = "/proc/sys/" + key;
  for (size_t i = 10; i < path.size(); ++i)
    if (path[i] == '.') path[i] = '/';
  std::string previous;
  {
    std::ifstream in(path);
    if (!in) return "";
    std::getline(in, previous);
  }
  if (previous != value) {
    std::ofstream out(path);
    out << value << "\n";
    if (!out) SKIFF_LOG_WARN("proxy: could not set sysctl {}={}", key, value);
  }
  return previous;
}

}  // namespace skiff::proxy
