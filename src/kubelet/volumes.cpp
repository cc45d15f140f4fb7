#include "kubelet/volumes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <sstream>

#include "api/json_access.h"
#include "api/quantity.h"
#include "common/base64.h"
#include "common/log.h"
#include "kubelet/containerd_process.h"

namespace skiff::kubelet {

namespace json = boost::json;
namespace fs = std::filesystem;
using api::arrayAt;
using api::boolAt;
using api::intAt;
using api::objectAt;
using api::stringAt;

namespace {

constexpr const char* kEmptyDir = "kubernetes.io~empty-dir";
constexpr const char* kConfigMap = "kubernetes.io~configmap";
constexpr const char* kSecret = "kubernetes.io~secret";
constexpr const char* kDownwardApi = "kubernetes.io~downward-api";
constexpr const char* kProjected = "kubernetes.io~projected";
constexpr const char* kDataDir = "..data";
constexpr const char* kNewDataDir = "..data_tmp";

std::string errnoText(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// A file descriptor closed on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      if (fd >= 0) ::close(fd);
      fd = o.fd;
      o.fd = -1;
    }
    return *this;
  }
};

bool isUnder(const std::string& path, const std::string& base) {
  return path == base || (path.size() > base.size() && path.compare(0, base.size(), base) == 0 &&
                          path[base.size()] == '/');
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

// Upstream's atomic writer path rules; returns the cleaned path.
std::string cleanPayloadPath(const std::string& p) {
  if (p.empty()) throw std::runtime_error("invalid path: must not be empty: \"\"");
  if (p[0] == '/') throw std::runtime_error("invalid path: must be relative path: " + p);
  if (p.size() > 4096)
    throw std::runtime_error("invalid path: must be less than or equal to 4096 characters");
  auto parts = splitPath(p);
  for (auto& item : parts) {
    if (item == "..") throw std::runtime_error("invalid path: must not contain '..': " + p);
    if (item.size() > 255)
      throw std::runtime_error(
          "invalid path: filenames must be less than or equal to 255 characters");
  }
  if (parts.empty()) throw std::runtime_error("invalid path: must not be empty: \"" + p + "\"");
  if (parts[0].starts_with(".."))
    throw std::runtime_error("invalid path: must not start with '..': " + p);
  std::string out;
  for (auto& item : parts) out += (out.empty() ? "" : "/") + item;
  return out;
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

void writeNewFile(const std::string& path, const std::string& data, unsigned mode) {
  Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (f.fd < 0) throw std::runtime_error(errnoText("cannot create", path));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(f.fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(errnoText("cannot write", path));
    }
    done += static_cast<size_t>(n);
  }
  // Explicitly, so the umask does not decide the mode.
  if (::fchmod(f.fd, mode) != 0) throw std::runtime_error(errnoText("cannot chmod", path));
}

// The regular files under `dir` (relative path → content and mode); symlinks are not followed.
std::map<std::string, FileProjection> readTree(const std::string& dir) {
  std::map<std::string, FileProjection> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    std::string path = it->path().string();
    Fd f(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (f.fd < 0 || ::fstat(f.fd, &st) != 0) continue;
    std::string data;
    char buf[65536];
    for (ssize_t n; (n = ::read(f.fd, buf, sizeof buf)) > 0;)
      data.append(buf, static_cast<size_t>(n));
    out[fs::path(path).lexically_relative(dir).string()] = {std::move(data), st.st_mode & 07777};
  }
  return out;
}

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

std::string timestampTemplate() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "..%Y_%m_%d_%H_%M_%S.", &tm);
  return std::string(buf) + "XXXXXX";
}

// "..2026_12_02_10_04_05.XXXXXX", the writer's own folders.
bool isTimestampDir(const std::string& name) {
  if (name.size() < 8 || !name.starts_with("..") || name[6] != '_') return false;
  for (int i = 2; i < 6; ++i)
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return false;
  return true;
}

// Top-level names of a payload (what gets a `name -> ..data/name` symlink).
std::set<std::string> topLevelNames(const std::map<std::string, FileProjection>& payload) {
  std::set<std::string> names;
  for (auto& [p, _] : payload) names.insert(p.substr(0, p.find('/')));
  return names;
}

