// Upstream v1.32 defaulting (SetDefaults_* in pkg/apis/{core,apps,batch,...}/v1/defaults.go).
#include "api/defaults.h"

#include <boost/json.hpp>
#include <climits>
#include <string>

namespace skiff::api {
namespace {

namespace json = boost::json;

bool missing(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() || it->value().is_null();
}

void setDefault(json::object& o, std::string_view key, json::value v) {
  if (missing(o, key)) o[key] = std::move(v);
}

// Empty strings count as unset for string enums, as upstream compares against "".
void setDefaultString(json::object& o, std::string_view key, std::string_view v) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null() ||
      (it->value().is_string() && it->value().get_string().empty()))
    o[key] = v;
}

json::object* childObject(json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_object()) return nullptr;
  return &it->value().get_object();
}

json::object& ensureObject(json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_object()) o[key] = json::object{};
  return o[key].get_object();
}

template <typename F>
void forEachObject(json::object& o, std::string_view key, F&& f) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_array()) return;
  for (auto& v : it->value().get_array())
    if (v.is_object()) f(v.get_object());
}

std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return (it != o.end() && it->value().is_string()) ? std::string(it->value().get_string()) : "";
}

bool emptyMapOrMissing(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() || !it->value().is_object() || it->value().get_object().empty();
}

// The tag of an image reference as upstream's parsers.ParseImageName sees it: "latest" when
// neither tag nor digest is given, empty when only a digest is.
std::string imageTag(std::string_view image) {
  if (image.empty()) return "";
  if (image.find('@') != std::string_view::npos) {
    image = image.substr(0, image.find('@'));
    auto slash = image.rfind('/');
    auto colon = image.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash))
      return std::string(image.substr(colon + 1));
    return "";
  }
  auto slash = image.rfind('/');
  auto colon = image.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash))
    return std::string(image.substr(colon + 1));
  return "latest";
}

void defaultHttpGet(json::object& handler) {
  if (auto* h = childObject(handler, "httpGet")) {
    setDefaultString(*h, "path", "/");
    setDefaultString(*h, "scheme", "HTTP");
  }
}

void defaultProbe(json::object& c, std::string_view key) {
  json::object* p = childObject(c, key);
  if (!p) return;
  setDefault(*p, "timeoutSeconds", 1);
  setDefault(*p, "periodSeconds", 10);
  setDefault(*p, "successThreshold", 1);
  setDefault(*p, "failureThreshold", 3);
  defaultHttpGet(*p);
}

void defaultFieldRef(json::object& holder) {
  if (auto* f = childObject(holder, "fieldRef")) setDefaultString(*f, "apiVersion", "v1");
}

void defaultContainer(json::object& c, bool hostNetwork) {
  if (missing(c, "imagePullPolicy") || str(c, "imagePullPolicy").empty())
    c["imagePullPolicy"] = imageTag(str(c, "image")) == "latest" ? "Always" : "IfNotPresent";
  setDefaultString(c, "terminationMessagePath", "/dev/termination-log");
  setDefaultString(c, "terminationMessagePolicy", "File");
  // Not a defaulter upstream, but the serializer always writes the struct; match its output.
  setDefault(c, "resources", json::object{});
  forEachObject(c, "ports", [&](json::object& p) {
    setDefaultString(p, "protocol", "TCP");
    // With host networking the host port is the container port (defaultHostNetworkPorts).
    if (hostNetwork && (missing(p, "hostPort") || p["hostPort"] == 0) && p.contains("containerPort")) {
      json::value port = p["containerPort"];  // copy: inserting may relocate the source
      p["hostPort"] = std::move(port);
    }
  });
  forEachObject(c, "env", [](json::object& e) {
    if (auto* vf = childObject(e, "valueFrom")) defaultFieldRef(*vf);
  });
  defaultProbe(c, "livenessProbe");
  defaultProbe(c, "readinessProbe");
  defaultProbe(c, "startupProbe");
  if (auto* lc = childObject(c, "lifecycle")) {
    if (auto* h = childObject(*lc, "postStart")) defaultHttpGet(*h);
    if (auto* h = childObject(*lc, "preStop")) defaultHttpGet(*h);
  }
}

