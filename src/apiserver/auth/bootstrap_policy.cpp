#include "apiserver/auth/bootstrap_policy.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <initializer_list>
#include <optional>

#include "api/json_access.h"
#include "api/resource_registry.h"
#include "apiserver/auth/rbac_rules.h"
#include "apiserver/resource_store.h"
#include "common/api_error.h"

namespace skiff::apiserver::rbac {

namespace json = boost::json;

namespace {

using Strings = std::initializer_list<const char*>;
constexpr const char* kAutoupdate = "rbac.authorization.kubernetes.io/autoupdate";
constexpr const char* kRbacGroup = "rbac.authorization.k8s.io";

json::array arr(Strings items) {
  json::array a;
  for (const char* s : items) a.emplace_back(s);
  return a;
}

// One PolicyRule: verbs, apiGroups, resources (and resourceNames).
json::object rule(Strings verbs, Strings groups, Strings resources, Strings names = {}) {
  json::object r{{"verbs", arr(verbs)}, {"apiGroups", arr(groups)}, {"resources", arr(resources)}};
  if (names.size()) r["resourceNames"] = arr(names);
  return r;
}
json::object urlRule(Strings verbs, Strings urls) {
  return {{"verbs", arr(verbs)}, {"nonResourceURLs", arr(urls)}};
}

json::object metadataFor(const char* name, std::initializer_list<const char*> aggregateTo = {}) {
  json::object labels{{"kubernetes.io/bootstrapping", "rbac-defaults"}};
  for (const char* target : aggregateTo)
    labels[std::string("rbac.authorization.k8s.io/aggregate-to-") + target] = "true";
  return {{"name", name}, {"labels", std::move(labels)}, {"annotations", {{kAutoupdate, "true"}}}};
}

json::object clusterRole(const char* name, std::vector<json::object> rules,
                         std::initializer_list<const char*> aggregateTo = {}) {
  json::array r;
  for (auto& x : rules) r.emplace_back(std::move(x));
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", "ClusterRole"},
          {"metadata", metadataFor(name, aggregateTo)},
          {"rules", std::move(r)}};
}

// A role whose rules the aggregation controller gathers from roles labelled
// rbac.authorization.k8s.io/aggregate-to-<selects>.
json::object aggregatedRole(const char* name, const char* selects,
                            std::initializer_list<const char*> aggregateTo = {}) {
  json::object role = clusterRole(name, {}, aggregateTo);
  role["aggregationRule"] = json::object{
      {"clusterRoleSelectors",
       json::array{json::object{
           {"matchLabels",
            json::object{
                {std::string("rbac.authorization.k8s.io/aggregate-to-") + selects, "true"}}}}}}};
  return role;
}

json::object subject(const char* kind, const char* name, const char* ns = nullptr) {
  json::object s{{"kind", kind}, {"name", name}};
  if (ns)
    s["namespace"] = ns;
  else
    s["apiGroup"] = kRbacGroup;
  return s;
}

json::object clusterBinding(const char* name, const char* role,
                            std::vector<json::object> subjects) {
  json::array s;
  for (auto& x : subjects) s.emplace_back(std::move(x));
  json::object binding{
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "ClusterRoleBinding"},
      {"metadata", metadataFor(name)},
      {"roleRef", {{"apiGroup", kRbacGroup}, {"kind", "ClusterRole"}, {"name", role}}}};
  if (!s.empty()) binding["subjects"] = std::move(s);  // upstream omits an empty list
  return binding;
}

const Strings kRead = {"get", "list", "watch"};
const Strings kWrite = {"create", "delete", "deletecollection", "patch", "update"};
const Strings kReadWrite = {"create", "delete", "deletecollection", "get",
                            "list",   "patch",  "update",           "watch"};
const Strings kEventWrite = {"create", "patch", "update"};

}  // namespace

