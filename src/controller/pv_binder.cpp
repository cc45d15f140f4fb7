// persistentvolume-binder (upstream pkg/controller/volume/persistentvolume): binds claims to
// volumes and keeps both phases right.
//
// One queue carries two kinds of keys, "claim:<ns>/<name>" and "volume:<name>", as upstream
// has a claim queue and a volume queue. Every event queues the object and the one it points
// at (a claim's volumeName, a volume's claimRef); a periodic resync (--pvclaimbinder-sync-
// period) queues everything, which retries what waits on something without an event.
//
// Claims: an unbound claim takes the smallest fitting Available volume (pv_util.h), or the
// one it names (spec.volumeName) or that names it (claimRef). Without one: a class with
// WaitForFirstConsumer waits for the scheduler's selected-node annotation; a class with a
// provisioner gets the storage-provisioner annotations (the provisioner acts on those);
// no class: FailedBinding. A claim without any class gets the default class (upstream's
// retroactive default). A bound claim whose volume vanished or went elsewhere is Lost.
// Volumes: no claimRef → Available; claim gone (or replaced: another uid) → Released, then
// the reclaim policy: Retain keeps it, Recycle and Delete of a volume nobody can delete
// fail as upstream, and Delete of a provisioned volume is left to its provisioner.
#include <boost/json.hpp>

#include "common/api_error.h"
#include "common/log.h"
#include "controller/controller.h"
#include "controller/controller_utils.h"
#include "controller/pv_util.h"

namespace skiff::controller {
namespace {

namespace json = boost::json;
using namespace pv;
namespace res = client::resources;

const std::string kClaimPrefix = "claim:";
const std::string kVolumePrefix = "volume:";

class PvBinder : public QueueController {
 public:
  explicit PvBinder(ControllerContext& ctx)
      : QueueController(ctx, "persistentvolume-binder", "persistentvolume-controller"),
        volumes_(ctx.informers.informer(res::persistentVolumes)),
        claims_(ctx.informers.informer(res::persistentVolumeClaims)),
        classes_(ctx.informers.informer(storageClasses)),
        nodes_(ctx.informers.informer(res::nodes)) {
    auto onClaim = [this](const json::object& c) {
      enqueueKey(kClaimPrefix + client::objectKey(c));
      // A deleted or rebound claim changes its volume's phase.
      if (auto v = stringAt(c, {"spec", "volumeName"}); !v.empty()) enqueueKey(kVolumePrefix + v);
    };
    claims_.addEventHandler(
        {.onAdd = onClaim,
         .onUpdate = [onClaim](const json::object&, const json::object& c) { onClaim(c); },
         .onDelete = onClaim});
    auto onVolume = [this](const json::object& v) {
      enqueueKey(kVolumePrefix + nameOf(v));
      if (auto* ref = objectAt(v, {"spec", "claimRef"}))
        enqueueKey(kClaimPrefix + makeKey(stringAt(*ref, {"namespace"}), stringAt(*ref, {"name"})));
    };
    volumes_.addEventHandler(
        {.onAdd = onVolume,
         .onUpdate = [onVolume](const json::object&, const json::object& v) { onVolume(v); },
         .onDelete = onVolume});
    // A new default class reaches claims created without one.
    auto onClass = [this](const json::object& c) {
      if (isDefaultClass(c)) enqueueAll(true);
    };
    classes_.addEventHandler(
        {.onAdd = onClass,
         .onUpdate = [onClass](const json::object&, const json::object& c) { onClass(c); }});
    every(options_.pvClaimBinderSyncPeriod, [this] { enqueueAll(false); });
  }

 protected:
  void sync(const std::string& key) override {
    if (key.rfind(kClaimPrefix, 0) == 0) {
      auto claim = claims_.get(key.substr(kClaimPrefix.size()));
      if (claim) syncClaim(*claim);
    } else if (key.rfind(kVolumePrefix, 0) == 0) {
      auto volume = volumes_.get(key.substr(kVolumePrefix.size()));
      if (volume) syncVolume(*volume);
    }
  }

 private:
  void enqueueAll(bool claimsOnly) {
    for (auto& c : claims_.list()) enqueueKey(kClaimPrefix + client::objectKey(*c));
    if (claimsOnly) return;
    for (auto& v : volumes_.list()) enqueueKey(kVolumePrefix + nameOf(*v));
  }

  // ---- claims

  void syncClaim(const json::object& claim) {
    if (annotationIs(claim, kAnnBindCompleted, "yes"))
      syncBoundClaim(claim);
    else
      syncUnboundClaim(claim);
  }

