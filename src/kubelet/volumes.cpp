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
#include "common/log.h"
#include "kubelet/containerd_process.h"
#include "kubelet/volume_internal.h"

namespace skiff::kubelet {

namespace json = boost::json;
namespace fs = std::filesystem;
using api::arrayAt;
using api::boolAt;
using api::intAt;
using api::objectAt;
using api::stringAt;
using namespace volume_detail;

constexpr const char* kLocalPath = "skiff.io/local-path";  // local_path_volumes.h

namespace {

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

}  // namespace

VolumeManager::VolumeManager(std::string podsDir, ObjectFetcher fetch)
    : podsDir_(std::move(podsDir)), fetch_(std::move(fetch)) {}

void VolumeManager::setTokenRequester(TokenRequester request) {
  tokens_ = std::make_unique<TokenManager>(std::move(request));
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
  if (auto* csi = objectAt(*pv, {"spec", "csi"}); csi && stringAt(*csi, {"driver"}) == kLocalPath) {
    if (!localPath_) throw std::runtime_error("this kubelet has no skiff.io/local-path volumes");
    return localPath_(*pv);
  }
  throw std::runtime_error("persistentvolume \"" + pvName +
                           "\" has a volume source this kubelet cannot mount (only hostPath, "
                           "local and csi driver skiff.io/local-path)");
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