void ensureVisibleLinks(const std::string& dir, const std::set<std::string>& names) {
  for (auto& name : names) {
    std::string visible = dir + "/" + name;
    struct stat st {};
    if (::lstat(visible.c_str(), &st) == 0) continue;
    if (::symlink((std::string(kDataDir) + "/" + name).c_str(), visible.c_str()) != 0)
      throw std::runtime_error(errnoText("cannot create symlink", visible));
  }
}

// Removes what earlier writes left behind: visible links no longer in the payload, the
// temporary ..data_tmp link, and timestamped folders other than `keep`.
void pruneTarget(const std::string& dir, const std::set<std::string>& names,
                 const std::string& keep) {
  std::error_code ec;
  std::vector<std::string> entries;
  for (auto& e : fs::directory_iterator(dir, ec)) entries.push_back(e.path().filename().string());
  for (auto& name : entries) {
    std::string path = dir + "/" + name;
    if (name == kDataDir || name == keep) continue;
    if (name.starts_with("..")) {
      if (name == kNewDataDir || isTimestampDir(name)) removeTree(path);
      continue;
    }
    if (names.count(name)) continue;
    char target[4096];
    ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
    if (n <= 0) continue;  // not ours: only our own `..data/...` links are pruned
    std::string t(target, static_cast<size_t>(n));
    if (t.starts_with(std::string(kDataDir) + "/")) ::unlink(path.c_str());
  }
}

// ---- volume sources

unsigned modeOf(const json::object& obj, const char* key, unsigned fallback) {
  auto* v = obj.if_contains(key);
  if (!v || !(v->is_int64() || v->is_uint64())) return fallback;
  return static_cast<unsigned>(intAt(obj, {key})) & 07777;
}

std::optional<std::string> decodeBase64(const json::value& v, const std::string& what) {
  if (!v.is_string()) return std::nullopt;
  auto decoded = base64Decode(v.get_string());
  if (!decoded) throw std::runtime_error("invalid base64 data for " + what);
  return decoded;
}

// configMap data/binaryData or secret data as key → bytes.
std::map<std::string, std::string> objectData(const json::object* obj, bool secret) {
  std::map<std::string, std::string> out;
  if (!obj) return out;
  if (auto* data = objectAt(*obj, {"data"}))
    for (auto& [k, v] : *data) {
      if (secret) {
        if (auto d = decodeBase64(v, "key " + std::string(k))) out[std::string(k)] = *d;
      } else if (v.is_string()) {
        out[std::string(k)] = std::string(v.get_string());
      }
    }
  if (!secret)
    if (auto* data = objectAt(*obj, {"binaryData"}))
      for (auto& [k, v] : *data)
        if (auto d = decodeBase64(v, "key " + std::string(k))) out[std::string(k)] = *d;
  return out;
}

// Upstream's MakePayload for configMap and secret sources.
void addKeyPayload(std::map<std::string, FileProjection>& payload,
                   const std::map<std::string, std::string>& data, const json::array* items,
                   unsigned defaultMode, bool optional, bool secret) {
  if (!items || items->empty()) {
    for (auto& [k, v] : data) payload[cleanPayloadPath(k)] = {v, defaultMode};
    return;
  }
  for (auto& iv : *items) {
    if (!iv.is_object()) continue;
    auto& item = iv.get_object();
    auto key = stringAt(item, {"key"});
    auto it = data.find(key);
    if (it == data.end()) {
      if (optional) continue;
      throw std::runtime_error(secret ? "references non-existent secret key: " + key
                                      : "configmap references non-existent config key: " + key);
    }
    payload[cleanPayloadPath(stringAt(item, {"path"}))] = {it->second,
                                                           modeOf(item, "mode", defaultMode)};
  }
}

void addDownwardPayload(std::map<std::string, FileProjection>& payload, const json::object& pod,
                        const json::array* items, unsigned defaultMode, const PodRuntimeInfo& info,
                        const std::map<std::string, std::string>& allocatable) {
  if (!items) return;
  for (auto& iv : *items) {
    if (!iv.is_object()) continue;
    auto& item = iv.get_object();
    std::string content;
    if (auto* ref = objectAt(item, {"fieldRef"}))
      content = podFieldValue(pod, stringAt(*ref, {"fieldPath"}), info);
    else if (auto* ref = objectAt(item, {"resourceFieldRef"}))
      content = containerResourceValue(pod, nullptr, *ref, allocatable);
    payload[cleanPayloadPath(stringAt(item, {"path"}))] = {content,
                                                           modeOf(item, "mode", defaultMode)};
  }
}

