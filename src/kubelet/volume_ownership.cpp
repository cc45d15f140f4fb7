// fsGroup ownership of volumes (upstream's SetVolumeOwnership), race-free through descriptors.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "kubelet/volume_internal.h"

namespace skiff::kubelet {

namespace json = boost::json;
namespace fs = std::filesystem;

using namespace volume_detail;

namespace {

// One inode, reached through `fd` (O_PATH or opened): group, then the mode bits. chmod goes
// through /proc/self/fd/N because fchmod refuses O_PATH descriptors; both act on the inode the
// descriptor holds, never on whatever a path names by now.
void ownInode(int fd, const struct stat& st, gid_t fsGroup, mode_t mask, const std::string& what) {
  if (::fchownat(fd, "", static_cast<uid_t>(-1), fsGroup, AT_EMPTY_PATH) != 0)
    throw std::runtime_error(errnoText("cannot change the group of", what));
  if (S_ISLNK(st.st_mode)) return;  // a link's own mode means nothing
  mode_t mode = (st.st_mode & 07777) | mask;
  if (S_ISDIR(st.st_mode)) mode |= S_ISGID | 0110;
  if ((st.st_mode & 07777) == mode) return;
  std::string proc = "/proc/self/fd/" + std::to_string(fd);
  if (::chmod(proc.c_str(), mode) != 0) throw std::runtime_error(errnoText("cannot chmod", what));
}

// The entries of the open folder `dirFd`, each opened relative to it without following links,
// folders recursed into; other filesystems mounted below are left alone.
void ownTree(int dirFd, dev_t dev, gid_t fsGroup, mode_t mask, const std::string& where,
             int depth) {
  if (depth > 512) throw std::runtime_error("folders nested too deep under " + where);
  int listFd = ::dup(dirFd);
  if (listFd < 0) throw std::runtime_error(errnoText("cannot list", where));
  DIR* d = ::fdopendir(listFd);
  if (!d) {
    ::close(listFd);
    throw std::runtime_error(errnoText("cannot list", where));
  }
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  ::closedir(d);
  for (const auto& name : names) {
    const std::string what = where + "/" + name;
    Fd fd(::openat(dirFd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (fd.fd < 0) continue;  // removed meanwhile
    struct stat st {};
    if (::fstat(fd.fd, &st) != 0 || st.st_dev != dev) continue;
    ownInode(fd.fd, st, fsGroup, mask, what);
    if (!S_ISDIR(st.st_mode)) continue;
    Fd sub(::openat(dirFd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat again {};
    // Listed only when it is still the folder just handled (not swapped for another).
    if (sub.fd < 0 || ::fstat(sub.fd, &again) != 0 || again.st_ino != st.st_ino ||
        again.st_dev != st.st_dev)
      continue;
    ownTree(sub.fd, dev, fsGroup, mask, what, depth + 1);
  }
}

}  // namespace

bool setVolumeOwnership(const std::string& dir, gid_t fsGroup, bool readOnly,
                        const std::string& changePolicy) {
  Fd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (root.fd < 0) throw std::runtime_error(errnoText("cannot open", dir));
  struct stat st {};
  if (::fstat(root.fd, &st) != 0) throw std::runtime_error(errnoText("cannot stat", dir));
  const mode_t mask = readOnly ? 0440 : 0660;  // group (and owner) read, or read-write
  const mode_t want = mask | S_ISGID | 0110;
  if (changePolicy == "OnRootMismatch" && st.st_gid == fsGroup && (st.st_mode & want) == want)
    return false;
  // Everything through descriptors opened with O_NOFOLLOW, relative to their folder: a
  // container racing the walk (swapping a file or folder for a link to /etc) cannot make the
  // kubelet change anything outside the volume. Links are re-grouped themselves only.
  ownInode(root.fd, st, fsGroup, mask, dir);
  ownTree(root.fd, st.st_dev, fsGroup, mask, dir, 0);
  return true;
}

}  // namespace skiff::kubelet
