// The local-path provisioner, pvc/pv-protection and the expander over fakes.
#include "controller/pv_util.h"
#include "unit/controller/fake_env.h"
#include "unit/controller/pv_test_util.h"

namespace skiff::controller::testing {

namespace json = boost::json;
using client::resources::nodes;
using client::resources::persistentVolumeClaims;
using client::resources::persistentVolumes;
using client::resources::pods;
using namespace pvt;

namespace {

struct ProvisionerEnv : ControllerTestEnv {
  explicit ProvisionerEnv(bool defaultClass = false)
      : ControllerTestEnv("local-path-provisioner", [defaultClass](ControllerOptions& o) {
          o.defaultStorageClass = defaultClass;
        }) {
    reflectWrites();
  }
  // A claim the binder handed to skiff.io/local-path.
  json::object addClaim(const std::string& name, const std::string& cls,
                        std::vector<std::string> accessModes = {"ReadWriteOnce"},
                        const std::string& selectedNode = "") {
    auto c = claim(name, "2Gi", cls, accessModes);
    json::object ann{{pv::kAnnStorageProvisioner, pv::kLocalPath}};
    if (!selectedNode.empty()) ann[pv::kAnnSelectedNode] = selectedNode;
    c["metadata"].as_object()["annotations"] = ann;
    return add(persistentVolumeClaims, c);
  }
};

}  // namespace

TEST(LocalPathProvisioner, CreatesTheDefaultClassOnceAndNeverOverwrites) {
  ProvisionerEnv env(true);
  env.sync();
  auto cls = env.api->object("storageclasses", "", "local-path");
  ASSERT_TRUE(cls);
  EXPECT_EQ(stringAt(*cls, {"provisioner"}), "skiff.io/local-path");
  EXPECT_EQ(stringAt(*cls, {"volumeBindingMode"}), "WaitForFirstConsumer");
  EXPECT_EQ(stringAt(*cls, {"reclaimPolicy"}), "Delete");
  EXPECT_TRUE(boolAt(*cls, {"allowVolumeExpansion"}));
  EXPECT_EQ(stringAt(*cls, {"metadata", "annotations", pv::kAnnDefaultClass}), "true");

  ProvisionerEnv mine(true);
  auto custom = storageClass("local-path", "example.com/mine");
  mine.api->seed("storageclasses", custom);
  mine.sync();
  EXPECT_EQ(stringAt(*mine.api->object("storageclasses", "", "local-path"), {"provisioner"}),
            "example.com/mine");
  EXPECT_TRUE(mine.writes().empty());
}

TEST(LocalPathProvisioner, WaitForFirstConsumerVolumeFollowsTheContract) {
  ProvisionerEnv env;
  env.add(pv::storageClasses, storageClass("local-path", pv::kLocalPath, "WaitForFirstConsumer"));
  env.add(nodes, readyNode("n1"));
  auto c = env.addClaim("data", "local-path");
  env.sync();
  EXPECT_TRUE(env.api->objects("persistentvolumes").empty()) << "waits for selected-node";
  c["metadata"].as_object()["annotations"].as_object()[pv::kAnnSelectedNode] = "n1";
  c = env.update(persistentVolumeClaims, c);
  env.sync();
  auto v = env.api->object("persistentvolumes", "", "pvc-" + uidOf(c));
  ASSERT_TRUE(v);
  EXPECT_EQ(stringAt(*v, {"spec", "csi", "driver"}), "skiff.io/local-path");
  EXPECT_EQ(stringAt(*v, {"spec", "csi", "volumeHandle"}), "pvc-" + uidOf(c));
  EXPECT_EQ(stringAt(*v, {"spec", "csi", "fsType"}), "ext4");
  EXPECT_EQ(stringAt(*v, {"spec", "capacity", "storage"}), "2Gi");
  EXPECT_EQ(stringAt(*v, {"spec", "volumeMode"}), "Filesystem");
  EXPECT_EQ(stringAt(*v, {"spec", "persistentVolumeReclaimPolicy"}), "Delete");
  EXPECT_EQ(stringAt(*v, {"spec", "storageClassName"}), "local-path");
  EXPECT_EQ(stringAt(*v, {"spec", "claimRef", "uid"}), uidOf(c));
  EXPECT_EQ(stringAt(*v, {"metadata", "labels", pv::kLocalPathNodeLabel}), "n1");
  EXPECT_EQ(stringAt(*v, {"metadata", "annotations", pv::kAnnProvisionedBy}), pv::kLocalPath);
  EXPECT_EQ(json::serialize(*valueAt(*v, {"metadata", "finalizers"})),
            R"(["kubernetes.io/pv-protection","skiff.io/local-path-cleanup"])");
  EXPECT_EQ(
      json::serialize(*valueAt(*v, {"spec", "nodeAffinity"})),
      R"({"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["n1"]}]}]}})");
  EXPECT_TRUE(env.hasEvent("ProvisioningSucceeded", "Successfully provisioned volume pvc-"));
  // Idempotent: the next sync makes nothing new.
  env.api->clearActions();
  env.syncKey("claim:ns/data");
  EXPECT_TRUE(env.writes().empty());
}