void checkHostPathType(const std::string& path, const std::string& type) {
  if (type.empty()) return;
  struct stat st {};
  bool exists = ::stat(path.c_str(), &st) == 0;
  auto fail = [&](const std::string& what) {
    throw std::runtime_error("hostPath type check failed: " + path + " is not " + what);
  };
  if (type == "DirectoryOrCreate" || type == "Directory") {
    if (!exists && type == "DirectoryOrCreate") {
      std::error_code ec;
      fs::create_directories(path, ec);
      if (ec) throw std::runtime_error("cannot create " + path + ": " + ec.message());
      ::chmod(path.c_str(), 0755);
      return;
    }
    if (!exists || !S_ISDIR(st.st_mode)) fail("a directory");
  } else if (type == "FileOrCreate" || type == "File") {
    if (!exists && type == "FileOrCreate") {
      Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
      if (f.fd < 0) throw std::runtime_error(errnoText("open", path));
      ::fchmod(f.fd, 0644);  // as upstream, whatever skiff's umask (077)
      return;
    }
    if (!exists || !S_ISREG(st.st_mode)) fail("a file");
  } else if (type == "Socket") {
    if (!exists || !S_ISSOCK(st.st_mode)) fail("a socket file");
  } else if (type == "CharDevice") {
    if (!exists || !S_ISCHR(st.st_mode)) fail("a character device");
  } else if (type == "BlockDevice") {
    if (!exists || !S_ISBLK(st.st_mode)) fail("a block device");
  } else {
    throw std::runtime_error(type + " is an invalid volume type");
  }
}

const char* kVolumeKinds[] = {"emptyDir",
                              "hostPath",
                              "configMap",
                              "secret",
                              "downwardAPI",
                              "projected",
                              "persistentVolumeClaim",
                              "ephemeral"};

std::string volumeKind(const json::object& volume) {
  for (const char* k : kVolumeKinds)
    if (volume.contains(k)) return k;
  for (auto& [k, _] : volume)
    if (k != "name") return std::string(k);
  return "";
}

const json::object& sourceOf(const json::object& volume, const std::string& kind) {
  auto* src = objectAt(volume, {kind});
  if (!src) throw std::runtime_error("invalid " + kind + " volume source");
  return *src;
}

void validateName(const std::string& name, const char* what) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    throw std::runtime_error(std::string("invalid ") + what + " \"" + name + "\"");
}

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

}  // namespace

// ---------------------------------------------------------------------------------------------

int openSubPathSafely(const std::string& base, const std::string& resolved) {
  Fd fd = openSubPathFd(base, resolved);
  int out = fd.fd;
  fd.fd = -1;
  return out;
}

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

bool writeAtomically(const std::string& dir,
                     const std::map<std::string, FileProjection>& payloadIn) {
  std::map<std::string, FileProjection> payload;
  for (auto& [p, f] : payloadIn) payload[cleanPayloadPath(p)] = f;
  auto names = topLevelNames(payload);

  std::string dataLink = dir + "/" + kDataDir;
  std::string oldTs;
  {
    char target[4096];
    ssize_t n = ::readlink(dataLink.c_str(), target, sizeof target - 1);
    if (n > 0)
      oldTs.assign(target, static_cast<size_t>(n));
    else if (errno != ENOENT && errno != EINVAL)
      throw std::runtime_error(errnoText("cannot read link", dataLink));
  }
  struct stat oldSt {};
  if (!oldTs.empty() && oldTs.find('/') == std::string::npos &&
      ::lstat((dir + "/" + oldTs).c_str(), &oldSt) == 0 && S_ISDIR(oldSt.st_mode)) {
    auto current = readTree(dir + "/" + oldTs);
    bool same = current.size() == payload.size();
    for (auto it = payload.begin(); same && it != payload.end(); ++it) {
      auto c = current.find(it->first);
      same = c != current.end() && c->second.data == it->second.data &&
             c->second.mode == it->second.mode;
    }
    if (same) {
      ensureVisibleLinks(dir, names);
      pruneTarget(dir, names, oldTs);
      return false;
    }
  }

  std::string tmpl = dir + "/" + timestampTemplate();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error(errnoText("cannot create", tmpl));
  std::string tsDir = buf.data();
  std::string tsName = fs::path(tsDir).filename().string();
  try {
    if (::chmod(tsDir.c_str(), 0755) != 0)
      throw std::runtime_error(errnoText("cannot chmod", tsDir));
    for (auto& [p, f] : payload) {
      auto slash = p.rfind('/');
      if (slash != std::string::npos) {
        std::string sub = tsDir;
        for (auto& part : splitPath(p.substr(0, slash))) {
          sub += "/" + part;
          if (::mkdir(sub.c_str(), 0755) == 0)
            ::chmod(sub.c_str(), 0755);
          else if (errno != EEXIST)
            throw std::runtime_error(errnoText("cannot create", sub));
        }
      }
      writeNewFile(tsDir + "/" + p, f.data, f.mode);
    }
    ensureVisibleLinks(dir, names);
    std::string tmpLink = dir + "/" + kNewDataDir;
    ::unlink(tmpLink.c_str());
    if (::symlink(tsName.c_str(), tmpLink.c_str()) != 0)
      throw std::runtime_error(errnoText("cannot create symlink", tmpLink));
    if (::rename(tmpLink.c_str(), dataLink.c_str()) != 0) {
      ::unlink(tmpLink.c_str());
      throw std::runtime_error(errnoText("cannot rename onto", dataLink));
    }
  } catch (...) {
    try {
      removeTree(tsDir);
    } catch (...) {
    }
    throw;
  }
  pruneTarget(dir, names, tsName);
  return true;
}

