#include "kubelet/containerd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "common/log.h"
#include "common/pki.h"
#include "common/thread_name.h"

namespace fs = std::filesystem;

namespace skiff::kubelet {
namespace {

std::string tail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string l; std::getline(in, l);) all.push_back(l);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += all[i] + "\n";
  return out;
}

// /proc/self/mountinfo escapes blanks in paths as octal (\040).
std::string unescapeMountPath(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() + 0 && i + 3 <= s.size() - 1 + 1) {
      int v = 0;
      bool ok = true;
      for (int k = 1; k <= 3; ++k) {
        char c = s[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// Probes whether this process may lower its oom_score_adj (CAP_SYS_RESOURCE) by writing the
// current value minus one and restoring it.
bool canLowerOomScore() {
  std::ifstream in("/proc/self/oom_score_adj");
  int current = 0;
  if (!(in >> current)) return false;
  if (current <= -1000) return true;
  std::ofstream lower("/proc/self/oom_score_adj");
  lower << (current - 1) << std::flush;
  bool ok = static_cast<bool>(lower);
  lower.close();
  if (ok) std::ofstream("/proc/self/oom_score_adj") << current << std::flush;
  return ok;
}

}  // namespace

bool unixSocketAnswers(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    ::close(fd);
    return false;
  }
  std::copy(path.begin(), path.end(), addr.sun_path);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

int unmountUnder(const std::string& prefix) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> points;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mountPoint;
    fields >> id >> parent >> dev >> root >> mountPoint;
    mountPoint = unescapeMountPath(mountPoint);
    if (mountPoint == prefix || mountPoint.rfind(prefix + "/", 0) == 0)
      points.push_back(mountPoint);
  }
  // Deepest first, so a mount inside another is gone before its parent.
  std::sort(points.begin(), points.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
  int count = 0;
  for (auto& p : points)
    if (::umount2(p.c_str(), MNT_DETACH) == 0) ++count;
  return count;
}

ContainerdProcess::ContainerdProcess(ContainerdOptions options) : options_(std::move(options)) {}

ContainerdProcess::~ContainerdProcess() { stop(); }

std::string ContainerdProcess::socketPath() const { return options_.dataDir + "/containerd.sock"; }
std::string ContainerdProcess::configPath() const { return options_.dataDir + "/config.toml"; }

std::string ContainerdProcess::renderConfig(const ContainerdOptions& o) {
  std::ostringstream t;
  t << "# Written by skiff on every start; edits are overwritten.\n"
    << "version = 2\n"
    << "root = \"" << o.dataDir << "/root\"\n"
    << "state = \"" << o.dataDir
    << "/state\"\n"
    // Plugins a kubelet never uses; fewer plugins start faster and log less.
    << "disabled_plugins = [\"io.containerd.snapshotter.v1.aufs\", "
       "\"io.containerd.snapshotter.v1.btrfs\", "
       "\"io.containerd.snapshotter.v1.devmapper\", \"io.containerd.snapshotter.v1.zfs\", "
       "\"io.containerd.tracing.processor.v1.otlp\", \"io.containerd.internal.v1.tracing\"]\n"
    << "[grpc]\n"
    << "  address = \"" << o.dataDir << "/containerd.sock\"\n"
    << "[ttrpc]\n"
    << "  address = \"" << o.dataDir << "/containerd.sock.ttrpc\"\n"
    << "[debug]\n"
    << "  level = \"warn\"\n"
    << "[plugins.\"io.containerd.grpc.v1.cri\"]\n"
    << "  sandbox_image = \"" << o.sandboxImage << "\"\n"
    << "  stream_server_address = \"127.0.0.1\"\n"
    << "  stream_server_port = \"0\"\n"
    << "  enable_unprivileged_ports = true\n"
    << "  enable_unprivileged_icmp = true\n"
    // Lowering oom_score_adj needs CAP_SYS_RESOURCE, which containers and VMs often lack;
    // containerd then clamps the pause's -998 (and Guaranteed pods' -997) to our own value.
    << "  restrict_oom_score_adj = " << (canLowerOomScore() ? "false" : "true") << "\n"
    << "  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
    << "    bin_dir = \"" << o.cniBinDir << "\"\n"
    << "    conf_dir = \"" << o.cniConfDir << "\"\n"
    << "  [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
    << "    snapshotter = \"overlayfs\"\n"
    << "    default_runtime_name = \"" << o.defaultRuntime << "\"\n"
    << "    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
    << "      runtime_type = \"io.containerd.runc.v2\"\n";
  // crun through the same shim: the shim runs whatever OCI binary BinaryName names.
  if (!o.crunBinary.empty())
    t << "    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.crun]\n"
      << "      runtime_type = \"io.containerd.runc.v2\"\n"
      << "      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.crun.options]\n"
      << "        BinaryName = \"" << o.crunBinary << "\"\n";
  return t.str();
}

std::string chooseDefaultRuntime(const std::string& requested, const std::string& crunBinary,
                                 const std::string& unifiedControllers, std::string* warning) {
  bool crunRefused = !unifiedControllers.empty();
  if (requested.empty()) return crunBinary.empty() || crunRefused ? "runc" : "crun";
  if (requested == "runc") return requested;
  if (requested == "crun") {
    if (crunBinary.empty())
      throw std::invalid_argument(
          "--default-runtime crun: crun is not installed (apt install crun)");
    if (crunRefused && warning)
      *warning = "crun refuses hybrid cgroups with controllers left on cgroup v2 (" +
                 unifiedControllers + "): pods will fail to start";
    return requested;
  }
  throw std::invalid_argument("--default-runtime: \"" + requested + "\" is not one of runc, crun");
}

std::string hybridUnifiedControllers() {
  std::ifstream in("/sys/fs/cgroup/unified/cgroup.controllers");
  std::string all, word;
  while (in >> word) all += (all.empty() ? "" : " ") + word;
  return all;
}

std::string findExecutable(const std::string& name) {
  std::string path = ::getenv("PATH") ? ::getenv("PATH") : "";
  path += ":/usr/sbin:/usr/bin";
  std::istringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    auto candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return fs::absolute(candidate).string();
  }
  return "";
}

