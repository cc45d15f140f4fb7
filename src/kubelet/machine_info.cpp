#include "kubelet/machine_info.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace skiff::kubelet {
namespace {

std::string firstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string osPrettyName() {
  std::ifstream in("/etc/os-release");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("PRETTY_NAME=", 0) != 0) continue;
    auto v = line.substr(12);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  return "Linux";
}

// The interface named in /proc/net/route for destination 0.0.0.0.
std::string defaultRouteInterface() {
  std::ifstream in("/proc/net/route");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string iface, dest;
    f >> iface >> dest;
    if (dest == "00000000") return iface;
  }
  return "";
}

}  // namespace

std::string defaultHostIp() {
  auto iface = defaultRouteInterface();
  ifaddrs* list = nullptr;
  if (iface.empty() || getifaddrs(&list) != 0) return "127.0.0.1";
  std::string out = "127.0.0.1";
  for (auto* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET || iface != a->ifa_name) continue;
    char buf[INET_ADDRSTRLEN];
    auto* sin = reinterpret_cast<sockaddr_in*>(a->ifa_addr);
    if (inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf)) {
      out = buf;
      break;
    }
  }
  freeifaddrs(list);
  return out;
}

MachineInfo readMachineInfo(const std::string& rootDir) {
  MachineInfo m;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  m.cpus = n > 0 ? static_cast<int>(n)
                 : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::ifstream mem("/proc/meminfo");
  for (std::string key; mem >> key;) {
    int64_t kb = 0;
    std::string unit;
    mem >> kb >> unit;
    if (key == "MemTotal:") {
      m.memoryBytes = kb * 1024;
      break;
    }
  }
  struct statvfs vfs {};
  if (statvfs(rootDir.c_str(), &vfs) == 0)
    m.diskBytes = static_cast<int64_t>(vfs.f_blocks) * vfs.f_frsize;
  m.machineId = firstLine("/etc/machine-id");
  m.systemUuid = firstLine("/sys/class/dmi/id/product_uuid");
  if (m.systemUuid.empty()) m.systemUuid = m.machineId;
  m.bootId = firstLine("/proc/sys/kernel/random/boot_id");
  utsname u{};
  if (uname(&u) == 0) {
    m.kernelVersion = u.release;
    m.hostname = u.nodename;
  }
  m.osImage = osPrettyName();
  return m;
}

}  // namespace skiff::kubelet
