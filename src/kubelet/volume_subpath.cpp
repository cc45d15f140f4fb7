// subPath mounts: the path checked inside the volume, then opened component by component with
// O_PATH|O_NOFOLLOW and bind-mounted from /proc/self/fd (CVE-2021-25741).
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "kubelet/volume_internal.h"

namespace skiff::kubelet {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace volume_detail {

// The cleaned subPath inside volumePath (existing symlinks are followed only while they stay
// inside the volume; missing folders are created with the volume's mode), resolved.
std::string prepareSubPath(const std::string& volumePath, const std::string& subPath) {
  std::error_code ec;
  std::string base = fs::canonical(volumePath, ec).string();
  if (ec) throw std::runtime_error("cannot resolve " + volumePath + ": " + ec.message());
  struct stat bst {};
  if (::stat(base.c_str(), &bst) != 0) throw std::runtime_error(errnoText("cannot stat", base));
  mode_t perm = bst.st_mode & 07777;

  auto parts = splitPath(subPath);
  std::string cur = base;
  Fd dir(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd < 0) throw std::runtime_error(errnoText("cannot open", base));
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    bool last = i + 1 == parts.size();
    struct stat st {};
    if (::fstatat(dir.fd, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) throw std::runtime_error(errnoText("cannot stat", cur + "/" + part));
      if (::mkdirat(dir.fd, part.c_str(), perm) != 0 && errno != EEXIST)
        throw std::runtime_error(errnoText("cannot create", cur + "/" + part));
      ::fchmodat(dir.fd, part.c_str(), perm, 0);
      if (::fstatat(dir.fd, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        throw std::runtime_error(errnoText("cannot stat", cur + "/" + part));
    }
    std::string next = cur + "/" + part;
    if (S_ISLNK(st.st_mode)) {
      std::string resolved = fs::canonical(next, ec).string();
      if (ec || !isUnder(resolved, base))
        throw std::runtime_error("subPath " + subPath + " leaves the volume");
      next = resolved;
      if (::stat(next.c_str(), &st) != 0) throw std::runtime_error(errnoText("cannot stat", next));
    }
    if (S_ISDIR(st.st_mode)) {
      dir = Fd(::open(next.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (dir.fd < 0) throw std::runtime_error(errnoText("cannot open", next));
    } else if (!last) {
      throw std::runtime_error(next + " is not a directory");
    }
    cur = next;
  }
  std::string resolved = fs::canonical(cur, ec).string();
  if (ec || !isUnder(resolved, base))
    throw std::runtime_error("subPath " + subPath + " leaves the volume");
  return resolved;
}

// Opens `resolved` (a path under `base` that prepareSubPath checked) one component at a time
// with O_PATH|O_NOFOLLOW, as upstream's doSafeOpen (the CVE-2021-25741 fix): a component that
// became a symlink since the check (a container racing the kubelet) is refused instead of
// followed, and the caller bind-mounts the descriptor — the very inode checked — rather than a
// path that can be swapped before the runtime mounts it.
Fd openSubPathFd(const std::string& base, const std::string& resolved) {
  Fd cur(::open(base.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (cur.fd < 0) throw std::runtime_error(errnoText("cannot open", base));
  if (resolved == base) return cur;
  if (!isUnder(resolved, base)) throw std::runtime_error(resolved + " is not under " + base);
  std::string walked = base;
  for (const auto& part : splitPath(resolved.substr(base.size() + 1))) {
    if (part.empty() || part == "." || part == "..")
      throw std::runtime_error("invalid path component in " + resolved);
    walked += "/" + part;
    Fd next(::openat(cur.fd, part.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (next.fd < 0) throw std::runtime_error(errnoText("cannot open", walked));
    struct stat st {};
    if (::fstat(next.fd, &st) != 0) throw std::runtime_error(errnoText("cannot stat", walked));
    if (S_ISLNK(st.st_mode)) throw std::runtime_error("symlink at " + walked + " is not allowed");
    cur = std::move(next);
  }
  return cur;
}

// Bind-mounts the opened subPath onto `target` (a file or folder made to match it), replacing
// an earlier bind there (a restarted container), and returns `target`.
std::string bindSubPath(const Fd& source, const std::string& target) {
  struct stat st {};
  if (::fstat(source.fd, &st) != 0) throw std::runtime_error(errnoText("cannot stat", target));
  fs::create_directories(fs::path(target).parent_path());
  // A running container keeps its own copy of the old bind: detaching it here is safe.
  while (::umount2(target.c_str(), MNT_DETACH) == 0) {
  }
  if (S_ISDIR(st.st_mode)) {
    if (::mkdir(target.c_str(), 0750) != 0 && errno != EEXIST)
      throw std::runtime_error(errnoText("cannot create", target));
  } else {
    Fd f(::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640));
    if (f.fd < 0) throw std::runtime_error(errnoText("cannot create", target));
  }
  std::string procPath = "/proc/self/fd/" + std::to_string(source.fd);
  if (::mount(procPath.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0)
    throw std::runtime_error(errnoText("cannot bind-mount subPath onto", target));
  return target;
}

}  // namespace volume_detail

using namespace volume_detail;

int openSubPathSafely(const std::string& base, const std::string& resolved) {
  Fd fd = openSubPathFd(base, resolved);
  int out = fd.fd;
  fd.fd = -1;
  return out;
}

}  // namespace skiff::kubelet