VolumeManager::VolumeManager(std::string podsDir, ObjectFetcher fetch)
    : podsDir_(std::move(podsDir)), fetch_(std::move(fetch)) {}

void VolumeManager::setTokenRequester(TokenRequester request) {
  tokens_ = std::make_unique<TokenManager>(std::move(request));
}

// A projected serviceAccountToken source: a token of the pod's account bound to the pod, from
// the token manager (cached until 80 % of its life has passed).
std::string VolumeManager::serviceAccountToken(const json::object& pod,
                                               const json::object& source) {
  if (!tokens_) throw std::runtime_error("this kubelet cannot request service account tokens");
  TokenRequestSpec spec;
  spec.ns = stringAt(pod, {"metadata", "namespace"});
  spec.serviceAccount = stringAt(pod, {"spec", "serviceAccountName"});
  if (spec.serviceAccount.empty()) spec.serviceAccount = "default";
  if (auto audience = stringAt(source, {"audience"}); !audience.empty())
    spec.audiences.push_back(audience);
  if (auto* e = api::valueAt(source, {"expirationSeconds"}); e && e->is_number())
    spec.expirationSeconds = e->to_number<int64_t>();
  spec.podName = stringAt(pod, {"metadata", "name"});
  spec.podUid = stringAt(pod, {"metadata", "uid"});
  return tokens_->token(spec);
}

void VolumeManager::setNodeAllocatable(std::map<std::string, std::string> allocatable) {
  std::lock_guard lock(mu_);
  allocatable_ = std::move(allocatable);
}

std::map<std::string, std::string> VolumeManager::allocatable() const {
  std::lock_guard lock(mu_);
  return allocatable_;
}

std::string VolumeManager::volumeDir(const std::string& uid, const std::string& plugin,
                                     const std::string& name) const {
  return podsDir_ + "/" + uid + "/volumes/" + plugin + "/" + name;
}

std::string VolumeManager::prepareDir(const std::string& dir, bool memory,
                                      const std::string& sizeLimit) const {
  makeDirMode(dir, 0777);  // upstream's emptyDir mode; the pod folder above it is 0750
  if (!memory || isMountPoint(dir)) return dir;
  std::string options = "mode=0777";
  if (!sizeLimit.empty()) {
    auto q = api::Quantity::parse(sizeLimit);
    if (!q) throw std::runtime_error("invalid sizeLimit \"" + sizeLimit + "\"");
    if (q->sign() > 0) options += ",size=" + std::to_string(q->value());
  }
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0)
    throw std::runtime_error(errnoText("cannot mount tmpfs at", dir));
  return dir;
}

