// Filesystem helpers of the volume files: folders, tree removal that never leaves the volume.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "kubelet/volume_internal.h"

namespace skiff::kubelet {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace volume_detail {

std::string errnoText(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

std::vector<std::string> splitPath(const std::string& p) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : p) {
    if (c == '/') {
      if (!cur.empty() && cur != ".") parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty() && cur != ".") parts.push_back(cur);
  return parts;
}

void makeDirMode(const std::string& dir, unsigned mode) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir + ": " + ec.message());
  // Permission bits only when they differ: a setgid bit fsGroup ownership added stays.
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & 0777) == mode) return;
  if (::chmod(dir.c_str(), mode) != 0) throw std::runtime_error(errnoText("cannot chmod", dir));
}

namespace {

// Deletes `name` inside `parentFd` without following symlinks or entering another filesystem.
void removeAt(int parentFd, const std::string& name, dev_t dev, const std::string& shown) {
  struct stat st {};
  if (::fstatat(parentFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    throw std::runtime_error(errnoText("cannot stat", shown));
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev) throw std::runtime_error(shown + " is a mount point; not removed");
    int fd = ::openat(parentFd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error(errnoText("cannot open", shown));
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      throw std::runtime_error(errnoText("cannot read", shown));
    }
    std::vector<std::string> children;
    while (auto* e = ::readdir(d)) {
      std::string child = e->d_name;
      if (child != "." && child != "..") children.push_back(child);
    }
    try {
      for (auto& child : children) removeAt(::dirfd(d), child, dev, shown + "/" + child);
    } catch (...) {
      ::closedir(d);
      throw;
    }
    ::closedir(d);
    if (::unlinkat(parentFd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      throw std::runtime_error(errnoText("cannot remove", shown));
  } else if (::unlinkat(parentFd, name.c_str(), 0) != 0 && errno != ENOENT) {
    throw std::runtime_error(errnoText("cannot remove", shown));
  }
}

}  // namespace

void removeTree(const std::string& path) {
  fs::path p(path);
  std::string parent = p.parent_path().string(), name = p.filename().string();
  if (parent.empty()) parent = ".";
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw std::runtime_error(errnoText("cannot stat", path));
  }
  Fd pfd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (pfd.fd < 0) throw std::runtime_error(errnoText("cannot open", parent));
  removeAt(pfd.fd, name, st.st_dev, path);
}

bool isMountPoint(const std::string& dir) {
  struct stat self {
  }, parent{};
  if (::lstat(dir.c_str(), &self) != 0 || ::lstat((dir + "/..").c_str(), &parent) != 0)
    return false;
  return self.st_dev != parent.st_dev;
}

void validateName(const std::string& name, const char* what) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    throw std::runtime_error(std::string("invalid ") + what + " \"" + name + "\"");
}

}  // namespace volume_detail

}  // namespace skiff::kubelet
