// The built-in provisioner for skiff.io/local-path (the part rancher's local-path-provisioner
// or a CSI driver's external-provisioner plays upstream; storage contract in
// docs/architecture.md, "Storage").
//
// - At start it creates the default StorageClass `local-path` unless a class of that name
//   exists (never overwritten; --default-storage-class=false turns this off).
// - A claim the binder marked for skiff.io/local-path (annotation
//   volume.kubernetes.io/storage-provisioner) gets a PersistentVolume `pvc-<claim uid>`
//   pre-bound to it, on the node the scheduler chose (WaitForFirstConsumer: the
//   selected-node annotation) or on a Ready node it picks itself (Immediate). The PV's
//   label skiff.io/local-path-node tells that node's kubelet to make the backing store, and
//   its finalizer skiff.io/local-path-cleanup keeps the object until the kubelet removed it.
// - A Released volume of ours with reclaim policy Delete is deleted (the finalizer makes
//   that wait for the node).
// Claims it cannot serve (access modes other than ReadWriteOnce/ReadWriteOncePod, block
// mode, a selector) get a ProvisioningFailed event and stay Pending, as upstream.
#include <boost/json.hpp>
#include <map>

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
const std::string kEnsureClass = "ensure-default-class";

bool isNodeReady(const json::object& node) {
  if (boolAt(node, {"spec", "unschedulable"})) return false;
  return conditionTrue(node, "Ready");
}

class LocalPathProvisioner : public QueueController {
 public:
  explicit LocalPathProvisioner(ControllerContext& ctx)
      : QueueController(ctx, "local-path-provisioner", std::string(kLocalPath) + "_provisioner"),
        volumes_(ctx.informers.informer(res::persistentVolumes)),
        claims_(ctx.informers.informer(res::persistentVolumeClaims)),
        classes_(ctx.informers.informer(storageClasses)),
        nodes_(ctx.informers.informer(res::nodes)) {
    auto onClaim = [this](const json::object& c) {
      if (annotationIs(c, kAnnStorageProvisioner, kLocalPath) ||
          annotationIs(c, kAnnBetaStorageProvisioner, kLocalPath))
        enqueueKey(kClaimPrefix + client::objectKey(c));
    };
    claims_.addEventHandler(
        {.onAdd = onClaim,
         .onUpdate = [onClaim](const json::object&, const json::object& c) { onClaim(c); }});
    auto onVolume = [this](const json::object& v) {
      if (annotationIs(v, kAnnProvisionedBy, kLocalPath)) enqueueKey(kVolumePrefix + nameOf(v));
    };
    volumes_.addEventHandler(
        {.onAdd = onVolume,
         .onUpdate = [onVolume](const json::object&, const json::object& v) { onVolume(v); }});
    if (options_.defaultStorageClass) enqueueKey(kEnsureClass);
  }

 protected:
  void sync(const std::string& key) override {
    if (key == kEnsureClass) return ensureDefaultClass();
    if (key.rfind(kClaimPrefix, 0) == 0) {
      if (auto claim = claims_.get(key.substr(kClaimPrefix.size()))) provision(*claim);
    } else if (key.rfind(kVolumePrefix, 0) == 0) {
      if (auto volume = volumes_.get(key.substr(kVolumePrefix.size()))) maybeDelete(*volume);
    }
  }

 private:
  void ensureDefaultClass() {
    try {
      client_.get(storageClasses, "", kLocalPathClass);
      return;  // exists: never overwritten
    } catch (const ApiError& e) {
      if (e.code() != 404) throw;
    }
    json::object cls{
        {"apiVersion", "storage.k8s.io/v1"},
        {"kind", "StorageClass"},
        {"metadata", {{"name", kLocalPathClass}, {"annotations", {{kAnnDefaultClass, "true"}}}}},
        {"provisioner", kLocalPath},
        {"reclaimPolicy", "Delete"},
        {"volumeBindingMode", "WaitForFirstConsumer"},
        {"allowVolumeExpansion", true}};
    try {
      client_.create(storageClasses, "", cls);
      SKIFF_LOG_INFO("local-path-provisioner: created the default StorageClass {}",
                     kLocalPathClass);
    } catch (const ApiError& e) {
      if (e.code() != 409) throw;
    }
  }

