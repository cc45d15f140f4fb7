// persistentvolume-binder over fakes: the matching rules (pv_util.h) directly, then the
// controller's bindings, phases, reclaim policies and events.
#include "controller/pv_util.h"
#include "unit/controller/fake_env.h"
#include "unit/controller/pv_test_util.h"

namespace skiff::controller::testing {

namespace json = boost::json;
using client::resources::persistentVolumeClaims;
using client::resources::persistentVolumes;
using namespace pvt;

namespace {

std::vector<client::ObjectPtr> ptrs(std::vector<json::object> objs) {
  std::vector<client::ObjectPtr> out;
  for (auto& o : objs) out.push_back(std::make_shared<const json::object>(std::move(o)));
  return out;
}

std::string matchName(const std::vector<client::ObjectPtr>& vs, const json::object& c,
                      const json::object* node = nullptr, bool delayed = false) {
  auto m = pv::findBestMatch(vs, c, node, delayed);
  return m ? nameOf(*m) : "<none>";
}

}  // namespace

TEST(PvMatch, SmallestFittingVolumeWins) {
  auto vs = ptrs({volume("big", "10Gi"), volume("mid", "5Gi"), volume("small", "1Gi")});
  EXPECT_EQ(matchName(vs, claim("c", "2Gi")), "mid");
  EXPECT_EQ(matchName(vs, claim("c", "1Gi")), "small");
  EXPECT_EQ(matchName(vs, claim("c", "11Gi")), "<none>");
}

TEST(PvMatch, ClassModesVolumeModeSelectorAndPhase) {
  auto fast = volume("fast", "1Gi", "fast");
  auto rwx = volume("rwx", "1Gi", "", {"ReadWriteMany"});
  auto block = volume("block", "1Gi");
  block["spec"].as_object()["volumeMode"] = "Block";
  auto labelled = volume("labelled", "2Gi");
  labelled["metadata"].as_object()["labels"] = {{"tier", "gold"}};
  auto released = volume("released", "1Gi", "", {"ReadWriteOnce"}, "Released");
  auto vs = ptrs({fast, rwx, block, labelled, released});
  EXPECT_EQ(matchName(vs, claim("c", "1Gi", "fast")), "fast");
  EXPECT_EQ(matchName(vs, claim("c", "1Gi", "", {"ReadWriteMany"})), "rwx");
  // "" asks for volumes without a class: "fast" is not one, the released volume never is.
  EXPECT_EQ(matchName(vs, claim("c", "1Gi", "")), "labelled");
  auto gold = claim("c", "1Gi", "");
  gold["spec"].as_object()["selector"] = {{"matchLabels", {{"tier", "silver"}}}};
  EXPECT_EQ(matchName(vs, gold), "<none>");
  gold["spec"].as_object()["selector"] = {{"matchLabels", {{"tier", "gold"}}}};
  EXPECT_EQ(matchName(vs, gold), "labelled");
  auto blockClaim = claim("c", "1Gi", "");
  blockClaim["spec"].as_object()["volumeMode"] = "Block";
  EXPECT_EQ(matchName(vs, blockClaim), "block");
}

TEST(PvMatch, PreBoundVolumeWinsAndIsReservedForItsClaim) {
  auto c = claim("mine", "1Gi");
  c["metadata"].as_object()["uid"] = "u1";
  auto reserved = volume("reserved", "5Gi");
  reserved["spec"].as_object()["claimRef"] = {{"namespace", "ns"}, {"name", "mine"}};
  auto vs = ptrs({volume("small", "1Gi"), reserved});
  EXPECT_EQ(matchName(vs, c), "reserved") << "a pre-bound volume wins over a smaller one";
  EXPECT_EQ(matchName(vs, claim("other", "1Gi")), "small");
  // A claimRef with another uid belongs to an earlier claim of that name.
  reserved["spec"].as_object()["claimRef"].as_object()["uid"] = "old";
  EXPECT_EQ(matchName(ptrs({reserved}), c), "<none>");
}

TEST(PvMatch, DelayedBindingWaitsForTheNodeAndHonoursAffinity) {
  auto local = volume("local", "1Gi", "slow");
  local["spec"].as_object()["nodeAffinity"] = json::parse(R"({"required":{"nodeSelectorTerms":[
      {"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["n1"]}]}]}})");
  auto vs = ptrs({local});
  auto c = claim("c", "1Gi", "slow");
  EXPECT_EQ(matchName(vs, c, nullptr, true), "<none>") << "no node chosen yet";
  auto n1 = readyNode("n1"), n2 = readyNode("n2");
  EXPECT_EQ(matchName(vs, c, &n1, true), "local");
  EXPECT_EQ(matchName(vs, c, &n2, true), "<none>");
}

TEST(PvMatch, DefaultClassIsTheNewestDefault) {
  auto classes = ptrs({storageClass("a", "x", "Immediate", true, "2026-01-01T00:00:00Z"),
                       storageClass("b", "x", "Immediate", true, "2026-02-01T00:00:00Z"),
                       storageClass("c", "x", "Immediate", false, "2026-03-01T00:00:00Z")});
  ASSERT_TRUE(pv::defaultClass(classes));
  EXPECT_EQ(nameOf(*pv::defaultClass(classes)), "b");
  EXPECT_FALSE(pv::defaultClass(ptrs({storageClass("c", "x")})));
}

namespace {

struct BinderEnv : ControllerTestEnv {
  BinderEnv() : ControllerTestEnv("persistentvolume-binder") { reflectWrites(); }
  json::object pv(const std::string& name) { return *api->object("persistentvolumes", "", name); }
  json::object pvc(const std::string& name) {
    return *api->object("persistentvolumeclaims", "ns", name);
  }
  // Syncs until nothing is queued (each write's event queues the next step).
  void settle() {
    for (int i = 0; i < 10 && sync() > 0; ++i) {
    }
  }
};

}  // namespace

TEST(PvBinder, BindsClaimToVolumeWithAnnotationsAndStatus) {
  BinderEnv env;
  env.add(persistentVolumes, volume("pv1", "5Gi"));
  env.add(persistentVolumeClaims, claim("c1", "1Gi"));
  env.settle();
  auto v = env.pv("pv1");
  auto c = env.pvc("c1");
  EXPECT_EQ(stringAt(v, {"spec", "claimRef", "name"}), "c1");
  EXPECT_EQ(stringAt(v, {"spec", "claimRef", "uid"}), uidOf(c));
  EXPECT_EQ(stringAt(v, {"status", "phase"}), "Bound");
  EXPECT_EQ(stringAt(v, {"metadata", "annotations", pv::kAnnBoundByController}), "yes");
  EXPECT_EQ(stringAt(c, {"spec", "volumeName"}), "pv1");
  EXPECT_EQ(stringAt(c, {"metadata", "annotations", pv::kAnnBindCompleted}), "yes");
  EXPECT_EQ(stringAt(c, {"metadata", "annotations", pv::kAnnBoundByController}), "yes");
  EXPECT_EQ(stringAt(c, {"status", "phase"}), "Bound");
  EXPECT_EQ(stringAt(c, {"status", "capacity", "storage"}), "5Gi");
  EXPECT_EQ(json::serialize(*valueAt(c, {"status", "accessModes"})), R"(["ReadWriteOnce"])");
}

TEST(PvBinder, ClaimWithoutClassAndVolumeWaitsWithFailedBinding) {
  BinderEnv env;
  env.add(persistentVolumeClaims, claim("c1", "1Gi"));
  env.settle();
  EXPECT_EQ(stringAt(env.pvc("c1"), {"status", "phase"}), "Pending");
  EXPECT_TRUE(
      env.hasEvent("FailedBinding",
                   "no persistent volumes available for this claim and no storage class is set"));
}

TEST(PvBinder, RetainVolumeStaysReleasedAfterItsClaimIsDeleted) {
  BinderEnv env;
  env.add(persistentVolumes, volume("pv1", "1Gi"));
  auto c = env.add(persistentVolumeClaims, claim("c1", "1Gi"));
  env.settle();
  env.remove(persistentVolumeClaims, env.pvc("c1"));
  env.settle();
  EXPECT_EQ(stringAt(env.pv("pv1"), {"status", "phase"}), "Released");
  EXPECT_EQ(stringAt(env.pv("pv1"), {"spec", "claimRef", "name"}), "c1") << "claimRef kept";
  env.runPeriodic();
  env.settle();
  EXPECT_EQ(stringAt(env.pv("pv1"), {"status", "phase"}), "Released");
  // A new claim of the same name does not get the released volume.
  env.add(persistentVolumeClaims, claim("c1", "1Gi"));
  env.settle();
  EXPECT_EQ(stringAt(env.pvc("c1"), {"status", "phase"}), "Pending");
}

TEST(PvBinder, DeleteAndRecycleWithoutAPluginFail) {
  BinderEnv env;
  env.add(persistentVolumes, volume("del", "1Gi", "", {"ReadWriteOnce"}, "Available", "Delete"));
  env.add(persistentVolumeClaims, claim("c1", "1Gi"));
  env.settle();
  env.add(persistentVolumes, volume("rec", "1Gi", "", {"ReadWriteOnce"}, "Available", "Recycle"));
  env.add(persistentVolumeClaims, claim("c2", "1Gi"));
  env.settle();
  env.remove(persistentVolumeClaims, env.pvc("c1"));
  env.remove(persistentVolumeClaims, env.pvc("c2"));
  env.settle();
  EXPECT_EQ(stringAt(env.pv("del"), {"status", "phase"}), "Failed");
  EXPECT_EQ(stringAt(env.pv("del"), {"status", "message"}),
            "error getting deleter volume plugin for volume \"del\": no deletable volume plugin "
            "matched");
  EXPECT_TRUE(env.hasEvent("VolumeFailedDelete"));
  EXPECT_EQ(stringAt(env.pv("rec"), {"status", "phase"}), "Failed");
  EXPECT_TRUE(env.hasEvent("VolumeFailedRecycle", "No recycler plugin found for the volume!"));
}

TEST(PvBinder, ProvisionedDeleteVolumeIsLeftToItsProvisioner) {
  BinderEnv env;
  auto v = volume("pvc-x", "1Gi", "", {"ReadWriteOnce"}, "Available", "Delete");
  v["metadata"].as_object()["annotations"] = {{pv::kAnnProvisionedBy, pv::kLocalPath}};
  env.add(persistentVolumes, v);
  env.add(persistentVolumeClaims, claim("c1", "1Gi"));
  env.settle();
  env.remove(persistentVolumeClaims, env.pvc("c1"));
  env.settle();
  EXPECT_EQ(stringAt(env.pv("pvc-x"), {"status", "phase"}), "Released");
}

TEST(PvBinder, BoundClaimWhoseVolumeVanishedIsLost) {
  BinderEnv env;
  auto c = claim("c1", "1Gi");
  c["spec"].as_object()["volumeName"] = "gone";
  c["metadata"].as_object()["annotations"] = {{pv::kAnnBindCompleted, "yes"}};
  c["status"].as_object()["phase"] = "Bound";
  env.add(persistentVolumeClaims, c);
  env.settle();
  EXPECT_EQ(stringAt(env.pvc("c1"), {"status", "phase"}), "Lost");
  EXPECT_TRUE(env.hasEvent("ClaimLost"));
}

TEST(PvBinder, ClaimNamingATooSmallVolumeGetsFailedBinding) {
  BinderEnv env;
  env.add(persistentVolumes, volume("tiny", "1Mi"));
  auto c = claim("c1", "1Gi");
  c["spec"].as_object()["volumeName"] = "tiny";
  env.add(persistentVolumeClaims, c);
  env.settle();
  EXPECT_EQ(stringAt(env.pvc("c1"), {"status", "phase"}), "Pending");
  EXPECT_TRUE(env.hasEvent("FailedBinding",
                           "Cannot bind to requested volume \"tiny\": requested PV is too small"));
  EXPECT_FALSE(valueAt(env.pv("tiny"), {"spec", "claimRef"}));
}

TEST(PvBinder, PreBoundVolumeIsBoundWithoutControllerAnnotation) {
  BinderEnv env;
  auto v = volume("admin", "1Gi");
  v["spec"].as_object()["claimRef"] = {{"namespace", "ns"}, {"name", "c1"}};
  env.add(persistentVolumes, v);
  env.add(persistentVolumeClaims, claim("c1", "1Gi"));
  env.settle();
  EXPECT_EQ(stringAt(env.pvc("c1"), {"spec", "volumeName"}), "admin");
  EXPECT_FALSE(valueAt(env.pv("admin"), {"metadata", "annotations", pv::kAnnBoundByController}));
  EXPECT_EQ(stringAt(env.pv("admin"), {"status", "phase"}), "Bound");
}

TEST(PvBinder, WaitForFirstConsumerAndProvisionerAnnotations) {
  BinderEnv env;
  env.add(pv::storageClasses, storageClass("wffc", pv::kLocalPath, "WaitForFirstConsumer"));
  env.add(pv::storageClasses, storageClass("ext", "example.com/nfs"));
  env.add(persistentVolumeClaims, claim("late", "1Gi", "wffc"));
  env.add(persistentVolumeClaims, claim("now", "1Gi", "ext"));
  env.settle();
  EXPECT_TRUE(env.hasEvent("WaitForFirstConsumer",
                           "waiting for first consumer to be created before binding"));
  EXPECT_FALSE(valueAt(env.pvc("late"), {"metadata", "annotations", pv::kAnnStorageProvisioner}));
  auto now = env.pvc("now");
  EXPECT_EQ(stringAt(now, {"metadata", "annotations", pv::kAnnStorageProvisioner}),
            "example.com/nfs");
  EXPECT_EQ(stringAt(now, {"metadata", "annotations", pv::kAnnBetaStorageProvisioner}),
            "example.com/nfs");
  EXPECT_TRUE(env.hasEvent("ExternalProvisioning",
                           "Waiting for a volume to be created either by the external provisioner "
                           "'example.com/nfs' or manually by the system administrator."));
  // The scheduler picks a node: now the claim is the provisioner's.
  auto late = env.pvc("late");
  late["metadata"].as_object()["annotations"] = {{pv::kAnnSelectedNode, "n1"}};
  env.update(persistentVolumeClaims, late);
  env.settle();
  EXPECT_EQ(stringAt(env.pvc("late"), {"metadata", "annotations", pv::kAnnStorageProvisioner}),
            pv::kLocalPath);
}

TEST(PvBinder, ClaimWithoutClassGetsTheDefaultClassRetroactively) {
  BinderEnv env;
  env.add(persistentVolumeClaims, claim("c1", "1Gi", std::nullopt));
  env.settle();
  EXPECT_FALSE(valueAt(env.pvc("c1"), {"spec", "storageClassName"}));
  env.add(pv::storageClasses, storageClass("std", "example.com/x", "Immediate", true));
  env.settle();
  EXPECT_EQ(stringAt(env.pvc("c1"), {"spec", "storageClassName"}), "std");
  // An explicit "" stays without a class.
  env.add(persistentVolumeClaims, claim("c2", "1Gi", ""));
  env.settle();
  EXPECT_EQ(stringAt(env.pvc("c2"), {"spec", "storageClassName"}), "");
}

}  // namespace skiff::controller::testing