std::vector<json::object> bootstrapClusterRoles() {
  std::vector<json::object> roles;
  roles.push_back(clusterRole("cluster-admin", {rule({"*"}, {"*"}, {"*"}), urlRule({"*"}, {"*"})}));
  roles.push_back(aggregatedRole("admin", "admin"));
  roles.push_back(aggregatedRole("edit", "edit", {"admin"}));
  roles.push_back(aggregatedRole("view", "view", {"edit"}));
  roles.push_back(
      clusterRole("system:aggregate-to-admin",
                  {rule({"create"}, {"authorization.k8s.io"}, {"localsubjectaccessreviews"}),
                   rule(kReadWrite, {kRbacGroup}, {"rolebindings", "roles"})},
                  {"admin"}));
  roles.push_back(clusterRole(
      "system:aggregate-to-edit",
      {rule(kRead, {""},
            {"pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets",
             "services/proxy"}),
       rule({"impersonate"}, {""}, {"serviceaccounts"}),
       rule(kWrite, {""}, {"pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"}),
       rule({"create"}, {""}, {"pods/eviction"}),
       rule(kWrite, {""},
            {"configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
             "replicationcontrollers/scale", "secrets", "serviceaccounts", "services",
             "services/proxy"}),
       rule({"create"}, {""}, {"serviceaccounts/token"}),
       rule(kWrite, {"apps"},
            {"daemonsets", "deployments", "deployments/rollback", "deployments/scale",
             "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"}),
       rule(kWrite, {"autoscaling"}, {"horizontalpodautoscalers"}),
       rule(kWrite, {"batch"}, {"cronjobs", "jobs"}),
       rule(
           kWrite, {"extensions"},
           {"daemonsets", "deployments", "deployments/rollback", "deployments/scale", "ingresses",
            "networkpolicies", "replicasets", "replicasets/scale", "replicationcontrollers/scale"}),
       rule(kWrite, {"policy"}, {"poddisruptionbudgets"}),
       rule(kWrite, {"networking.k8s.io"}, {"ingresses", "networkpolicies"}),
       rule(kReadWrite, {"coordination.k8s.io"}, {"leases"})},
      {"edit"}));
  roles.push_back(clusterRole(
      "system:aggregate-to-view",
      {rule(kRead, {""},
            {"configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status",
             "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
             "services", "services/status"}),
       rule(kRead, {""},
            {"bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
             "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"}),
       rule(kRead, {""}, {"namespaces"}), rule(kRead, {"discovery.k8s.io"}, {"endpointslices"}),
       rule(kRead, {"apps"},
            {"controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
             "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
             "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"}),
       rule(kRead, {"autoscaling"},
            {"horizontalpodautoscalers", "horizontalpodautoscalers/status"}),
       rule(kRead, {"batch"}, {"cronjobs", "cronjobs/status", "jobs", "jobs/status"}),
       rule(
           kRead, {"extensions"},
           {"daemonsets", "daemonsets/status", "deployments", "deployments/scale",
            "deployments/status", "ingresses", "ingresses/status", "networkpolicies", "replicasets",
            "replicasets/scale", "replicasets/status", "replicationcontrollers/scale"}),
       rule(kRead, {"policy"}, {"poddisruptionbudgets", "poddisruptionbudgets/status"}),
       rule(kRead, {"networking.k8s.io"}, {"ingresses", "ingresses/status", "networkpolicies"})},
      {"view"}));
  // metrics-server's role for metrics.k8s.io (served by this server, apiserver/metrics_api.h),
  // aggregated into view, edit and admin as its manifest labels it.
  {
    json::object metrics =
        clusterRole("system:aggregated-metrics-reader",
                    {rule({"get", "list", "watch"}, {"metrics.k8s.io"}, {"pods", "nodes"})},
                    {"admin", "edit", "view"});
    metrics["metadata"].as_object()["labels"].as_object()["k8s-app"] = "metrics-server";
    roles.push_back(std::move(metrics));
  }
  roles.push_back(clusterRole(
      "system:discovery",
      {urlRule({"get"}, {"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                         "/openapi/*", "/readyz", "/version", "/version/"})}));
  roles.push_back(clusterRole(
      "system:basic-user", {rule({"create"}, {"authorization.k8s.io"},
                                 {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}),
                            rule({"create"}, {"authentication.k8s.io"}, {"selfsubjectreviews"})}));
  roles.push_back(
      clusterRole("system:public-info-viewer",
                  {urlRule({"get"}, {"/healthz", "/livez", "/readyz", "/version", "/version/"})}));
  roles.push_back(
      clusterRole("system:monitoring",
                  {urlRule({"get"}, {"/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics",
                                     "/metrics/slis", "/readyz", "/readyz/*"})}));
  roles.push_back(
      clusterRole("system:auth-delegator",
                  {rule({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
                   rule({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"})}));
  roles.push_back(clusterRole("system:node-bootstrapper",
                              {rule({"create", "get", "list", "watch"}, {"certificates.k8s.io"},
                                    {"certificatesigningrequests"})}));
  roles.push_back(clusterRole(
      "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
      {rule({"create"}, {"certificates.k8s.io"}, {"certificatesigningrequests/nodeclient"})}));
  roles.push_back(clusterRole(
      "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
      {rule({"create"}, {"certificates.k8s.io"}, {"certificatesigningrequests/selfnodeclient"})}));
  // Full access to the kubelet API (upstream's role of the same name).
  roles.push_back(clusterRole(
      "system:kubelet-api-admin",
      {rule(kRead, {""}, {"nodes"}), rule({"proxy"}, {""}, {"nodes"}),
       rule({"*"}, {""},
            {"nodes/proxy", "nodes/metrics", "nodes/spec", "nodes/stats", "nodes/log"})}));
  // Upstream's system:controller:certificate-controller, for the csr controllers when the
  // controller manager runs apart with its own identity (bound below).
  roles.push_back(clusterRole(
      "system:controller:certificate-controller",
      {rule({"delete", "get", "list", "watch"}, {"certificates.k8s.io"},
            {"certificatesigningrequests"}),
       rule({"update"}, {"certificates.k8s.io"},
            {"certificatesigningrequests/approval", "certificatesigningrequests/status"}),
       rule({"approve"}, {"certificates.k8s.io"}, {"signers"},
            {"kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kubelet-serving"}),
       rule({"sign"}, {"certificates.k8s.io"}, {"signers"},
            {"kubernetes.io/kube-apiserver-client", "kubernetes.io/kube-apiserver-client-kubelet",
             "kubernetes.io/kubelet-serving"}),
       rule({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"}),
       rule(kEventWrite, {"", "events.k8s.io"}, {"events"})}));
  roles.push_back(
      clusterRole("system:kube-dns", {rule({"list", "watch"}, {""}, {"endpoints", "services"})}));
  roles.push_back(clusterRole(
      "system:node-proxier",
      {rule({"list", "watch"}, {""}, {"endpoints", "services"}), rule(kRead, {""}, {"nodes"}),
       rule(kEventWrite, {"", "events.k8s.io"}, {"events"}),
       rule({"list", "watch"}, {"discovery.k8s.io"}, {"endpointslices"})}));
  roles.push_back(clusterRole(
      "system:kube-scheduler",
      {rule(kEventWrite, {"", "events.k8s.io"}, {"events"}),
       rule({"create"}, {"coordination.k8s.io"}, {"leases"}),
       rule({"get", "update"}, {"coordination.k8s.io"}, {"leases"}, {"kube-scheduler"}),
       rule(kRead, {""}, {"nodes"}), rule({"delete", "get", "list", "watch"}, {""}, {"pods"}),
       rule({"create"}, {""}, {"bindings", "pods/binding"}),
       rule({"patch", "update"}, {""}, {"pods/status"}),
       rule(kRead, {""}, {"replicationcontrollers", "services"}),
       rule(kRead, {"apps", "extensions"}, {"replicasets"}),
       rule(kRead, {"apps"}, {"statefulsets"}), rule(kRead, {"policy"}, {"poddisruptionbudgets"}),
       rule(kRead, {""}, {"persistentvolumeclaims", "persistentvolumes"}),
       rule({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
       rule({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"}),
       rule(kRead, {"storage.k8s.io"}, {"csinodes"}), rule(kRead, {""}, {"namespaces"}),
       rule(kRead, {"storage.k8s.io"}, {"csidrivers"}),
       rule(kRead, {"storage.k8s.io"}, {"csistoragecapacities"})}));
  roles.push_back(clusterRole(
      "system:kube-controller-manager",
      {rule(kEventWrite, {"", "events.k8s.io"}, {"events"}),
       rule({"create"}, {"coordination.k8s.io"}, {"leases"}),
       rule({"get", "update"}, {"coordination.k8s.io"}, {"leases"}, {"kube-controller-manager"}),
       rule({"create"}, {""}, {"secrets", "serviceaccounts"}), rule({"delete"}, {""}, {"secrets"}),
       rule({"get"}, {""}, {"configmaps", "namespaces", "secrets", "serviceaccounts"}),
       rule({"update"}, {""}, {"secrets", "serviceaccounts"}),
       rule({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
       rule({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"}),
       rule({"list", "watch"}, {"*"}, {"*"}), rule({"create"}, {""}, {"serviceaccounts/token"})}));
  // The cloud controller manager's own identity (upstream's cloud-provider manifests'
  // system:cloud-controller-manager): nodes (initialize, taint, delete), Service load
  // balancers (finalizer, status), Events, its Lease, and EndpointSlices to steer traffic.
  roles.push_back(clusterRole(
      "system:cloud-controller-manager",
      {rule(kEventWrite, {"", "events.k8s.io"}, {"events"}),
       rule({"create"}, {"coordination.k8s.io"}, {"leases"}),
       rule({"get", "update"}, {"coordination.k8s.io"}, {"leases"}, {"cloud-controller-manager"}),
       rule({"delete", "get", "list", "patch", "update", "watch"}, {""}, {"nodes"}),
       rule({"patch", "update"}, {""}, {"nodes/status"}),
       rule({"get", "list", "patch", "update", "watch"}, {""}, {"services"}),
       rule({"patch", "update"}, {""}, {"services/status"}),
       rule({"list", "watch"}, {"discovery.k8s.io"}, {"endpointslices"})}));
  roles.push_back(clusterRole(
      "system:node",
      {rule({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
       rule({"create"}, {"authorization.k8s.io"},
            {"localsubjectaccessreviews", "subjectaccessreviews"}),
       rule(kRead, {""}, {"services"}),
       rule({"create", "get", "list", "watch"}, {""}, {"nodes"}),
       rule({"patch", "update"}, {""}, {"nodes/status"}),
       rule({"patch", "update"}, {""}, {"nodes"}),
       rule(kEventWrite, {""}, {"events"}),
       rule(kRead, {""}, {"pods"}),
       rule({"create", "delete"}, {""}, {"pods"}),
       rule({"patch", "update"}, {""}, {"pods/status"}),
       rule({"create"}, {""}, {"pods/eviction"}),
       rule(kRead, {""}, {"configmaps", "secrets"}),
       rule({"get"}, {""}, {"persistentvolumeclaims", "persistentvolumes"}),
       rule({"get"}, {""}, {"endpoints"}),
       rule({"create", "get", "list", "watch"}, {"certificates.k8s.io"},
            {"certificatesigningrequests"}),
       rule({"create", "delete", "get", "patch", "update"}, {"coordination.k8s.io"}, {"leases"}),
       rule({"get"}, {"storage.k8s.io"}, {"volumeattachments"}),
       rule({"create"}, {""}, {"serviceaccounts/token"}),
       rule({"get", "patch", "update"}, {""}, {"persistentvolumeclaims/status"}),
       rule(kRead, {"storage.k8s.io"}, {"csidrivers"}),
       rule({"create", "delete", "get", "patch", "update"}, {"storage.k8s.io"}, {"csinodes"}),
       rule(kRead, {"node.k8s.io"}, {"runtimeclasses"})}));
  return roles;
}

std::vector<json::object> bootstrapClusterRoleBindings() {
  std::vector<json::object> b;
  b.push_back(
      clusterBinding("cluster-admin", "cluster-admin", {subject("Group", "system:masters")}));
  b.push_back(clusterBinding("system:discovery", "system:discovery",
                             {subject("Group", "system:authenticated")}));
  b.push_back(clusterBinding("system:basic-user", "system:basic-user",
                             {subject("Group", "system:authenticated")}));
  b.push_back(clusterBinding(
      "system:public-info-viewer", "system:public-info-viewer",
      {subject("Group", "system:authenticated"), subject("Group", "system:unauthenticated")}));
  b.push_back(clusterBinding("system:kube-scheduler", "system:kube-scheduler",
                             {subject("User", "system:kube-scheduler")}));
  b.push_back(clusterBinding("system:kube-controller-manager", "system:kube-controller-manager",
                             {subject("User", "system:kube-controller-manager")}));
  b.push_back(clusterBinding("system:cloud-controller-manager", "system:cloud-controller-manager",
                             {subject("User", "system:cloud-controller-manager")}));
  b.push_back(clusterBinding("system:node-proxier", "system:node-proxier",
                             {subject("User", "system:kube-proxy")}));
  // The identity the API server shows kubelets (component_pki.h) may use every kubelet API
  // (logs, exec, attach, port-forward, stats), which kubelets check with SubjectAccessReviews;
  // kubeadm binds the same role to its apiserver-kubelet-client the same way.
  b.push_back(clusterBinding("skiff:kube-apiserver-kubelet-client", "system:kubelet-api-admin",
                             {subject("User", "kube-apiserver-kubelet-client")}));
  b.push_back(clusterBinding("system:kube-dns", "system:kube-dns",
                             {subject("ServiceAccount", "kube-dns", "kube-system")}));
  b.push_back(clusterBinding("system:monitoring", "system:monitoring",
                             {subject("Group", "system:monitoring")}));
  // As upstream since 1.8: no subjects; nodes are authorized by the Node authorizer
  // (auth/node_authorizer.h), so a kubelet reads only what its own pods reference.
  b.push_back(clusterBinding("system:node", "system:node", {}));
  // skiff's node agent (`skiff agent`) embeds kube-proxy and the cluster DNS and runs them
  // with the node's own credentials: nodes may read what kube-proxy reads (Services,
  // EndpointSlices, Nodes), which upstream's kube-proxy credentials on every node grant too.
  b.push_back(clusterBinding("skiff:node-proxier", "system:node-proxier",
                             {subject("Group", "system:nodes")}));
  // Node join (kubeadm's bindings under skiff: names): bootstrap-token users may create
  // CSRs and have node client requests auto-approved; nodes have renewals of their own
  // client certificate auto-approved (controller/csrapproving_controller.cpp).
  b.push_back(clusterBinding("skiff:kubelet-bootstrap", "system:node-bootstrapper",
                             {subject("Group", "system:bootstrappers")}));
  b.push_back(clusterBinding("skiff:node-autoapprove-bootstrap",
                             "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                             {subject("Group", "system:bootstrappers")}));
  b.push_back(clusterBinding("skiff:node-autoapprove-certificate-rotation",
                             "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                             {subject("Group", "system:nodes")}));
  b.push_back(clusterBinding("system:controller:certificate-controller",
                             "system:controller:certificate-controller",
                             {subject("User", "system:kube-controller-manager")}));
  return b;
}

namespace {

bool protectedFromUpdate(const json::object& existing) {
  return api::stringAt(existing, {"metadata", "annotations", kAutoupdate}) == "false";
}

// Labels and annotations of `expected` added to `result`; what the object already has wins.
bool mergeMetadataMaps(json::object& result, const json::object& expected) {
  bool changed = false;
  for (const char* field : {"labels", "annotations"}) {
    const json::object& want = api::objectOrEmpty(expected, {"metadata", field});
    if (want.empty()) continue;
    json::object& have = api::ensureObject(result, {"metadata", field});
    for (const auto& [k, v] : want)
      if (!have.contains(k)) {
        have[k] = v;
        changed = true;
      }
  }
  return changed;
}

}  // namespace

std::optional<json::object> reconcileRole(const json::object& expected,
                                          const json::object& existing) {
  if (protectedFromUpdate(existing)) return std::nullopt;
  json::object result = existing;
  bool changed = mergeMetadataMaps(result, expected);
  // Rules the existing role lacks are added (as upstream: each missing atomic permission);
  // rules someone added stay.
  std::vector<PolicyRule> missing;
  if (!covers(rulesOf(existing), rulesOf(expected), &missing)) {
    json::array& rules =
        result["rules"].is_array() ? result["rules"].as_array() : result["rules"].emplace_array();
    for (const auto& r : missing) rules.push_back(ruleToJson(r));
    changed = true;
  }
  // Aggregation selectors the existing role lacks are added.
  if (const json::array* want =
          api::arrayAt(expected, {"aggregationRule", "clusterRoleSelectors"})) {
    json::array& have =
        api::ensureObject(result, {"aggregationRule"})["clusterRoleSelectors"].is_array()
            ? result["aggregationRule"].as_object()["clusterRoleSelectors"].as_array()
            : result["aggregationRule"].as_object()["clusterRoleSelectors"].emplace_array();
    for (const auto& selector : *want)
      if (std::find(have.begin(), have.end(), selector) == have.end()) {
        have.push_back(selector);
        changed = true;
      }
  }
  if (!changed) return std::nullopt;
  return result;
}

std::optional<json::object> reconcileBinding(const json::object& expected,
                                             const json::object& existing) {
  if (protectedFromUpdate(existing)) return std::nullopt;
  json::object result = existing;
  bool changed = mergeMetadataMaps(result, expected);
  json::array& have = result["subjects"].is_array() ? result["subjects"].as_array()
                                                    : result["subjects"].emplace_array();
  for (const auto& s : api::arrayOrEmpty(expected, {"subjects"})) {
    bool found = false;
    for (const auto& h : have)
      if (h.is_object() &&
          api::stringField(h.as_object(), "kind") == api::stringField(s.as_object(), "kind") &&
          api::stringField(h.as_object(), "name") == api::stringField(s.as_object(), "name") &&
          api::stringField(h.as_object(), "namespace") ==
              api::stringField(s.as_object(), "namespace"))
        found = true;
    if (!found) {
      have.push_back(s);
      changed = true;
    }
  }
  if (!changed) return std::nullopt;
  return result;
}

void reconcileBootstrapPolicy(ResourceStore& store, const api::ResourceRegistry& registry) {
  RequestContext ctx;  // no user: the server's own write
  auto apply = [&](const api::ResourceInfo& info, const json::object& expected, bool role) {
    const std::string name = api::stringAt(expected, {"metadata", "name"});
    try {
      std::optional<json::object> existing;
      try {
        existing = store.get(info, "", name);
      } catch (const ApiError& e) {
        if (e.code() != 404) throw;
      }
      if (!existing) {
        store.create(info, "", json::value(expected), ctx);
        return;
      }
      // A binding to another role cannot be updated (roleRef is immutable): recreated, as
      // upstream does, unless protected.
      if (!role &&
          api::objectOrEmpty(*existing, {"roleRef"}) != api::objectOrEmpty(expected, {"roleRef"})) {
        if (protectedFromUpdate(*existing)) return;
        DeleteOptions d;
        bool gone = false;
        store.remove(info, "", name, d, ctx, gone);
        store.create(info, "", json::value(expected), ctx);
        return;
      }
      auto updated =
          role ? reconcileRole(expected, *existing) : reconcileBinding(expected, *existing);
      if (updated) store.update(info, "", name, "", json::value(std::move(*updated)), ctx);
    } catch (const std::exception& e) {
      spdlog::warn("bootstrap RBAC policy: {} {}: {}", info.plural, name, e.what());
    }
  };
  const auto* roles = registry.find(kRbacGroup, "v1", "clusterroles");
  const auto* bindings = registry.find(kRbacGroup, "v1", "clusterrolebindings");
  for (const auto& r : bootstrapClusterRoles()) apply(*roles, r, true);
  for (const auto& b : bootstrapClusterRoleBindings()) apply(*bindings, b, false);
}

}  // namespace skiff::apiserver::rbac