std::map<std::string, std::string> VolumeManager::setUpPod(const json::object& pod,
                                                           const PodRuntimeInfo& info) {
  const std::string uid = stringAt(pod, {"metadata", "uid"});
  const std::string podKey =
      stringAt(pod, {"metadata", "namespace"}) + "/" + stringAt(pod, {"metadata", "name"});
  try {
    validateName(uid, "pod uid");
    makeDirMode(podsDir_ + "/" + uid, 0750);
    makeDirMode(podsDir_ + "/" + uid + "/volumes", 0750);
  } catch (const std::exception& e) {
    throw VolumeError(std::string("cannot create the pod folder: ") + e.what());
  }

  std::map<std::string, std::string> paths;
  std::string firstError;
  if (auto* volumes = arrayAt(pod, {"spec", "volumes"})) {
    for (auto& vv : *volumes) {
      if (!vv.is_object()) continue;
      auto& volume = vv.get_object();
      auto name = stringAt(volume, {"name"});
      try {
        validateName(name, "volume name");
        paths[name] = setUpVolume(pod, volume, info, uid);
        applyFsGroup(pod, volume, uid, paths[name]);
      } catch (const std::exception& e) {
        std::string message = "MountVolume.SetUp failed for volume \"" + name + "\" : " + e.what();
        SKIFF_LOG_WARN("kubelet volume setup failed pod={} volume={} error=\"{}\"", podKey, name,
                       e.what());
        if (firstError.empty()) firstError = message;
      }
    }
  }
  if (!firstError.empty()) throw VolumeError(firstError);
  return paths;
}

void VolumeManager::applyFsGroup(const json::object& pod, const json::object& volume,
                                 const std::string& uid, const std::string& dir) {
  const auto* fsGroup = api::valueAt(pod, {"spec", "securityContext", "fsGroup"});
  if (!fsGroup || !fsGroup->is_int64()) return;
  // The volume types whose plugins manage ownership upstream (not hostPath or local PVs: the
  // kubelet must not change the host's files).
  const std::string kind = volumeKind(volume);
  bool readOnly = kind != "emptyDir";
  if (kind != "emptyDir" && kind != "configMap" && kind != "secret" && kind != "downwardAPI" &&
      kind != "projected")
    return;
  // Walked once per content: emptyDir once per kubelet run, the atomic writer's volumes again
  // after each write (a new ..data target). Upstream ignores fsGroupChangePolicy for these
  // ephemeral types too, so OnRootMismatch and Always behave the same here.
  std::error_code ec;
  std::string key = uid + "/" + stringAt(volume, {"name"}) + "/" +
                    fs::read_symlink(fs::path(dir) / "..data", ec).string() + "/" +
                    std::to_string(fsGroup->as_int64());
  bool walked = false;
  {
    std::lock_guard lock(mu_);
    walked = ownershipApplied_.count(key) != 0;
  }
  // Walked before: only when the root lost its group or bits (a stat per sync).
  setVolumeOwnership(dir, static_cast<gid_t>(fsGroup->as_int64()), readOnly,
                     walked ? "OnRootMismatch" : "Always");
  std::lock_guard lock(mu_);
  ownershipApplied_.insert(key);
}

