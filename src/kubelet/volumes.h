// Pod volumes on the node, as upstream's volume plugins lay them out:
//   <podsDir>/<uid>/volumes/kubernetes.io~empty-dir/<name>     emptyDir (a folder, or tmpfs)
//   <podsDir>/<uid>/volumes/kubernetes.io~configmap/<name>     configMap
//   <podsDir>/<uid>/volumes/kubernetes.io~secret/<name>        secret (tmpfs when root)
//   <podsDir>/<uid>/volumes/kubernetes.io~downward-api/<name>  downwardAPI (tmpfs when root)
//   <podsDir>/<uid>/volumes/kubernetes.io~projected/<name>     projected (tmpfs when root)
// hostPath volumes and hostPath/local persistent volumes are used where they are; PVs of csi
// driver skiff.io/local-path are the loop-mounted images of local_path_volumes.h.
//
// configMap, secret, downwardAPI and projected contents are written by an atomic writer like
// upstream's: the files live in a hidden timestamped folder (..2026_12_02_10_04_05.XXXXXX),
// `..data` is a symlink to it that is replaced by rename(2), and every top-level name is a
// symlink `name -> ..data/name`. A consumer watching ..data sees each update at once.
//
// Files: volumes.cpp (the manager, hostPath and PVC sources), volume_projection.cpp (atomic
// writer, payloads, projected tokens), volume_subpath.cpp, volume_ownership.cpp (fsGroup),
// volume_fs.cpp (shared folder helpers, volume_internal.h).
//
// Threading: calls for different pods may run concurrently; calls for one pod must not.
#pragma once
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "kubelet/container_env.h"
#include "kubelet/token_manager.h"

namespace skiff::kubelet {

// A bind mount for the CRI CreateContainer call.
struct HostMount {
  std::string containerPath, hostPath;
  bool readOnly = false;
  bool selinuxRelabel = false;
  std::string propagation;  // "" (private), "HostToContainer", "Bidirectional"
};

// reason is what the pod worker reports: "FailedMount" (an event; the sync is retried) from
// setUpPod, "CreateContainerConfigError" (the container's waiting reason) from containerMounts.
struct VolumeError : std::runtime_error {
  explicit VolumeError(const std::string& message, std::string reason = "FailedMount")
      : std::runtime_error(message), reason(std::move(reason)) {}
  std::string reason;
};

class VolumeManager {
 public:
  // podsDir: the kubelet's pods folder (ROOT/pods).
  VolumeManager(std::string podsDir, ObjectFetcher fetch);

  // How projected serviceAccountToken sources get their tokens (token_manager.h); without
  // one such a volume fails to set up. Call before the first setUpPod.
  void setTokenRequester(TokenRequester request);

  // How PVs of csi driver skiff.io/local-path become folders (LocalPathVolumes::pathFor);
  // without one such a claim fails to mount.
  using LocalPathResolver = std::function<std::string(const boost::json::object& pv)>;
  void setLocalPathResolver(LocalPathResolver resolve) { localPath_ = std::move(resolve); }

  // Node allocatable ("cpu", "memory", "ephemeral-storage"), the default for unset limits in
  // downwardAPI resourceFieldRef items.
  void setNodeAllocatable(std::map<std::string, std::string> allocatable);

  // Sets up every volume of the pod and returns volume name → host path. Idempotent and meant
  // for every pod sync: configMap/secret/downwardAPI/projected contents follow their sources
  // (files are rewritten only when something changed). Every volume is attempted; the first
  // failure is thrown afterwards as VolumeError{"FailedMount", `MountVolume.SetUp failed for
  // volume "cfg" : configmap "cfg" not found`}.
  std::map<std::string, std::string> setUpPod(const boost::json::object& pod,
                                              const PodRuntimeInfo& info);

