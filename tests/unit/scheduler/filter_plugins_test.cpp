#include <gtest/gtest.h>

#include "scheduler/plugins/node_affinity.h"
#include "scheduler/plugins/node_name.h"
#include "scheduler/plugins/node_ports.h"
#include "scheduler/plugins/node_resources_fit.h"
#include "scheduler/plugins/node_unschedulable.h"
#include "scheduler/plugins/taint_toleration.h"
#include "test_util.h"

namespace skiff::scheduler {
namespace {
using namespace test;

Status runFilter(const FilterPlugin& f, const PodInfo& p, const NodeInfo& n) {
  CycleState st;
  if (auto* pre = dynamic_cast<const PreFilterPlugin*>(&f)) {
    Status s = pre->preFilter(st, p, Snapshot({std::make_shared<NodeInfo>(n)}));
    if (s.isSkip()) return Status::success();
  }
  return f.filter(st, p, n);
}

TEST(NodeUnschedulableTest, RejectsCordonedNode) {
  auto n = nodeWith("n", "4", "8Gi", "", R"("unschedulable":true)");
  Status s = runFilter(NodeUnschedulable(), *podWith("p", "", ""), n);
  EXPECT_EQ(s.code(), Status::Code::UnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "node(s) were unschedulable");
}

TEST(NodeUnschedulableTest, TolerationOfUnschedulableTaintAdmits) {
  auto n = nodeWith("n", "4", "8Gi", "", R"("unschedulable":true)");
  auto p = pod(
      R"({"metadata":{"name":"p"},"spec":{"tolerations":[{"key":"node.kubernetes.io/unschedulable","operator":"Exists","effect":"NoSchedule"}],"containers":[]}})");
  EXPECT_TRUE(runFilter(NodeUnschedulable(), *p, n).isSuccess());
}

TEST(NodeNameTest, OnlyTheNamedNodeFits) {
  auto p = pod(R"({"metadata":{"name":"p"},"spec":{"nodeName":"a","containers":[]}})");
  EXPECT_TRUE(runFilter(NodeName(), *p, nodeWith("a")).isSuccess());
  EXPECT_EQ(runFilter(NodeName(), *p, nodeWith("b")).message(),
            "node(s) didn't match the requested node name");
}

TEST(NodeResourcesFitTest, InsufficientCpuAndMemoryBothReported) {
  NodeInfo n = nodeWith("n", "2", "2Gi");
  n.addPod(podWith("x", "1500m", "1Gi"));
  Status s = runFilter(NodeResourcesFit(), *podWith("p", "1", "2Gi"), n);
  EXPECT_EQ(s.code(), Status::Code::Unschedulable);
  EXPECT_EQ(s.reasons(), (std::vector<std::string>{"Insufficient cpu", "Insufficient memory"}));
}

TEST(NodeResourcesFitTest, ExactFitPasses) {
  NodeInfo n = nodeWith("n", "2", "2Gi");
  n.addPod(podWith("x", "1", "1Gi"));
  EXPECT_TRUE(runFilter(NodeResourcesFit(), *podWith("p", "1", "1Gi"), n).isSuccess());
}

TEST(NodeResourcesFitTest, InitContainerLargerThanNodeDoesNotFit) {
  auto p = pod(R"({"metadata":{"name":"p"},"spec":{
    "initContainers":[{"name":"i","resources":{"requests":{"cpu":"3"}}}],
    "containers":[{"name":"a","resources":{"requests":{"cpu":"100m"}}}]}})");
  EXPECT_EQ(runFilter(NodeResourcesFit(), *p, nodeWith("n", "2")).message(), "Insufficient cpu");
}

TEST(NodeResourcesFitTest, OverheadCountsAgainstNode) {
  auto p = pod(R"({"metadata":{"name":"p"},"spec":{"overhead":{"cpu":"500m"},
    "containers":[{"name":"a","resources":{"requests":{"cpu":"2"}}}]}})");
  EXPECT_EQ(runFilter(NodeResourcesFit(), *p, nodeWith("n", "2")).message(), "Insufficient cpu");
}

TEST(NodeResourcesFitTest, PodCountLimitAppliesEvenToBestEffortPods) {
  auto n = node(
      R"({"metadata":{"name":"n"},"status":{"allocatable":{"cpu":"4","memory":"4Gi","pods":"1"}}})");
  n.addPod(podWith("x", "", ""));
  EXPECT_EQ(runFilter(NodeResourcesFit(), *podWith("p", "", ""), n).message(), "Too many pods");
}

