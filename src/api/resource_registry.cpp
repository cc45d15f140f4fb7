#include "api/resource_registry.h"

#include <algorithm>
#include <mutex>
#include <utility>

namespace skiff::api {

std::string ResourceInfo::storagePrefix() const {
  const ResourceInfo& s = storageInfo();
  return "/registry/" + (s.group.empty() ? std::string("core") : s.group) + "/" + s.plural + "/";
}

const SubresourceInfo* ResourceInfo::subresource(std::string_view name) const {
  for (const auto& s : subresources)
    if (s.name == name) return &s;
  return nullptr;
}

namespace {

const std::vector<std::string> kAllVerbs = {"create", "delete", "deletecollection", "get",
                                            "list",   "patch",  "update",           "watch"};
const std::vector<std::string> kGetUpdate = {"get", "patch", "update"};

// Small builder so the table below reads like upstream's discovery document.
struct R {
  ResourceInfo info;
  R(std::string group, std::string version, std::string kind, std::string plural, bool namespaced) {
    info.group = std::move(group);
    info.version = std::move(version);
    info.kind = std::move(kind);
    info.plural = std::move(plural);
    info.singular = info.kind;
    std::transform(info.singular.begin(), info.singular.end(), info.singular.begin(), ::tolower);
    info.namespaced = namespaced;
    info.verbs = kAllVerbs;
  }
  R& shortNames(std::vector<std::string> v) {
    info.shortNames = std::move(v);
    return *this;
  }
  R& categories(std::vector<std::string> v) {
    info.categories = std::move(v);
    return *this;
  }
  R& all() {
    info.categories = {"all"};
    return *this;
  }
  R& verbs(std::vector<std::string> v) {
    info.verbs = std::move(v);
    return *this;
  }
  R& generation() {
    info.tracksGeneration = true;
    return *this;
  }
  R& returnsDeleted() {
    info.returnsDeletedObject = true;
    return *this;
  }
  R& fields(std::vector<std::string> v) {
    info.selectableFields = std::move(v);
    return *this;
  }
  R& storedAs(std::string group, std::string version) {
    info.storedAsGroup = std::move(group);
    info.storedAsVersion = std::move(version);
    return *this;
  }
  R& status() { return sub("status", info.group, info.version, info.kind, kGetUpdate); }
  R& scale() { return sub("scale", "autoscaling", "v1", "Scale", kGetUpdate); }
  R& sub(std::string name, std::string group, std::string version, std::string kind,
         std::vector<std::string> verbs) {
    info.subresources.push_back(
        {std::move(name), std::move(group), std::move(version), std::move(kind), std::move(verbs)});
    return *this;
  }
  operator ResourceInfo() const { return info; }
};

// The selectable fields of core Events under their events.k8s.io names.
std::vector<std::string> eventFieldsForEventsGroup() {
  return {"regarding.kind",       "regarding.namespace",
          "regarding.name",       "regarding.uid",
          "regarding.apiVersion", "regarding.resourceVersion",
          "regarding.fieldPath",  "reason",
          "reportingController",  "type"};
}

std::vector<ResourceInfo> builtinResources() {
  const std::vector<std::string> eventFields = {"involvedObject.kind",
                                                "involvedObject.namespace",
                                                "involvedObject.name",
                                                "involvedObject.uid",
                                                "involvedObject.apiVersion",
                                                "involvedObject.resourceVersion",
                                                "involvedObject.fieldPath",
                                                "reason",
                                                "reportingComponent",
                                                "source",
                                                "type"};
  return {
      // core/v1
      R("", "v1", "Namespace", "namespaces", false)
          .shortNames({"ns"})
          .status()
          .returnsDeleted()
          .sub("finalize", "", "v1", "Namespace", {"update"})
          .fields({"status.phase"}),
      // Subresources in upstream's discovery order; pods/proxy is not served.
      R("", "v1", "Pod", "pods", true)
          .shortNames({"po"})
          .all()
          .returnsDeleted()
          .sub("attach", "", "v1", "PodAttachOptions", {"create", "get"})
          .sub("binding", "", "v1", "Binding", {"create"})
          .sub("eviction", "policy", "v1", "Eviction", {"create"})
          .sub("exec", "", "v1", "PodExecOptions", {"create", "get"})
          .sub("log", "", "v1", "Pod", {"get"})
          .sub("portforward", "", "v1", "PodPortForwardOptions", {"create", "get"})
          .status()
          .fields({"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                   "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
                   "status.nominatedNodeName"}),
      R("", "v1", "Node", "nodes", false)
          .shortNames({"no"})
          .sub("proxy", "", "v1", "NodeProxyOptions",
               {"create", "delete", "get", "patch", "update"})
          .status()
          .fields({"spec.unschedulable"}),
      R("", "v1", "Service", "services", true).shortNames({"svc"}).all().status().returnsDeleted(),
      R("", "v1", "Endpoints", "endpoints", true).shortNames({"ep"}),
      R("", "v1", "ConfigMap", "configmaps", true).shortNames({"cm"}),
      R("", "v1", "Secret", "secrets", true).fields({"type"}),
      R("", "v1", "Event", "events", true).shortNames({"ev"}).fields(eventFields),
      R("", "v1", "ServiceAccount", "serviceaccounts", true)
          .shortNames({"sa"})
          .returnsDeleted()
          .sub("token", "authentication.k8s.io", "v1", "TokenRequest", {"create"}),
      R("", "v1", "PersistentVolume", "persistentvolumes", false)
          .shortNames({"pv"})
          .status()
          .returnsDeleted(),
      R("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true)
          .shortNames({"pvc"})
          .status()
          .returnsDeleted(),
      R("", "v1", "ResourceQuota", "resourcequotas", true).shortNames({"quota"}).status(),
      R("", "v1", "LimitRange", "limitranges", true).shortNames({"limits"}),
      R("", "v1", "PodTemplate", "podtemplates", true).returnsDeleted(),
      R("", "v1", "ReplicationController", "replicationcontrollers", true)
          .shortNames({"rc"})
          .all()
          .status()
          .scale()
          .generation()
          .fields({"status.replicas"}),
      // apps/v1
      R("apps", "v1", "Deployment", "deployments", true)
          .shortNames({"deploy"})
          .all()
          .status()
          .scale()
          .generation(),
      R("apps", "v1", "ReplicaSet", "replicasets", true)
          .shortNames({"rs"})
          .all()
          .status()
          .scale()
          .generation()
          .fields({"status.replicas"}),
      R("apps", "v1", "StatefulSet", "statefulsets", true)
          .shortNames({"sts"})
          .all()
          .status()
          .scale()
          .generation(),
      R("apps", "v1", "DaemonSet", "daemonsets", true)
          .shortNames({"ds"})
          .all()
          .status()
          .generation(),
      R("apps", "v1", "ControllerRevision", "controllerrevisions", true),
      // batch/v1
      R("batch", "v1", "Job", "jobs", true)
          .all()
          .status()
          .generation()
          .fields({"status.successful"}),
      R("batch", "v1", "CronJob", "cronjobs", true).shortNames({"cj"}).all().status().generation(),
      // autoscaling
      R("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true)
          .shortNames({"hpa"})
          .all()
          .status(),
      R("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true)
          .shortNames({"hpa"})
          .all()
          .status()
          .storedAs("autoscaling", "v2"),
      // certificates.k8s.io/v1: /approval changes only the Approved/Denied/Failed conditions,
      // /status the certificate (and other conditions), as upstream.
      R("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests",
        false)
          .shortNames({"csr"})
          .sub("approval", "certificates.k8s.io", "v1", "CertificateSigningRequest", kGetUpdate)
          .status()
          .fields({"spec.signerName"}),
      // others
      R("coordination.k8s.io", "v1", "Lease", "leases", true),
      R("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true),
      R("events.k8s.io", "v1", "Event", "events", true)
          .shortNames({"ev"})
          .storedAs("", "v1")
          .fields(eventFieldsForEventsGroup()),
      R("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", false).shortNames({"pc"}),
      R("storage.k8s.io", "v1", "StorageClass", "storageclasses", false).shortNames({"sc"}),
      R("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true)
          .shortNames({"pdb"})
          .status()
          .generation(),
      R("networking.k8s.io", "v1", "Ingress", "ingresses", true).shortNames({"ing"}).status(),
      R("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true).shortNames({"netpol"}),
      R("networking.k8s.io", "v1", "IngressClass", "ingressclasses", false),
      R("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
      R("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true),
      R("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false),
      R("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false),
      // Authentication reviews: create-only, answered by the server, never stored.
      R("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", false).verbs({"create"}),
      R("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", false)
          .verbs({"create"}),
      // kube-aggregator: which group-versions this server serves itself and which it proxies.
      R("apiregistration.k8s.io", "v1", "APIService", "apiservices", false)
          .categories({"api-extensions"})
          .status(),
      R("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
        false)
          .shortNames({"crd", "crds"})
          .categories({"api-extensions"})
          .status()
          .generation()
          .returnsDeleted(),
      // Review resources: create-only, answered by the server, never stored.
      R("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", true)
          .verbs({"create"}),
      R("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", false)
          .verbs({"create"}),
      R("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", false)
          .verbs({"create"}),
      R("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", false)
          .verbs({"create"}),
  };
}

}  // namespace

ResourceRegistry::ResourceRegistry(std::vector<ResourceInfo> resources)
    : resources_(std::move(resources)) {
  for (const auto& r : resources_) {
    bool seen = std::any_of(groupVersions_.begin(), groupVersions_.end(), [&](const auto& gv) {
      return gv.group == r.group && gv.version == r.version;
    });
    if (!seen) groupVersions_.push_back({r.group, r.version});
  }
  for (auto& r : resources_)
    if (!r.storedAsGroup.empty() || !r.storedAsVersion.empty())
      r.storage = find(r.storedAsGroup, r.storedAsVersion, r.plural);
}

const ResourceRegistry& ResourceRegistry::builtin() {
  static const ResourceRegistry registry(builtinResources());
  return registry;
}

std::unique_ptr<ResourceRegistry> ResourceRegistry::withBuiltins() {
  return std::make_unique<ResourceRegistry>(builtinResources());
}

std::string ResourceRegistry::preferredVersion(std::string_view group) const {
  for (const auto& gv : groupVersions_)
    if (gv.group == group) return gv.version;
  return "";
}

const ResourceInfo* ResourceRegistry::find(std::string_view group, std::string_view version,
                                           std::string_view plural) const {
  for (const auto& r : resources_)
    if (r.group == group && r.version == version && r.plural == plural) return &r;
  return findCustom(group, version, plural, "");
}

const ResourceInfo* ResourceRegistry::findKind(std::string_view group, std::string_view version,
                                               std::string_view kind) const {
  for (const auto& r : resources_)
    if (r.group == group && r.version == version && r.kind == kind) return &r;
  return findCustom(group, version, "", kind);
}

const ResourceInfo* ResourceRegistry::findCustom(std::string_view group, std::string_view version,
                                                 std::string_view plural,
                                                 std::string_view kind) const {
  std::shared_lock lock(customMu_);
  for (const auto& [owner, entries] : custom_)
    for (const auto& r : *entries)
      if (r.group == group && r.version == version &&
          (plural.empty() ? r.kind == kind : r.plural == plural))
        return &r;
  return nullptr;
}

std::vector<const ResourceInfo*> ResourceRegistry::served() const {
  std::vector<const ResourceInfo*> out;
  out.reserve(resources_.size());
  for (const auto& r : resources_) out.push_back(&r);
  std::shared_lock lock(customMu_);
  for (const auto& [owner, entries] : custom_)
    for (const auto& r : *entries) out.push_back(&r);
  return out;
}

std::vector<GroupVersion> ResourceRegistry::servedGroupVersions() const {
  std::vector<GroupVersion> out = groupVersions_;
  std::shared_lock lock(customMu_);
  for (const auto& [owner, entries] : custom_)
    for (const auto& r : *entries) {
      bool seen = std::any_of(out.begin(), out.end(), [&](const GroupVersion& gv) {
        return gv.group == r.group && gv.version == r.version;
      });
      if (!seen) out.push_back({r.group, r.version, true});
    }
  return out;
}

void ResourceRegistry::setCustom(const std::string& owner, std::vector<ResourceInfo> resources) {
  auto entries = std::make_shared<std::vector<ResourceInfo>>(std::move(resources));
  for (auto& r : *entries) {
    r.storage = nullptr;
    if (r.storedAsVersion.empty() || r.storedAsVersion == r.version) continue;
    for (const auto& s : *entries)
      if (s.version == r.storedAsVersion) r.storage = &s;
  }
  std::unique_lock lock(customMu_);
  ++generation_;
  auto it = custom_.find(owner);
  if (it != custom_.end()) {
    retired_.push_back(std::move(it->second));
    custom_.erase(it);
  }
  if (!entries->empty()) custom_[owner] = std::move(entries);
}

uint64_t ResourceRegistry::generation() const {
  std::shared_lock lock(customMu_);
  return generation_;
}

}  // namespace skiff::api