void defaultVolume(json::object& v) {
  // A volume with no source is an emptyDir.
  bool hasSource = false;
  for (const auto& kv : v)
    if (kv.key() != "name" && !kv.value().is_null()) hasSource = true;
  if (!hasSource) v["emptyDir"] = json::object{};
  for (const char* key : {"secret", "configMap", "downwardAPI", "projected"})
    if (auto* s = childObject(v, key)) setDefault(*s, "defaultMode", 420);
  if (auto* h = childObject(v, "hostPath")) setDefault(*h, "type", "");
  if (auto* d = childObject(v, "downwardAPI")) forEachObject(*d, "items", defaultFieldRef);
  if (auto* p = childObject(v, "projected")) {
    forEachObject(*p, "sources", [](json::object& src) {
      if (auto* t = childObject(src, "serviceAccountToken"))
        setDefault(*t, "expirationSeconds", 3600);
      if (auto* d = childObject(src, "downwardAPI")) forEachObject(*d, "items", defaultFieldRef);
    });
  }
}

void defaultPodTemplate(json::object& holder) {
  // holder is an object with a "template" PodTemplateSpec.
  json::object& tmpl = ensureObject(holder, "template");
  applyPodSpecDefaults(ensureObject(tmpl, "spec"));
}

// Pod-only defaults (SetDefaults_Pod): these do not apply to pod templates.
void defaultPod(json::object& pod) {
  json::object& spec = ensureObject(pod, "spec");
  auto requestsFromLimits = [](json::object& c) {
    json::object* res = childObject(c, "resources");
    if (!res) return;
    json::object* limitsPtr = childObject(*res, "limits");
    if (!limitsPtr || limitsPtr->empty()) return;
    json::object limits = *limitsPtr;  // copy: adding "requests" may relocate it
    json::object& requests = ensureObject(*res, "requests");
    for (const auto& kv : limits)
      if (!requests.contains(kv.key())) requests[kv.key()] = kv.value();
  };
  forEachObject(spec, "containers", requestsFromLimits);
  forEachObject(spec, "initContainers", requestsFromLimits);
  setDefault(spec, "enableServiceLinks", true);
  applyPodSpecDefaults(spec);
  // Stands in for the Priority admission plugin when no priority class is named.
  if (str(spec, "priorityClassName").empty()) setDefault(spec, "priority", 0);
}

void defaultPvcSpec(json::object& pvc) {
  setDefaultString(ensureObject(pvc, "spec"), "volumeMode", "Filesystem");
  setDefaultString(ensureObject(pvc, "status"), "phase", "Pending");
}

void defaultDeployment(json::object& d) {
  json::object& spec = ensureObject(d, "spec");
  setDefault(spec, "replicas", 1);
  json::object& strategy = ensureObject(spec, "strategy");
  setDefaultString(strategy, "type", "RollingUpdate");
  if (str(strategy, "type") == "RollingUpdate") {
    json::object& ru = ensureObject(strategy, "rollingUpdate");
    setDefault(ru, "maxUnavailable", "25%");
    setDefault(ru, "maxSurge", "25%");
  }
  setDefault(spec, "revisionHistoryLimit", 10);
  setDefault(spec, "progressDeadlineSeconds", 600);
  defaultPodTemplate(spec);
}

void defaultStatefulSet(json::object& s) {
  json::object& spec = ensureObject(s, "spec");
  setDefault(spec, "replicas", 1);
  setDefaultString(spec, "podManagementPolicy", "OrderedReady");
  json::object& us = ensureObject(spec, "updateStrategy");
  if (str(us, "type").empty()) {
    us["type"] = "RollingUpdate";
    ensureObject(us, "rollingUpdate");
  }
  if (str(us, "type") == "RollingUpdate")
    if (auto* ru = childObject(us, "rollingUpdate")) setDefault(*ru, "partition", 0);
  json::object& retention = ensureObject(spec, "persistentVolumeClaimRetentionPolicy");
  setDefaultString(retention, "whenDeleted", "Retain");
  setDefaultString(retention, "whenScaled", "Retain");
  setDefault(spec, "revisionHistoryLimit", 10);
  forEachObject(spec, "volumeClaimTemplates", defaultPvcSpec);
  defaultPodTemplate(spec);
}

void defaultDaemonSet(json::object& d) {
  json::object& spec = ensureObject(d, "spec");
  json::object& us = ensureObject(spec, "updateStrategy");
  setDefaultString(us, "type", "RollingUpdate");
  if (str(us, "type") == "RollingUpdate") {
    json::object& ru = ensureObject(us, "rollingUpdate");
    setDefault(ru, "maxUnavailable", 1);
    setDefault(ru, "maxSurge", 0);
  }
  setDefault(spec, "revisionHistoryLimit", 10);
  defaultPodTemplate(spec);
}

