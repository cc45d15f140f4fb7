#include "api/defaults.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

using skiff::api::applyDefaults;
namespace json = boost::json;

namespace {
json::object defaulted(std::string_view group, std::string_view kind, std::string_view body) {
  json::object o = json::parse(body).as_object();
  applyDefaults(group, kind, o);
  return o;
}
// Minimal JSON pointer ("/spec/containers/0/name", "~1" for '/').
json::value at(const json::object& o, std::string_view pointer) {
  json::value cur = o;
  while (!pointer.empty()) {
    pointer.remove_prefix(1);
    auto end = pointer.find('/');
    std::string tok(pointer.substr(0, end));
    pointer = end == std::string_view::npos ? "" : pointer.substr(end);
    for (size_t i; (i = tok.find("~1")) != std::string::npos;) tok.replace(i, 2, "/");
    json::value next =
        cur.is_array() ? cur.as_array().at(std::stoul(tok)) : cur.as_object().at(tok);
    cur = next;
  }
  return cur;
}
}  // namespace

TEST(Defaults, PodSpecDefaults) {
  auto p = defaulted(
      "", "Pod",
      R"({"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"nginx:1.25"}]}})");
  EXPECT_EQ(at(p, "/spec/restartPolicy"), "Always");
  EXPECT_EQ(at(p, "/spec/dnsPolicy"), "ClusterFirst");
  EXPECT_EQ(at(p, "/spec/schedulerName"), "default-scheduler");
  EXPECT_EQ(at(p, "/spec/terminationGracePeriodSeconds"), 30);
  EXPECT_EQ(at(p, "/spec/securityContext"), json::object{});
  EXPECT_EQ(at(p, "/spec/enableServiceLinks"), true);
  EXPECT_EQ(at(p, "/spec/priority"), 0);
  EXPECT_EQ(at(p, "/spec/containers/0/terminationMessagePath"), "/dev/termination-log");
  EXPECT_EQ(at(p, "/spec/containers/0/terminationMessagePolicy"), "File");
  EXPECT_EQ(at(p, "/spec/containers/0/resources"), json::object{});
}

TEST(Defaults, ImagePullPolicyFollowsTag) {
  auto p = defaulted("", "Pod", R"({"spec":{"containers":[
    {"name":"a","image":"nginx"},{"name":"b","image":"nginx:latest"},{"name":"c","image":"nginx:1.25"},
    {"name":"d","image":"localhost:5000/x"},{"name":"e","image":"x@sha256:abc"}]}})");
  EXPECT_EQ(at(p, "/spec/containers/0/imagePullPolicy"), "Always");
  EXPECT_EQ(at(p, "/spec/containers/1/imagePullPolicy"), "Always");
  EXPECT_EQ(at(p, "/spec/containers/2/imagePullPolicy"), "IfNotPresent");
  EXPECT_EQ(at(p, "/spec/containers/3/imagePullPolicy"), "Always");
  EXPECT_EQ(at(p, "/spec/containers/4/imagePullPolicy"), "IfNotPresent");
}

TEST(Defaults, DoesNotOverwriteSetFields) {
  auto p =
      defaulted("", "Pod", R"({"spec":{"restartPolicy":"Never","terminationGracePeriodSeconds":5,
    "containers":[{"name":"a","image":"nginx","imagePullPolicy":"Never","ports":[{"containerPort":53,"protocol":"UDP"}]}]}})");
  EXPECT_EQ(at(p, "/spec/restartPolicy"), "Never");
  EXPECT_EQ(at(p, "/spec/terminationGracePeriodSeconds"), 5);
  EXPECT_EQ(at(p, "/spec/containers/0/imagePullPolicy"), "Never");
  EXPECT_EQ(at(p, "/spec/containers/0/ports/0/protocol"), "UDP");
}

TEST(Defaults, PortProtocolAndProbes) {
  auto p = defaulted("", "Pod", R"({"spec":{"containers":[{"name":"a","image":"x:1",
    "ports":[{"containerPort":80}],"livenessProbe":{"httpGet":{"port":80}}}]}})");
  EXPECT_EQ(at(p, "/spec/containers/0/ports/0/protocol"), "TCP");
  EXPECT_EQ(at(p, "/spec/containers/0/livenessProbe/periodSeconds"), 10);
  EXPECT_EQ(at(p, "/spec/containers/0/livenessProbe/timeoutSeconds"), 1);
  EXPECT_EQ(at(p, "/spec/containers/0/livenessProbe/successThreshold"), 1);
  EXPECT_EQ(at(p, "/spec/containers/0/livenessProbe/failureThreshold"), 3);
  EXPECT_EQ(at(p, "/spec/containers/0/livenessProbe/httpGet/path"), "/");
  EXPECT_EQ(at(p, "/spec/containers/0/livenessProbe/httpGet/scheme"), "HTTP");
}

