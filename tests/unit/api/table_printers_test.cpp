#include "api/table_printers.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

using namespace std::chrono;
using skiff::api::humanDuration;
using skiff::api::tablePrinterFor;
namespace json = boost::json;

namespace {

// 2024-01-01T00:00:00Z plus an offset.
system_clock::time_point t0() { return system_clock::from_time_t(1704067200); }

json::array cellsFor(std::string_view group, std::string_view resource, std::string_view body,
                     system_clock::time_point now = t0() + hours(1)) {
  return tablePrinterFor(group, resource).cells(json::parse(body).as_object(), now);
}

std::vector<std::string> columnNames(std::string_view group, std::string_view resource) {
  std::vector<std::string> out;
  for (const auto& c : tablePrinterFor(group, resource).columns) out.push_back(c.name);
  return out;
}

}  // namespace

TEST(HumanDuration, MatchesUpstreamExamples) {
  EXPECT_EQ(humanDuration(seconds(-2)), "<invalid>");
  EXPECT_EQ(humanDuration(seconds(-1)), "0s");
  EXPECT_EQ(humanDuration(seconds(5)), "5s");
  EXPECT_EQ(humanDuration(seconds(119)), "119s");
  EXPECT_EQ(humanDuration(seconds(200)), "3m20s");
  EXPECT_EQ(humanDuration(minutes(5)), "5m");
  EXPECT_EQ(humanDuration(minutes(47)), "47m");
  EXPECT_EQ(humanDuration(hours(4)), "4h");
  EXPECT_EQ(humanDuration(hours(4) + minutes(5)), "4h5m");
  EXPECT_EQ(humanDuration(hours(30)), "30h");
  EXPECT_EQ(humanDuration(hours(51)), "2d3h");
  EXPECT_EQ(humanDuration(hours(24 * 45)), "45d");
  EXPECT_EQ(humanDuration(hours(24 * (365 * 3 + 120))), "3y120d");
  EXPECT_EQ(humanDuration(hours(24 * 365 * 9)), "9y");
}

TEST(TablePrinters, PodColumnsIncludeWideOnesAtPriorityOne) {
  const auto& p = tablePrinterFor("", "pods");
  ASSERT_EQ(p.columns.size(), 9u);
  EXPECT_EQ(p.columns[0].name, "Name");
  EXPECT_EQ(p.columns[0].format, "name");
  EXPECT_EQ(p.columns[4].name, "Age");
  EXPECT_EQ(p.columns[4].priority, 0);
  EXPECT_EQ(p.columns[5].name, "IP");
  EXPECT_EQ(p.columns[5].priority, 1);
}

TEST(TablePrinters, RunningPodRow) {
  auto c = cellsFor("", "pods",
                    R"({"metadata":{"name":"web-1","creationTimestamp":"2024-01-01T00:00:00Z"},
    "spec":{"nodeName":"node-1","containers":[{"name":"a"}]},
    "status":{"phase":"Running","podIP":"10.0.0.5","conditions":[{"type":"Ready","status":"True"}],
      "containerStatuses":[{"name":"a","ready":true,"restartCount":0,"state":{"running":{}}}]}})");
  ASSERT_EQ(c.size(), 9u);
  EXPECT_EQ(c[0], "web-1");
  EXPECT_EQ(c[1], "1/1");
  EXPECT_EQ(c[2], "Running");
  EXPECT_EQ(c[3], "0");
  EXPECT_EQ(c[4], "60m");
  EXPECT_EQ(c[5], "10.0.0.5");
  EXPECT_EQ(c[6], "node-1");
  EXPECT_EQ(c[7], "<none>");
  EXPECT_EQ(c[8], "<none>");
}

TEST(TablePrinters, PodStatusCrashLoopBackOffWithRestartAge) {
  auto c =
      cellsFor("", "pods", R"({"metadata":{"name":"p","creationTimestamp":"2024-01-01T00:00:00Z"},
    "spec":{"containers":[{"name":"a"}]},
    "status":{"phase":"Running","containerStatuses":[{"name":"a","ready":false,"restartCount":5,
      "state":{"waiting":{"reason":"CrashLoopBackOff"}},
      "lastState":{"terminated":{"exitCode":1,"finishedAt":"2024-01-01T00:55:00Z"}}}]}})");
  EXPECT_EQ(c[1], "0/1");
  EXPECT_EQ(c[2], "CrashLoopBackOff");
  EXPECT_EQ(c[3], "5 (5m ago)");
}

TEST(TablePrinters, PodStatusContainerCreatingAndPending) {
  auto c = cellsFor("", "pods", R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"}]},
    "status":{"phase":"Pending","containerStatuses":[{"name":"a","state":{"waiting":{"reason":"ContainerCreating"}}}]}})");
  EXPECT_EQ(c[2], "ContainerCreating");
  EXPECT_EQ(c[4], "<unknown>");
  auto p = cellsFor(
      "", "pods",
      R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Pending"}})");
  EXPECT_EQ(p[2], "Pending");
}