  void syncUnboundClaim(const json::object& claim) {
    if (!claimClass(claim)) {
      if (auto def = defaultClass(classes_.list())) {
        json::object updated = claim;
        ensureObject(updated, {"spec"})["storageClassName"] = nameOf(*def);
        client_.update(res::persistentVolumeClaims, namespaceOf(claim), updated);
        return;  // the update's event syncs it again
      }
    }
    const std::string volumeName = stringAt(claim, {"spec", "volumeName"});
    if (!volumeName.empty()) return syncPreBoundClaim(claim, volumeName);

    const std::string className = claimClassOrEmpty(claim);
    client::ObjectPtr cls = className.empty() ? nullptr : classes_.get(className);
    const bool delayed = cls && stringAt(*cls, {"volumeBindingMode"}) == "WaitForFirstConsumer";
    const std::string selectedNode = stringAt(claim, {"metadata", "annotations", kAnnSelectedNode});
    json::object nodeStub;
    const json::object* node = nullptr;
    if (!selectedNode.empty()) {
      if (auto n = nodes_.get(selectedNode)) {
        nodeStub = *n;
      } else {
        // Not in the cache (yet): its hostname label is what local volumes name.
        nodeStub = {
            {"metadata",
             {{"name", selectedNode}, {"labels", {{"kubernetes.io/hostname", selectedNode}}}}}};
      }
      node = &nodeStub;
    }
    if (auto match = findBestMatch(volumes_.list(), claim, node, delayed))
      return bind(*match, claim);

    setClaimPending(claim);
    if (delayed && selectedNode.empty()) {
      recorder_.event(claim, client::kEventTypeNormal, "WaitForFirstConsumer",
                      "waiting for first consumer to be created before binding");
      return;
    }
    if (className.empty()) {
      recorder_.event(claim, client::kEventTypeNormal, "FailedBinding",
                      "no persistent volumes available for this claim and no storage class is set");
      return;
    }
    if (!cls) {
      recorder_.event(claim, client::kEventTypeWarning, "ProvisioningFailed",
                      "storageclass.storage.k8s.io \"" + className + "\" not found");
      return;
    }
    const std::string provisioner = stringAt(*cls, {"provisioner"});
    // In-tree names (kubernetes.io/...) need an in-tree plugin, and skiff has none: upstream
    // reports the missing plugin (e.g. for kubernetes.io/no-provisioner).
    if (provisioner.rfind("kubernetes.io/", 0) == 0) {
      recorder_.event(claim, client::kEventTypeWarning, "ProvisioningFailed",
                      "no volume plugin matched name: " + provisioner);
      return;
    }
    if (!annotationIs(claim, kAnnStorageProvisioner, provisioner) ||
        !annotationIs(claim, kAnnBetaStorageProvisioner, provisioner)) {
      json::object patch{
          {"metadata",
           {{"annotations",
             {{kAnnStorageProvisioner, provisioner}, {kAnnBetaStorageProvisioner, provisioner}}}}}};
      client_.patch(res::persistentVolumeClaims, namespaceOf(claim), nameOf(claim),
                    client::PatchType::Merge, patch);
    }
    recorder_.event(claim, client::kEventTypeNormal, "ExternalProvisioning",
                    "Waiting for a volume to be created either by the external provisioner '" +
                        provisioner +
                        "' or manually by the system administrator. If volume creation is "
                        "delayed, please verify that the provisioner is running and correctly "
                        "registered.");
  }

  // The claim names its volume: bind it if the volume is free (or pre-bound to the claim)
  // and fits.
  void syncPreBoundClaim(const json::object& claim, const std::string& volumeName) {
    auto volume = volumes_.get(volumeName);
    if (!volume) return setClaimPending(claim);  // may appear later; the resync retries
    if (!hasClaimRef(*volume)) {
      if (auto why = volumeUnfitReason(*volume, claim); !why.empty()) {
        setClaimPending(claim);
        recorder_.event(claim, client::kEventTypeWarning, "FailedBinding",
                        "Cannot bind to requested volume \"" + volumeName + "\": " + why);
        return;
      }
      return bind(*volume, claim);
    }
    if (claimRefMatches(*volume, claim)) return bind(*volume, claim);
    setClaimPending(claim);
    recorder_.event(claim, client::kEventTypeWarning, "FailedBinding",
                    "volume \"" + volumeName + "\" already bound to a different claim.");
  }

