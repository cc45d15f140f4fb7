#include "kubelet/local_path_volumes.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "api/json_access.h"
#include "api/quantity.h"
#include "common/api_error.h"
#include "common/log.h"
#include "common/thread_name.h"
#include "kubelet/local_path_disk.h"

namespace skiff::kubelet {

namespace json = boost::json;
namespace fs = std::filesystem;
using api::stringAt;

namespace {

// A PV name becomes a file name: a single path component only.
bool safeName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos && name.size() < 240;
}

bool hasFinalizer(const json::object& obj, const std::string& finalizer) {
  if (auto* list = api::arrayAt(obj, {"metadata", "finalizers"}))
    for (auto& f : *list)
      if (f.is_string() && f.get_string() == finalizer) return true;
  return false;
}

int64_t quantityBytes(const json::value* v) {
  if (!v || !v->is_string()) return -1;
  auto q = api::Quantity::parse(v->get_string());
  if (!q || q->sign() <= 0) return -1;
  return q->value();
}

}  // namespace

int64_t persistentVolumeBytes(const json::object& pv) {
  return quantityBytes(api::valueAt(pv, {"spec", "capacity", "storage"}));
}

LocalPathVolumes::LocalPathVolumes(client::RestClient& client, client::EventRecorder& recorder,
                                   std::string nodeName, std::string rootDir, ClaimInUse inUse)
    : client_(client),
      recorder_(recorder),
      nodeName_(std::move(nodeName)),
      base_(std::move(rootDir) + "/local-path"),
      inUse_(std::move(inUse)),
      informer_(
          client, client::resources::persistentVolumes, "",
          client::ListOptions{.labelSelector = std::string(kLocalPathNodeLabel) + "=" + nodeName_}),
      // Per-volume exponential backoff (failures retry from 5 ms up to ~16 min) and no
      // overall bucket: a node has few volumes.
      queue_("local-path-volumes", client::RateLimiterOptions{.qps = 0}) {
  auto enqueue = [this](const json::object& pv) { queue_.add(client::metaString(pv, "name")); };
  informer_.addEventHandler({
      .onAdd = enqueue,
      .onUpdate = [enqueue](const json::object&, const json::object& pv) { enqueue(pv); },
      .onDelete = enqueue,
  });
}

LocalPathVolumes::~LocalPathVolumes() { stop(); }

void LocalPathVolumes::start() {
  if (started_) return;
  started_ = true;
  std::error_code ec;
  fs::create_directories(base_, ec);
  informer_.start();
  thread_ = namedThread("local-path", [this] {
    // Until the first list is in, a PV absent from the informer may just not be listed yet.
    while (!informer_.waitForSync(std::chrono::seconds(5)))
      if (queue_.shuttingDown()) return;
    // Images of PVs deleted while the kubelet was away are cleaned up like the others.
    for (auto& name : imagesOnDisk()) queue_.add(name);
    worker();
  });
}

void LocalPathVolumes::stop() {
  if (!started_) return;
  started_ = false;
  queue_.shutDown();
  if (thread_.joinable()) thread_.join();
  informer_.stop();
}

std::vector<std::string> LocalPathVolumes::imagesOnDisk() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(base_, ec)) {
    auto name = e.path().filename().string();
    if (name.ends_with(".img")) out.push_back(name.substr(0, name.size() - 4));
  }
  return out;
}

void LocalPathVolumes::worker() {
  while (auto key = queue_.get()) {
    try {
      sync(*key);
      queue_.forget(*key);
    } catch (const std::exception& e) {
      SKIFF_LOG_WARN("kubelet local-path volume={} sync failed error=\"{}\"", *key, e.what());
      queue_.addRateLimited(*key);
    }
    queue_.done(*key);
  }
}

std::string LocalPathVolumes::pathFor(const json::object& pv) {
  auto name = client::metaString(pv, "name");
  if (!safeName(name)) throw std::runtime_error("invalid persistentvolume name \"" + name + "\"");
  auto owner = stringAt(pv, {"metadata", "labels", kLocalPathNodeLabel});
  if (owner != nodeName_)
    throw std::runtime_error("persistentvolume \"" + name + "\" is a local volume of node \"" +
                             owner + "\", not of this node (" + nodeName_ + ")");
  auto dir = volumeDir(name), image = imagePath(name);
  std::lock_guard lock(diskMu_);
  if (fs::exists(resizeMarker(name)) && localpath::isMounted(dir)) {
    // A resize that could not be done online: now, before the pod gets the volume, if no
    // container holds the filesystem any more (the loop device detaches once unmounted).
    localpath::unmountImage(dir);
    if (localpath::waitDetached(image, std::chrono::seconds(2))) {
      int64_t bytes = persistentVolumeBytes(pv);
      localpath::growOffline(image, bytes);
      fs::remove(resizeMarker(name));
      SKIFF_LOG_INFO("kubelet local-path volume={} expanded offline before a pod start bytes={}",
                     name, bytes);
      queue_.add(name);  // reports the new capacity in the claim's status
    }
    localpath::mountImage(image, dir);
  }
  if (!localpath::isMounted(dir)) {
    queue_.add(name);
    throw std::runtime_error("volume \"" + name + "\" is not ready on this node yet");
  }
  return dir;
}