TEST(TablePrinters, PodStatusCompleted) {
  auto c = cellsFor("", "pods", R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"}]},
    "status":{"phase":"Succeeded","containerStatuses":[{"name":"a","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}})");
  EXPECT_EQ(c[2], "Completed");
  EXPECT_EQ(c[1], "0/1");
}

TEST(TablePrinters, PodStatusTerminating) {
  auto c =
      cellsFor("", "pods", R"({"metadata":{"name":"p","deletionTimestamp":"2024-01-01T00:10:00Z"},
    "spec":{"containers":[{"name":"a"}]},"status":{"phase":"Running"}})");
  EXPECT_EQ(c[2], "Terminating");
}

TEST(TablePrinters, PodStatusInitProgress) {
  auto c = cellsFor("", "pods", R"({"metadata":{"name":"p"},
    "spec":{"initContainers":[{"name":"i1"},{"name":"i2"}],"containers":[{"name":"a"}]},
    "status":{"phase":"Pending","initContainerStatuses":[
      {"name":"i1","state":{"terminated":{"exitCode":0}}},
      {"name":"i2","state":{"running":{}}}]}})");
  EXPECT_EQ(c[2], "Init:1/2");
  auto e = cellsFor("", "pods", R"({"metadata":{"name":"p"},
    "spec":{"initContainers":[{"name":"i1"}],"containers":[{"name":"a"}]},
    "status":{"phase":"Pending","initContainerStatuses":[
      {"name":"i1","state":{"terminated":{"exitCode":2}}}]}})");
  EXPECT_EQ(e[2], "Init:ExitCode:2");
}

TEST(TablePrinters, PodReadyCountsSidecars) {
  auto c = cellsFor("", "pods", R"({"metadata":{"name":"p"},
    "spec":{"initContainers":[{"name":"s","restartPolicy":"Always"}],"containers":[{"name":"a"}]},
    "status":{"phase":"Running","conditions":[{"type":"Initialized","status":"True"}],
      "initContainerStatuses":[{"name":"s","started":true,"ready":true,"state":{"running":{}}}],
      "containerStatuses":[{"name":"a","ready":true,"state":{"running":{}}}]}})");
  EXPECT_EQ(c[1], "2/2");
  EXPECT_EQ(c[2], "Running");
}

TEST(TablePrinters, NodeStatusRolesAndWideColumns) {
  auto c =
      cellsFor("", "nodes", R"({"metadata":{"name":"n1","creationTimestamp":"2024-01-01T00:00:00Z",
      "labels":{"node-role.kubernetes.io/control-plane":"","node-role.kubernetes.io/master":""}},
    "spec":{"unschedulable":true},
    "status":{"conditions":[{"type":"Ready","status":"False"}],
      "addresses":[{"type":"InternalIP","address":"192.168.1.2"}],
      "nodeInfo":{"kubeletVersion":"v1.32.0","osImage":"Debian"}}})");
  EXPECT_EQ(c[1], "NotReady,SchedulingDisabled");
  EXPECT_EQ(c[2], "control-plane,master");
  EXPECT_EQ(c[4], "v1.32.0");
  EXPECT_EQ(c[5], "192.168.1.2");
  EXPECT_EQ(c[6], "<none>");
  EXPECT_EQ(c[8], "<unknown>");
  auto u = cellsFor("", "nodes", R"({"metadata":{"name":"n2"}})");
  EXPECT_EQ(u[1], "Unknown");
  EXPECT_EQ(u[2], "<none>");
}

TEST(TablePrinters, DeploymentReadyColumn) {
  EXPECT_EQ(columnNames("apps", "deployments"),
            (std::vector<std::string>{"Name", "Ready", "Up-to-date", "Available", "Age",
                                      "Containers", "Images", "Selector"}));
  auto c = cellsFor("apps", "deployments", R"({"metadata":{"name":"web"},
    "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
      "template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.25"},{"name":"side","image":"busybox"}]}}},
    "status":{"readyReplicas":2,"updatedReplicas":3,"availableReplicas":2}})");
  EXPECT_EQ(c[1], "2/3");
  EXPECT_EQ(c[2].as_int64(), 3);
  EXPECT_EQ(c[3].as_int64(), 2);
  EXPECT_EQ(c[5], "nginx,side");
  EXPECT_EQ(c[6], "nginx:1.25,busybox");
  EXPECT_EQ(c[7], "app=web");
}

