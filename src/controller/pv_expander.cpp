// persistentvolume-expander: the control-plane half of growing a volume (upstream's
// expand controller plus, for skiff.io/local-path, the part a CSI driver's external-resizer
// plays). The PersistentVolumeClaimResize admission plugin already checked that the claim
// is bound and its class allows expansion.
//
// A bound claim whose spec.resources.requests.storage exceeds status.capacity:
// - volumes of a CSI driver get the annotation volume.kubernetes.io/storage-resizer and the
//   event ExternalExpanding, as upstream's expand controller does for CSI;
// - for skiff.io/local-path this controller is that resizer: event Resizing, the claim's
//   status.allocatedResources and allocatedResourceStatuses (ControllerResizeInProgress),
//   the volume's spec.capacity grown, then NodeResizePending with the condition
//   FileSystemResizePending and the event FileSystemResizeRequired. The node's kubelet
//   grows the filesystem online, sets status.capacity and clears both (storage contract).
#include <boost/json.hpp>

#include "common/api_error.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"
#include "controller/pv_util.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;
using namespace pv;
namespace res = client::resources;

const char* kFsResizeMessage =
    "Waiting for user to (re-)start a pod to finish file system resize of volume on node.";

std::optional<api::Quantity> quantity(const json::object& obj, Path path) {
  auto s = stringAt(obj, path);
  if (s.empty()) return std::nullopt;
  return api::Quantity::parse(s);
}

class PvExpander : public QueueController {
 public:
  explicit PvExpander(ControllerContext& ctx)
      : QueueController(ctx, "persistentvolume-expander", "volume_expand"),
        claims_(ctx.informers.informer(res::persistentVolumeClaims)),
        volumes_(ctx.informers.informer(res::persistentVolumes)) {
    auto onClaim = [this](const json::object& c) {
      if (wantsExpansion(c)) enqueue(c);
    };
    claims_.addEventHandler(
        {.onAdd = onClaim,
         .onUpdate = [onClaim](const json::object&, const json::object& c) { onClaim(c); }});
  }

 protected:
  void sync(const std::string& key) override {
    auto claim = claims_.get(key);
    if (!claim || !wantsExpansion(*claim)) return;
    auto volume = volumes_.get(stringAt(*claim, {"spec", "volumeName"}));
    if (!volume) return;  // the binder reports a lost volume
    const std::string driver = stringAt(*volume, {"spec", "csi", "driver"});
    if (driver.empty()) return;  // no in-tree resizers in skiff
    if (!annotationIs(*claim, kAnnStorageResizer, driver)) {
      json::object patch{{"metadata", {{"annotations", {{kAnnStorageResizer, driver}}}}}};
      client_.patch(res::persistentVolumeClaims, namespaceOf(*claim), nameOf(*claim),
                    client::PatchType::Merge, patch);
      recorder_.event(*claim, client::kEventTypeNormal, "ExternalExpanding",
                      "waiting for an external controller to expand this PVC");
    }
    if (driver == kLocalPath) resize(*claim, *volume);
  }

 private:
  // Bound, and asking for more than it has.
  static bool wantsExpansion(const json::object& claim) {
    if (stringAt(claim, {"status", "phase"}) != "Bound" || isBeingDeleted(claim)) return false;
    auto request = claimRequest(claim);
    auto capacity = quantity(claim, {"status", "capacity", "storage"});
    return request && capacity && *request > *capacity;
  }

  void resize(const json::object& claimIn, const json::object& volumeIn) {
    const api::Quantity request = *claimRequest(claimIn);
    const std::string size = stringAt(claimIn, {"spec", "resources", "requests", "storage"});
    auto allocated = quantity(claimIn, {"status", "allocatedResources", "storage"});
    const std::string state = stringAt(claimIn, {"status", "allocatedResourceStatuses", "storage"});
    if (allocated && *allocated >= request && state == "NodeResizePending")
      return;  // kubelet's turn

    json::object claim = claimIn;
    if (!(allocated && *allocated >= request && state == "ControllerResizeInProgress")) {
      recorder_.event(claim, client::kEventTypeNormal, "Resizing",
                      "External resizer is resizing volume " + nameOf(volumeIn));
      auto& status = ensureObject(claim, {"status"});
      ensureObject(status, {"allocatedResources"})["storage"] = size;
      ensureObject(status, {"allocatedResourceStatuses"})["storage"] = "ControllerResizeInProgress";
      setCondition(claim, "Resizing", "True", "", "");
      claim = client_.updateStatus(res::persistentVolumeClaims, namespaceOf(claim), claim);
    }
    auto capacity = volumeCapacity(volumeIn);
    if (!capacity || *capacity < request) {
      json::object volume = volumeIn;
      ensureObject(volume, {"spec", "capacity"})["storage"] = size;
      client_.update(res::persistentVolumes, "", volume);
    }
    removeCondition(claim, "Resizing");
    ensureObject(claim, {"status", "allocatedResourceStatuses"})["storage"] = "NodeResizePending";
    setCondition(claim, "FileSystemResizePending", "True", "", kFsResizeMessage);
    client_.updateStatus(res::persistentVolumeClaims, namespaceOf(claim), claim);
    recorder_.event(claim, client::kEventTypeNormal, "FileSystemResizeRequired",
                    "Require file system resize of volume on node");
  }

  client::SharedInformer& claims_;
  client::SharedInformer& volumes_;
};

ControllerRegistration reg("persistentvolume-expander", [](ControllerContext& ctx) {
  return std::make_unique<PvExpander>(ctx);
});

}  // namespace
}  // namespace skiff::controller