void defaultJob(json::object& job) {
  json::object& spec = ensureObject(job, "spec");
  if (missing(spec, "completions") && missing(spec, "parallelism")) {
    spec["completions"] = 1;
    spec["parallelism"] = 1;
  }
  setDefault(spec, "parallelism", 1);
  if (missing(spec, "backoffLimit"))
    spec["backoffLimit"] = missing(spec, "backoffLimitPerIndex") ? 6 : INT32_MAX;
  setDefaultString(spec, "completionMode", "NonIndexed");
  setDefault(spec, "suspend", false);
  if (missing(spec, "podReplacementPolicy"))
    spec["podReplacementPolicy"] = missing(spec, "podFailurePolicy") ? "TerminatingOrFailed"
                                                                     : "Failed";
  if (auto* pfp = childObject(spec, "podFailurePolicy")) {
    forEachObject(*pfp, "rules", [](json::object& rule) {
      forEachObject(rule, "onPodConditions",
                    [](json::object& c) { setDefaultString(c, "status", "True"); });
    });
  }
  defaultPodTemplate(spec);
  // A job without labels takes its pod template's labels. Done last: adding "metadata" to the
  // job may relocate `spec`.
  json::value tmplLabels;
  if (auto* tmeta = childObject(*childObject(spec, "template"), "metadata"))
    if (childObject(*tmeta, "labels")) tmplLabels = (*tmeta)["labels"];
  json::object& meta = ensureObject(job, "metadata");
  if (tmplLabels.is_object() && emptyMapOrMissing(meta, "labels")) meta["labels"] = tmplLabels;
}

void defaultCronJob(json::object& cj) {
  json::object& spec = ensureObject(cj, "spec");
  setDefaultString(spec, "concurrencyPolicy", "Allow");
  setDefault(spec, "suspend", false);
  setDefault(spec, "successfulJobsHistoryLimit", 3);
  setDefault(spec, "failedJobsHistoryLimit", 1);
  defaultPodTemplate(ensureObject(ensureObject(spec, "jobTemplate"), "spec"));
}

void defaultReplicationController(json::object& rc) {
  json::object& spec = ensureObject(rc, "spec");
  json::value tmplLabels;  // copied: the inserts below may relocate the template
  if (auto* tmpl = childObject(spec, "template")) {
    applyPodSpecDefaults(ensureObject(*tmpl, "spec"));
    if (auto* tmeta = childObject(*tmpl, "metadata"); tmeta && childObject(*tmeta, "labels"))
      tmplLabels = (*tmeta)["labels"];
  }
  setDefault(spec, "replicas", 1);
  if (tmplLabels.is_object() && emptyMapOrMissing(spec, "selector")) spec["selector"] = tmplLabels;
  json::object& meta = ensureObject(rc, "metadata");  // spec may dangle from here on
  if (tmplLabels.is_object() && emptyMapOrMissing(meta, "labels")) meta["labels"] = tmplLabels;
}

void defaultService(json::object& svc) {
  json::object& spec = ensureObject(svc, "spec");
  setDefaultString(spec, "sessionAffinity", "None");
  if (str(spec, "sessionAffinity") == "None") {
    spec.erase("sessionAffinityConfig");
  } else if (str(spec, "sessionAffinity") == "ClientIP") {
    json::object& cip = ensureObject(ensureObject(spec, "sessionAffinityConfig"), "clientIP");
    setDefault(cip, "timeoutSeconds", 10800);
  }
  setDefaultString(spec, "type", "ClusterIP");
  const std::string type = str(spec, "type");
  forEachObject(spec, "ports", [](json::object& p) {
    setDefaultString(p, "protocol", "TCP");
    auto it = p.find("targetPort");
    bool unset = it == p.end() || it->value().is_null() ||
                 (it->value().is_int64() && it->value().get_int64() == 0) ||
                 (it->value().is_string() && it->value().get_string().empty());
    if (unset && p.contains("port")) {
      json::value port = p["port"];  // copy: inserting may relocate the source
      p["targetPort"] = std::move(port);
    }
  });
  if (type == "NodePort" || type == "LoadBalancer")
    setDefaultString(spec, "externalTrafficPolicy", "Cluster");
  if (type == "ClusterIP" || type == "NodePort" || type == "LoadBalancer")
    setDefaultString(spec, "internalTrafficPolicy", "Cluster");
  if (type == "LoadBalancer") setDefault(spec, "allocateLoadBalancerNodePorts", true);
  if (type != "ExternalName") {
    // Upstream's allocator: selectorless headless services are dual-stack capable.
    bool headlessNoSelector = str(spec, "clusterIP") == "None" && emptyMapOrMissing(spec, "selector");
    if (headlessNoSelector) {
      setDefaultString(spec, "ipFamilyPolicy", "RequireDualStack");
      setDefault(spec, "ipFamilies", json::array{"IPv4", "IPv6"});
    } else {
      setDefaultString(spec, "ipFamilyPolicy", "SingleStack");
      setDefault(spec, "ipFamilies", json::array{"IPv4"});
    }
  }
}