TEST(LocalPathProvisioner, UnsupportedAccessModeIsAnEventAndNoVolume) {
  ProvisionerEnv env;
  env.add(pv::storageClasses, storageClass("lp", pv::kLocalPath));
  env.add(nodes, readyNode("n1"));
  env.addClaim("shared", "lp", {"ReadWriteMany"});
  env.sync();
  EXPECT_TRUE(env.api->objects("persistentvolumes").empty());
  EXPECT_TRUE(env.hasEvent("ProvisioningFailed",
                           "failed to provision volume with StorageClass \"lp\": access mode "
                           "ReadWriteMany is not supported by skiff.io/local-path"));
}

TEST(LocalPathProvisioner, ImmediatePicksAReadyNode) {
  ProvisionerEnv env;
  env.add(pv::storageClasses, storageClass("lp", pv::kLocalPath));
  env.addClaim("now", "lp");
  env.sync();
  EXPECT_TRUE(env.hasEvent("ProvisioningFailed", "no Ready node"));
  env.add(nodes, readyNode("down", false));
  env.add(nodes, readyNode("up"));
  env.step(std::chrono::seconds(11));
  env.sync();
  auto vs = env.api->objects("persistentvolumes");
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_EQ(stringAt(vs[0], {"metadata", "labels", pv::kLocalPathNodeLabel}), "up");
}

TEST(LocalPathProvisioner, ReleasedDeleteVolumeIsDeleted) {
  ProvisionerEnv env;
  auto v = volume("pvc-1", "1Gi", "lp", {"ReadWriteOnce"}, "Bound", "Delete");
  v["metadata"].as_object()["annotations"] = {{pv::kAnnProvisionedBy, pv::kLocalPath}};
  v = env.add(persistentVolumes, v);
  env.sync();
  EXPECT_TRUE(env.writes().empty()) << "bound volumes stay";
  v["status"].as_object()["phase"] = "Released";
  env.update(persistentVolumes, v);
  env.sync();
  EXPECT_EQ(env.writes(), std::vector<std::string>{"delete persistentvolumes"});
}

