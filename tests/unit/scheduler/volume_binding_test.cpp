#include "scheduler/plugins/volume_binding.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "scheduler/scheduler_algorithm.h"
#include "scheduler/scheduling_queue.h"
#include "test_util.h"

namespace skiff::scheduler {
namespace {
using namespace test;
namespace json = boost::json;

// Claims, volumes and classes kept in maps; thread-safe so a test can bind a claim while the
// binder waits.
struct FakeCluster {
  std::mutex mu;
  std::map<std::string, client::ObjectPtr> claims, volumes, classes;
  std::vector<std::pair<std::string, std::string>> patches;  // claim key, patch

  static client::ObjectPtr obj(const std::string& text) {
    return std::make_shared<const json::object>(json::parse(text).as_object());
  }
  void claim(const std::string& name, const std::string& spec, const std::string& status = "{}",
             const std::string& meta = "") {
    std::lock_guard lock(mu);
    claims["default/" + name] =
        obj(R"({"metadata":{"name":")" + name + R"(","namespace":"default","uid":"u-)" + name +
            R"(","resourceVersion":"1")" + meta + R"(},"spec":)" + spec + R"(,"status":)" + status +
            "}");
  }
  void volume(const std::string& name, const std::string& body) {
    std::lock_guard lock(mu);
    volumes[name] = obj(R"({"metadata":{"name":")" + name + R"("},)" + body + "}");
  }
  void storageClass(const std::string& name, const std::string& provisioner,
                    const std::string& mode) {
    std::lock_guard lock(mu);
    classes[name] = obj(R"({"metadata":{"name":")" + name + R"("},"provisioner":")" + provisioner +
                        R"(","volumeBindingMode":")" + mode + R"("})");
  }
  VolumeListers listers() {
    VolumeListers l;
    auto find = [this](std::map<std::string, client::ObjectPtr>& m,
                       const std::string& key) -> client::ObjectPtr {
      std::lock_guard lock(mu);
      auto it = m.find(key);
      return it == m.end() ? nullptr : it->second;
    };
    l.claim = [this, find](const std::string& ns, const std::string& n) {
      return find(claims, ns + "/" + n);
    };
    l.volume = [this, find](const std::string& n) { return find(volumes, n); };
    l.storageClass = [this, find](const std::string& n) { return find(classes, n); };
    l.volumes = [this] {
      std::lock_guard lock(mu);
      std::vector<client::ObjectPtr> out;
      for (auto& [_, v] : volumes) out.push_back(v);
      return out;
    };
    return l;
  }
};

PodInfoPtr podWithClaims(std::initializer_list<std::string> claims) {
  std::string volumes;
  int i = 0;
  for (auto& c : claims)
    volumes += std::string(volumes.empty() ? "" : ",") + R"({"name":"v)" + std::to_string(i++) +
               R"(","persistentVolumeClaim":{"claimName":")" + c + R"("}})";
  return pod(
      R"({"metadata":{"name":"p","namespace":"default"},"spec":{"containers":[{"name":"c"}],"volumes":[)" +
      volumes + "]}}");
}

// PreFilter then Filter on `node` (as the algorithm runs them).
Status run(FakeCluster& cluster, const PodInfo& p, const NodeInfo& n) {
  VolumeBinding plugin(cluster.listers());
  CycleState st;
  Status s = plugin.preFilter(st, p, Snapshot({std::make_shared<NodeInfo>(n)}));
  if (s.isSkip()) return Status::success();
  if (!s.isSuccess()) return s;
  return plugin.filter(st, p, n);
}

const char* kLocalPv = R"("spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],
  "storageClassName":"manual","nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":
  [{"key":"kubernetes.io/hostname","operator":"In","values":["a"]}]}]}}},"status":{"phase":"Available"})";

TEST(VolumeBindingTest, PodWithoutClaimsIsSkipped) {
  FakeCluster c;
  VolumeBinding plugin(c.listers());
  CycleState st;
  EXPECT_TRUE(plugin.preFilter(st, *podWith("p", "", ""), Snapshot()).isSkip());
}

TEST(VolumeBindingTest, PodInfoListsClaimsAndEphemeralVolumes) {
  auto p = pod(
      R"({"metadata":{"name":"web","namespace":"ns"},"spec":{"containers":[],"volumes":[{"name":"a","persistentVolumeClaim":{"claimName":"data"}},{"name":"e","ephemeral":{"volumeClaimTemplate":{}}},{"name":"x","emptyDir":{}}]}})");
  EXPECT_EQ(p->claims, (std::vector<std::string>{"data", "web-e"}));
}

TEST(VolumeBindingTest, MissingClaimIsUnresolvable) {
  FakeCluster c;
  Status s = run(c, *podWithClaims({"nope"}), nodeWith("a"));
  EXPECT_EQ(s.code(), Status::Code::UnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "persistentvolumeclaim \"nope\" not found");
}