TEST(TablePrinters, SelectorRendersExpressionsSortedByKey) {
  auto c = cellsFor("apps", "replicasets", R"({"metadata":{"name":"rs"},
    "spec":{"selector":{"matchLabels":{"z":"1"},"matchExpressions":[
      {"key":"tier","operator":"In","values":["web","api"]},{"key":"a","operator":"DoesNotExist"}]}}})");
  EXPECT_EQ(c[7], "!a,tier in (api,web),z=1");
  auto none = cellsFor("apps", "replicasets", R"({"metadata":{"name":"rs"},"spec":{}})");
  EXPECT_EQ(none[7], "<none>");
}

TEST(TablePrinters, JobStatusAndCompletions) {
  auto c = cellsFor("batch", "jobs",
                    R"({"metadata":{"name":"j"},"spec":{"completions":3,"parallelism":1},
    "status":{"succeeded":3,"startTime":"2024-01-01T00:00:00Z","completionTime":"2024-01-01T00:00:42Z",
      "conditions":[{"type":"Complete","status":"True"}]}})");
  EXPECT_EQ(c[1], "Complete");
  EXPECT_EQ(c[2], "3/3");
  EXPECT_EQ(c[3], "42s");
  auto r = cellsFor("batch", "jobs",
                    R"({"metadata":{"name":"j"},"spec":{"parallelism":2},"status":{}})");
  EXPECT_EQ(r[1], "Running");
  EXPECT_EQ(r[2], "0/1 of 2");
  EXPECT_EQ(r[3], "");
  auto s = cellsFor("batch", "jobs", R"({"metadata":{"name":"j"},"spec":{"completions":1},
    "status":{"conditions":[{"type":"Suspended","status":"True"}]}})");
  EXPECT_EQ(s[1], "Suspended");
}

TEST(TablePrinters, CronJobCells) {
  auto c = cellsFor("batch", "cronjobs", R"({"metadata":{"name":"cj"},
    "spec":{"schedule":"*/5 * * * *","suspend":false,"jobTemplate":{"spec":{"template":{"spec":{"containers":[]}}}}},
    "status":{"active":[{"name":"x"}],"lastScheduleTime":"2024-01-01T00:58:00Z"}})");
  EXPECT_EQ(c[1], "*/5 * * * *");
  EXPECT_EQ(c[2], "<none>");
  EXPECT_EQ(c[3], "False");
  EXPECT_EQ(c[4].as_int64(), 1);
  EXPECT_EQ(c[5], "2m");
}

TEST(TablePrinters, ServicePortsAndExternalIP) {
  auto c = cellsFor("", "services", R"({"metadata":{"name":"web"},
    "spec":{"type":"NodePort","clusterIPs":["10.96.0.10"],"selector":{"app":"web"},
      "ports":[{"port":80,"nodePort":30080,"protocol":"TCP"},{"port":53,"protocol":"UDP"}]}})");
  EXPECT_EQ(c[1], "NodePort");
  EXPECT_EQ(c[2], "10.96.0.10");
  EXPECT_EQ(c[3], "<none>");
  EXPECT_EQ(c[4], "80:30080/TCP,53/UDP");
  EXPECT_EQ(c[6], "app=web");
  auto lb = cellsFor("", "services",
                     R"({"metadata":{"name":"lb"},"spec":{"type":"LoadBalancer","ports":[]}})");
  EXPECT_EQ(lb[2], "<none>");
  EXPECT_EQ(lb[3], "<pending>");
  EXPECT_EQ(lb[4], "<none>");
}

TEST(TablePrinters, EndpointsListsThreeThenMore) {
  auto c = cellsFor("", "endpoints", R"({"metadata":{"name":"e"},"subsets":[{"addresses":[
    {"ip":"10.0.0.1"},{"ip":"10.0.0.2"},{"ip":"10.0.0.3"},{"ip":"10.0.0.4"},{"ip":"10.0.0.5"}],
    "ports":[{"port":80}]}]})");
  EXPECT_EQ(c[1], "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...");
  auto none = cellsFor("", "endpoints", R"({"metadata":{"name":"e"}})");
  EXPECT_EQ(none[1], "<none>");
}

TEST(TablePrinters, EventObjectColumnAndCount) {
  auto c = cellsFor("", "events",
                    R"({"metadata":{"name":"web-1.17a"},"type":"Normal","reason":"Scheduled",
    "message":" Successfully assigned \n","involvedObject":{"kind":"Pod","name":"web-1"},
    "source":{"component":"default-scheduler"},"firstTimestamp":"2024-01-01T00:50:00Z",
    "lastTimestamp":"2024-01-01T00:59:00Z","count":2})");
  EXPECT_EQ(c[0], "60s");
  EXPECT_EQ(c[3], "pod/web-1");
  EXPECT_EQ(c[5], "default-scheduler");
  EXPECT_EQ(c[6], "Successfully assigned");
  EXPECT_EQ(c[7], "10m");
  EXPECT_EQ(c[8], "2");
  EXPECT_EQ(c[9], "web-1.17a");
  EXPECT_EQ(tablePrinterFor("", "events").columns.back().priority, 1);
}

