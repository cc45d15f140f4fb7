// Helpers shared by the kubelet's volume files (volumes.cpp, volume_fs.cpp, volume_subpath.cpp,
// volume_ownership.cpp, volume_projection.cpp); not for use outside src/kubelet.
#pragma once
#include <sys/types.h>
#include <unistd.h>

#include <boost/json/fwd.hpp>
#include <map>
#include <string>
#include <vector>

#include "kubelet/volumes.h"

namespace skiff::kubelet::volume_detail {

inline constexpr const char* kEmptyDir = "kubernetes.io~empty-dir";
inline constexpr const char* kConfigMap = "kubernetes.io~configmap";
inline constexpr const char* kSecret = "kubernetes.io~secret";
inline constexpr const char* kDownwardApi = "kubernetes.io~downward-api";
inline constexpr const char* kProjected = "kubernetes.io~projected";
inline constexpr const char* kDataDir = "..data";
inline constexpr const char* kNewDataDir = "..data_tmp";

// "<what> <path>: <strerror(errno)>".
std::string errnoText(const std::string& what, const std::string& path);

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

inline bool isUnder(const std::string& path, const std::string& base) {
  return path == base || (path.size() > base.size() && path.compare(0, base.size(), base) == 0 &&
                          path[base.size()] == '/');
}

// The non-empty components of a path other than ".".
std::vector<std::string> splitPath(const std::string& p);
// Creates the folder (and parents) and gives it `mode`.
void makeDirMode(const std::string& dir, unsigned mode);
// Deletes a tree without following symlinks or entering another filesystem.
void removeTree(const std::string& path);
bool isMountPoint(const std::string& dir);
// A single path component (pod uid, volume or container name), never "." / ".." / "a/b".
void validateName(const std::string& name, const char* what);

// subPath (volume_subpath.cpp).
std::string prepareSubPath(const std::string& volumePath, const std::string& subPath);
Fd openSubPathFd(const std::string& base, const std::string& resolved);
std::string bindSubPath(const Fd& source, const std::string& target);

// Payloads of configMap, secret, downwardAPI and projected sources (volume_projection.cpp).
unsigned modeOf(const boost::json::object& obj, const char* key, unsigned fallback);
std::map<std::string, std::string> objectData(const boost::json::object* obj, bool secret);
void addKeyPayload(std::map<std::string, FileProjection>& payload,
                   const std::map<std::string, std::string>& data, const boost::json::array* items,
                   unsigned defaultMode, bool optional, bool secret);
void addDownwardPayload(std::map<std::string, FileProjection>& payload,
                        const boost::json::object& pod, const boost::json::array* items,
                        unsigned defaultMode, const PodRuntimeInfo& info,
                        const std::map<std::string, std::string>& allocatable);

}  // namespace skiff::kubelet::volume_detail