  // The CRI mounts of one container from its volumeMounts against the paths setUpPod returned:
  // mountPath, readOnly (always for configMap/secret/downwardAPI/projected volumes), subPath
  // (created inside the volume when missing, never escaping it) or subPathExpr (expanded with
  // `env`; an unknown or empty variable is an error), mountPropagation. Throws
  // VolumeError{"CreateContainerConfigError"} (unknown volume, bad subPath, bad propagation).
  std::vector<HostMount> containerMounts(const boost::json::object& container,
                                         const std::map<std::string, std::string>& volumePaths,
                                         const std::map<std::string, std::string>& env) const;
  // The same, also honouring the pod's persistentVolumeClaim.readOnly.
  std::vector<HostMount> containerMounts(const boost::json::object& pod,
                                         const boost::json::object& container,
                                         const std::map<std::string, std::string>& volumePaths,
                                         const std::map<std::string, std::string>& env) const;

  // Unmounts everything mounted under podsDir/<uid> (tmpfs volumes) and deletes the folder.
  // Never follows symlinks out of it and never crosses into another filesystem, so hostPath
  // folders are never touched; throws std::runtime_error when something could not be removed.
  void tearDownPod(const std::string& uid);

  // UIDs that have a folder under podsDir (for orphan cleanup after a restart).
  std::vector<std::string> podsOnDisk() const;

  // Folder of one volume of a pod (plugin: "kubernetes.io~configmap", ...).
  std::string volumeDir(const std::string& uid, const std::string& plugin,
                        const std::string& name) const;

 private:
  std::string setUpVolume(const boost::json::object& pod, const boost::json::object& volume,
                          const PodRuntimeInfo& info, const std::string& uid);
  std::string setUpPersistentClaim(const boost::json::object& pod, const std::string& claimName,
                                   bool ephemeral);
  // Creates the folder (tmpfs-backed when `memory` and allowed) and returns it.
  std::string prepareDir(const std::string& dir, bool memory, const std::string& sizeLimit) const;
  std::map<std::string, std::string> allocatable() const;
  // Pod securityContext.fsGroup on the volume types that support ownership management.
  void applyFsGroup(const boost::json::object& pod, const boost::json::object& volume,
                    const std::string& uid, const std::string& dir);
  std::string serviceAccountToken(const boost::json::object& pod,
                                  const boost::json::object& source);

  std::string podsDir_;
  ObjectFetcher fetch_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> allocatable_;
  std::set<std::string> loggedOnce_;        // "uid/volume" notices already logged
  std::set<std::string> ownershipApplied_;  // "uid/volume/..data target/gid" already walked
  std::unique_ptr<TokenManager> tokens_;    // projected serviceAccountToken sources
  LocalPathResolver localPath_;
};

// The race-free open behind subPath mounts: `resolved` (under `base`) opened component by
// component with O_PATH|O_NOFOLLOW; a symlink anywhere on the way is refused
// (std::runtime_error "symlink at P is not allowed"). Returns the descriptor (caller closes);
// the kubelet bind-mounts /proc/self/fd/N of it.
int openSubPathSafely(const std::string& base, const std::string& resolved);

// Upstream's SetVolumeOwnership: every file and folder under `dir` gets group `fsGroup`, group
// read (readOnly) or read-write, folders also the setgid bit and search (so files created later
// inherit the group). Symlinks are re-grouped, never followed. changePolicy "OnRootMismatch"
// skips the walk when `dir` already has the group and bits; returns whether it walked.
bool setVolumeOwnership(const std::string& dir, gid_t fsGroup, bool readOnly,
                        const std::string& changePolicy = "Always");

// --- the atomic writer, public for tests and other writers (e.g. a token projector).

struct FileProjection {
  std::string data;
  unsigned mode = 0644;
};

// Projects `payload` (relative path → content) into `dir` atomically as described above.
// Paths must be relative, must not contain "..", and must not start with "..". Returns false
// when the content on disk was already identical (nothing written). Throws std::runtime_error.
bool writeAtomically(const std::string& dir, const std::map<std::string, FileProjection>& payload);

}  // namespace skiff::kubelet
