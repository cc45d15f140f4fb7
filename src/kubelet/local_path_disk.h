// The disk side of skiff.io/local-path volumes: one sparse file per volume holding an ext4
// filesystem of exactly the volume's capacity, attached to a loop device and mounted. The
// filesystem is what enforces the requested size (a write past it fails with ENOSPC), which
// a plain folder (upstream's local-path-provisioner) cannot.
//
// The loop device is attached with autoclear: it detaches by itself when its last user (the
// mount, and any container holding a bind of it) goes away, so "detach" is "unmount".
// Every call is blocking and throws std::runtime_error with a message fit for an Event.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace skiff::kubelet::localpath {

// Result of a helper program (mkfs.ext4, resize2fs): exit code (-1: could not run) and its
// stdout+stderr.
struct CommandResult {
  int exitCode = -1;
  std::string output;
};
CommandResult runProgram(const std::vector<std::string>& argv);

// Creates `image` (sparse, `bytes` long) with an ext4 filesystem (no reserved blocks: the
// claim's owner gets all of it). Built under a temporary name and renamed, so a crash never
// leaves a half-made image behind. Returns false when `image` already existed (untouched).
bool createImage(const std::string& image, int64_t bytes);

// Size of the image file; -1 when it does not exist.
int64_t imageSize(const std::string& image);

// The /dev/loopN whose backing file is `image` ("" when none), from /sys/block/loop*/loop.
std::string findLoopDevice(const std::string& image);

// Attaches `image` to a free loop device (LOOP_CTL_GET_FREE, then LOOP_CONFIGURE with
// autoclear, or LOOP_SET_FD + LOOP_SET_STATUS64 on kernels without it). Returns the device
// path and an open descriptor on it in `fd` (the caller closes it once mounted: until then the
// descriptor is what keeps an autoclear device attached).
std::string attachLoop(const std::string& image, int& fd);

// Makes `dir` the mount of `image` (attaching a loop device when needed), mode 0777 at the
// root like upstream's local-path folders. Idempotent: an existing mount is kept.
void mountImage(const std::string& image, const std::string& dir);

// Whether `dir` is a mount point (its device differs from its parent's).
bool isMounted(const std::string& dir);

// Online expansion: grows the image file to `bytes` (never shrinks), tells the loop device
// (LOOP_SET_CAPACITY), and runs resize2fs on the mounted filesystem. Returns false when the
// kernel refuses an online resize (ext4's resize ioctl needs CAP_SYS_RESOURCE, which some
// container sandboxes drop): the image is then larger and the filesystem is grown offline by
// growOffline the next time nothing has it mounted.
bool growOnline(const std::string& image, const std::string& dir, int64_t bytes);

// Offline expansion of an image no loop device holds: grows the file to `bytes` (when
// smaller), checks the filesystem (e2fsck -p -f) and resizes it to the whole file.
void growOffline(const std::string& image, int64_t bytes);

// Waits (up to `timeout`) until no loop device is attached to `image`; false when one still
// is (a container of another pod still holds the filesystem).
bool waitDetached(const std::string& image, std::chrono::milliseconds timeout);

// Unmounts `dir` (lazily: containers may still hold binds of it) and removes the folder.
void unmountImage(const std::string& dir);

// Total and available bytes of the filesystem mounted at `dir` (statvfs).
struct FsSize {
  int64_t total = 0, available = 0;
};
FsSize filesystemSize(const std::string& dir);

}  // namespace skiff::kubelet::localpath
