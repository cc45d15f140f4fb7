#include "kubelet/local_path_disk.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "common/log.h"

extern char** environ;

namespace skiff::kubelet::localpath {

namespace fs = std::filesystem;

namespace {

std::string errnoText(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int release() {
    int f = fd;
    fd = -1;
    return f;
  }
};

// The last line of a helper's output, for messages (mkfs and resize2fs are chatty).
std::string lastLine(const std::string& output) {
  std::string s = output;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  auto nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

std::string canonicalOr(const std::string& path) {
  std::error_code ec;
  auto c = fs::weakly_canonical(path, ec);
  return ec ? path : c.string();
}

void runOrThrow(const std::vector<std::string>& argv, const std::string& what) {
  auto r = runProgram(argv);
  if (r.exitCode == 0) return;
  if (r.exitCode == 127 || r.exitCode == -1)
    throw std::runtime_error(what + ": cannot run " + argv[0] +
                             " (is e2fsprogs installed?): " + lastLine(r.output));
  throw std::runtime_error(what + ": " + argv[0] + " exited with " + std::to_string(r.exitCode) +
                           ": " + lastLine(r.output));
}

}  // namespace

// posix_spawn rather than fork: the kubelet has many threads, and the child must not run
// anything but exec.
CommandResult runProgram(const std::vector<std::string>& argv) {
  CommandResult r;
  if (argv.empty()) return r;
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return r;
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  ::posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    r.output = std::strerror(rc);
    r.exitCode = 127;
    return r;
  }
  char buf[4096];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    r.output.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool createImage(const std::string& image, int64_t bytes) {
  if (bytes <= 0) throw std::runtime_error("invalid capacity " + std::to_string(bytes));
  struct stat st {};
  if (::stat(image.c_str(), &st) == 0) return false;
  fs::create_directories(fs::path(image).parent_path());
  std::string tmp = image + ".new";
  ::unlink(tmp.c_str());
  {
    Fd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (f.fd < 0) throw std::runtime_error(errnoText("cannot create", tmp));
    // Sparse: blocks are taken from the host's disk only as the volume's owner writes.
    if (::ftruncate(f.fd, bytes) != 0) {
      auto message = errnoText("cannot size", tmp);
      ::unlink(tmp.c_str());
      throw std::runtime_error(message);
    }
  }
  try {
    // -m 0: no blocks reserved for root; -E nodiscard: nothing to discard in a new sparse file;
    // lazy init keeps mkfs from writing every inode table of a large image now.
    runOrThrow({"mkfs.ext4", "-q", "-F", "-m", "0", "-E",
                "nodiscard,lazy_itable_init=1,lazy_journal_init=1", tmp},
               "cannot make the filesystem");
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), image.c_str()) != 0) {
    auto message = errnoText("cannot rename onto", image);
    ::unlink(tmp.c_str());
    throw std::runtime_error(message);
  }
  return true;
}

int64_t imageSize(const std::string& image) {
  struct stat st {};
  if (::stat(image.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_size);
}

std::string findLoopDevice(const std::string& image) {
  const std::string want = canonicalOr(image);
  std::error_code ec;
  for (auto& e : fs::directory_iterator("/sys/block", ec)) {
    std::string name = e.path().filename().string();
    if (!name.starts_with("loop")) continue;
    std::ifstream in(e.path() / "loop" / "backing_file");
    std::string backing;
    if (!in || !std::getline(in, backing)) continue;
    if (backing == want) return "/dev/" + name;
  }
  return "";
}

std::string attachLoop(const std::string& image, int& fdOut) {
  Fd file(::open(image.c_str(), O_RDWR | O_CLOEXEC));
  if (file.fd < 0) throw std::runtime_error(errnoText("cannot open", image));
  Fd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (control.fd < 0) throw std::runtime_error(errnoText("cannot open", "/dev/loop-control"));
  // Another process (or kubelet thread) may take the device between GET_FREE and the
  // configure call: EBUSY then means "ask again".
  for (int attempt = 0; attempt < 10; ++attempt) {
    int n = ::ioctl(control.fd, LOOP_CTL_GET_FREE);
    if (n < 0) throw std::runtime_error(errnoText("no free loop device for", image));
    std::string dev = "/dev/loop" + std::to_string(n);
    Fd loop(::open(dev.c_str(), O_RDWR | O_CLOEXEC));
    if (loop.fd < 0) throw std::runtime_error(errnoText("cannot open", dev));
    loop_config config{};
    config.fd = static_cast<__u32>(file.fd);
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    std::string base = canonicalOr(image);
    std::strncpy(reinterpret_cast<char*>(config.info.lo_file_name), base.c_str(), LO_NAME_SIZE - 1);
    if (::ioctl(loop.fd, LOOP_CONFIGURE, &config) == 0) {
      fdOut = loop.release();
      return dev;
    }
    if (errno == EBUSY) continue;
    if (errno != EINVAL && errno != ENOTTY)
      throw std::runtime_error(errnoText("cannot attach " + image + " to", dev));
    // A kernel before 5.8: the two-step way.
    if (::ioctl(loop.fd, LOOP_SET_FD, file.fd) != 0) {
      if (errno == EBUSY) continue;
      throw std::runtime_error(errnoText("cannot attach " + image + " to", dev));
    }
    if (::ioctl(loop.fd, LOOP_SET_STATUS64, &config.info) != 0) {
      auto message = errnoText("cannot configure", dev);
      ::ioctl(loop.fd, LOOP_CLR_FD, 0);
      throw std::runtime_error(message);
    }
    fdOut = loop.release();
    return dev;
  }
  throw std::runtime_error("no free loop device for " + image + " (all taken while trying)");
}

bool isMounted(const std::string& dir) {
  struct stat self {
  }, parent{};
  if (::lstat(dir.c_str(), &self) != 0 || ::lstat((dir + "/..").c_str(), &parent) != 0)
    return false;
  return self.st_dev != parent.st_dev;
}

void mountImage(const std::string& image, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir + ": " + ec.message());
  if (isMounted(dir)) return;
  int loopFd = -1;
  std::string dev = findLoopDevice(image);
  if (dev.empty()) {
    dev = attachLoop(image, loopFd);
  } else {
    // Left attached by an earlier run (a mount that went away with autoclear unset, or a
    // mount attempt that failed): reuse it.
    loopFd = ::open(dev.c_str(), O_RDWR | O_CLOEXEC);
  }
  Fd hold(loopFd);
  if (::mount(dev.c_str(), dir.c_str(), "ext4", MS_NOSUID | MS_NODEV, "") != 0) {
    auto message = errnoText("cannot mount " + dev + " (" + image + ") at", dir);
    if (errno == EINVAL || errno == EUCLEAN) {
      // A damaged filesystem (a crash while writing): repair what fsck can, then retry once.
      runProgram({"e2fsck", "-p", "-f", dev});
      if (::mount(dev.c_str(), dir.c_str(), "ext4", MS_NOSUID | MS_NODEV, "") == 0) message.clear();
    }
    if (!message.empty()) throw std::runtime_error(message);
  }
  // The volume's root is writable by any user of the pod, as local-path-provisioner's folders
  // (fsGroup is not applied to these volumes, like hostPath and local ones).
  if (::chmod(dir.c_str(), 0777) != 0) throw std::runtime_error(errnoText("cannot chmod", dir));
}

