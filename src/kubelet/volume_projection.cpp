// Projected payloads: upstream's atomic writer (timestamped folder + ..data symlink swapped by
// rename), configMap/secret/downwardAPI payloads and projected service-account tokens.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <ctime>
#include <filesystem>
#include <optional>

#include "api/json_access.h"
#include "common/base64.h"
#include "kubelet/volume_internal.h"

namespace skiff::kubelet {

namespace json = boost::json;
namespace fs = std::filesystem;

using api::intAt;
using api::objectAt;
using api::stringAt;
using namespace volume_detail;

namespace {

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

std::optional<std::string> decodeBase64(const json::value& v, const std::string& what) {
  if (!v.is_string()) return std::nullopt;
  auto decoded = base64Decode(v.get_string());
  if (!decoded) throw std::runtime_error("invalid base64 data for " + what);
  return decoded;
}

}  // namespace

namespace volume_detail {

unsigned modeOf(const json::object& obj, const char* key, unsigned fallback) {
  auto* v = obj.if_contains(key);
  if (!v || !(v->is_int64() || v->is_uint64())) return fallback;
  return static_cast<unsigned>(intAt(obj, {key})) & 07777;
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

}  // namespace volume_detail

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

}  // namespace skiff::kubelet