int ContainerdProcess::spawn() {
  std::string logPath = options_.dataDir + "/containerd.log";
  std::string config = configPath();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("containerd: fork failed");
  if (pid == 0) {
    // Own session: a terminal's Ctrl-C reaches skiff, which stops containerd in order.
    ::setsid();
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    // skiff runs with umask 077 for its own secrets; containerd, its shims, CNI plugins and
    // the files it writes for pods (resolv.conf, hosts, rootfs) need the usual 022.
    ::umask(022);
    int fd = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execlp(options_.binary.c_str(), options_.binary.c_str(), "--config", config.c_str(), nullptr);
    ::_exit(127);
  }
  return pid;
}

void ContainerdProcess::start(std::chrono::milliseconds timeout) {
  fs::create_directories(options_.dataDir);
  fs::create_directories(options_.cniConfDir);
  auto sock = socketPath();
  if (sock.size() >= sizeof(sockaddr_un::sun_path))
    throw std::runtime_error("containerd: socket path too long: " + sock);
  writeFileAtomic(configPath(), renderConfig(options_), 0644);
  if (unixSocketAnswers(sock))
    throw std::runtime_error("containerd: another containerd already serves " + sock);
  {
    std::lock_guard lock(mu_);
    pid_ = spawn();
  }
  SKIFF_LOG_INFO("containerd starting pid={} socket={} log={}/containerd.log", pid_, sock,
                 options_.dataDir);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!unixSocketAnswers(sock)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("containerd exited during start; log:\n" +
                               tail(options_.dataDir + "/containerd.log", 15));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      stop(std::chrono::seconds(1));
      throw std::runtime_error("containerd did not open its socket in time; log:\n" +
                               tail(options_.dataDir + "/containerd.log", 15));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  supervisor_ = namedThread("containerd-sup", [this] { supervise(); });
}

void ContainerdProcess::supervise() {
  auto backoff = std::chrono::milliseconds(500);
  while (!stopping_) {
    int pid;
    {
      std::lock_guard lock(mu_);
      pid = pid_;
    }
    if (pid <= 0) return;
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    if (stopping_) return;
    SKIFF_LOG_WARN("containerd exited unexpectedly status={}; restarting in {}ms", status,
                   backoff.count());
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
    std::lock_guard lock(mu_);
    if (stopping_) return;
    try {
      pid_ = spawn();
    } catch (const std::exception& e) {
      SKIFF_LOG_ERROR("containerd restart failed error=\"{}\"", e.what());
      pid_ = -1;
      return;
    }
  }
}

void ContainerdProcess::stop(std::chrono::milliseconds grace) {
  if (stopping_.exchange(true)) {
    if (supervisor_.joinable()) supervisor_.join();
    return;
  }
  if (supervisor_.joinable()) supervisor_.join();
  std::lock_guard lock(mu_);
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  SKIFF_LOG_INFO("containerd stopped pid={}", pid_);
  pid_ = -1;
}

}  // namespace skiff::kubelet
