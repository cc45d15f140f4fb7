// The node side of skiff's built-in provisioner (csi driver skiff.io/local-path; the contract
// with the control plane is in docs/architecture.md, "Storage"). The provisioner creates a PV
// labelled skiff.io/local-path-node=<node> with the finalizer skiff.io/local-path-cleanup;
// this kubelet watches exactly those PVs and, for each:
//   - makes <root>/local-path/<pv>.img, a sparse ext4 image of exactly spec.capacity, and
//     mounts it (loop device) at <root>/local-path/<pv> before any pod needs it;
//   - grows it online when spec.capacity grows (the expand controller's doing), then reports
//     the claim's status.capacity and drops FileSystemResizePending as upstream's kubelet;
//     where the kernel refuses online resizing (no CAP_SYS_RESOURCE in some sandboxes) it
//     grows offline when the next pod using it starts, as upstream's offline expansion;
//   - once the PV is being deleted and no pod of this node uses its claim: unmounts, deletes
//     the image and removes the finalizer, which lets the PV go.
// Failures (no free loop device, mkfs failing, a full disk) are Warning events on the PV and
// retries with backoff, never crashes. On restart every existing image is mounted again.
#pragma once
#include <boost/json/fwd.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "client/event_recorder.h"
#include "client/informer.h"
#include "client/rest_client.h"
#include "client/work_queue.h"

namespace skiff::kubelet {

inline constexpr const char* kLocalPathDriver = "skiff.io/local-path";
inline constexpr const char* kLocalPathNodeLabel = "skiff.io/local-path-node";
inline constexpr const char* kLocalPathFinalizer = "skiff.io/local-path-cleanup";

class LocalPathVolumes {
 public:
  // Whether a pod of this node still uses the claim `ns/name` (then its volume stays).
  using ClaimInUse = std::function<bool(const std::string& ns, const std::string& name)>;

  // `client` and `recorder` must outlive this. `rootDir` is the kubelet's data dir.
  LocalPathVolumes(client::RestClient& client, client::EventRecorder& recorder,
                   std::string nodeName, std::string rootDir, ClaimInUse inUse);
  ~LocalPathVolumes();
  LocalPathVolumes(const LocalPathVolumes&) = delete;
  LocalPathVolumes& operator=(const LocalPathVolumes&) = delete;

  // Starts the PV informer and the worker (after the informer's first sync, so a PV missing
  // from it really is gone).
  void start();
  void stop();

  // For the volume manager: the folder of a skiff.io/local-path PV, mounted. Throws
  // std::runtime_error (the pod's FailedMount, retried) when the PV belongs to another node
  // or is not mounted yet (its sync is then requested at once).
  std::string pathFor(const boost::json::object& pv);

  // `skiff up`'s shutdown: unmounts every volume of this node; images stay for the next run.
  void unmountAll();

  std::string volumeDir(const std::string& pv) const { return base_ + "/" + pv; }
  std::string imagePath(const std::string& pv) const { return base_ + "/" + pv + ".img"; }
  // Present while a resize waits for the volume to be unused (online resize refused).
  std::string resizeMarker(const std::string& pv) const { return base_ + "/" + pv + ".resize"; }

 private:
  void worker();
  void sync(const std::string& name);
  // Creates, grows and mounts; false when nothing could be done yet (retry).
  void ensure(const boost::json::object& pv);
  void cleanUp(const std::string& name);
  void removeFinalizer(const boost::json::object& pv);
  void finishResize(const boost::json::object& pv, bool grew);
  std::vector<std::string> imagesOnDisk() const;

  client::RestClient& client_;
  client::EventRecorder& recorder_;
  const std::string nodeName_;
  const std::string base_;  // <root>/local-path
  ClaimInUse inUse_;
  client::SharedInformer informer_;
  client::WorkQueue queue_;
  std::thread thread_;
  bool started_ = false;
  std::mutex diskMu_;  // image, loop and mount changes (the worker and pod workers' pathFor)
};

// Bytes of a PV's spec.capacity.storage; -1 when missing or invalid.
int64_t persistentVolumeBytes(const boost::json::object& pv);

}  // namespace skiff::kubelet