  void syncBoundClaim(const json::object& claim) {
    const std::string volumeName = stringAt(claim, {"spec", "volumeName"});
    if (volumeName.empty())
      return setClaimLost(claim, "ClaimLost",
                          "Bound claim has lost reference to PersistentVolume. Data on the "
                          "volume is lost!");
    auto volume = volumes_.get(volumeName);
    if (!volume) {
      // The cache may lag the volume's creation; ask the server before declaring loss.
      try {
        volume = std::make_shared<const json::object>(
            client_.get(res::persistentVolumes, "", volumeName));
      } catch (const ApiError& e) {
        if (e.code() != 404) throw;
        return setClaimLost(claim, "ClaimLost",
                            "Bound claim has lost its PersistentVolume. Data on the volume is "
                            "lost!");
      }
    }
    if (!hasClaimRef(*volume) || claimRefMatches(*volume, claim)) return bind(*volume, claim);
    setClaimLost(claim, "ClaimMisbound",
                 "Two claims are bound to the same volume, this one is bound incorrectly");
  }

  void setClaimPending(const json::object& claim) {
    if (stringAt(claim, {"status", "phase"}) == "Pending") return;
    json::object updated = claim;
    ensureObject(updated, {"status"})["phase"] = "Pending";
    client_.updateStatus(res::persistentVolumeClaims, namespaceOf(claim), updated);
  }

  void setClaimLost(const json::object& claim, const std::string& reason,
                    const std::string& message) {
    if (stringAt(claim, {"status", "phase"}) == "Lost") return;
    json::object updated = claim;
    ensureObject(updated, {"status"})["phase"] = "Lost";
    client_.updateStatus(res::persistentVolumeClaims, namespaceOf(claim), updated);
    recorder_.event(claim, client::kEventTypeWarning, reason, message);
  }

  // Both halves of a binding, each written only when it differs (upstream's bind: volume
  // claimRef, volume phase, claim volumeName + annotations, claim phase).
  void bind(const json::object& volumeIn, const json::object& claimIn) {
    json::object volume = volumeIn;
    auto* ref = objectAt(volume, {"spec", "claimRef"});
    if (!ref || stringAt(*ref, {"uid"}) != uidOf(claimIn)) {
      const bool byController = !ref;
      json::object& spec = ensureObject(volume, {"spec"});
      spec["claimRef"] =
          json::object{{"kind", "PersistentVolumeClaim"},
                       {"namespace", namespaceOf(claimIn)},
                       {"name", nameOf(claimIn)},
                       {"uid", uidOf(claimIn)},
                       {"apiVersion", "v1"},
                       {"resourceVersion", stringAt(claimIn, {"metadata", "resourceVersion"})}};
      if (byController)
        ensureObject(volume, {"metadata", "annotations"})[kAnnBoundByController] = "yes";
      volume = client_.update(res::persistentVolumes, "", volume);
    }
    setVolumePhase(volume, "Bound", "");

    json::object claim = claimIn;
    if (stringAt(claim, {"spec", "volumeName"}) != nameOf(volume) ||
        !annotationIs(claim, kAnnBindCompleted, "yes")) {
      auto& annotations = ensureObject(claim, {"metadata", "annotations"});
      if (stringAt(claim, {"spec", "volumeName"}).empty())
        annotations[kAnnBoundByController] = "yes";
      annotations[kAnnBindCompleted] = "yes";
      ensureObject(claim, {"spec"})["volumeName"] = nameOf(volume);
      claim = client_.update(res::persistentVolumeClaims, namespaceOf(claim), claim);
    }
    json::object status =
        objectAt(claim, {"status"}) ? *objectAt(claim, {"status"}) : json::object{};
    json::object wanted = status;
    wanted["phase"] = "Bound";
    if (auto* modes = valueAt(volume, {"spec", "accessModes"})) wanted["accessModes"] = *modes;
    // The claim's capacity follows the volume's until a resize is under way (then the
    // kubelet reports the grown filesystem).
    if (!objectAt(claim, {"status", "allocatedResources"}))
      if (auto* cap = valueAt(volume, {"spec", "capacity"})) wanted["capacity"] = *cap;
    if (wanted != status) {
      claim["status"] = std::move(wanted);
      client_.updateStatus(res::persistentVolumeClaims, namespaceOf(claim), claim);
      if (status.if_contains("phase") == nullptr || stringAt(status, {"phase"}) != "Bound")
        SKIFF_LOG_INFO("persistentvolume-binder: claim {}/{} bound to volume {}",
                       namespaceOf(claim), nameOf(claim), nameOf(volume));
    }
  }

  // ---- volumes