TEST(NodeResourcesFitTest, EphemeralStorageAndExtendedResources) {
  auto p =
      pod(R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","resources":{"requests":
    {"ephemeral-storage":"10Gi","example.com/gpu":"1"}}}]}})");
  Status s = runFilter(NodeResourcesFit(), *p, nodeWith("n"));
  EXPECT_EQ(s.reasons(), (std::vector<std::string>{"Insufficient ephemeral-storage",
                                                   "Insufficient example.com/gpu"}));
}

PodInfoPtr affinityPod(const std::string& expr) {
  return pod(R"({"metadata":{"name":"p"},"spec":{"containers":[],"affinity":{"nodeAffinity":{
    "requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[)" +
             expr + "]}]}}}}}");
}

TEST(NodeAffinityTest, NodeSelectorMustMatchEveryLabel) {
  auto p = pod(
      R"({"metadata":{"name":"p"},"spec":{"nodeSelector":{"disk":"ssd","zone":"a"},"containers":[]}})");
  EXPECT_TRUE(runFilter(NodeAffinity(), *p, nodeWith("n", "4", "8Gi", R"("disk":"ssd","zone":"a")"))
                  .isSuccess());
  Status s = runFilter(NodeAffinity(), *p, nodeWith("n", "4", "8Gi", R"("disk":"ssd")"));
  EXPECT_EQ(s.code(), Status::Code::UnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "node(s) didn't match Pod's node affinity/selector");
}

TEST(NodeAffinityTest, InAndNotIn) {
  auto in = affinityPod(R"({"key":"zone","operator":"In","values":["a","b"]})");
  auto notIn = affinityPod(R"({"key":"zone","operator":"NotIn","values":["a"]})");
  auto za = nodeWith("n", "4", "8Gi", R"("zone":"a")");
  auto zc = nodeWith("n", "4", "8Gi", R"("zone":"c")");
  EXPECT_TRUE(runFilter(NodeAffinity(), *in, za).isSuccess());
  EXPECT_FALSE(runFilter(NodeAffinity(), *in, zc).isSuccess());
  EXPECT_FALSE(runFilter(NodeAffinity(), *notIn, za).isSuccess());
  EXPECT_TRUE(runFilter(NodeAffinity(), *notIn, zc).isSuccess());
  EXPECT_TRUE(runFilter(NodeAffinity(), *notIn, nodeWith("n")).isSuccess());  // absent label
}

TEST(NodeAffinityTest, ExistsAndDoesNotExist) {
  auto exists = affinityPod(R"({"key":"gpu","operator":"Exists"})");
  auto absent = affinityPod(R"({"key":"gpu","operator":"DoesNotExist"})");
  auto gpu = nodeWith("n", "4", "8Gi", R"("gpu":"")");
  EXPECT_TRUE(runFilter(NodeAffinity(), *exists, gpu).isSuccess());
  EXPECT_FALSE(runFilter(NodeAffinity(), *exists, nodeWith("n")).isSuccess());
  EXPECT_FALSE(runFilter(NodeAffinity(), *absent, gpu).isSuccess());
}

TEST(NodeAffinityTest, GtAndLtCompareIntegers) {
  auto gt = affinityPod(R"({"key":"cores","operator":"Gt","values":["8"]})");
  auto lt = affinityPod(R"({"key":"cores","operator":"Lt","values":["8"]})");
  auto n16 = nodeWith("n", "4", "8Gi", R"("cores":"16")");
  auto n8 = nodeWith("n", "4", "8Gi", R"("cores":"8")");
  auto bad = nodeWith("n", "4", "8Gi", R"("cores":"many")");
  EXPECT_TRUE(runFilter(NodeAffinity(), *gt, n16).isSuccess());
  EXPECT_FALSE(runFilter(NodeAffinity(), *gt, n8).isSuccess());
  EXPECT_FALSE(runFilter(NodeAffinity(), *lt, n8).isSuccess());
  EXPECT_FALSE(runFilter(NodeAffinity(), *gt, bad).isSuccess());
}