std::string VolumeManager::setUpVolume(const json::object& pod, const json::object& volume,
                                       const PodRuntimeInfo& info, const std::string& uid) {
  const std::string name = stringAt(volume, {"name"});
  const std::string ns = stringAt(pod, {"metadata", "namespace"});
  const std::string kind = volumeKind(volume);
  auto fetchOrThrow = [&](const client::Resource& r, const std::string& objName) {
    if (!fetch_)
      throw std::runtime_error("no API client to read " + r.resource + " " + ns + "/" + objName);
    return fetch_(r, ns, objName);
  };
  // Writes a payload and logs real updates (not the periodic no-op syncs).
  auto project = [&](const char* plugin, const std::map<std::string, FileProjection>& payload) {
    // Upstream keeps secret, downwardAPI and projected contents in memory (tmpfs) only;
    // that needs root, so a kubelet without it keeps them on disk (and says so once).
    bool memory = std::string(plugin) != kConfigMap;
    if (memory && ::geteuid() != 0) {
      static std::once_flag warned;
      std::call_once(warned, [] {
        SKIFF_LOG_WARN(
            "kubelet is not root: secret, downwardAPI and projected volumes are kept on disk");
      });
      memory = false;
    }
    std::string dir = prepareDir(volumeDir(uid, plugin, name), memory, "");
    if (writeAtomically(dir, payload))
      SKIFF_LOG_INFO("kubelet volume written pod={}/{} volume={} plugin={} files={}", ns,
                     stringAt(pod, {"metadata", "name"}), name, plugin, payload.size());
    return dir;
  };

  if (kind == "emptyDir") {
    auto medium = stringAt(volume, {"emptyDir", "medium"});
    if (medium.empty()) return prepareDir(volumeDir(uid, kEmptyDir, name), false, "");
    if (medium == "Memory") {
      std::string sizeLimit;
      if (auto* v = api::valueAt(volume, {"emptyDir", "sizeLimit"}))
        sizeLimit = v->is_string() ? std::string(v->get_string()) : json::serialize(*v);
      return prepareDir(volumeDir(uid, kEmptyDir, name), true, sizeLimit);
    }
    throw std::runtime_error("emptyDir medium \"" + medium + "\" is not supported");
  }
  if (kind == "hostPath") {
    auto path = stringAt(volume, {"hostPath", "path"});
    checkHostPathType(path, stringAt(volume, {"hostPath", "type"}));
    return path;
  }
  if (kind == "configMap" || kind == "secret") {
    bool secret = kind == "secret";
    const json::object& src = sourceOf(volume, kind);
    auto objName = stringAt(src, {secret ? "secretName" : "name"});
    bool optional = boolAt(src, {"optional"});
    auto obj =
        fetchOrThrow(secret ? client::resources::secrets : client::resources::configMaps, objName);
    if (!obj && !optional)
      throw std::runtime_error((secret ? "secret \"" : "configmap \"") + objName + "\" not found");
    std::map<std::string, FileProjection> payload;
    addKeyPayload(payload, objectData(obj ? &*obj : nullptr, secret), arrayAt(src, {"items"}),
                  modeOf(src, "defaultMode", 0644), optional, secret);
    return project(secret ? kSecret : kConfigMap, payload);
  }
  if (kind == "downwardAPI") {
    const json::object& src = sourceOf(volume, kind);
    std::map<std::string, FileProjection> payload;
    addDownwardPayload(payload, pod, arrayAt(src, {"items"}), modeOf(src, "defaultMode", 0644),
                       info, allocatable());
    return project(kDownwardApi, payload);
  }
  if (kind == "projected") {
    const json::object& src = sourceOf(volume, kind);
    unsigned defaultMode = modeOf(src, "defaultMode", 0644);
    std::map<std::string, FileProjection> payload;
    if (auto* sources = arrayAt(src, {"sources"})) {
      for (auto& sv : *sources) {
        if (!sv.is_object()) continue;
        auto& s = sv.get_object();
        if (auto* cm = objectAt(s, {"configMap"})) {
          auto objName = stringAt(*cm, {"name"});
          bool optional = boolAt(*cm, {"optional"});
          auto obj = fetchOrThrow(client::resources::configMaps, objName);
          if (!obj && !optional)
            throw std::runtime_error("configmap \"" + objName + "\" not found");
          addKeyPayload(payload, objectData(obj ? &*obj : nullptr, false), arrayAt(*cm, {"items"}),
                        defaultMode, optional, false);
        } else if (auto* sec = objectAt(s, {"secret"})) {
          auto objName = stringAt(*sec, {"name"});
          bool optional = boolAt(*sec, {"optional"});
          auto obj = fetchOrThrow(client::resources::secrets, objName);
          if (!obj && !optional) throw std::runtime_error("secret \"" + objName + "\" not found");
          addKeyPayload(payload, objectData(obj ? &*obj : nullptr, true), arrayAt(*sec, {"items"}),
                        defaultMode, optional, true);
        } else if (auto* dapi = objectAt(s, {"downwardAPI"})) {
          addDownwardPayload(payload, pod, arrayAt(*dapi, {"items"}), defaultMode, info,
                             allocatable());
        } else if (auto* sat = objectAt(s, {"serviceAccountToken"})) {
          payload[stringAt(*sat, {"path"})] = {serviceAccountToken(pod, *sat), defaultMode};
        } else {
          std::string what = volumeKind(s);
          bool first;
          {
            std::lock_guard lock(mu_);
            first = loggedOnce_.insert(uid + "/" + name + "/" + what).second;
          }
          if (first)
            SKIFF_LOG_INFO(
                "kubelet projected volume source skipped (not supported yet) pod={}/{} volume={} "
                "source={}",
                ns, stringAt(pod, {"metadata", "name"}), name, what);
        }
      }
    }
    return project(kProjected, payload);
  }
  if (kind == "persistentVolumeClaim")
    return setUpPersistentClaim(pod, stringAt(volume, {"persistentVolumeClaim", "claimName"}),
                                false);
  if (kind == "ephemeral")
    return setUpPersistentClaim(pod, stringAt(pod, {"metadata", "name"}) + "-" + name, true);
  throw std::runtime_error("volume type \"" + kind + "\" is not supported by this kubelet");
}