void LocalPathVolumes::sync(const std::string& name) {
  if (!safeName(name)) return;
  auto pv = informer_.get(name);
  if (!pv) {
    // Gone from the API (or no longer labelled for this node): the data has no owner left.
    if (localpath::imageSize(imagePath(name)) >= 0 || fs::exists(volumeDir(name))) {
      SKIFF_LOG_INFO("kubelet local-path volume={} no longer exists; removing its data", name);
      cleanUp(name);
    }
    return;
  }
  if (stringAt(*pv, {"spec", "csi", "driver"}) != kLocalPathDriver) return;
  if (api::valueAt(*pv, {"metadata", "deletionTimestamp"})) {
    if (!hasFinalizer(*pv, kLocalPathFinalizer)) return;  // not ours to hold
    auto ns = stringAt(*pv, {"spec", "claimRef", "namespace"});
    auto claim = stringAt(*pv, {"spec", "claimRef", "name"});
    if (!claim.empty() && inUse_ && inUse_(ns, claim)) {
      // A pod of this node still has it mounted: look again shortly.
      queue_.addAfter(name, std::chrono::seconds(2));
      return;
    }
    cleanUp(name);
    removeFinalizer(*pv);
    return;
  }
  try {
    ensure(*pv);
  } catch (const std::exception& e) {
    recorder_.event(*pv, client::kEventTypeWarning, "VolumeFailedSetup",
                    "local volume setup on node " + nodeName_ + " failed: " + e.what());
    throw;
  }
}

void LocalPathVolumes::ensure(const json::object& pv) {
  const std::string name = client::metaString(pv, "name");
  const int64_t bytes = persistentVolumeBytes(pv);
  if (bytes <= 0)
    throw std::runtime_error("spec.capacity.storage of persistentvolume \"" + name +
                             "\" is missing or invalid");
  const std::string image = imagePath(name), dir = volumeDir(name), marker = resizeMarker(name);
  std::unique_lock lock(diskMu_);
  if (localpath::createImage(image, bytes))
    SKIFF_LOG_INFO("kubelet local-path volume={} created image={} bytes={}", name, image, bytes);
  const int64_t size = localpath::imageSize(image);
  bool deferred = fs::exists(marker);
  bool grew = false;
  if (size > bytes) {
    // Filesystems are never shrunk (upstream refuses it too); the claim keeps what it has.
    SKIFF_LOG_DEBUG("kubelet local-path volume={} capacity {} below image size {}; not shrunk",
                    name, bytes, size);
  }
  if (size < bytes || deferred) {
    if (!localpath::isMounted(dir) && localpath::findLoopDevice(image).empty()) {
      SKIFF_LOG_INFO("kubelet local-path volume={} expanding offline to={}", name, bytes);
      localpath::growOffline(image, bytes);
      fs::remove(marker);
      grew = true;
      deferred = false;
    } else if (!deferred && localpath::isMounted(dir)) {
      SKIFF_LOG_INFO("kubelet local-path volume={} expanding online from={} to={}", name, size,
                     bytes);
      if (localpath::growOnline(image, dir, bytes)) {
        grew = true;
      } else {
        // Finished by pathFor when the next pod starts (upstream's offline expansion).
        std::ofstream(marker) << bytes << "\n";
        deferred = true;
        recorder_.event(pv, client::kEventTypeNormal, "FileSystemResizeRequired",
                        "online resize of volume \"" + name + "\" is not permitted on node " +
                            nodeName_ +
                            " (no CAP_SYS_RESOURCE); its file system grows when the next pod "
                            "using it starts");
      }
    }
  }
  localpath::mountImage(image, dir);
  lock.unlock();
  // Reported only once the filesystem really has the new size.
  if (!deferred) finishResize(pv, grew);
}

