#include "cli/cluster_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "cli/cluster_network.h"
#include "common/pki.h"

namespace fs = std::filesystem;

namespace skiff::cli::cluster {

using namespace std::chrono_literals;

void execChild(const std::vector<std::string>& argv, int outFd) {
  if (outFd >= 0) {
    ::dup2(outFd, 1);
    ::dup2(outFd, 2);
  }
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, 0);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  ::_exit(127);
}

pid_t readPid(const std::string& file) {
  std::ifstream in(file);
  pid_t pid = 0;
  if (!(in >> pid) || pid <= 0) return 0;
  return pid;
}

namespace {
// The state letter of /proc/PID/stat ('R', 'S', 'T', 'Z'...); 0 when unreadable.
char procState(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(stat, s);
  auto close = s.rfind(')');
  return close != std::string::npos && close + 2 < s.size() ? s[close + 2] : 0;
}
}  // namespace

bool alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  return procState(pid) != 'Z';  // a zombie (never reaped: not our child) counts as gone
}

bool stoppedBySignal(pid_t pid) { return alive(pid) && procState(pid) == 'T'; }

pid_t spawnDetached(const std::vector<std::string>& argv, const std::string& log,
                    const std::string& pidFile) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setsid();
    execChild(argv, ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  }
  writeFileAtomic(pidFile, std::to_string(pid) + "\n", 0644);
  return pid;
}

void terminate(pid_t pid, std::chrono::milliseconds grace) {
  if (!alive(pid)) return;
  ::kill(pid, SIGCONT);  // a stopped node cannot act on SIGTERM
  ::kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (alive(pid) && std::chrono::steady_clock::now() < deadline) {
    ::waitpid(pid, nullptr, WNOHANG);
    std::this_thread::sleep_for(50ms);
  }
  if (alive(pid)) ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, WNOHANG);
}

std::string selfExe() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "skiff" : exe.string();
}

std::vector<pid_t> processesInNetns(const std::string& netns) {
  std::vector<pid_t> pids;
  struct stat target {};
  if (::stat(("/run/netns/" + netns).c_str(), &target) != 0) return pids;
  for (auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    struct stat st {};
    if (::stat((e.path() / "ns/net").c_str(), &st) == 0 && st.st_ino == target.st_ino &&
        st.st_dev == target.st_dev)
      pids.push_back(std::stoi(name));
  }
  return pids;
}

void killContainersOf(const std::string& socket) {
  for (auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), {});
    std::vector<std::string> args;
    std::stringstream ss(cmdline);
    for (std::string a; std::getline(ss, a, '\0');) args.push_back(a);
    bool ours = false;
    std::string id;
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "-address" && args[i + 1] == socket) ours = true;
      if (args[i] == "-id") id = args[i + 1];
    }
    if (!ours) continue;
    if (!id.empty()) {
      run({"runc", "--root", "/run/containerd/runc/k8s.io", "kill", "-a", id, "KILL"});
      run({"runc", "--root", "/run/containerd/runc/k8s.io", "delete", "-f", id});
    }
    ::kill(std::stoi(name), SIGKILL);
  }
}

std::vector<std::string> cgroupDirs(const std::string& root) {
  std::vector<std::string> dirs;
  std::error_code ec;
  if (fs::exists("/sys/fs/cgroup/cgroup.controllers", ec)) return {"/sys/fs/cgroup" + root};
  for (auto& e : fs::directory_iterator("/sys/fs/cgroup", ec))
    if (e.is_directory(ec) && !e.is_symlink(ec)) dirs.push_back(e.path().string() + root);
  return dirs;
}

void freezePods(const std::string& root, bool frozen) {
  std::error_code ec;
  if (fs::exists("/sys/fs/cgroup/cgroup.controllers", ec)) {
    std::ofstream("/sys/fs/cgroup" + root + "/cgroup.freeze") << (frozen ? "1" : "0");
  } else if (fs::exists("/sys/fs/cgroup/freezer" + root, ec)) {
    std::ofstream("/sys/fs/cgroup/freezer" + root + "/freezer.state")
        << (frozen ? "FROZEN" : "THAWED");
  }
}

namespace {
// Every pid in cgroup.procs under `dir`.
std::vector<pid_t> cgroupPids(const std::string& dir) {
  std::vector<pid_t> pids;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return pids;
  std::vector<std::string> dirs{dir};
  for (auto& e : fs::recursive_directory_iterator(dir, ec))
    if (e.is_directory(ec)) dirs.push_back(e.path().string());
  for (auto& d : dirs) {
    std::ifstream in(d + "/cgroup.procs");
    for (pid_t pid; in >> pid;) pids.push_back(pid);
  }
  return pids;
}
}  // namespace

void killCgroupProcesses(const std::string& root, std::chrono::milliseconds wait) {
  freezePods(root, false);  // a frozen process cannot die
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    bool any = false;
    for (auto& dir : cgroupDirs(root))
      for (pid_t pid : cgroupPids(dir)) {
        any = true;
        ::kill(pid, SIGCONT);
        ::kill(pid, SIGKILL);
      }
    if (!any || std::chrono::steady_clock::now() > deadline) return;
    std::this_thread::sleep_for(50ms);
  }
}

std::vector<std::string> removeDeadPodNetnsNames() {
  std::vector<std::string> removed;
  std::error_code ec;
  struct stat dir {};
  if (::stat("/run/netns", &dir) != 0) return removed;
  for (auto& e : fs::directory_iterator("/run/netns", ec)) {
    const std::string name = e.path().filename().string();
    struct stat st {};
    if (name.rfind("cni-", 0) != 0 || ::lstat(e.path().c_str(), &st) != 0) continue;
    // A namespace bound here is a mount point: another device than the folder's.
    if (!S_ISREG(st.st_mode) || st.st_dev != dir.st_dev || st.st_size != 0) continue;
    if (fs::remove(e.path(), ec)) removed.push_back(name);
  }
  return removed;
}

void removeCgroups(const std::string& root) {
  for (auto& top : cgroupDirs(root)) {
    std::error_code ec;
    if (!fs::is_directory(top, ec)) continue;
    std::vector<std::string> all{top};
    for (auto& e : fs::recursive_directory_iterator(top, ec))
      if (e.is_directory(ec)) all.push_back(e.path().string());
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
    for (auto& d : all) ::rmdir(d.c_str());
  }
}

}  // namespace skiff::cli::cluster