TEST(NodeAffinityTest, TermsAreOredAndMatchFieldsSelectsByName) {
  auto p = pod(R"({"metadata":{"name":"p"},"spec":{"containers":[],"affinity":{"nodeAffinity":{
    "requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[
      {"matchExpressions":[{"key":"zone","operator":"In","values":["x"]}]},
      {"matchFields":[{"key":"metadata.name","operator":"In","values":["b"]}]}]}}}}})");
  EXPECT_TRUE(runFilter(NodeAffinity(), *p, nodeWith("b")).isSuccess());
  EXPECT_TRUE(
      runFilter(NodeAffinity(), *p, nodeWith("a", "4", "8Gi", R"("zone":"x")")).isSuccess());
  EXPECT_FALSE(runFilter(NodeAffinity(), *p, nodeWith("a")).isSuccess());
}

TEST(TaintTolerationTest, UntoleratedNoScheduleRejectsWithUpstreamMessage) {
  auto n = nodeWith("n", "4", "8Gi", "",
                    R"("taints":[{"key":"node.kubernetes.io/unreachable","effect":"NoExecute"}])");
  Status s = runFilter(TaintToleration(), *podWith("p", "", ""), n);
  EXPECT_EQ(s.code(), Status::Code::UnschedulableAndUnresolvable);
  EXPECT_EQ(s.message(), "node(s) had untolerated taint {node.kubernetes.io/unreachable: }");
}

TEST(TaintTolerationTest, PreferNoScheduleNeverFilters) {
  auto n = nodeWith("n", "4", "8Gi", "",
                    R"("taints":[{"key":"k","value":"v","effect":"PreferNoSchedule"}])");
  EXPECT_TRUE(runFilter(TaintToleration(), *podWith("p", "", ""), n).isSuccess());
}

TEST(TaintTolerationTest, TolerationSecondsDoesNotMatterForScheduling) {
  auto n =
      nodeWith("n", "4", "8Gi", "", R"("taints":[{"key":"k","value":"v","effect":"NoExecute"}])");
  auto p = pod(R"({"metadata":{"name":"p"},"spec":{"containers":[],"tolerations":[
    {"key":"k","operator":"Equal","value":"v","effect":"NoExecute","tolerationSeconds":0}]}})");
  EXPECT_TRUE(runFilter(TaintToleration(), *p, n).isSuccess());
}

TEST(TaintTolerationTest, EqualWithWrongValueDoesNotTolerate) {
  auto n =
      nodeWith("n", "4", "8Gi", "", R"("taints":[{"key":"k","value":"v","effect":"NoSchedule"}])");
  auto p = pod(
      R"({"metadata":{"name":"p"},"spec":{"containers":[],"tolerations":[{"key":"k","value":"w"}]}})");
  EXPECT_EQ(runFilter(TaintToleration(), *p, n).message(), "node(s) had untolerated taint {k: v}");
}

PodInfoPtr portPod(const std::string& name, int port, const std::string& ip = "",
                   const std::string& proto = "TCP") {
  std::string hostIp = ip.empty() ? "" : R"(,"hostIP":")" + ip + "\"";
  return pod(R"({"metadata":{"name":")" + name +
             R"("},"spec":{"containers":[{"name":"a","ports":[{"containerPort":1,"hostPort":)" +
             std::to_string(port) + hostIp + R"(,"protocol":")" + proto + R"("}]}]}})");
}

TEST(NodePortsTest, SameHostPortConflicts) {
  NodeInfo n = nodeWith("n");
  n.addPod(portPod("a", 8080));
  Status s = runFilter(NodePorts(), *portPod("p", 8080), n);
  EXPECT_EQ(s.code(), Status::Code::Unschedulable);
  EXPECT_EQ(s.message(), "node(s) didn't have free ports for the requested pod ports");
}

TEST(NodePortsTest, DifferentProtocolOrSpecificIpsDoNotConflict) {
  NodeInfo n = nodeWith("n");
  n.addPod(portPod("a", 53, "10.0.0.1", "UDP"));
  EXPECT_TRUE(runFilter(NodePorts(), *portPod("p", 53, "10.0.0.1", "TCP"), n).isSuccess());
  EXPECT_TRUE(runFilter(NodePorts(), *portPod("q", 53, "10.0.0.2", "UDP"), n).isSuccess());
  EXPECT_FALSE(
      runFilter(NodePorts(), *portPod("r", 53, "", "UDP"), n).isSuccess());  // 0.0.0.0 overlaps
}

}  // namespace
}  // namespace skiff::scheduler