namespace {

void growFile(const std::string& image, int64_t bytes) {
  int64_t size = imageSize(image);
  if (size < 0) throw std::runtime_error("volume image " + image + " does not exist");
  if (bytes > size && ::truncate(image.c_str(), bytes) != 0)
    throw std::runtime_error(errnoText("cannot grow", image));
}

}  // namespace

bool growOnline(const std::string& image, const std::string& dir, int64_t bytes) {
  growFile(image, bytes);
  std::string dev = findLoopDevice(image);
  if (dev.empty() || !isMounted(dir))
    throw std::runtime_error("volume image " + image + " is not mounted at " + dir);
  Fd loop(::open(dev.c_str(), O_RDWR | O_CLOEXEC));
  if (loop.fd < 0) throw std::runtime_error(errnoText("cannot open", dev));
  if (::ioctl(loop.fd, LOOP_SET_CAPACITY, 0) != 0)
    throw std::runtime_error(errnoText("cannot refresh the capacity of", dev));
  // Online: ext4 grows while mounted, the pod keeps running.
  auto r = runProgram({"resize2fs", dev});
  if (r.exitCode == 0) return true;
  if (r.output.find("Permission denied") != std::string::npos ||
      r.output.find("Operation not permitted") != std::string::npos)
    return false;
  throw std::runtime_error("cannot resize the filesystem: resize2fs exited with " +
                           std::to_string(r.exitCode) + ": " + lastLine(r.output));
}

void growOffline(const std::string& image, int64_t bytes) {
  growFile(image, bytes);
  if (!findLoopDevice(image).empty())
    throw std::runtime_error("volume image " + image + " is still in use");
  // resize2fs insists on a freshly checked filesystem; exit 1 is "errors corrected".
  auto check = runProgram({"e2fsck", "-p", "-f", image});
  if (check.exitCode != 0 && check.exitCode != 1)
    throw std::runtime_error("cannot check the filesystem before resizing: e2fsck exited with " +
                             std::to_string(check.exitCode) + ": " + lastLine(check.output));
  runOrThrow({"resize2fs", image}, "cannot resize the filesystem");
}

bool waitDetached(const std::string& image, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Autoclear detaches once the last user is gone, shortly after the unmount.
  while (!findLoopDevice(image).empty()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

void unmountImage(const std::string& dir) {
  // Repeated: a folder mounted twice (two kubelet runs racing) is fully released.
  for (int i = 0; i < 4 && isMounted(dir); ++i)
    if (::umount2(dir.c_str(), MNT_DETACH) != 0)
      throw std::runtime_error(errnoText("cannot unmount", dir));
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT)
    throw std::runtime_error(errnoText("cannot remove", dir));
}

FsSize filesystemSize(const std::string& dir) {
  struct statvfs sv {};
  if (::statvfs(dir.c_str(), &sv) != 0) throw std::runtime_error(errnoText("cannot statvfs", dir));
  return {static_cast<int64_t>(sv.f_blocks) * static_cast<int64_t>(sv.f_frsize),
          static_cast<int64_t>(sv.f_bavail) * static_cast<int64_t>(sv.f_frsize)};
}

}  // namespace skiff::kubelet::localpath