TEST(PvcProtection, ClaimInUseKeepsItsFinalizerUntilThePodIsGone) {
  ControllerTestEnv env("pvc-protection");
  env.reflectWrites();
  auto p = env.add(pods, podUsing("app", "data"));
  auto c = claim("data", "1Gi");
  c["metadata"].as_object()["finalizers"] = json::array{json::value(pv::kPvcProtectionFinalizer)};
  c["metadata"].as_object()["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  env.add(persistentVolumeClaims, c);
  env.sync();
  EXPECT_TRUE(env.writes().empty());
  // An unscheduled pod or a finished one does not hold the claim.
  p["status"].as_object()["phase"] = "Succeeded";
  env.update(pods, p);
  env.sync();
  EXPECT_EQ(env.writes(), std::vector<std::string>{"update persistentvolumeclaims"});
  EXPECT_FALSE(env.api->object("persistentvolumeclaims", "ns", "data") &&
               pv::hasFinalizer(*env.api->object("persistentvolumeclaims", "ns", "data"),
                                pv::kPvcProtectionFinalizer));
}

TEST(PvProtection, BoundVolumeKeepsItsFinalizer) {
  ControllerTestEnv env("pv-protection");
  env.reflectWrites();
  auto v = volume("pv1", "1Gi", "", {"ReadWriteOnce"}, "Bound");
  v["metadata"].as_object()["finalizers"] = json::array{json::value(pv::kPvProtectionFinalizer)};
  v["metadata"].as_object()["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  v = env.add(persistentVolumes, v);
  env.sync();
  EXPECT_TRUE(env.writes().empty());
  v["status"].as_object()["phase"] = "Released";
  env.update(persistentVolumes, v);
  env.sync();
  EXPECT_EQ(env.writes(), std::vector<std::string>{"update persistentvolumes"});
}

TEST(PvExpander, LocalPathClaimGrowsItsVolumeAndWaitsForTheNode) {
  ControllerTestEnv env("persistentvolume-expander");
  env.reflectWrites();
  auto v = volume("pvc-1", "1Gi", "lp", {"ReadWriteOnce"}, "Bound", "Delete");
  v["spec"].as_object()["csi"] = {{"driver", pv::kLocalPath}, {"volumeHandle", "pvc-1"}};
  env.add(persistentVolumes, v);
  auto c = claim("data", "1Gi", "lp");
  c["spec"].as_object()["volumeName"] = "pvc-1";
  c["status"] = {{"phase", "Bound"}, {"capacity", {{"storage", "1Gi"}}}};
  c = env.add(persistentVolumeClaims, c);
  env.sync();
  EXPECT_TRUE(env.writes().empty()) << "nothing to grow";
  c["spec"].as_object()["resources"].as_object()["requests"].as_object()["storage"] = "3Gi";
  env.update(persistentVolumeClaims, c);
  env.sync();
  EXPECT_EQ(
      stringAt(*env.api->object("persistentvolumes", "", "pvc-1"), {"spec", "capacity", "storage"}),
      "3Gi");
  auto after = *env.api->object("persistentvolumeclaims", "ns", "data");
  EXPECT_EQ(stringAt(after, {"metadata", "annotations", pv::kAnnStorageResizer}), pv::kLocalPath);
  EXPECT_EQ(stringAt(after, {"status", "allocatedResources", "storage"}), "3Gi");
  EXPECT_EQ(stringAt(after, {"status", "allocatedResourceStatuses", "storage"}),
            "NodeResizePending");
  EXPECT_EQ(stringAt(after, {"status", "capacity", "storage"}), "1Gi") << "the kubelet's to set";
  auto* cond = findCondition(after, "FileSystemResizePending");
  ASSERT_TRUE(cond);
  EXPECT_EQ(stringAt(*cond, {"status"}), "True");
  EXPECT_FALSE(findCondition(after, "Resizing"));
  EXPECT_TRUE(env.hasEvent("ExternalExpanding"));
  EXPECT_TRUE(env.hasEvent("Resizing", "External resizer is resizing volume pvc-1"));
  EXPECT_TRUE(env.hasEvent("FileSystemResizeRequired"));
  // Done: further syncs write nothing until the kubelet reports the new capacity.
  env.api->clearActions();
  env.syncKey("ns/data");
  EXPECT_TRUE(env.writes().empty());
}

}  // namespace skiff::controller::testing