std::string VolumeManager::setUpPersistentClaim(const json::object& pod,
                                                const std::string& claimName, bool ephemeral) {
  const std::string ns = stringAt(pod, {"metadata", "namespace"});
  const std::string ref = ns + "/" + claimName;
  if (!fetch_) throw std::runtime_error("no API client to read persistentvolumeclaim " + ref);
  auto claim = fetch_(client::resources::persistentVolumeClaims, ns, claimName);
  if (!claim) throw std::runtime_error("persistentvolumeclaim \"" + claimName + "\" not found");
  if (ephemeral) {
    bool owned = false;
    if (auto* owners = arrayAt(*claim, {"metadata", "ownerReferences"}))
      for (auto& o : *owners)
        if (o.is_object() && boolAt(o.get_object(), {"controller"}) &&
            stringAt(o.get_object(), {"uid"}) == stringAt(pod, {"metadata", "uid"}))
          owned = true;
    if (!owned) throw std::runtime_error("PVC " + ref + " was not created for the pod");
  }
  if (api::valueAt(*claim, {"metadata", "deletionTimestamp"}))
    throw std::runtime_error("can't start pod because PVC " + ref + " is being deleted");
  auto pvName = stringAt(*claim, {"spec", "volumeName"});
  if (stringAt(*claim, {"status", "phase"}) != "Bound" || pvName.empty())
    throw std::runtime_error("error processing PVC " + ref + ": PVC is not bound");
  auto pv = fetch_(client::resources::persistentVolumes, "", pvName);
  if (!pv) throw std::runtime_error("persistentvolume \"" + pvName + "\" not found");
  auto claimUid = stringAt(*claim, {"metadata", "uid"});
  auto refUid = stringAt(*pv, {"spec", "claimRef", "uid"});
  if (!refUid.empty() && !claimUid.empty() && refUid != claimUid)
    throw std::runtime_error("error processing PVC " + ref + ": PV " + pvName +
                             " is bound to another claim");
  if (auto* hp = objectAt(*pv, {"spec", "hostPath"})) {
    auto path = stringAt(*hp, {"path"});
    checkHostPathType(path, stringAt(*hp, {"type"}));
    return path;
  }
  if (auto* local = objectAt(*pv, {"spec", "local"})) {
    auto path = stringAt(*local, {"path"});
    struct stat st {};
    if (path.empty() || ::stat(path.c_str(), &st) != 0)
      throw std::runtime_error("local volume path \"" + path + "\" of persistentvolume \"" +
                               pvName + "\" does not exist");
    return path;
  }
  throw std::runtime_error(
      "persistentvolume \"" + pvName +
      "\" has a volume source this kubelet cannot mount (only hostPath and local)");
}

std::vector<HostMount> VolumeManager::containerMounts(
    const json::object& container, const std::map<std::string, std::string>& volumePaths,
    const std::map<std::string, std::string>& env) const {
  static const json::object noPod;
  return containerMounts(noPod, container, volumePaths, env);
}