TEST(Defaults, PodRequestsDefaultToLimits) {
  auto p = defaulted("", "Pod", R"({"spec":{"containers":[{"name":"a","image":"x:1",
    "resources":{"limits":{"cpu":"500m","memory":"64Mi"},"requests":{"cpu":"100m"}}}]}})");
  EXPECT_EQ(at(p, "/spec/containers/0/resources/requests/cpu"), "100m");
  EXPECT_EQ(at(p, "/spec/containers/0/resources/requests/memory"), "64Mi");
}

TEST(Defaults, VolumesWithoutSourceBecomeEmptyDir) {
  auto p = defaulted(
      "", "Pod",
      R"({"spec":{"containers":[],"volumes":[{"name":"v"},{"name":"s","secret":{"secretName":"x"}}]}})");
  EXPECT_EQ(at(p, "/spec/volumes/0/emptyDir"), json::object{});
  EXPECT_EQ(at(p, "/spec/volumes/1/secret/defaultMode"), 420);
}

TEST(Defaults, DeploymentDefaultsAndTemplate) {
  auto d = defaulted("apps", "Deployment", R"({"spec":{"selector":{"matchLabels":{"app":"x"}},
    "template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"a","image":"x"}]}}}})");
  EXPECT_EQ(at(d, "/spec/replicas"), 1);
  EXPECT_EQ(at(d, "/spec/strategy/type"), "RollingUpdate");
  EXPECT_EQ(at(d, "/spec/strategy/rollingUpdate/maxUnavailable"), "25%");
  EXPECT_EQ(at(d, "/spec/strategy/rollingUpdate/maxSurge"), "25%");
  EXPECT_EQ(at(d, "/spec/revisionHistoryLimit"), 10);
  EXPECT_EQ(at(d, "/spec/progressDeadlineSeconds"), 600);
  EXPECT_EQ(at(d, "/spec/template/spec/restartPolicy"), "Always");
  EXPECT_EQ(at(d, "/spec/template/spec/containers/0/imagePullPolicy"), "Always");
  // Pod-only defaults stay off templates.
  EXPECT_FALSE(at(d, "/spec/template/spec").as_object().contains("enableServiceLinks"));
}

TEST(Defaults, RecreateDeploymentGetsNoRollingUpdate) {
  auto d =
      defaulted("apps", "Deployment", R"({"spec":{"replicas":0,"strategy":{"type":"Recreate"}}})");
  EXPECT_EQ(at(d, "/spec/replicas"), 0);
  EXPECT_FALSE(at(d, "/spec/strategy").as_object().contains("rollingUpdate"));
}

TEST(Defaults, StatefulSetDefaults) {
  auto s =
      defaulted("apps", "StatefulSet",
                R"({"spec":{"volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{}}]}})");
  EXPECT_EQ(at(s, "/spec/podManagementPolicy"), "OrderedReady");
  EXPECT_EQ(at(s, "/spec/updateStrategy/type"), "RollingUpdate");
  EXPECT_EQ(at(s, "/spec/updateStrategy/rollingUpdate/partition"), 0);
  EXPECT_EQ(at(s, "/spec/persistentVolumeClaimRetentionPolicy/whenDeleted"), "Retain");
  EXPECT_EQ(at(s, "/spec/volumeClaimTemplates/0/spec/volumeMode"), "Filesystem");
  EXPECT_EQ(at(s, "/spec/volumeClaimTemplates/0/status/phase"), "Pending");
}

TEST(Defaults, DaemonSetDefaults) {
  auto d = defaulted("apps", "DaemonSet", R"({"spec":{}})");
  EXPECT_EQ(at(d, "/spec/updateStrategy/rollingUpdate/maxUnavailable"), 1);
  EXPECT_EQ(at(d, "/spec/updateStrategy/rollingUpdate/maxSurge"), 0);
  EXPECT_EQ(at(d, "/spec/revisionHistoryLimit"), 10);
}