  void setVolumePhase(const json::object& volume, const std::string& phase,
                      const std::string& message) {
    if (stringAt(volume, {"status", "phase"}) == phase &&
        stringAt(volume, {"status", "message"}) == message)
      return;
    json::object updated = volume;
    auto& status = ensureObject(updated, {"status"});
    if (stringAt(volume, {"status", "phase"}) != phase)
      status["lastPhaseTransitionTime"] = nowTime();
    status["phase"] = phase;
    if (message.empty())
      status.erase("message");
    else
      status["message"] = message;
    client_.updateStatus(res::persistentVolumes, "", updated);
  }

  void syncVolume(const json::object& volume) {
    auto* ref = objectAt(volume, {"spec", "claimRef"});
    if (!ref || stringAt(*ref, {"name"}).empty()) return setVolumePhase(volume, "Available", "");
    const std::string refUid = stringAt(*ref, {"uid"});
    const std::string claimKey = makeKey(stringAt(*ref, {"namespace"}), stringAt(*ref, {"name"}));
    if (refUid.empty()) {
      // Pre-bound by an administrator to a claim that may not exist yet.
      enqueueKey(kClaimPrefix + claimKey);
      return setVolumePhase(volume, "Available", "");
    }
    client::ObjectPtr claim = claims_.get(claimKey);
    if (!claim || uidOf(*claim) != refUid) {
      // The cache may not have the claim yet (or still have a deleted one): ask the server.
      try {
        auto [ns, name] = splitKey(claimKey);
        claim = std::make_shared<const json::object>(
            client_.get(res::persistentVolumeClaims, ns, name));
      } catch (const ApiError& e) {
        if (e.code() != 404) throw;
        claim = nullptr;
      }
    }
    if (!claim || uidOf(*claim) != refUid) return reclaim(volume);
    const std::string claimVolume = stringAt(*claim, {"spec", "volumeName"});
    if (claimVolume.empty()) {
      // Pre-bound (by us, or by a provisioner); the claim's sync finishes the binding.
      enqueueKey(kClaimPrefix + claimKey);
      if (stringAt(volume, {"status", "phase"}) != "Bound") setVolumePhase(volume, "Available", "");
      return;
    }
    if (claimVolume == nameOf(volume)) return setVolumePhase(volume, "Bound", "");
    // The claim went to another volume. Our own binding is undone; an administrator's
    // claimRef stays (the volume waits for that claim).
    if (annotationIs(volume, kAnnBoundByController, "yes")) {
      json::object updated = volume;
      ensureObject(updated, {"spec"}).erase("claimRef");
      ensureObject(updated, {"metadata", "annotations"}).erase(kAnnBoundByController);
      updated = client_.update(res::persistentVolumes, "", updated);
      return setVolumePhase(updated, "Available", "");
    }
    setVolumePhase(volume, "Available", "");
  }

  // The volume's claim is gone: Released, then its reclaim policy.
  void reclaim(const json::object& volume) {
    const std::string phase = stringAt(volume, {"status", "phase"});
    if (phase == "Failed") return;  // reported once; an administrator must act
    if (phase != "Released") {
      setVolumePhase(volume, "Released", "");
      return;  // the status update's event brings the volume back for its policy
    }
    const std::string policy = stringAt(volume, {"spec", "persistentVolumeReclaimPolicy"});
    if (policy == "Recycle") {
      const std::string msg = "No recycler plugin found for the volume!";
      setVolumePhase(volume, "Failed", msg);
      recorder_.event(volume, client::kEventTypeWarning, "VolumeFailedRecycle", msg);
    } else if (policy == "Delete") {
      // A provisioned volume is deleted by its provisioner (skiff.io/local-path: the
      // local-path controller); anything else has no deleter in skiff.
      if (!stringAt(volume, {"metadata", "annotations", kAnnProvisionedBy}).empty()) return;
      const std::string msg = "error getting deleter volume plugin for volume \"" + nameOf(volume) +
                              "\": no deletable volume plugin matched";
      setVolumePhase(volume, "Failed", msg);
      recorder_.event(volume, client::kEventTypeWarning, "VolumeFailedDelete", msg);
    }
    // Retain: stays Released until an administrator acts.
  }

  client::SharedInformer& volumes_;
  client::SharedInformer& claims_;
  client::SharedInformer& classes_;
  client::SharedInformer& nodes_;
};

ControllerRegistration reg("persistentvolume-binder",
                           [](ControllerContext& ctx) { return std::make_unique<PvBinder>(ctx); });

}  // namespace
}  // namespace skiff::controller