  void failed(const json::object& claim, const std::string& className, const std::string& why) {
    recorder_.event(claim, client::kEventTypeWarning, "ProvisioningFailed",
                    "failed to provision volume with StorageClass \"" + className + "\": " + why);
  }

  // Why the claim cannot be served by this provisioner ("" when it can).
  static std::string unsupported(const json::object& claim) {
    auto modes = accessModes(claim);
    if (modes.empty()) return "the claim has no access modes";
    for (auto& m : modes)
      if (m != "ReadWriteOnce" && m != "ReadWriteOncePod")
        return std::string("access mode ") + m + " is not supported by " + kLocalPath +
               " (supported: ReadWriteOnce, ReadWriteOncePod)";
    if (volumeModeOf(claim) != "Filesystem")
      return std::string("volumeMode ") + volumeModeOf(claim) + " is not supported by " +
             kLocalPath + " (supported: Filesystem)";
    if (objectAt(claim, {"spec", "selector"})) return "claim Selector is not supported";
    auto request = claimRequest(claim);
    if (!request || request->sign() <= 0) return "the claim requests no storage";
    return "";
  }

  // The Ready node with the fewest local-path volumes (then by name), for Immediate classes.
  std::string pickNode() {
    std::map<std::string, int> load;
    for (auto& n : nodes_.list())
      if (isNodeReady(*n)) load[nameOf(*n)] = 0;
    for (auto& v : volumes_.list()) {
      auto node = stringAt(*v, {"metadata", "labels", kLocalPathNodeLabel});
      if (auto it = load.find(node); it != load.end()) ++it->second;
    }
    std::string best;
    int bestLoad = 0;
    for (auto& [name, count] : load)
      if (best.empty() || count < bestLoad) best = name, bestLoad = count;
    return best;
  }

  void provision(const json::object& claim) {
    if (isBeingDeleted(claim) || !stringAt(claim, {"spec", "volumeName"}).empty()) return;
    if (annotationIs(claim, kAnnBindCompleted, "yes")) return;
    const std::string className = claimClassOrEmpty(claim);
    auto cls = classes_.get(className);
    if (!cls || stringAt(*cls, {"provisioner"}) != kLocalPath) return;
    const std::string volumeName = "pvc-" + uidOf(claim);
    if (volumes_.get(volumeName)) return;  // provisioned already; the binder binds it
    if (auto why = unsupported(claim); !why.empty()) return failed(claim, className, why);

    std::string node;
    if (stringAt(*cls, {"volumeBindingMode"}) == "WaitForFirstConsumer") {
      node = stringAt(claim, {"metadata", "annotations", kAnnSelectedNode});
      if (node.empty()) return;  // the scheduler picks the node with the first pod
    } else {
      node = pickNode();
      if (node.empty()) {
        failed(claim, className, "no Ready node to place the volume on");
        enqueueAfter(kClaimPrefix + client::objectKey(claim), std::chrono::seconds(10));
        return;
      }
    }
    // The node's hostname label is what the volume's affinity names (the node name when the
    // node is not known yet).
    std::string hostname = node;
    if (auto n = nodes_.get(node))
      if (auto h = stringAt(*n, {"metadata", "labels", "kubernetes.io/hostname"}); !h.empty())
        hostname = h;

    recorder_.event(claim, client::kEventTypeNormal, "Provisioning",
                    "External provisioner is provisioning volume for claim \"" +
                        namespaceOf(claim) + "/" + nameOf(claim) + "\"");
    json::object volume = volumeFor(claim, *cls, volumeName, node, hostname);
    try {
      client_.create(res::persistentVolumes, "", volume);
    } catch (const ApiError& e) {
      if (e.code() != 409) throw;
      return;  // a previous attempt made it
    }
    recorder_.event(claim, client::kEventTypeNormal, "ProvisioningSucceeded",
                    "Successfully provisioned volume " + volumeName);
  }