std::vector<HostMount> VolumeManager::containerMounts(
    const json::object& pod, const json::object& container,
    const std::map<std::string, std::string>& volumePaths,
    const std::map<std::string, std::string>& env) const {
  const std::string containerName = stringAt(container, {"name"});
  auto fail = [](const std::string& message) {
    throw VolumeError(message, "CreateContainerConfigError");
  };
  std::set<std::string> readOnlyClaims;
  if (auto* volumes = arrayAt(pod, {"spec", "volumes"}))
    for (auto& v : *volumes)
      if (v.is_object() && boolAt(v.get_object(), {"persistentVolumeClaim", "readOnly"}))
        readOnlyClaims.insert(stringAt(v.get_object(), {"name"}));

  std::vector<HostMount> mounts;
  auto* list = arrayAt(container, {"volumeMounts"});
  if (!list) return mounts;
  size_t mountIndex = 0;
  for (auto& mv : *list) {
    size_t thisIndex = mountIndex++;
    if (!mv.is_object()) continue;
    auto& m = mv.get_object();
    auto name = stringAt(m, {"name"});
    auto it = volumePaths.find(name);
    if (it == volumePaths.end())
      fail("cannot find volume \"" + name + "\" to mount into container \"" + containerName + "\"");
    const std::string& volumePath = it->second;

    std::string subPath = stringAt(m, {"subPath"});
    auto expr = stringAt(m, {"subPathExpr"});
    if (!expr.empty()) {
      try {
        subPath = expandSubPathExpr(expr, env);
      } catch (const std::exception& e) {
        fail(e.what());
      }
    }

    std::string hostPath = volumePath;
    if (!subPath.empty()) {
      if (subPath[0] == '/') fail("error SubPath `" + subPath + "` must not be an absolute path");
      for (auto& part : splitPath(subPath))
        if (part == "..")
          fail("unable to provision SubPath `" + subPath + "`: must not contain '..'");
      try {
        hostPath = prepareSubPath(volumePath, subPath);
        // With the pod known, the runtime gets a bind of the safely opened path under
        // <pod>/volume-subpaths/<volume>/<container>/<mount index>, as upstream lays it out.
        const std::string uid = stringAt(pod, {"metadata", "uid"});
        if (!uid.empty()) {
          validateName(uid, "pod uid");
          validateName(containerName, "container name");
          std::string base = fs::canonical(volumePath).string();
          Fd opened = openSubPathFd(base, hostPath);
          hostPath = bindSubPath(opened, podsDir_ + "/" + uid + "/volume-subpaths/" + name + "/" +
                                             containerName + "/" + std::to_string(thisIndex));
        }
      } catch (const std::exception& e) {
        SKIFF_LOG_WARN("kubelet subPath preparation failed container={} volume={} error=\"{}\"",
                       containerName, name, e.what());
        fail("failed to prepare subPath for volumeMount \"" + name + "\" of container \"" +
             containerName + "\"");
      }
    }

    HostMount hm;
    hm.containerPath = stringAt(m, {"mountPath"});
    if (!hm.containerPath.starts_with("/")) hm.containerPath = "/" + hm.containerPath;
    hm.hostPath = hostPath;
    bool managed = isUnder(volumePath, podsDir_);
    bool dataVolume = false;
    for (const char* plugin : {kConfigMap, kSecret, kDownwardApi, kProjected})
      if (managed && volumePath.find(std::string("/volumes/") + plugin + "/") != std::string::npos)
        dataVolume = true;
    hm.readOnly = boolAt(m, {"readOnly"}) || dataVolume || readOnlyClaims.count(name) != 0;
    hm.selinuxRelabel = managed;
    auto propagation = stringAt(m, {"mountPropagation"});
    if (propagation == "HostToContainer" || propagation == "Bidirectional")
      hm.propagation = propagation;
    else if (!propagation.empty() && propagation != "None")
      fail("invalid MountPropagation mode: \"" + propagation + "\"");
    // As upstream's translateMountPropagation: mounts made in the container reaching the host
    // are for privileged containers only (API validation refuses the rest; this covers static
    // pods and objects stored before it).
    if (propagation == "Bidirectional" && !boolAt(container, {"securityContext", "privileged"}))
      fail("Bidirectional mount propagation is available only to privileged containers");
    mounts.push_back(std::move(hm));
  }
  return mounts;
}

void VolumeManager::tearDownPod(const std::string& uid) {
  validateName(uid, "pod uid");
  {
    std::lock_guard lock(mu_);
    std::erase_if(ownershipApplied_,
                  [&](const std::string& k) { return k.starts_with(uid + "/"); });
  }
  if (tokens_) tokens_->forgetPod(uid);
  std::string dir = podsDir_ + "/" + uid;
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return;
  int unmounted = 0;
  if (S_ISDIR(st.st_mode)) {
    std::error_code ec;
    auto real = fs::canonical(dir, ec);
    if (!ec) unmounted = unmountUnder(real.string());
  }
  removeTree(dir);
  {
    std::lock_guard lock(mu_);
    for (auto it = loggedOnce_.lower_bound(uid + "/");
         it != loggedOnce_.end() && it->starts_with(uid + "/");)
      it = loggedOnce_.erase(it);
  }
  SKIFF_LOG_INFO("kubelet pod volumes removed uid={} unmounted={}", uid, unmounted);
}

std::vector<std::string> VolumeManager::podsOnDisk() const {
  std::vector<std::string> uids;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(podsDir_, ec)) {
    std::error_code e2;
    if (e.is_directory(e2) && !e.is_symlink(e2)) uids.push_back(e.path().filename().string());
  }
  std::sort(uids.begin(), uids.end());
  return uids;
}

}  // namespace skiff::kubelet