// Upstream's kubelet after NodeExpandVolume: status.capacity = the PV's, the
// FileSystemResizePending condition and allocatedResourceStatuses removed, and an event.
void LocalPathVolumes::finishResize(const json::object& pv, bool grew) {
  auto ns = stringAt(pv, {"spec", "claimRef", "namespace"});
  auto claimName = stringAt(pv, {"spec", "claimRef", "name"});
  if (claimName.empty()) return;
  const std::string pvName = client::metaString(pv, "name");
  json::object claim;
  try {
    // Through the status subresource: that is what nodes may read (system:skiff:local-path-node).
    claim = client_.request(
        "GET", client::resources::persistentVolumeClaims.path(ns, claimName, "status"));
  } catch (const ApiError& e) {
    if (e.code() == 404) return;
    throw;
  }
  auto refUid = stringAt(pv, {"spec", "claimRef", "uid"});
  if (!refUid.empty() && client::metaString(claim, "uid") != refUid) return;
  if (stringAt(claim, {"spec", "volumeName"}) != pvName) return;
  const auto* pvCapacity = api::valueAt(pv, {"spec", "capacity", "storage"});
  bool pending = false;
  json::array conditions;
  if (auto* list = api::arrayAt(claim, {"status", "conditions"}))
    for (auto& c : *list) {
      if (c.is_object() && (stringAt(c.get_object(), {"type"}) == "FileSystemResizePending" ||
                            stringAt(c.get_object(), {"type"}) == "Resizing")) {
        pending = true;
        continue;
      }
      conditions.push_back(c);
    }
  bool statusBehind = stringAt(claim, {"status", "phase"}) == "Bound" &&
                      quantityBytes(api::valueAt(claim, {"status", "capacity", "storage"})) <
                          persistentVolumeBytes(pv) &&
                      quantityBytes(api::valueAt(claim, {"status", "capacity", "storage"})) > 0;
  bool allocatedStatus = api::valueAt(claim, {"status", "allocatedResourceStatuses"}) != nullptr;
  if (!grew && !pending && !statusBehind && !allocatedStatus) return;
  json::object status{{"capacity", json::object{{"storage", *pvCapacity}}},
                      {"conditions", conditions.empty() ? json::value(nullptr) : conditions},
                      {"allocatedResourceStatuses", nullptr}};
  client_.patch(client::resources::persistentVolumeClaims, ns, claimName, client::PatchType::Merge,
                json::object{{"status", status}}, "status");
  auto fsSize = localpath::filesystemSize(volumeDir(pvName));
  SKIFF_LOG_INFO("kubelet local-path volume={} claim={}/{} resize finished capacity={} fsBytes={}",
                 pvName, ns, claimName, json::serialize(*pvCapacity), fsSize.total);
  recorder_.event(
      claim, client::kEventTypeNormal, "FileSystemResizeSuccessful",
      "MountVolume.NodeExpandVolume succeeded for volume \"" + pvName + "\" " + nodeName_);
}

void LocalPathVolumes::cleanUp(const std::string& name) {
  std::lock_guard lock(diskMu_);
  localpath::unmountImage(volumeDir(name));
  for (const auto& path : {imagePath(name), imagePath(name) + ".new", resizeMarker(name)})
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      throw std::runtime_error("cannot remove " + path + ": " + std::strerror(errno));
  SKIFF_LOG_INFO("kubelet local-path volume={} removed (unmounted, image deleted)", name);
}

void LocalPathVolumes::removeFinalizer(const json::object& pv) {
  json::array rest;
  if (auto* list = api::arrayAt(pv, {"metadata", "finalizers"}))
    for (auto& f : *list)
      if (!(f.is_string() && f.get_string() == kLocalPathFinalizer)) rest.push_back(f);
  // The resourceVersion makes the patch a compare-and-swap: a finalizer added meanwhile
  // by someone else is not dropped (a conflict retries with the newer object).
  json::object patch{
      {"metadata", json::object{{"finalizers", rest},
                                {"resourceVersion", client::metaString(pv, "resourceVersion")}}}};
  try {
    client_.patch(client::resources::persistentVolumes, "", client::metaString(pv, "name"),
                  client::PatchType::Merge, patch);
  } catch (const ApiError& e) {
    if (e.code() == 404) return;
    throw;
  }
}

void LocalPathVolumes::unmountAll() {
  std::error_code ec;
  for (auto& e : fs::directory_iterator(base_, ec)) {
    if (!e.is_directory(ec)) continue;
    auto dir = e.path().string();
    try {
      if (localpath::isMounted(dir)) localpath::unmountImage(dir);
    } catch (const std::exception& ex) {
      SKIFF_LOG_WARN("kubelet local-path cleanup dir={} error=\"{}\"", dir, ex.what());
    }
  }
}

}  // namespace skiff::kubelet