void defaultLimitRange(json::object& lr) {
  forEachObject(ensureObject(lr, "spec"), "limits", [](json::object& item) {
    if (str(item, "type") != "Container") return;
    // Work on copies and write back: inserts into `item` relocate its members.
    json::object def = childObject(item, "default") ? *childObject(item, "default") : json::object{};
    json::object defReq =
        childObject(item, "defaultRequest") ? *childObject(item, "defaultRequest") : json::object{};
    json::object max = childObject(item, "max") ? *childObject(item, "max") : json::object{};
    json::object min = childObject(item, "min") ? *childObject(item, "min") : json::object{};
    for (const auto& kv : max)
      if (!def.contains(kv.key())) def[kv.key()] = kv.value();
    for (const auto& kv : def) {
      if (defReq.contains(kv.key())) continue;
      defReq[kv.key()] = min.contains(kv.key()) ? min[kv.key()] : kv.value();
    }
    item["default"] = std::move(def);
    item["defaultRequest"] = std::move(defReq);
  });
}

void defaultHpa(json::object& hpa) {
  json::object& spec = ensureObject(hpa, "spec");
  setDefault(spec, "minReplicas", 1);
  if (str(hpa, "apiVersion") == "autoscaling/v1") return;
  auto it = spec.find("metrics");
  if (it == spec.end() || !it->value().is_array() || it->value().get_array().empty()) {
    spec["metrics"] = json::array{json::object{
        {"type", "Resource"},
        {"resource", json::object{{"name", "cpu"},
                                  {"target", json::object{{"type", "Utilization"},
                                                          {"averageUtilization", 80}}}}}}};
  }
}

void defaultNetworkPolicy(json::object& np) {
  json::object& spec = ensureObject(np, "spec");
  auto protoTcp = [](json::object& rule) {
    forEachObject(rule, "ports", [](json::object& p) { setDefaultString(p, "protocol", "TCP"); });
  };
  forEachObject(spec, "ingress", protoTcp);
  forEachObject(spec, "egress", protoTcp);
  auto it = spec.find("policyTypes");
  if (it == spec.end() || !it->value().is_array() || it->value().get_array().empty()) {
    json::array types{"Ingress"};
    auto eg = spec.find("egress");
    if (eg != spec.end() && eg->value().is_array() && !eg->value().get_array().empty())
      types.push_back("Egress");
    spec["policyTypes"] = std::move(types);
  }
}

void defaultBindingSubjects(json::object& b) {
  forEachObject(b, "subjects", [](json::object& s) {
    std::string kind = str(s, "kind");
    if (kind == "User" || kind == "Group") setDefaultString(s, "apiGroup", "rbac.authorization.k8s.io");
  });
}

}  // namespace

void applyPodSpecDefaults(json::object& spec) {
  setDefaultString(spec, "dnsPolicy", "ClusterFirst");
  setDefaultString(spec, "restartPolicy", "Always");
  setDefault(spec, "securityContext", json::object{});
  setDefault(spec, "terminationGracePeriodSeconds", 30);
  setDefaultString(spec, "schedulerName", "default-scheduler");
  bool hostNetwork = false;
  if (auto it = spec.find("hostNetwork"); it != spec.end() && it->value().is_bool())
    hostNetwork = it->value().get_bool();
  for (const char* key : {"containers", "initContainers", "ephemeralContainers"})
    forEachObject(spec, key, [&](json::object& c) { defaultContainer(c, hostNetwork); });
  forEachObject(spec, "volumes", defaultVolume);
}