TEST(Defaults, JobDefaults) {
  auto j =
      defaulted("batch", "Job",
                R"({"metadata":{"name":"j"},"spec":{"template":{"metadata":{"labels":{"a":"b"}},
    "spec":{"restartPolicy":"Never","containers":[]}}}})");
  EXPECT_EQ(at(j, "/spec/completions"), 1);
  EXPECT_EQ(at(j, "/spec/parallelism"), 1);
  EXPECT_EQ(at(j, "/spec/backoffLimit"), 6);
  EXPECT_EQ(at(j, "/spec/completionMode"), "NonIndexed");
  EXPECT_EQ(at(j, "/spec/suspend"), false);
  EXPECT_EQ(at(j, "/spec/podReplacementPolicy"), "TerminatingOrFailed");
  EXPECT_EQ(at(j, "/metadata/labels/a"), "b");
  auto p = defaulted("batch", "Job", R"({"spec":{"parallelism":3}})");
  EXPECT_FALSE(at(p, "/spec").as_object().contains("completions"));
}

TEST(Defaults, CronJobDefaults) {
  auto c = defaulted(
      "batch", "CronJob",
      R"({"spec":{"schedule":"* * * * *","jobTemplate":{"spec":{"template":{"spec":{"containers":[]}}}}}})");
  EXPECT_EQ(at(c, "/spec/concurrencyPolicy"), "Allow");
  EXPECT_EQ(at(c, "/spec/successfulJobsHistoryLimit"), 3);
  EXPECT_EQ(at(c, "/spec/failedJobsHistoryLimit"), 1);
  EXPECT_EQ(at(c, "/spec/jobTemplate/spec/template/spec/dnsPolicy"), "ClusterFirst");
}

TEST(Defaults, ServiceDefaults) {
  auto s = defaulted(
      "", "Service",
      R"({"spec":{"selector":{"app":"x"},"ports":[{"port":80},{"port":81,"targetPort":"http"}]}})");
  EXPECT_EQ(at(s, "/spec/type"), "ClusterIP");
  EXPECT_EQ(at(s, "/spec/sessionAffinity"), "None");
  EXPECT_EQ(at(s, "/spec/ports/0/protocol"), "TCP");
  EXPECT_EQ(at(s, "/spec/ports/0/targetPort"), 80);
  EXPECT_EQ(at(s, "/spec/ports/1/targetPort"), "http");
  EXPECT_EQ(at(s, "/spec/internalTrafficPolicy"), "Cluster");
  EXPECT_EQ(at(s, "/spec/ipFamilyPolicy"), "SingleStack");
  EXPECT_EQ(at(s, "/spec/ipFamilies"), (json::array{"IPv4"}));
  EXPECT_FALSE(at(s, "/spec").as_object().contains("externalTrafficPolicy"));
  auto n = defaulted("", "Service", R"({"spec":{"type":"NodePort","ports":[{"port":80}]}})");
  EXPECT_EQ(at(n, "/spec/externalTrafficPolicy"), "Cluster");
}

TEST(Defaults, NamespaceSecretPvcPv) {
  auto ns = defaulted("", "Namespace", R"({"metadata":{"name":"dev"}})");
  EXPECT_EQ(at(ns, "/spec/finalizers"), (json::array{"kubernetes"}));
  EXPECT_EQ(at(ns, "/status/phase"), "Active");
  EXPECT_EQ(at(ns, "/metadata/labels/kubernetes.io~1metadata.name"), "dev");
  EXPECT_EQ(at(defaulted("", "Secret", R"({})"), "/type"), "Opaque");
  EXPECT_EQ(at(defaulted("", "Secret", R"({"type":"kubernetes.io/tls"})"), "/type"),
            "kubernetes.io/tls");
  EXPECT_EQ(at(defaulted("", "PersistentVolumeClaim", R"({"spec":{}})"), "/spec/volumeMode"),
            "Filesystem");
  EXPECT_EQ(at(defaulted("", "PersistentVolume", R"({"spec":{}})"),
               "/spec/persistentVolumeReclaimPolicy"),
            "Retain");
}

TEST(Defaults, EndpointsPortProtocol) {
  auto e = defaulted("", "Endpoints", R"({"subsets":[{"ports":[{"port":80}]}]})");
  EXPECT_EQ(at(e, "/subsets/0/ports/0/protocol"), "TCP");
}

TEST(Defaults, ReplicationControllerSelectorFromTemplate) {
  auto rc = defaulted(
      "", "ReplicationController",
      R"({"spec":{"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[]}}}})");
  EXPECT_EQ(at(rc, "/spec/selector/app"), "x");
  EXPECT_EQ(at(rc, "/metadata/labels/app"), "x");
  EXPECT_EQ(at(rc, "/spec/replicas"), 1);
}