TEST(VolumeBindingTest, ClaimBeingDeletedIsUnresolvable) {
  FakeCluster c;
  c.claim("d", R"({"volumeName":"pv1"})", R"({"phase":"Bound"})",
          R"(,"deletionTimestamp":"2026-01-01T00:00:00Z")");
  Status s = run(c, *podWithClaims({"d"}), nodeWith("a"));
  EXPECT_EQ(s.code(), Status::Code::UnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "persistentvolumeclaim \"d\" is being deleted");
}

TEST(VolumeBindingTest, UnboundImmediateClaimIsUnresolvable) {
  FakeCluster c;
  c.storageClass("fast", "example.com/x", "Immediate");
  c.claim("i", R"({"storageClassName":"fast"})", R"({"phase":"Pending"})");
  Status s = run(c, *podWithClaims({"i"}), nodeWith("a"));
  EXPECT_EQ(s.code(), Status::Code::UnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "pod has unbound immediate PersistentVolumeClaims");
  // A claim without class binds immediately too.
  c.claim("none", "{}", R"({"phase":"Pending"})");
  EXPECT_EQ(run(c, *podWithClaims({"none"}), nodeWith("a")).message(),
            "pod has unbound immediate PersistentVolumeClaims");
}

TEST(VolumeBindingTest, UnknownClassIsUnresolvable) {
  FakeCluster c;
  c.claim("x", R"({"storageClassName":"gone"})");
  Status s = run(c, *podWithClaims({"x"}), nodeWith("a"));
  EXPECT_EQ(s.code(), Status::Code::UnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "storageclass.storage.k8s.io \"gone\" not found");
}

TEST(VolumeBindingTest, WaitForFirstConsumerWithProvisionerFitsAnyNode) {
  FakeCluster c;
  c.storageClass("local-path", "skiff.io/local-path", "WaitForFirstConsumer");
  c.claim("w", R"({"storageClassName":"local-path"})", R"({"phase":"Pending"})");
  EXPECT_TRUE(run(c, *podWithClaims({"w"}), nodeWith("a")).isSuccess());
  EXPECT_TRUE(run(c, *podWithClaims({"w"}), nodeWith("b")).isSuccess());
}

TEST(VolumeBindingTest, BoundClaimFollowsVolumeNodeAffinity) {
  FakeCluster c;
  c.volume("pv1", kLocalPv);
  c.claim("b", R"({"volumeName":"pv1"})", R"({"phase":"Bound"})");
  EXPECT_TRUE(run(c, *podWithClaims({"b"}), nodeWith("a")).isSuccess());
  Status s = run(c, *podWithClaims({"b"}), nodeWith("b"));
  EXPECT_EQ(s.code(), Status::Code::UnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "node(s) had volume node affinity conflict");
  // A PV without node affinity fits every node.
  c.volume("pv2", R"("spec":{"capacity":{"storage":"1Gi"}})");
  c.claim("b2", R"({"volumeName":"pv2"})", R"({"phase":"Bound"})");
  EXPECT_TRUE(run(c, *podWithClaims({"b2"}), nodeWith("b")).isSuccess());
}

TEST(VolumeBindingTest, ClaimBoundToMissingVolumeIsUnresolvable) {
  FakeCluster c;
  c.claim("b", R"({"volumeName":"ghost"})", R"({"phase":"Bound"})");
  EXPECT_EQ(run(c, *podWithClaims({"b"}), nodeWith("a")).message(),
            "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)");
}

TEST(VolumeBindingTest, StaticWaitForFirstConsumerNeedsAFittingVolumeOnTheNode) {
  FakeCluster c;
  c.storageClass("manual", "kubernetes.io/no-provisioner", "WaitForFirstConsumer");
  c.volume("pv1", kLocalPv);
  c.claim(
      "s",
      R"({"storageClassName":"manual","accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"500Mi"}}})");
  EXPECT_TRUE(run(c, *podWithClaims({"s"}), nodeWith("a")).isSuccess());
  Status s = run(c, *podWithClaims({"s"}), nodeWith("b"));
  EXPECT_EQ(s.code(), Status::Code::UnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "node(s) didn't find available persistent volumes to bind");
  // Too small a volume does not count.
  c.claim(
      "big",
      R"({"storageClassName":"manual","accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"2Gi"}}})");
  EXPECT_EQ(run(c, *podWithClaims({"big"}), nodeWith("a")).message(),
            "node(s) didn't find available persistent volumes to bind");
}