void applyDefaults(std::string_view group, std::string_view kind, json::object& obj) {
  if (group.empty()) {
    if (kind == "Pod") return defaultPod(obj);
    if (kind == "PodTemplate") return defaultPodTemplate(obj);
    if (kind == "ReplicationController") return defaultReplicationController(obj);
    if (kind == "Service") return defaultService(obj);
    if (kind == "Secret") return setDefaultString(obj, "type", "Opaque");
    if (kind == "Namespace") {
      // The kubernetes.io/metadata.name label always mirrors the name (upstream overwrites it).
      json::object& meta = ensureObject(obj, "metadata");
      if (!str(meta, "name").empty())
        ensureObject(meta, "labels")["kubernetes.io/metadata.name"] = str(meta, "name");
      json::object& spec = ensureObject(obj, "spec");
      setDefault(spec, "finalizers", json::array{"kubernetes"});
      setDefaultString(ensureObject(obj, "status"), "phase", "Active");
      return;
    }
    if (kind == "PersistentVolumeClaim") return defaultPvcSpec(obj);
    if (kind == "PersistentVolume") {
      json::object& spec = ensureObject(obj, "spec");
      setDefaultString(spec, "persistentVolumeReclaimPolicy", "Retain");
      setDefaultString(spec, "volumeMode", "Filesystem");
      setDefaultString(ensureObject(obj, "status"), "phase", "Pending");
      return;
    }
    if (kind == "Endpoints") {
      forEachObject(obj, "subsets", [](json::object& ss) {
        forEachObject(ss, "ports",
                      [](json::object& p) { setDefaultString(p, "protocol", "TCP"); });
      });
      return;
    }
    if (kind == "Node") {
      // Allocatable defaults to capacity (SetDefaults_NodeStatus).
      if (auto* status = childObject(obj, "status"))
        if (status->contains("capacity") && missing(*status, "allocatable")) {
          json::value capacity = (*status)["capacity"];
          (*status)["allocatable"] = std::move(capacity);
        }
      return;
    }
    if (kind == "LimitRange") return defaultLimitRange(obj);
    return;
  }
  if (group == "apps") {
    if (kind == "Deployment") return defaultDeployment(obj);
    if (kind == "ReplicaSet") {
      json::object& spec = ensureObject(obj, "spec");
      setDefault(spec, "replicas", 1);
      return defaultPodTemplate(spec);
    }
    if (kind == "StatefulSet") return defaultStatefulSet(obj);
    if (kind == "DaemonSet") return defaultDaemonSet(obj);
    return;
  }
  if (group == "batch") {
    if (kind == "Job") return defaultJob(obj);
    if (kind == "CronJob") return defaultCronJob(obj);
    return;
  }
  if (group == "autoscaling" && kind == "HorizontalPodAutoscaler") return defaultHpa(obj);
  if (group == "networking.k8s.io" && kind == "NetworkPolicy") return defaultNetworkPolicy(obj);
  if (group == "discovery.k8s.io" && kind == "EndpointSlice") {
    forEachObject(obj, "ports", [](json::object& p) {
      setDefault(p, "name", "");
      setDefaultString(p, "protocol", "TCP");
    });
    return;
  }
  if (group == "rbac.authorization.k8s.io" && (kind == "RoleBinding" || kind == "ClusterRoleBinding"))
    return defaultBindingSubjects(obj);
  if (group == "scheduling.k8s.io" && kind == "PriorityClass")
    return setDefaultString(obj, "preemptionPolicy", "PreemptLowerPriority");
  if (group == "apiregistration.k8s.io" && kind == "APIService") {
    // kube-aggregator's v1 SetDefaults_ServiceReference: port 443.
    auto spec = obj.find("spec");
    if (spec == obj.end() || !spec->value().is_object()) return;
    auto svc = spec->value().as_object().find("service");
    if (svc != spec->value().as_object().end() && svc->value().is_object() &&
        !svc->value().as_object().contains("port"))
      svc->value().as_object()["port"] = 443;
    return;
  }
  if (group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition") {
    // Upstream's v1 defaults: conversion strategy None; singular and listKind from the kind.
    json::object& spec = obj["spec"].is_object() ? obj["spec"].as_object() : obj["spec"].emplace_object();
    json::value& conversion = spec["conversion"];
    if (!conversion.is_object()) conversion = json::object{{"strategy", "None"}};
    json::value& names = spec["names"];
    if (names.is_object()) {
      auto& n = names.as_object();
      const json::value* k = n.if_contains("kind");
      std::string kindName = k && k->is_string() ? std::string(k->as_string()) : "";
      if (!kindName.empty()) {
        json::value& singular = n["singular"];
        if (!singular.is_string() || singular.as_string().empty()) {
          std::string lower = kindName;
          for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          singular = lower;
        }
        json::value& listKind = n["listKind"];
        if (!listKind.is_string() || listKind.as_string().empty()) listKind = kindName + "List";
      }
    }
    return;
  }
  if (group == "storage.k8s.io" && kind == "StorageClass") {
    setDefaultString(obj, "reclaimPolicy", "Delete");
    setDefaultString(obj, "volumeBindingMode", "Immediate");
  }
}

}  // namespace skiff::api