  // Released + Delete: the object goes; the cleanup finalizer holds it until the node has
  // removed the data.
  void maybeDelete(const json::object& volume) {
    if (isBeingDeleted(volume) || !annotationIs(volume, kAnnProvisionedBy, kLocalPath)) return;
    if (stringAt(volume, {"status", "phase"}) != "Released" ||
        stringAt(volume, {"spec", "persistentVolumeReclaimPolicy"}) != "Delete")
      return;
    json::object options{{"apiVersion", "v1"},
                         {"kind", "DeleteOptions"},
                         {"preconditions", json::object{{"uid", uidOf(volume)}}}};
    try {
      client_.remove(res::persistentVolumes, "", nameOf(volume), options);
    } catch (const ApiError& e) {
      if (e.code() != 404 && e.code() != 409) {
        recorder_.event(volume, client::kEventTypeWarning, "VolumeFailedDelete", e.what());
        throw;
      }
    }
  }

 public:
  // The PersistentVolume of the storage contract.
  static json::object volumeFor(const json::object& claim, const json::object& cls,
                                const std::string& name, const std::string& node,
                                const std::string& hostname) {
    std::string policy = stringAt(cls, {"reclaimPolicy"});
    if (policy.empty()) policy = "Delete";
    json::array modes;
    for (auto& m : accessModes(claim)) modes.emplace_back(m);
    json::object spec{
        {"capacity", {{"storage", claimRequest(claim)->toString()}}},
        {"accessModes", std::move(modes)},
        {"volumeMode", "Filesystem"},
        {"persistentVolumeReclaimPolicy", policy},
        {"storageClassName", nameOf(cls)},
        {"claimRef",
         {{"kind", "PersistentVolumeClaim"},
          {"namespace", namespaceOf(claim)},
          {"name", nameOf(claim)},
          {"uid", uidOf(claim)},
          {"apiVersion", "v1"},
          {"resourceVersion", stringAt(claim, {"metadata", "resourceVersion"})}}},
        {"csi", {{"driver", kLocalPath}, {"volumeHandle", name}, {"fsType", "ext4"}}}};
    json::object hostnameIn{{"key", "kubernetes.io/hostname"},
                            {"operator", "In"},
                            {"values", json::array{json::value(hostname)}}};
    json::object term{{"matchExpressions", json::array{std::move(hostnameIn)}}};
    json::object required{{"nodeSelectorTerms", json::array{std::move(term)}}};
    spec["nodeAffinity"] = json::object{{"required", std::move(required)}};
    if (auto* mo = valueAt(cls, {"mountOptions"})) spec["mountOptions"] = *mo;
    return json::object{{"apiVersion", "v1"},
                        {"kind", "PersistentVolume"},
                        {"metadata",
                         {{"name", name},
                          {"annotations", {{kAnnProvisionedBy, kLocalPath}}},
                          {"labels", {{kLocalPathNodeLabel, node}}},
                          {"finalizers", json::array{json::value(kPvProtectionFinalizer),
                                                     json::value(kLocalPathFinalizer)}}}},
                        {"spec", std::move(spec)}};
  }

 private:
  client::SharedInformer& volumes_;
  client::SharedInformer& claims_;
  client::SharedInformer& classes_;
  client::SharedInformer& nodes_;
};

ControllerRegistration reg("local-path-provisioner", [](ControllerContext& ctx) {
  return std::make_unique<LocalPathProvisioner>(ctx);
});

}  // namespace
}  // namespace skiff::controller