TEST(VolumeBindingTest, DefaultProfileRejectsWithTheVolumeMessage) {
  FakeCluster c;
  c.volume("pv1", kLocalPv);
  c.claim("b", R"({"volumeName":"pv1"})", R"({"phase":"Bound"})");
  SchedulingAlgorithm alg(defaultProfile(c.listers()), {}, 1);
  Snapshot snap({share(nodeWith("a")), share(nodeWith("b"))});
  auto r = alg.schedulePod(*podWithClaims({"b"}), snap);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.suggestedHost, "a");
  c.volume("pv1",
           std::string(kLocalPv).replace(std::string(kLocalPv).find("[\"a\"]"), 5, "[\"z\"]"));
  r = alg.schedulePod(*podWithClaims({"b"}), snap);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message.find("2 node(s) had volume node affinity conflict"), std::string::npos)
      << r.message;
}

TEST(VolumeBinderTest, AnnotatesTheClaimAndWaitsUntilBound) {
  FakeCluster c;
  c.storageClass("local-path", "skiff.io/local-path", "WaitForFirstConsumer");
  c.claim("w", R"({"storageClassName":"local-path"})", R"({"phase":"Pending"})");
  VolumeBinder binder(
      c.listers(),
      [&](const std::string& ns, const std::string& name, const std::string& patch) {
        std::lock_guard lock(c.mu);
        c.patches.push_back({ns + "/" + name, patch});
      },
      std::chrono::seconds(10));
  std::thread provisioner([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    c.claim("w", R"({"storageClassName":"local-path","volumeName":"pvc-u-w"})",
            R"({"phase":"Bound"})");
  });
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(binder.bindPodVolumes(*podWithClaims({"w"}), "node-a", [] { return false; }), "");
  provisioner.join();
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(150));
  ASSERT_EQ(c.patches.size(), 1u);
  EXPECT_EQ(c.patches[0].first, "default/w");
  auto patch = json::parse(c.patches[0].second).as_object();
  EXPECT_EQ(patch.at("metadata").at("annotations").at("volume.kubernetes.io/selected-node"),
            "node-a");
  EXPECT_EQ(patch.at("metadata").at("resourceVersion"), "1");
}

TEST(VolumeBinderTest, TimesOutAndIsCancellable) {
  FakeCluster c;
  c.storageClass("local-path", "skiff.io/local-path", "WaitForFirstConsumer");
  c.claim("w", R"({"storageClassName":"local-path"})", R"({"phase":"Pending"})",
          R"(,"annotations":{"volume.kubernetes.io/selected-node":"n"})");
  int patches = 0;
  VolumeBinder binder(
      c.listers(), [&](const std::string&, const std::string&, const std::string&) { ++patches; },
      std::chrono::milliseconds(200));
  EXPECT_EQ(binder.bindPodVolumes(*podWithClaims({"w"}), "n", [] { return false; }),
            "binding volumes: context deadline exceeded");
  EXPECT_EQ(patches, 0);  // already annotated for this node
  EXPECT_EQ(binder.bindPodVolumes(*podWithClaims({"w"}), "n", [] { return true; }),
            "binding volumes: context canceled");
}

TEST(VolumeBinderTest, ProvisionerGivingUpFailsTheBinding) {
  FakeCluster c;
  c.storageClass("local-path", "skiff.io/local-path", "WaitForFirstConsumer");
  c.claim("w", R"({"storageClassName":"local-path"})", R"({"phase":"Pending"})",
          R"(,"annotations":{"volume.kubernetes.io/selected-node":"n"})");
  VolumeBinder binder(
      c.listers(), [](const std::string&, const std::string&, const std::string&) {},
      std::chrono::seconds(10));
  std::thread provisioner([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    c.claim("w", R"({"storageClassName":"local-path"})", R"({"phase":"Pending"})");
  });
  EXPECT_EQ(binder.bindPodVolumes(*podWithClaims({"w"}), "n", [] { return false; }),
            "binding volumes: provisioning failed for PVC \"w\"");
  provisioner.join();
}

TEST(VolumeBindingQueueTest, StorageEventsWakeOnlyVolumeBindingRejections) {
  SchedulingQueue q;
  auto p = podWithClaims({"w"});
  q.add(p);
  auto info = q.pop();
  ASSERT_TRUE(info);
  info->unschedulablePlugins = {"VolumeBinding"};
  q.addUnschedulableIfNotPresent(*info, q.schedulingCycle());
  EXPECT_EQ(q.unschedulableSize(), 1u);
  q.moveAllToActiveOrBackoff(ClusterEvent::AssignedPodAdd);
  EXPECT_EQ(q.unschedulableSize(), 1u);
  q.moveAllToActiveOrBackoff(ClusterEvent::StorageChange);
  EXPECT_EQ(q.unschedulableSize(), 0u);
}

}  // namespace
}  // namespace skiff::scheduler