TEST(TablePrinters, NewEventsApiUsesRegardingAndNote) {
  auto c = cellsFor("events.k8s.io", "events", R"({"metadata":{"name":"x"},"type":"Warning",
    "reason":"BackOff","note":"Back-off","regarding":{"kind":"Pod","name":"p"},
    "eventTime":"2024-01-01T00:59:30.123456Z","reportingController":"kubelet","reportingInstance":"n1"})");
  EXPECT_EQ(c[0], "29s");  // 29.88s truncates, as Go int(d.Seconds())
  EXPECT_EQ(c[3], "pod/p");
  EXPECT_EQ(c[5], "kubelet, n1");
  EXPECT_EQ(c[8], "1");
}

TEST(TablePrinters, ConfigMapSecretNamespaceLease) {
  auto cm = cellsFor("", "configmaps",
                     R"({"metadata":{"name":"c"},"data":{"a":"1","b":"2"},"binaryData":{"c":""}})");
  EXPECT_EQ(cm[1].as_int64(), 3);
  auto s =
      cellsFor("", "secrets", R"({"metadata":{"name":"s"},"type":"Opaque","data":{"a":"eA=="}})");
  EXPECT_EQ(s[1], "Opaque");
  EXPECT_EQ(s[2].as_int64(), 1);
  auto ns =
      cellsFor("", "namespaces", R"({"metadata":{"name":"default"},"status":{"phase":"Active"}})");
  EXPECT_EQ(ns[1], "Active");
  auto l = cellsFor("coordination.k8s.io", "leases",
                    R"({"metadata":{"name":"n1"},"spec":{"holderIdentity":"n1"}})");
  EXPECT_EQ(l[1], "n1");
}

TEST(TablePrinters, StatefulSetAndDaemonSet) {
  auto ss =
      cellsFor("apps", "statefulsets",
               R"({"metadata":{"name":"db"},"spec":{"replicas":3},"status":{"readyReplicas":1}})");
  EXPECT_EQ(ss[1], "1/3");
  auto ds = cellsFor("apps", "daemonsets", R"({"metadata":{"name":"d"},
    "spec":{"template":{"spec":{"nodeSelector":{"kubernetes.io/os":"linux"}}}},
    "status":{"desiredNumberScheduled":2,"currentNumberScheduled":2,"numberReady":1}})");
  EXPECT_EQ(ds[1].as_int64(), 2);
  EXPECT_EQ(ds[3].as_int64(), 1);
  EXPECT_EQ(ds[6], "kubernetes.io/os=linux");
}

TEST(TablePrinters, UnknownResourceGetsNameAndCreatedAt) {
  EXPECT_EQ(columnNames("rbac.authorization.k8s.io", "roles"),
            (std::vector<std::string>{"Name", "Created At"}));
  EXPECT_EQ(tablePrinterFor("x", "y").columns[1].type, "date");
  auto c = cellsFor("rbac.authorization.k8s.io", "roles",
                    R"({"metadata":{"name":"r","creationTimestamp":"2024-01-01T02:00:00+02:00"}})");
  EXPECT_EQ(c[1], "2024-01-01T00:00:00Z");
}

TEST(TablePrinters, BindingsAndPriorityClasses) {
  auto b = cellsFor("rbac.authorization.k8s.io", "rolebindings", R"({"metadata":{"name":"rb"},
    "roleRef":{"kind":"Role","name":"reader"},"subjects":[{"kind":"User","name":"alice"},
    {"kind":"ServiceAccount","name":"sa","namespace":"ns"}]})");
  EXPECT_EQ(b[1], "Role/reader");
  EXPECT_EQ(b[3], "alice");
  EXPECT_EQ(b[5], "ns/sa");
  auto pc = cellsFor("scheduling.k8s.io", "priorityclasses",
                     R"({"metadata":{"name":"high"},"value":1000})");
  EXPECT_EQ(pc[1].as_int64(), 1000);
  EXPECT_EQ(pc[2].as_bool(), false);
}

TEST(TablePrinters, PersistentVolumeCapacityAndClaim) {
  auto c = cellsFor("", "persistentvolumes", R"({"metadata":{"name":"pv1"},
    "spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce","ReadOnlyMany"],
      "persistentVolumeReclaimPolicy":"Retain","claimRef":{"namespace":"ns","name":"data"},
      "storageClassName":"local"},"status":{"phase":"Bound"}})");
  EXPECT_EQ(c[1], "1Gi");
  EXPECT_EQ(c[2], "RWO,ROX");
  EXPECT_EQ(c[4], "Bound");
  EXPECT_EQ(c[5], "ns/data");
  EXPECT_EQ(c[6], "local");
}
