#include "cloud/local/route_programmer.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

#include "cloud/cloud_provider.h"

namespace skiff::cloud::local {

namespace json = boost::json;

namespace {

struct Result {
  int code = -1;
  std::string output;
};

// fork/exec with stdout+stderr captured, stdin from /dev/null; no shell involved.
Result run(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return {};
  }
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  Result r;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) r.output.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::vector<std::string> ipIn(const std::string& netns) {
  if (netns.empty()) throw CloudError("route programming needs a network namespace name");
  // "." (never a valid namespace name for iproute2) is the provider's own namespace: the
  // host side of `skiff cluster`, where the server runs.
  if (netns == kOwnNetns) return {"ip"};
  return {"ip", "-n", netns};
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::vector<KernelRoute> parseIpRouteJson(const std::string& text) {
  std::vector<KernelRoute> out;
  json::value v = json::parse(text.empty() ? "[]" : text);
  if (!v.is_array()) return out;
  for (const auto& r : v.as_array()) {
    const json::object* o = r.if_object();
    if (!o) continue;
    const auto* dst = o->if_contains("dst");
    const auto* gw = o->if_contains("gateway");
    if (!dst || !dst->is_string()) continue;
    std::string d(dst->as_string());
    if (d.find('/') == std::string::npos) d += "/32";  // ip prints host routes bare
    out.push_back({d, gw && gw->is_string() ? std::string(gw->as_string()) : ""});
  }
  return out;
}

std::vector<KernelRoute> IpRouteProgrammer::list(const std::string& netns) {
  auto argv = ipIn(netns);
  argv.insert(argv.begin() + 1, "-j");
  for (auto a : {"route", "show", "proto", "199"}) argv.push_back(a);
  auto r = run(argv);
  if (r.code != 0)
    throw CloudError("listing routes in network namespace " + netns + ": " + trimmed(r.output));
  try {
    return parseIpRouteJson(r.output);
  } catch (const std::exception& e) {
    throw CloudError("listing routes in network namespace " + netns +
                     ": unexpected output: " + e.what());
  }
}

void IpRouteProgrammer::replace(const std::string& netns, const KernelRoute& route) {
  auto argv = ipIn(netns);
  for (const auto& a :
       {std::string("route"), std::string("replace"), route.destination, std::string("via"),
        route.gateway, std::string("proto"), std::to_string(kRouteProtocol)})
    argv.push_back(a);
  auto r = run(argv);
  if (r.code != 0)
    throw CloudError("route " + route.destination + " via " + route.gateway + " in " + netns +
                     ": " + trimmed(r.output));
}

void IpRouteProgrammer::remove(const std::string& netns, const std::string& destination) {
  auto argv = ipIn(netns);
  for (const auto& a : {std::string("route"), std::string("del"), destination, std::string("proto"),
                        std::to_string(kRouteProtocol)})
    argv.push_back(a);
  auto r = run(argv);
  // "No such process" (ESRCH) or an empty namespace's "FIB table does not exist": already gone.
  if (r.code != 0 && r.output.find("No such process") == std::string::npos &&
      r.output.find("FIB table does not exist") == std::string::npos)
    throw CloudError("deleting route " + destination + " in " + netns + ": " + trimmed(r.output));
}

std::vector<KernelRoute> FakeRouteProgrammer::list(const std::string& netns) {
  std::lock_guard lock(mu);
  std::vector<KernelRoute> out;
  for (const auto& [d, g] : tables[netns]) out.push_back({d, g});
  return out;
}

void FakeRouteProgrammer::replace(const std::string& netns, const KernelRoute& route) {
  std::lock_guard lock(mu);
  if (failNetns.count(netns)) throw CloudError("fake: cannot write routes in " + netns);
  ++writes;
  tables[netns][route.destination] = route.gateway;
}

void FakeRouteProgrammer::remove(const std::string& netns, const std::string& destination) {
  std::lock_guard lock(mu);
  if (failNetns.count(netns)) throw CloudError("fake: cannot write routes in " + netns);
  ++writes;
  tables[netns].erase(destination);
}

}  // namespace skiff::cloud::local
